"""The local stack, without Docker: PostgreSQL, a KRaft Kafka broker and every service.

    python -m deploy.local.stack run      # what `make run` does after bootstrap.sh
    python -m deploy.local.stack stop     # what `make stop` does
    python -m deploy.local.stack env      # the shared environment, as the superuser (a shell)

`run` prepares the data folders once (initdb, Kafka storage format), provisions the
databases and each service's roles (deploy/database.py, as the superuser, on a PostgreSQL it
starts and stops for the purpose), writes a Procfile giving each process its own role and
only the keys it uses, and hands over to honcho, which starts PostgreSQL, Kafka, every
service process, the WAL archiver (deploy/backup.py: every commit in the archive before it is
acknowledged; CSP_BACKUP=off leaves it out) and Prometheus (scraping every process's /metrics
with the operations role's token, the alert rules of deploy/prometheus/rules.yml loaded),
prefixes their logs, and stops them all on Ctrl-C (or `make stop`). Data persists under
CSP_STATE_DIR (default .local/run), the archive under CSP_BACKUP_DIR (default .local/backup).
The same class starts the infrastructure for the tests, in a folder of their own and on other
ports.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import grp
import json
import os
import pwd
import random
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any

from deploy import database
from deploy.demo.county import load
from deploy.local import kafka_security
from deploy.local.keep import dies_with_parent
from shared.auth import LocalIssuer
from shared.clock import clock_from
from shared.private_files import write_private
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
KAFKA_LIB = ROOT / "deploy" / "kafka" / "lib"
KAFKA_LOG4J = ROOT / "deploy" / "kafka" / "log4j2.yaml"
ALERT_RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
# Prometheus's port: in the gap between the APIs (base+0..6) and the workers (base+10..16).
PROMETHEUS_OFFSET = 9
# The WAL archiver's /health and /metrics (deploy/backup.py): in the same gap.
ARCHIVER_OFFSET = 8
# The WAL archiver's name: PostgreSQL's synchronous standby (its application_name) and the
# replication slot that keeps the WAL it has not received yet (deploy/backup.py).
ARCHIVER = "csp_archive"


@dataclass(frozen=True)
class Process:
    name: str
    module: str
    role: str
    port: int

    @property
    def service(self) -> str:
        return self.module.rsplit(".", 1)[-1]

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys this process holds (docs/security.md, "Roles and keys")."""
        return KEYS_HELD.get(self.name, ())


# Each key only in the process that uses it: the key-encryption key where children's keys are
# made, opened and erased (shared/sealing.py, key_encryption_key: the case-events API's
# personal details, subject access and erasure; the quality API's sealed free text; the
# quality worker erases a key without it); the pseudonym key where the partner feed
# pseudonymises (services/partner_feeds/feed.py, the worker). Every other process starts
# without either. The subject access reader's credentials are the case-events API's only.
KEYS_HELD = {
    "case_events_api": ("CSP_KEY_ENCRYPTION_KEY",),
    "quality_api": ("CSP_KEY_ENCRYPTION_KEY",),
    "partner_feeds_worker": ("CSP_PARTNER_PSEUDONYM_KEY",),
}
SUBJECT_ACCESS_READER = "case_events_api"


def service_processes(http_base: int) -> list[Process]:
    """Every service process of the platform, with its HTTP port (offsets from http_base)."""
    services = [
        "projections",
        "case_events",
        "accommodation",
        "education",
        "escalations",
        "partner_feeds",
        "quality",  # after the others: their ports stay as they were
    ]
    return [
        *(
            Process(f"{name}_api", f"services.{name}", "api", http_base + i)
            for i, name in enumerate(services)
        ),
        *(
            Process(f"{name}_worker", f"services.{name}", "worker", http_base + 10 + i)
            for i, name in enumerate(services)
        ),
    ]


def peers(http_base: int, process: Process) -> dict[str, str]:
    """Where a process finds the other services it calls: the projections API asks case
    events for the UPNs a statutory return names, quality for a board pack's commentary, and
    escalations with the attention queue's acknowledgements."""
    if process.name == "projections_api":
        return {
            "CSP_CASE_EVENTS_URL": f"http://127.0.0.1:{http_base + 1}",
            "CSP_ESCALATIONS_URL": f"http://127.0.0.1:{http_base + 4}",
            "CSP_QUALITY_URL": f"http://127.0.0.1:{http_base + 6}",
        }
    return {}


def find_postgres_bin() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name),
        reverse=True,
    )
    if candidates:
        return candidates[0].parent
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise SystemExit(
        "PostgreSQL server binaries not found. Install Debian's `postgresql` package "
        "(apt-get install postgresql), or run deploy/local/bootstrap.sh as root."
    )


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


# Ports for servers started on the fly (a restore's own PostgreSQL, the tests' services): below
# the kernel's ephemeral range (32768-60999), which outgoing connections take from, so a port
# checked free here is not taken by a client before the server binds it.
SERVER_PORTS = range(20000, 32000)
_handed_out: set[int] = set()


def server_ports() -> range:
    """SERVER_PORTS, or the part of it CSP_SERVER_PORTS ("first-last") gives this process and
    its children: the tests' parallel workers each pick from their own part, so that two never
    choose the same port in the moment before its server binds it."""
    given = os.environ.get("CSP_SERVER_PORTS")
    if not given:
        return SERVER_PORTS
    first, last = (int(p) for p in given.split("-"))
    return range(first, last + 1)


def ports_part(index: int, parts: int, ports: range = SERVER_PORTS) -> str:
    """The `index`-th of `parts` equal parts of `ports`, as CSP_SERVER_PORTS gives it: for
    processes started side by side, so that each picks its servers' ports from its own."""
    size = len(ports) // parts
    first = ports.start + index * size
    return f"{first}-{first + size - 1}"


def free_port(block: int = 1) -> int:
    """The first of `block` consecutive loopback ports of server_ports() that nothing listens
    on now and that this process has not handed out before."""
    ports = server_ports()
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(ports.start, ports.stop - block)
        wanted = range(base, base + block)
        if not _handed_out.intersection(wanted) and all(port_free(p) for p in wanted):
            _handed_out.update(wanted)
            return base
    raise RuntimeError(f"no {block} consecutive free ports in {ports}")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def clients_connected(port: int) -> bool:
    """Is any TCP connection to this local port still established? (Linux /proc)"""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:  # 01: ESTABLISHED
                return True
    return False


def wait_for_port(port: int, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not port_open(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not open port {port} within {timeout_s:.0f}s")
        time.sleep(0.2)


@dataclass
class LocalStack:
    state_dir: Path = field(
        default_factory=lambda: Path(
            os.environ.get("CSP_STATE_DIR", ROOT / ".local" / "run")
        ).resolve()
    )
    postgres_port: int = int(os.environ.get("CSP_POSTGRES_PORT", "5433"))
    kafka_port: int = int(os.environ.get("CSP_KAFKA_PORT", "9092"))
    http_base: int = int(os.environ.get("CSP_HTTP_BASE_PORT", "8000"))
    kafka_heap: str = os.environ.get("CSP_KAFKA_HEAP", "768m")
    # SASL/SCRAM over TLS with ACLs (deploy/local/kafka_security.py), as compose runs it.
    secure: bool = os.environ.get("CSP_KAFKA_SECURE", "") == "1"
    # Every commit streamed into the WAL archive before it is acknowledged (deploy/backup.py).
    # Off unless asked: `make run` asks (main(), CSP_BACKUP), the tests' shared server and the
    # chaos harness do not, so none of them depends on an archiver.
    archiving: bool = False
    # The partners' listener (secure mode): unset, from CSP_KAFKA_EXTERNAL_PORT,
    # CSP_KAFKA_PUBLIC_HOSTS and CSP_KAFKA_EXTERNAL_ADDRESS (shared/settings.py), read when
    # first needed so that a plaintext stack never depends on them.
    external_port: int | None = None
    public_hosts: list[str] | None = None
    external_address: str | None = None

    @property
    def controller_port(self) -> int:
        return self.kafka_port + 1

    @property
    def kafka_external_port(self) -> int:
        """The partner listener's port: as given or configured, else the one this stack
        picked before (kept in its state folder, so partners' settings stay right across
        restarts), else a free one picked now. Recorded each time, so that another process
        of this stack (`ready`, deploy/rotate.py) finds the same."""
        remembered = self.kafka_dir / "external-port"
        if self.external_port is None:
            configured = Settings().kafka_external_port
            self.external_port = (
                configured
                if configured is not None
                else int(remembered.read_text())
                if remembered.exists()
                else free_port()
            )
        if not remembered.exists() or remembered.read_text().strip() != str(self.external_port):
            remembered.parent.mkdir(parents=True, exist_ok=True)
            remembered.write_text(f"{self.external_port}\n")
        return self.external_port

    @property
    def kafka_public_hosts(self) -> list[str]:
        """The names partners reach the broker by (its partner certificate's), advertised first."""
        if self.public_hosts is None:
            self.public_hosts = Settings().public_hosts()
        return self.public_hosts

    @property
    def kafka_external_address(self) -> str:
        """The host address the partner listener is bound to."""
        if self.external_address is None:
            self.external_address = Settings().kafka_external_address
        return self.external_address

    # -- PostgreSQL ----------------------------------------------------------------------

    @property
    def _run_as_postgres(self) -> bool:
        return os.geteuid() == 0  # PostgreSQL refuses to run as root

    @property
    def postgres_dir(self) -> Path:
        """The cluster's folder. As root it must be reachable by the `postgres` user; a folder
        under a private home (e.g. /root) is not, so it moves to /var/lib/csp-local."""
        wanted = self.state_dir / "postgres"
        if not self._run_as_postgres or _reachable_by(wanted, "postgres"):
            return wanted
        digest = sha256(str(self.state_dir).encode()).hexdigest()[:12]
        return Path("/var/lib/csp-local") / digest / "postgres"

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / "credentials.env"

    def postgres_password(self) -> str:
        return self.credential("CSP_POSTGRES_PASSWORD")

    def credential(
        self, name: str, make: Callable[[], str] = lambda: secrets.token_urlsafe(24)
    ) -> str:
        """A local credential from credentials.env, generated (and kept) on first use: never
        committed, never the same on two machines."""
        if os.environ.get(name):  # a deployment's secret store
            return os.environ[name]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.credentials_file
        lines = path.read_text().splitlines() if path.exists() else []
        for line in lines:
            if line.startswith(f"{name}="):
                return line.split("=", 1)[1]
        value = make()
        write_private(path, "\n".join([*lines, f"{name}={value}"]) + "\n")
        return value

    def init_postgres(self) -> None:
        data = self.postgres_dir
        if (data / "PG_VERSION").exists():
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data.mkdir(parents=True, exist_ok=True)
        pwfile = data.parent / ".pwfile"
        write_private(pwfile, self.postgres_password() + "\n")
        if self._run_as_postgres:
            pg = pwd.getpwnam("postgres")
            for path in (data.parent, data, pwfile):
                os.chown(path, pg.pw_uid, pg.pw_gid)
        data.chmod(0o700)
        try:
            self._as_postgres(
                [
                    str(find_postgres_bin() / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "csp",
                    "--auth-host=scram-sha-256",
                    "--auth-local=peer",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def postgres_argv(self, synchronous_archive: bool | None = None) -> list[str]:
        """The server's command line. With `archiving` (or `synchronous_archive`), a commit
        waits until the archiver has the WAL on its disk (deploy/backup.py explains why)."""
        archived = self.archiving if synchronous_archive is None else synchronous_archive
        return [
            str(find_postgres_bin() / "postgres"),
            "-D",
            str(self.postgres_dir),
            "-c",
            f"port={self.postgres_port}",
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.postgres_dir}",
            "-c",
            "max_connections=500",
            "-c",
            "shared_buffers=256MB",
            # Durable commits stay on (fsync, synchronous_commit): a recorded event is kept.
            "-c",
            "log_min_messages=warning",
            "-c",
            "log_line_prefix=%m [%p] ",
            *(["-c", f"synchronous_standby_names={ARCHIVER}"] if archived else []),
        ]

    def as_postgres(self) -> dict[str, Any]:
        """subprocess options that run a command as the `postgres` user when we are root (the
        server, and the backup tools whose files it reads), as ourselves otherwise."""
        if self._run_as_postgres:
            return {"user": "postgres", "group": "postgres", "extra_groups": []}
        return {}

    def becoming_postgres(self, then: Callable[[], None]) -> Callable[[], None]:
        """A child's preexec_fn doing what `as_postgres` asks, then `then`: for a subprocess
        an event loop starts, as uvloop's take no user or group. The credentials change
        first, as subprocess orders it: the change would clear a parent-death signal."""
        asked = self.as_postgres()
        if not asked:
            return then
        groups = [grp.getgrnam(g).gr_gid for g in asked["extra_groups"]]
        gid, uid = grp.getgrnam(asked["group"]).gr_gid, pwd.getpwnam(asked["user"]).pw_uid

        def become() -> None:
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
            then()

        return become

    def own(self, path: Path) -> Path:
        """Make a folder (its parents too, as they are) owned by the user running PostgreSQL."""
        path.mkdir(parents=True, exist_ok=True)
        if self._run_as_postgres:
            pg = pwd.getpwnam("postgres")
            os.chown(path, pg.pw_uid, pg.pw_gid)
        return path

    def _as_postgres(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        for key, value in self.as_postgres().items():
            kwargs.setdefault(key, value)
        return subprocess.run(argv, **kwargs)

    def spawn_postgres(
        self, synchronous_archive: bool | None = None, **popen: object
    ) -> subprocess.Popen[bytes]:
        self.init_postgres()
        popen.update(self.as_postgres())
        return _spawn_server(self.postgres_argv(synchronous_archive), signal.SIGINT, **popen)

    @property
    def backup_dir(self) -> Path:
        """The archive: base backups and WAL (deploy/backup.py). Beside the state folder, not
        in it, so that losing the cluster's folder does not take its backups; on another disk
        in earnest (CSP_BACKUP_DIR). As root it must be reachable by `postgres`, whose server
        reads the WAL back during a restore."""
        wanted = Path(os.environ.get("CSP_BACKUP_DIR", ROOT / ".local" / "backup")).resolve()
        if not self._run_as_postgres or _reachable_by(wanted, "postgres"):
            return wanted
        digest = sha256(str(wanted).encode()).hexdigest()[:12]
        return Path("/var/lib/csp-local") / digest / "backup"

    # -- Kafka -----------------------------------------------------------------------------

    @property
    def kafka_dir(self) -> Path:
        return self.state_dir / "kafka"

    def kafka_properties(
        self,
        node: int = 1,
        port: int | None = None,
        controller: int | None = None,
        voters: str | None = None,
        log_dir: Path | None = None,
        replicas: int = 1,
        bind: str = "127.0.0.1",
        advertised: str | None = None,
        external_bind: str | None = None,
        external_advertised_port: int | None = None,
    ) -> str:
        """A KRaft node that is broker and controller. The local stack is node 1 alone; the
        chaos harness (chaos/cluster.py) runs three, with `replicas` copies of every topic.
        In secure mode it has the partners' listener too, bound to `external_bind` (default:
        CSP_KAFKA_EXTERNAL_ADDRESS) and advertised at `external_advertised_port` when a
        container maps it to another port on the host."""
        port = port or self.kafka_port
        controller = controller or self.controller_port
        listeners = (
            kafka_security.listener_properties(
                port,
                controller,
                self.tls_dir,
                self.credential("CSP_KAFKA_ADMIN_PASSWORD"),
                bind,
                advertised,
                kafka_security.External(
                    self.kafka_external_port,
                    tuple(self.kafka_public_hosts),
                    external_bind or self.kafka_external_address,
                    external_advertised_port,
                ),
            )
            if self.secure
            else [
                f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            ]
        )
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={node}",
                f"controller.quorum.voters={voters or f'1@127.0.0.1:{controller}'}",
                *listeners,
                f"log.dirs={log_dir or self.kafka_dir / 'data'}",
                "num.partitions=6",
                "auto.create.topics.enable=false",
                # The internal topics can have no more replicas than there are brokers.
                f"offsets.topic.replication.factor={replicas}",
                f"transaction.state.log.replication.factor={replicas}",
                f"transaction.state.log.min.isr={max(1, replicas - 1)}",
                f"share.coordinator.state.topic.replication.factor={replicas}",
                f"share.coordinator.state.topic.min.isr={max(1, replicas - 1)}",
                f"min.insync.replicas={max(1, replicas - 1)}",
                "unclean.leader.election.enable=false",
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=-1",
                "",
            ]
        )

    def init_kafka(self) -> Path:
        if not any(KAFKA_LIB.glob("kafka_2.13-*.jar")):
            raise SystemExit("Kafka jars missing: run deploy/local/bootstrap.sh (or `make run`).")
        self.kafka_dir.mkdir(parents=True, exist_ok=True)
        if self.secure:
            kafka_security.certificates(
                self.tls_dir, ["127.0.0.1", "localhost"], self.kafka_public_hosts
            )
        config = self.kafka_dir / "server.properties"
        # In secure mode it holds the broker's own SCRAM password.
        write_private(config, self.kafka_properties())
        mode, wanted = self.kafka_dir / "mode", "secure" if self.secure else "plaintext"
        formatted = (self.kafka_dir / "data" / "meta.properties").exists()
        if not mode.exists():  # a stack formatted before secure mode existed was plaintext
            mode.write_text(("plaintext" if formatted else wanted) + "\n")
        if mode.read_text().strip() != wanted:
            raise SystemExit(
                f"this stack's Kafka was made {mode.read_text().strip()}, not "
                f"{wanted}: use another CSP_STATE_DIR, or `make clean-local`"
            )
        if not formatted:
            cluster_id = new_kafka_cluster_id()
            # The admin user exists from the start: it creates every other user and ACL.
            scram = (
                [
                    "--add-scram",
                    f"{kafka_security.MECHANISM}=[name={kafka_security.ADMIN},"
                    f"password={self.credential('CSP_KAFKA_ADMIN_PASSWORD')}]",
                ]
                if self.secure
                else []
            )
            subprocess.run(
                self._java(
                    "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config), *scram
                ),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        return config

    @property
    def tls_dir(self) -> Path:
        return self.kafka_dir / "tls"

    def kafka_passwords(self) -> dict[str, str]:
        """Each Kafka user's password (one per service worker, one per partner agency)."""
        return {
            user: self.credential(f"CSP_KAFKA_PASSWORD_{kafka_security.password_variable(user)}")
            for user in kafka_security.users()
        }

    def provision_kafka(self, namespace: str = "") -> None:
        """Topics, users and ACLs, as the admin (secure mode; idempotent)."""
        kafka_security.provision(
            f"127.0.0.1:{self.kafka_port}",
            self.credential("CSP_KAFKA_ADMIN_PASSWORD"),
            self.tls_dir / "ca.pem",
            self.kafka_passwords(),
            namespace,
        )

    def kafka_client_env(self, service: str) -> dict[str, str]:
        """What a service worker needs to reach the broker in secure mode: its own user, and
        its password in a file it reads for each new connection (deploy/rotate.py rotates it
        with no restart)."""
        if not self.secure:
            return {}
        password_file = kafka_security.write_password_file(
            self.kafka_dir, service, self.kafka_passwords()[service]
        )
        return {
            "CSP_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "CSP_KAFKA_SSL_CAFILE": str(self.tls_dir / "ca.pem"),
            "CSP_KAFKA_USERNAME": service,
            "CSP_KAFKA_PASSWORD_FILE": str(password_file),
        }

    def _java(self, main: str, *args: str, heap: str = "256m") -> list[str]:
        return [
            "java",
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={KAFKA_LOG4J}",
            "-cp",
            f"{KAFKA_LIB}/*",
            main,
            *args,
        ]

    def kafka_argv(self) -> list[str]:
        return self._java(
            "kafka.Kafka", str(self.kafka_dir / "server.properties"), heap=self.kafka_heap
        )

    def spawn_kafka(self, **popen: object) -> subprocess.Popen[bytes]:
        self.init_kafka()
        return _spawn_server(self.kafka_argv(), signal.SIGTERM, **popen)

    # -- the database roles (deploy/database.py) --------------------------------------------

    def database_passwords(self) -> dict[str, str]:
        """Each login role's password: one per service, one for the subject access reader."""
        return {
            name: self.credential(database.password_variable(name))
            for name in [*database.SERVICES, database.SUBJECT_ACCESS]
        }

    def admin_environment(self) -> dict[str, str]:
        """The superuser `csp`: the provisioner's, an operator's shell's; no service's."""
        return {"CSP_POSTGRES_USER": "csp", "CSP_POSTGRES_PASSWORD": self.postgres_password()}

    def provision_database(self, namespace: str = "") -> None:
        """Databases, roles, migrations and grants, as the superuser (idempotent)."""
        admin = Settings(
            namespace=namespace,
            postgres_host="127.0.0.1",
            postgres_port=self.postgres_port,
            postgres_user="csp",
            postgres_password=self.postgres_password(),
        )
        asyncio.run(database.provision(admin, self.database_passwords()))

    def provision_with_own_postgres(self) -> None:
        """Provision on a PostgreSQL started for the purpose and stopped again (`run` does this
        before honcho starts the services, so none starts on a database not ready for it).
        It runs without the archiver, so its commits do not wait for one: the archive's slot,
        made here first, keeps their WAL until the archiver streams it."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / "provision-postgres.log", "ab") as log:
            server = self.spawn_postgres(False, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_for_port(self.postgres_port, 60, "PostgreSQL")
                self.provision_database()
                abandoned = asyncio.run(self.archive_slot(keep=self.archiving))
                if abandoned is not None:
                    print(abandoned_message(abandoned), flush=True)
            finally:
                server.send_signal(signal.SIGINT)  # fast shutdown
                server.wait(timeout=60)

    async def archive_slot(self, keep: bool) -> Path | None:
        """Make the archiver's replication slot, or drop it when archiving is off: a slot
        nobody reads keeps every WAL segment from then on, until the disk is full.

        A slot made anew starts at the server's current WAL, while pg_receivewal resumes after
        the newest segment of the archive: whatever came between (archiving off, a copy put
        back in place) is gone from the server, and it would ask for it forever ("requested
        WAL segment has already been removed"). So when the slot is made while the archive
        holds WAL for this cluster, that WAL is moved aside first (`wal.abandoned-<time>`,
        returned): streaming starts at the slot, and the archiver takes a base backup at once
        (deploy/backup.py `backup_due`: the backups before the gap cannot be replayed past
        it)."""
        import asyncpg

        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=self.postgres_port,
            user="csp",
            password=self.postgres_password(),
            database="postgres",
            timeout=10,
        )
        try:
            exists = await conn.fetchval(
                "SELECT count(*) > 0 FROM pg_replication_slots WHERE slot_name = $1", ARCHIVER
            )
            abandoned = None
            if keep and not exists:
                system = await conn.fetchval(
                    "SELECT system_identifier::text FROM pg_control_system()"
                )
                abandoned = abandon_archived_wal(self.backup_dir / system / "wal", exists)
                await conn.execute("SELECT pg_create_physical_replication_slot($1, true)", ARCHIVER)
            elif exists and not keep:
                await conn.execute("SELECT pg_drop_replication_slot($1)", ARCHIVER)
                print(
                    "WAL archiving is off (CSP_BACKUP=off): its slot is dropped, the archive "
                    "stops here; when it is on again, the archive's WAL is moved aside and a "
                    "new base backup taken.",
                    flush=True,
                )
        finally:
            await conn.close()
        return abandoned

    @property
    def archiver_port(self) -> int:
        return int(os.environ.get("CSP_ARCHIVER_PORT") or self.http_base + ARCHIVER_OFFSET)

    # -- Prometheus ------------------------------------------------------------------------

    @property
    def prometheus_port(self) -> int:
        return int(os.environ.get("CSP_PROMETHEUS_PORT") or self.http_base + PROMETHEUS_OFFSET)

    @property
    def prometheus_dir(self) -> Path:
        return self.state_dir / "prometheus"

    @property
    def metrics_token_file(self) -> Path:
        """Prometheus's bearer token (the operations role: docs/security.md); Prometheus
        reads the file at every scrape, so renewing it needs no reload."""
        return self.prometheus_dir / "operations.jwt"

    def write_metrics_token(self) -> None:
        token = self.issuer.token("prometheus", "council", "operations", hours=12)
        write_private(self.metrics_token_file, token + "\n")

    def prometheus_config(self) -> dict[str, Any]:
        """Every service process scraped (labelled with its process, service and role) with
        the operations role's token, and the alert rules. JSON is YAML, as Prometheus reads."""
        return {
            "global": {"scrape_interval": "5s", "evaluation_interval": "15s"},
            "rule_files": [str(ALERT_RULES)],
            "scrape_configs": [
                {
                    "job_name": "prometheus",
                    "static_configs": [{"targets": [f"127.0.0.1:{self.prometheus_port}"]}],
                },
                {
                    "job_name": "platform",
                    "authorization": {
                        "type": "Bearer",
                        "credentials_file": str(self.metrics_token_file),
                    },
                    "static_configs": [
                        {
                            "targets": [f"127.0.0.1:{p.port}"],
                            "labels": {"process": p.name, "service": p.service, "role": p.role},
                        }
                        for p in self.processes()
                    ]
                    + self._archiver_target(),
                },
            ],
        }

    def _archiver_target(self) -> list[dict[str, Any]]:
        if not self.archiving:
            return []
        labels = {"process": "archiver", "service": "backup", "role": "archiver"}
        return [{"targets": [f"127.0.0.1:{self.archiver_port}"], "labels": labels}]

    def prometheus_argv(self, binary: str) -> list[str]:
        config = self.prometheus_dir / "prometheus.yml"
        write_private(config, json.dumps(self.prometheus_config(), indent=2) + "\n")
        return [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.prometheus_dir / 'data'}",
            "--storage.tsdb.retention.time=15d",
            f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
            "--log.level=warn",
        ]

    # -- the services ----------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """What every process shares (services.env): nothing secret."""
        return {
            "CSP_POSTGRES_HOST": "127.0.0.1",
            "CSP_POSTGRES_PORT": str(self.postgres_port),
            "CSP_AUTH_JWKS": str(self.issuer.ensure().jwks_file),
            "CSP_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.kafka_port}",
        }

    def process_environment(self, process: Process) -> dict[str, str]:
        """One process's own secrets: its service's database role, the keys it uses, the
        subject access reader (case-events API), its Kafka user (workers, secure mode)."""
        keys = {
            "CSP_KEY_ENCRYPTION_KEY": lambda: self.credential(
                "CSP_KEY_ENCRYPTION_KEY", new_aes_key
            ),
            "CSP_PARTNER_PSEUDONYM_KEY": lambda: self.credential("CSP_PARTNER_PSEUDONYM_KEY"),
        }
        passwords = self.database_passwords()
        return process_secrets(
            process,
            database.Roles(),
            passwords,
            {k: keys[k]() for k in process.keys},
            self.kafka_client_env(process.service) if process.role == "worker" else {},
        )

    @property
    def issuer(self) -> LocalIssuer:
        """The local stand-in for the council's identity provider (docs/security.md)."""
        return LocalIssuer(self.state_dir / "auth")

    def demo_tokens(self) -> Path:
        """A token for each demo user, in tokens/ (12 hours; run `make run` again for new)."""
        folder = self.state_dir / "tokens"
        folder.mkdir(exist_ok=True)
        for user, agency, role in DEMO_USERS:
            path = folder / f"{user}.jwt"
            claims = DEMO_CLAIMS.get(user, {})
            write_private(path, self.issuer.token(user, agency, role, **claims) + "\n")
        return folder

    @property
    def demo_progress(self) -> Path:
        """Where the demo county's load says how far it has got (shown on the dashboard)."""
        return self.state_dir / "demo-progress.json"

    def processes(self) -> list[Process]:
        return service_processes(self.http_base)

    def procfile(self) -> str:
        me = f"{sys.executable} -m deploy.local.stack"
        lines = [f"postgres: {me} postgres", f"kafka: {me} kafka"]
        # Started again if it fails (deploy/local/keep.py), as compose's restart does.
        keep = f"{sys.executable} -m deploy.local.keep"
        for p in self.processes():
            # Only the workers talk to Kafka; in secure mode each as its service's own user.
            variables = " ".join(
                f"{k}={shlex.quote(str(v))}"
                for k, v in {
                    "CSP_HTTP_PORT": p.port,
                    **peers(self.http_base, p),
                    **self.process_environment(p),
                    **(
                        {"CSP_DEMO_PROGRESS_FILE": self.demo_progress}
                        if p.name == "projections_api"
                        else {}
                    ),
                }.items()
            )
            lines.append(
                f"{p.name}: {keep} env {variables} {sys.executable} -m {p.module} {p.role}"
            )
        if self.archiving:  # the WAL archiver, with its /health and /metrics
            lines.append(
                f"archiver: {keep} env CSP_HTTP_PORT={self.archiver_port} "
                f"{sys.executable} -m deploy.backup archive"
            )
        lines.append(f"prometheus: {me} prometheus")
        lines.append(f"ready: {me} ready")
        return "\n".join(lines) + "\n"

    def urls(self) -> dict[str, str]:
        base = self.http_base
        return {
            "Dashboard": f"http://127.0.0.1:{base}/dashboard",
            "Live page (incident management)": f"http://127.0.0.1:{base}/dashboard/live",
            "Boards API (JSON, CSV)": f"http://127.0.0.1:{base}/boards",
            "Statutory returns (managers)": f"http://127.0.0.1:{base}/dashboard/returns",
            "Returns' data quality": f"http://127.0.0.1:{base}/dashboard/data-quality",
            "Live feed (SSE)": f"http://127.0.0.1:{base}/boards/live",
            "Boards API docs": f"http://127.0.0.1:{base}/docs",
            "Case events API docs": f"http://127.0.0.1:{base + 1}/docs",
            "Accommodation API docs": f"http://127.0.0.1:{base + 2}/docs",
            "Education API docs": f"http://127.0.0.1:{base + 3}/docs",
            "Escalations API docs": f"http://127.0.0.1:{base + 4}/docs",
            "Quality API docs": f"http://127.0.0.1:{base + 6}/docs",
            "Partner feeds: share audit": f"http://127.0.0.1:{base + 5}/shares",
            "Health": f"http://127.0.0.1:{base}/health (each process has /health and /metrics)",
            "Prometheus (targets, alerts)": f"http://127.0.0.1:{self.prometheus_port}/",
            **(
                {"WAL archiver (backups)": f"http://127.0.0.1:{self.archiver_port}/health"}
                if self.archiving
                else {}
            ),
            **(self.partner_urls() if self.secure else {}),
        }

    def partner_urls(self) -> dict[str, str]:
        """Where a partner agency's client connects (docs/partners.md): the partner
        listener, and the CA file to verify it with."""
        address = f"{self.kafka_public_hosts[0]}:{self.kafka_external_port}"
        ca = _shown(self.tls_dir / kafka_security.EXTERNAL.ca)
        return {"Kafka for partners": f"{address} (SASL_SSL, SCRAM-SHA-512; CA file {ca})"}


def process_secrets(
    process: Process,
    roles: database.Roles,
    passwords: dict[str, str],
    keys: dict[str, str],
    kafka: dict[str, str],
) -> dict[str, str]:
    """The secret part of a process's environment (the local stack's, the e2e tests')."""
    env = {
        "CSP_POSTGRES_USER": roles.runtime(process.service),
        "CSP_POSTGRES_PASSWORD": passwords[process.service],
        **keys,
        **kafka,
    }
    if process.name == SUBJECT_ACCESS_READER:
        env.update(
            CSP_SUBJECT_ACCESS_USER=roles.subject_access,
            CSP_SUBJECT_ACCESS_PASSWORD=passwords[database.SUBJECT_ACCESS],
        )
    return env


def new_aes_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _shown(path: Path) -> str:
    """A path as a person would type it from the project folder."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# Who `make run` mints tokens for: one of each kind of user.
DEMO_USERS = [
    ("manager", "council", "manager"),
    ("practitioner", "council", "practitioner"),
    ("iro", "council", "iro"),
    ("board-member", "council", "board_member"),
    ("incident-management", "council", "incident_management"),
    ("operations", "council", "operations"),
    ("information-governance", "council", "information_governance"),
    ("police", "police", "partner"),
    ("health", "health", "partner"),
    ("schools", "schools", "partner"),
]
# The demo school's partner may send its register (the demo county's pupils are on its roll).
DEMO_CLAIMS: dict[str, dict[str, Any]] = {"schools": {"schools": ["113254"]}}


def wal_to_abandon(slot_exists: bool, wal_names: list[str]) -> bool:
    """Move the archive's WAL aside before the slot is made? Only when the slot is new and
    the archive already holds WAL: streaming would resume after it, not at the slot."""
    return not slot_exists and bool(wal_names)


def abandon_archived_wal(wal_dir: Path, slot_exists: bool) -> Path | None:
    """Move the archive's WAL folder aside when `wal_to_abandon` says so; where it went."""
    names = sorted(p.name for p in wal_dir.iterdir()) if wal_dir.is_dir() else []
    if not wal_to_abandon(slot_exists, names):
        return None
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    return wal_dir.rename(wal_dir.with_name(f"wal.abandoned-{stamp}"))


def abandoned_message(abandoned: Path) -> str:
    return (
        f"the archiver's replication slot is new but the archive held WAL: moved to "
        f"{abandoned}. The base backups taken before cannot be replayed past this gap; the "
        'archiver takes a new one as soon as it streams (docs/operations.md, "Backup and '
        'restore").'
    )


def _spawn_server(argv: list[str], on_parent_death: int, **popen: Any) -> subprocess.Popen[bytes]:
    """Start a server in a session of its own, so that a signal to its supervisor's process
    group (honcho's SIGTERM, a terminal's Ctrl-C) does not reach it before its clients have
    left; the supervisor decides when it stops. If the supervisor dies, the kernel sends the
    server `on_parent_death`, so no orphan keeps the ports."""
    return subprocess.Popen(
        argv, start_new_session=True, preexec_fn=dies_with_parent(on_parent_death), **popen
    )


def new_kafka_cluster_id() -> str:
    """A random cluster id, as Kafka's Uuid.randomUuid makes them: base64url without padding,
    never starting with '-' (the storage tool would read it as an option)."""
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _reachable_by(path: Path, user: str) -> bool:
    """Can `user` traverse every existing parent of `path`?"""
    uid = pwd.getpwnam(user).pw_uid
    for parent in [*reversed(path.parents)]:
        if not parent.exists():
            break
        st = parent.stat()
        if st.st_uid != uid and not st.st_mode & 0o001:
            return False
    return True


# -- commands ---------------------------------------------------------------------------------


def _supervise(
    proc: subprocess.Popen[bytes],
    first: int,
    then: int | None = None,
    after: Callable[[], bool] = lambda: True,
    grace_s: float = 1.5,
) -> None:
    """Wait for a child. On SIGTERM/SIGINT (honcho sends SIGTERM to every process at once),
    wait until `after()` holds (at most 3 s) so clients leave first, send `first`, and send
    `then` if the child still runs `grace_s` later."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    while proc.poll() is None and not stopping.wait(0.2):
        pass
    if proc.poll() is None:
        deadline = time.monotonic() + 3  # honcho SIGKILLs everything 5 s after SIGTERM
        while not after() and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(first)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            if then is not None:
                proc.send_signal(then)
    sys.exit(proc.wait())


def cmd_postgres(stack: LocalStack) -> None:
    # Honcho stops every process at once, so the services' last transactions (a projection's
    # batch, a relay's publish) would meet a database already going: wait until their
    # connections have closed (at most 3 s), then SIGTERM, PostgreSQL's "smart" shutdown
    # (waits for sessions to end); SIGINT ("fast") follows if a client lingers.
    _supervise(
        stack.spawn_postgres(),
        signal.SIGTERM,
        signal.SIGINT,
        after=lambda: not clients_connected(stack.postgres_port),
    )


def cmd_kafka(stack: LocalStack) -> None:
    broker = stack.spawn_kafka()
    if stack.secure:  # users and ACLs before the services can do anything
        threading.Thread(target=stack.provision_kafka, daemon=True).start()
    # Services leave their consumer groups on the way out; a broker that went first would
    # leave their members in the group until the session times out, delaying the next start.
    _supervise(broker, signal.SIGTERM, after=lambda: not clients_connected(stack.kafka_port))


def cmd_prometheus(stack: LocalStack) -> None:
    """Prometheus with the stack's configuration, its token renewed every hour (each lasts
    12 hours; Prometheus reads the file at every scrape)."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise SystemExit("prometheus is not installed: run deploy/local/bootstrap.sh")
    stack.prometheus_dir.mkdir(parents=True, exist_ok=True)
    stack.write_metrics_token()

    def renew() -> None:
        while True:
            time.sleep(3600)
            stack.write_metrics_token()

    threading.Thread(target=renew, daemon=True).start()
    _supervise(_spawn_server(stack.prometheus_argv(binary), signal.SIGTERM), signal.SIGTERM)


def cmd_ready(stack: LocalStack) -> None:
    """Wait for every process's /health, print the URLs, then keep watching health."""
    import httpx

    started = float(os.environ.get("CSP_STARTED_AT", time.time()))
    pending = {p.name: f"http://127.0.0.1:{p.port}/health" for p in stack.processes()}
    pending["prometheus"] = f"http://127.0.0.1:{stack.prometheus_port}/-/ready"
    if stack.archiving:  # healthy once it streams as PostgreSQL's synchronous standby
        pending["archiver"] = f"http://127.0.0.1:{stack.archiver_port}/health"
    deadline = time.monotonic() + 300
    # One client for every poll: httpx.get builds a client, and its TLS context, for each call
    # (17 ms of CPU), which the processes starting beside it need more.
    with httpx.Client(timeout=2, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        while pending and time.monotonic() < deadline:
            for name, url in list(pending.items()):
                try:
                    if client.get(url).status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if pending:
                time.sleep(0.5)
    if pending:
        print(
            f"NOT HEALTHY after 300s: {', '.join(sorted(pending))} (see their logs above)",
            flush=True,
        )
    else:
        # After the demo council's reference data, not before: every command names it (a
        # child's locality), so the README's calls work from the moment the URLs are printed.
        load_demo_county(stack, announce=lambda: _announce(stack, started))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:  # honcho stops everything when a process exits: this one stays
        time.sleep(3600)


def _announce(stack: LocalStack, started: float) -> None:
    tokens = stack.demo_tokens()
    print(
        f"\nSign in at http://127.0.0.1:{stack.http_base}/login with a token from "
        f"{_shown(tokens)}/ (manager.jwt: a council manager; police.jwt: a partner; "
        "information-governance.jwt: the audits). The APIs take it as "
        "`Authorization: Bearer <token>`.",
        flush=True,
    )
    print(f"The platform is up ({time.time() - started:.1f}s). Open:", flush=True)
    for label, url in stack.urls().items():
        print(f"  {label:28} {url}", flush=True)
    print("Stop with Ctrl-C, or `make stop` from another terminal.\n", flush=True)


def load_demo_county(stack: LocalStack, announce: Callable[[], None]) -> None:
    """On first start, load the demo county through the APIs, calling `announce` (once) as soon
    as its council's reference data is recorded, and the children still to come: a newcomer
    can sign in at once and watch the boards fill. A load that was interrupted is resumed on
    the next start (every command has an idempotency key); a finished one is not loaded
    again. CSP_DEMO=off skips it; CSP_DEMO=reference records the reference data only (every
    start: each item is recorded once); CSP_DEMO_SCALE sets its size (1.0: a large shire)."""
    mode = os.environ.get("CSP_DEMO", "on")
    if mode not in ("on", "off", "reference"):
        announce()
        print(f"CSP_DEMO={mode!r} is not one of on, off, reference: nothing loaded.", flush=True)
        return
    marker = stack.state_dir / "demo-county-loaded"
    if mode == "off" or (mode == "on" and marker.exists()):
        announce()
        if mode == "off":
            stack.demo_progress.unlink(missing_ok=True)  # an old load's "loading" would mislead
        else:
            print(f"The demo county is loaded ({marker.read_text().strip()}).", flush=True)
        return
    scale = float(os.environ.get("CSP_DEMO_SCALE", "0.25"))
    announced = False

    def recorded() -> None:
        nonlocal announced
        announced = True
        announce()
        if mode == "on":
            print(
                f"Loading the demo county (scale {scale}) through the public APIs while the "
                "platform runs: the boards fill as it loads (a few minutes the first time; "
                "CSP_DEMO_SCALE=1 for a full shire)...",
                flush=True,
            )

    print(
        "Every process is healthy. Recording the demo council's reference data (its "
        "localities, schools, teams and social workers)...",
        flush=True,
    )
    today = clock_from(Settings()).today()  # the services' (CSP_FIXED_TODAY pins it)
    try:
        summary = asyncio.run(
            load(
                stack.http_base,
                seed=7,
                scale=scale,
                end=today,
                auth=stack.issuer.headers("demo-loader", "council", "practitioner"),
                manager=stack.issuer.headers("demo-loader", "council", "manager"),
                progress_file=stack.demo_progress,
                reference_only=mode == "reference",
                reference_recorded=recorded,
            )
        )
    except Exception as error:
        if not announced:
            announce()
        print(
            f"The demo county did not load completely ({error!r}); run `make run` again "
            "to resume it.",
            flush=True,
        )
        return
    if mode == "reference":
        return
    marker.write_text(
        f"{summary['children']} children, {summary['commands']} commands, "
        f"{summary['seconds']}s, scale {scale}, on {today}\n"
    )
    print(
        f"The demo county is loaded: every board has its data ({marker.read_text().strip()}).",
        flush=True,
    )


def cmd_run(stack: LocalStack) -> None:
    stack.state_dir.mkdir(parents=True, exist_ok=True)
    stack.init_postgres()
    stack.init_kafka()
    busy = [port for port in _servers_ports(stack) if port_open(port)]
    if busy:
        raise SystemExit(f"ports {busy} are in use: is the stack already running? (`make stop`)")
    if shutil.which("prometheus") is None:
        raise SystemExit(
            "prometheus is not installed: run deploy/local/bootstrap.sh (make run does)"
        )
    stack.provision_with_own_postgres()
    # The Procfile holds each process's own secrets; services.env nothing secret.
    procfile, env_file = stack.state_dir / "Procfile", stack.state_dir / "services.env"
    write_private(procfile, stack.procfile())
    write_private(env_file, "".join(f"{k}={v}\n" for k, v in stack.environment().items()))
    (stack.state_dir / "honcho.pid").write_text(str(os.getpid()))
    os.environ["CSP_STARTED_AT"] = os.environ.get("CSP_STARTED_AT", str(time.time()))
    os.environ.setdefault("CSP_LOG_FORMAT", "console")
    honcho = Path(sys.executable).parent / "honcho"
    os.execv(
        str(honcho),
        [str(honcho), "start", "-f", str(procfile), "-d", str(ROOT), "-e", str(env_file)],
    )


def _servers_ports(stack: LocalStack) -> list[int]:
    """The ports of the stack's own servers (PostgreSQL, Kafka, Prometheus, the archiver)."""
    ports = [stack.postgres_port, stack.kafka_port, stack.prometheus_port]
    ports += [stack.archiver_port] if stack.archiving else []
    ports += [stack.kafka_external_port] if stack.secure else []
    return ports


def cmd_stop(stack: LocalStack) -> None:
    pidfile = stack.state_dir / "honcho.pid"
    if not pidfile.exists():
        print("the local stack is not running")
        return
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        print("the local stack is not running")
        pidfile.unlink()
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    pidfile.unlink(missing_ok=True)
    # Honcho is gone once it has SIGKILLed what had not stopped 5 s after its SIGTERM: the
    # supervisors. A server runs in a session of its own and finishes its shutdown after its
    # supervisor (Kafka's, on a loaded machine, for seconds): stopped means its port is free,
    # so that a `make run` straight after finds none of them in use.
    ports = [*_servers_ports(stack), *(p.port for p in stack.processes())]
    busy = [p for p in ports if port_open(p)]
    while busy and time.monotonic() < deadline:
        time.sleep(0.2)
        busy = [p for p in ports if port_open(p)]
    if busy:
        print(f"the local stack has stopped, but ports {busy} are still in use", flush=True)
        return
    print("the local stack has stopped")


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):  # gone, or going as it is read
        return False
    return state != "Z"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.stack")
    parser.add_argument(
        "command", choices=["run", "stop", "postgres", "kafka", "prometheus", "ready", "env"]
    )
    command = parser.parse_args().command
    # WAL archiving is on for `make run` unless CSP_BACKUP=off (deploy/backup.py).
    stack = LocalStack(archiving=os.environ.get("CSP_BACKUP", "on") != "off")
    if command == "env":
        # An operator's shell: the shared settings and the administrator's role.
        for key, value in {**stack.environment(), **stack.admin_environment()}.items():
            print(f"export {key}={shlex.quote(value)}")
        return
    {
        "run": cmd_run,
        "stop": cmd_stop,
        "postgres": cmd_postgres,
        "kafka": cmd_kafka,
        "prometheus": cmd_prometheus,
        "ready": cmd_ready,
    }[command](stack)


if __name__ == "__main__":
    main()

"""The real Kafka and PostgreSQL the tests talk to, and the service processes they start.

Where they come from, in this order:
1. the environment: CSP_TEST_POSTGRES_DSN_BASE (a postgresql:// URL without the database) and
   CSP_TEST_KAFKA_BOOTSTRAP (host:port) when both are set;
2. testcontainers, when a Docker engine is reachable;
3. otherwise the same local stack `make run` uses (deploy/local/stack.py), started in a
   folder of its own (.local/test-stack) on other ports, and stopped afterwards.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload
from urllib.parse import urlsplit

import httpx
from aiokafka.structs import ConsumerRecord

from deploy import database
from deploy.local.stack import (
    ROOT,
    LocalStack,
    Process,
    free_port,
    new_aes_key,
    new_kafka_cluster_id,
    process_secrets,
    wait_for_port,
)
from shared.auth import LocalIssuer
from shared.clock import SystemClock
from shared.settings import Settings

T = TypeVar("T")

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

# Generated per test run, like every local credential.
TEST_PSEUDONYM_KEY = secrets.token_urlsafe(24)
TEST_KEY_ENCRYPTION_KEY = new_aes_key()
# The tests' stand-in for the council's identity provider: its own signing key per run.
TEST_ISSUER = LocalIssuer(ROOT / ".local" / f"test-auth-{os.getpid()}")
# Its key goes with the run: a run's processes are stopped before it ends, and no later run
# can use it (each makes its own), so none is left lying in .local.
atexit.register(shutil.rmtree, TEST_ISSUER.folder, ignore_errors=True)


def another_issuer(prefix: str = "csp-issuer-") -> LocalIssuer:
    """An identity provider with a key of its own (not the run's), for the tests that need a
    signer the platform does not trust, or a module's own; its folder goes with the run."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return LocalIssuer(folder)


def auth(
    role: str = "manager", agency: str = "council", user: str | None = None, **claims: Any
) -> dict[str, str]:
    """The Authorization header of a user with this role and agency."""
    return TEST_ISSUER.headers(user or f"test-{agency}-{role}", agency, role, **claims)


# The tests' one HTTP client. httpx.get and its kind build a client for every call, and with
# it a TLS context loaded with every trusted certificate: 17 ms of CPU a call, most of the
# permission matrix's time and a share of every poll. Shared by every test and thread (httpx's
# clients can be); each request on a connection of its own, so no connection a server has
# closed, or a process since restarted, is used again; no cookie kept, so no request is signed
# in by an earlier one's answer. A request waits up to a minute for its answer, not httpx's
# 5 s: the services share two cores with the other test worker (a chaos run, a county's load),
# and an answer made once and then kept (a service's first OpenAPI document) took 5.4 s so in
# CI. A test waiting for an outcome polls with its own deadline; one that needs a short wait
# passes its own `timeout`.
HTTP = httpx.Client(
    timeout=httpx.Timeout(60, connect=10),
    limits=httpx.Limits(max_keepalive_connections=0),
    cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
)


class Api:
    """httpx's get and post, as one user (a council manager unless told otherwise)."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def get(self, url: str, **options: Any) -> httpx.Response:
        options["headers"] = {**self.headers, **options.get("headers", {})}
        return HTTP.get(url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        options["headers"] = {**self.headers, **options.get("headers", {})}
        return HTTP.post(url, **options)


MANAGER = Api(auth("manager"))
OPERATIONS = Api(auth("operations"))
GOVERNANCE = Api(auth("information_governance"))


@dataclass(frozen=True)
class Infrastructure:
    postgres_host: str
    postgres_port: int
    postgres_user: str
    postgres_password: str
    kafka_bootstrap: str
    source: str

    def env(self, namespace: str = "", **extra: str) -> dict[str, str]:
        """The environment a service process gets to use this infrastructure."""
        return {
            "CSP_POSTGRES_HOST": self.postgres_host,
            "CSP_POSTGRES_PORT": str(self.postgres_port),
            "CSP_POSTGRES_USER": self.postgres_user,
            "CSP_POSTGRES_PASSWORD": self.postgres_password,
            "CSP_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "CSP_PARTNER_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY,
            "CSP_KEY_ENCRYPTION_KEY": TEST_KEY_ENCRYPTION_KEY,
            "CSP_AUTH_JWKS": str(TEST_ISSUER.ensure().jwks_file),
            "CSP_NAMESPACE": namespace,
            "CSP_ENVIRONMENT": "test",
            "CSP_LOG_FORMAT": "console",
            # The returns' data-quality checker runs the DfE's validators (pandas, ~350 MB):
            # only where a test looks at it (the e2e platform turns it on).
            "CSP_RETURNS_CHECK": "false",
            **extra,
        }

    def dsn(self, database: str) -> str:
        return (
            f"postgresql://{self.postgres_user}:{self.postgres_password}@"
            f"{self.postgres_host}:{self.postgres_port}/{database}"
        )

    def provision(self, namespace: str) -> dict[str, str]:
        """The namespace's databases and roles (deploy/database.py, as this server's
        administrator); the login roles' passwords, generated for this run."""
        import asyncio

        passwords = {
            name: secrets.token_urlsafe(18)
            for name in [*database.SERVICES, database.SUBJECT_ACCESS]
        }
        admin = Settings(
            namespace=namespace,
            postgres_host=self.postgres_host,
            postgres_port=self.postgres_port,
            postgres_user=self.postgres_user,
            postgres_password=self.postgres_password,
        )
        asyncio.run(database.provision(admin, passwords))
        return passwords


_TEST_KEYS = {
    "CSP_KEY_ENCRYPTION_KEY": TEST_KEY_ENCRYPTION_KEY,
    "CSP_PARTNER_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY,
}


def process_env(
    env: dict[str, str],
    process: Process,
    passwords: dict[str, str],
    kafka: dict[str, str] | None = None,
) -> dict[str, str]:
    """`env` (Infrastructure.env's) for one process as deployed: its service's runtime role
    instead of the administrator, only the keys it uses (deploy/local/stack.py KEYS_HELD)."""
    shared = {k: v for k, v in env.items() if k not in _TEST_KEYS}
    return {
        **shared,
        **process_secrets(
            process,
            database.Roles(env.get("CSP_NAMESPACE", "")),
            passwords,
            {k: _TEST_KEYS[k] for k in process.keys},
            kafka or {},
        ),
    }


def new_namespace() -> str:
    return f"t{uuid.uuid4().hex[:10]}_"


def _docker_reachable() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextmanager
def infrastructure() -> Iterator[Infrastructure]:
    dsn_base, bootstrap = (
        os.environ.get("CSP_TEST_POSTGRES_DSN_BASE"),
        os.environ.get("CSP_TEST_KAFKA_BOOTSTRAP"),
    )
    if dsn_base and bootstrap:
        parts = urlsplit(dsn_base)
        yield Infrastructure(
            parts.hostname or "127.0.0.1",
            parts.port or 5432,
            parts.username or "postgres",
            parts.password or "",
            bootstrap,
            "environment",
        )
    elif _docker_reachable():
        yield from _containers()
    else:
        yield from _local_stack()


KAFKA_IMAGE = "apache/kafka:4.1.1"  # the broker compose and the local stack run
POSTGRES_IMAGE = "postgres:15"


def kafka_container(host: str, host_port: int) -> DockerContainer:
    """A single-node KRaft broker (broker and controller in one) of the official apache/kafka
    image, configured as the local stack's (deploy/local/stack.py kafka_properties), not
    started. testcontainers' own KafkaContainer drives Confluent's images only (its
    with_kraft() refuses other versions, its start script is Confluent's), so this is a plain
    DockerContainer. A client is told to reconnect to the advertised listener, which must
    carry the port Docker maps on the host: that port is chosen free beforehand and bound,
    since a mapped port is known only after start, when the broker's configuration is
    already made. Inside the container the broker talks to itself on its own listeners."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    protocols = "EXTERNAL:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
    return (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(9092, host_port)
        .with_envs(
            CLUSTER_ID=new_kafka_cluster_id(),
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS="EXTERNAL://:9092,INTERNAL://:19092,CONTROLLER://:9093",
            KAFKA_ADVERTISED_LISTENERS=f"EXTERNAL://{host}:{host_port},INTERNAL://localhost:19092",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=protocols,
            KAFKA_INTER_BROKER_LISTENER_NAME="INTERNAL",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
            KAFKA_LOG_DIRS="/tmp/kraft-combined-logs",
            KAFKA_NUM_PARTITIONS="6",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="false",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR="1",
            KAFKA_MIN_INSYNC_REPLICAS="1",
            KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE="false",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
            KAFKA_LOG_RETENTION_HOURS="-1",
        )
        .waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120))
    )


def _containers() -> Iterator[Infrastructure]:
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.core.docker_client import DockerClient

    # The host a client reaches published ports on: localhost for a local engine, the
    # engine's host for a remote DOCKER_HOST, or TC_HOST when set (e.g. tests run inside a
    # container: set it to the gateway's address).
    host = DockerClient().host()
    with (
        PostgresContainer(POSTGRES_IMAGE, driver=None) as pg,
        kafka_container(host, free_port()) as kafka,
    ):
        yield Infrastructure(
            pg.get_container_host_ip(),
            int(pg.get_exposed_port(5432)),
            pg.username,
            pg.password,
            f"{host}:{kafka.get_exposed_port(9092)}",
            "testcontainers",
        )


def _local_stack() -> Iterator[Infrastructure]:
    state = ROOT / ".local" / f"test-stack-{os.getpid()}"  # one per process: never shared
    shutil.rmtree(state, ignore_errors=True)
    stack = LocalStack(
        state_dir=state, postgres_port=free_port(), kafka_port=free_port(2), kafka_heap="512m"
    )
    logs = state / "logs"
    stack.init_postgres()
    logs.mkdir(parents=True, exist_ok=True)
    pg_dir = stack.postgres_dir
    with open(logs / "postgres.log", "wb") as pg_log, open(logs / "kafka.log", "wb") as k_log:
        postgres = stack.spawn_postgres(stdout=pg_log, stderr=subprocess.STDOUT)
        kafka = stack.spawn_kafka(stdout=k_log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(stack.postgres_port, 60, "PostgreSQL")
        wait_for_port(stack.kafka_port, 90, "Kafka")
        yield Infrastructure(
            "127.0.0.1",
            stack.postgres_port,
            "csp",
            stack.postgres_password(),
            f"127.0.0.1:{stack.kafka_port}",
            "local stack",
        )
    finally:
        # Both are thrown away with their data: no checkpoint, no controlled shutdown (the
        # orderly ones took most of 20 s at the end of every session).
        postgres.send_signal(signal.SIGQUIT)  # PostgreSQL's "immediate" shutdown
        kafka.kill()
        for proc in (postgres, kafka):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(state, ignore_errors=True)
        if pg_dir.parent != state:
            shutil.rmtree(pg_dir.parent, ignore_errors=True)


@contextmanager
def secure_kafka(namespace: str) -> Iterator[LocalStack]:
    """A broker of its own in secure mode (SASL/SCRAM over TLS, ACLs), as compose runs it,
    provisioned for `namespace`: the local stack's code, on free ports."""
    state = ROOT / ".local" / f"secure-kafka-{os.getpid()}-{namespace}"
    shutil.rmtree(state, ignore_errors=True)
    # Every port from this process's allocator, the partner listener's too: the stack's own
    # picker knows nothing of ports handed out to processes not yet listening.
    stack = LocalStack(
        state_dir=state,
        kafka_port=free_port(2),
        kafka_heap="512m",
        secure=True,
        external_port=free_port(),
    )
    (state / "logs").mkdir(parents=True, exist_ok=True)
    with open(state / "logs" / "kafka.log", "wb") as log:
        kafka = stack.spawn_kafka(stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(stack.kafka_port, 90, "Kafka")
        stack.provision_kafka(namespace)
        yield stack
    finally:
        kafka.terminate()
        try:
            kafka.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kafka.kill()
        shutil.rmtree(state, ignore_errors=True)


@contextmanager
def running(
    processes: dict[str, ServiceProcess], timeout_s: float = 120
) -> Iterator[dict[str, ServiceProcess]]:
    """Start every process, wait until each is healthy; stop them all afterwards."""
    try:
        for p in processes.values():
            p.start()
        for p in processes.values():
            p.wait_healthy(timeout_s)
        yield processes
    finally:
        # Every process told to stop before any is waited for: each takes a few seconds to
        # drain and close, and they do it at the same time.
        for p in processes.values():
            p.terminate()
        for p in processes.values():
            p.stop()


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, so no service outlives its test."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def wired(processes: dict[str, ServiceProcess]) -> dict[str, ServiceProcess]:
    """The processes told where the others they call are (deploy/local/stack.py `peers`):
    here each has a port of its own, not an offset from a base."""
    if "projections_api" in processes and "case_events_api" in processes:
        projections = processes["projections_api"]
        projections.env["CSP_CASE_EVENTS_URL"] = processes["case_events_api"].url
        if "quality_api" in processes:
            projections.env["CSP_QUALITY_URL"] = processes["quality_api"].url
        if "escalations_api" in processes:
            projections.env["CSP_ESCALATIONS_URL"] = processes["escalations_api"].url
    return processes


class ServiceProcess:
    """One of the platform's processes (`python -m services.X role`), started for a test."""

    def __init__(self, module: str, role: str, env: dict[str, str], log_dir: Path) -> None:
        self.module, self.role = module, role
        self.port = free_port()
        self.env = {**os.environ, **env, "CSP_HTTP_PORT": str(self.port)}
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{module.rsplit('.', 1)[-1]}-{role}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, self.role],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        return self

    def wait_healthy(self, timeout_s: float = 90) -> ServiceProcess:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} {self.role} exited: {self.tail()}")
            try:
                if HTTP.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # poll interval; the deadline above bounds the wait
        raise TimeoutError(f"{self.module} {self.role} not healthy: {self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flush; what a crash looks like."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM, not waiting: the process drains and stops (`stop` waits for it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def health(url: str) -> dict[str, Any]:
    """A process's /health (`url` its base): its status and each of its checks; {} while it
    cannot answer in time. A process is "degraded" (503) for a spell after a transient error,
    until its next good loop, or while one of its checks answers slowly, and a check that
    failed is an error with no figures: poll what is read from it, do not assert it once."""
    try:
        body: dict[str, Any] = HTTP.get(f"{url}/health", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return {}
    return body


def reports_ok(url: str) -> bool:
    return health(url).get("status") == "ok"


def health_check(url: str, name: str) -> dict[str, Any]:
    """One check of a process's /health (a consumer's lag, a relay's backlog); {} while it
    has none to give."""
    check: dict[str, Any] = health(url).get("checks", {}).get(name, {})
    return check


def platform_today() -> date:
    """The platform's today: London's date (`shared.clock.SystemClock`). The machine's own
    (`date.today()`, UTC on a server) is the day before between 23:00 and 24:00 UTC in summer;
    the dates the tests send and expect are the platform's. A test that fails while it turns
    is run once more, on the new day (tests/midnight.py)."""
    return SystemClock().today()


def poll_until(
    condition: Callable[[], T | None],
    timeout_s: float,
    interval_s: float = 0.05,
    what: str = "condition",
) -> T:
    """Wait for an asynchronous outcome: poll with a deadline, never a bare sleep."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


def holds_within(check: Callable[[], T], timeout_s: float, interval_s: float = 0.2) -> T:
    """Wait for an asynchronous outcome that a function of assertions checks: run it until it
    passes, and at the deadline let its last failure be the test's, with its message. (A board
    read just after the projection's commit may be answered by the API before the API is told
    of the change, a NOTIFY on another connection: for a moment, the answer from before it.)"""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(interval_s)


@overload
async def eventually(
    condition: Callable[[], Awaitable[T | None]],
    timeout_s: float,
    interval_s: float = ...,
    what: str = ...,
) -> T: ...
@overload
async def eventually(
    condition: Callable[[], T | None], timeout_s: float, interval_s: float = ..., what: str = ...
) -> T: ...
async def eventually(
    condition: Callable[[], Any],
    timeout_s: float,
    interval_s: float = 0.05,
    what: str = "condition",
) -> Any:
    """The asyncio form of poll_until: ``condition`` is an async callable, or a plain one
    (a flag the test's own task sets), polled between the event loop's other work."""
    import asyncio
    import inspect

    deadline = time.monotonic() + timeout_s
    while True:
        answer = condition()
        value = await answer if inspect.isawaitable(answer) else answer
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(interval_s)


async def read_everything(worker: str, consumers: list[str], timeout_s: float, what: str) -> None:
    """Wait until a worker's `consumers` (their /health checks) have read everything there
    is. The offset lag is measured after each batch: zero for all twice, a fetch apart, and
    no batch being applied then (its time lag is the age of its oldest message till done).
    A lag not yet measured (no partition assigned yet, or the topic's end not yet fetched)
    reads 0 too, and is not taken as caught up."""
    import asyncio

    caught_up = 0

    async def read_all() -> bool:
        nonlocal caught_up
        lags = [(await asyncio.to_thread(health_check, worker, n)).get("lag") for n in consumers]
        done = all(
            lag is not None
            and all(
                v["measured"] and v["offset_lag"] == 0 and v["time_lag_seconds"] == 0
                for v in lag.values()
            )
            for lag in lags
        )
        caught_up = caught_up + 1 if done else 0
        return caught_up >= 2

    await eventually(read_all, timeout_s, 1.5, what=what)


async def settled(
    relays: list[str],
    projections: str | None,
    timeout_s: float,
    what: str,
    policies: Mapping[str, list[str]] | None = None,
) -> None:
    """Wait until every event the services of these workers (`relays`, their URLs) stored is
    on its topic, and the projections worker's boards (when one runs) have read everything
    there is. `policies`: the consumers, by their worker's URL, that record events of their
    own from what they read (the escalations worker's attendance and drift watch): read to
    the end before the relays are asked again, so what they record is published too."""
    import asyncio

    async def published() -> bool:
        for worker in relays:
            relay = await asyncio.to_thread(health_check, worker, "relay")
            if relay.get("events_behind", 1):
                return False
        return True

    await eventually(published, timeout_s, 0.5, what=f"the relays to publish {what}")
    if policies:
        for worker, consumers in policies.items():
            await read_everything(worker, consumers, timeout_s, f"the policies to read {what}")
        await eventually(published, timeout_s, 0.5, what=f"the relays to publish {what}")
    if projections is not None:
        await read_everything(
            projections, ["boards"], timeout_s, f"the projections to catch up with {what}"
        )


async def read_topic(
    bootstrap: str,
    topic: str,
    timeout_s: float = 60,
    kafka_options: dict[str, Any] | None = None,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on a topic, from offset 0 to its current end (no consumer group);
    `kafka_options` (a secure broker's) replace the plain bootstrap address."""
    import asyncio

    from aiokafka import AIOKafkaConsumer

    # Without a group, a subscribed consumer is assigned every partition of the topic.
    consumer = AIOKafkaConsumer(
        topic,
        **(kafka_options or {"bootstrap_servers": bootstrap}),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no partitions of {topic}")
            await asyncio.sleep(0.05)  # poll interval until assigned, within the deadline
        partitions = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end")
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
            await asyncio.sleep(0)  # yield between polls; the deadline above bounds it
        return records
    finally:
        await consumer.stop()


def read_answer(config: dict[str, Any], topic: str, groupless: bool = False) -> bool | str:
    """What the broker answers a fetch from partition 0 of `topic` by a consumer with this
    librdkafka `config`: True (read), False (refused: the topic, or, for a `groupless` user,
    any consumer group), or the name of whatever else happened."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        {**config, "enable.partition.eof": True, "enable.auto.commit": False, "log_level": 0}
    )
    try:
        described = consumer.list_topics(topic, timeout=10).topics[topic].error
        if described is not None and described.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
            return False  # may not even see it
        consumer.assign([TopicPartition(topic, 0, 0)])
        for _ in range(40):  # librdkafka's answers come by polling: 20 s at most
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is None or error.code() == KafkaError._PARTITION_EOF:
                return True
            if error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                return False
            if error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED and groupless:
                return False
            return str(error.name())
        return "no answer"
    finally:
        consumer.close()


def write_answer(config: dict[str, Any], topic: str) -> bool | str:
    """What the broker answers one probe record sent to `topic` by a producer with this
    librdkafka `config`: True (written), False (refused), or what else happened."""
    from confluent_kafka import KafkaError, Producer

    outcome: list[Any] = []
    producer = Producer({**config, "log_level": 0, "message.timeout.ms": 15000})
    producer.produce(topic, b'{"probe": true}', on_delivery=lambda err, _: outcome.append(err))
    producer.flush(20)
    if not outcome:
        return "no answer"
    error = outcome[0]
    if error is None:
        return True
    return False if error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED else str(error.name())


def join_answer(config: dict[str, Any], topic: str) -> bool | str:
    """Whether a consumer with this librdkafka `config` (its `group.id`) is given partitions
    of `topic`: True, False (the group refused), or what else happened."""
    from confluent_kafka import Consumer, KafkaError

    consumer = Consumer({**config, "log_level": 0, "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([topic])
        for _ in range(40):  # librdkafka's answers come by polling: 20 s at most
            message = consumer.poll(0.5)
            if consumer.assignment():
                return True
            error = message.error() if message is not None else None
            if error is not None:
                code = error.code()
                return False if code == KafkaError.GROUP_AUTHORIZATION_FAILED else str(error.name())
        return "no answer"
    finally:
        consumer.close()

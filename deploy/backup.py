"""Backups of the PostgreSQL cluster that holds every service's database (one cluster, one
database per service): base backups, every commit archived before it is acknowledged, and
restore to the last commit or to any point in time.

    python -m deploy.backup base                    # a base backup, compressed, then verified
    python -m deploy.backup list                    # the backups and the WAL archive
    python -m deploy.backup check                   # is the archive healthy? (exit 1 if not)
    python -m deploy.backup restore --to latest     # the cluster lost: everything acknowledged
    python -m deploy.backup restore --to 2025-06-01T14:05:00+01:00 --into DIR
    python -m deploy.backup reconcile --since TIME  # published events a restored store lacks
    python -m deploy.backup prune                   # keep the newest CSP_BACKUP_KEEP backups
    python -m deploy.backup archive                 # the archiver: a process of `make run`

Why synchronous. `archive_command` ships a WAL segment once it is full (16 MB) or after
`archive_timeout`: whatever was committed since is on the server's disk only, and losing that
disk loses events a client was told were recorded (and the relay may already have published
them: the topics would then hold what the record does not). Instead `pg_receivewal
--synchronous` streams the WAL into the archive as it is written and flushes it there, and
the server names it its synchronous standby (`synchronous_standby_names`, the local stack's
ARCHIVER): a commit is acknowledged only once the archive has it on disk, so a restore to
the latest point loses nothing acknowledged (RPO 0), and since a transaction waiting for its
standby is not yet visible to other sessions, the relay never publishes an event the archive
lacks. The price: while the archiver is down, commits wait (its /health, the alert). Its
replication slot keeps the WAL it has not received, so an archiver that comes back misses
nothing.

Everything here works on `make run`'s cluster (deploy/local/stack.py: its data folder, its
port, its administrator `csp`; the tools run as `postgres` when we are root); CSP_STATE_DIR,
CSP_POSTGRES_PORT and CSP_BACKUP_DIR (the archive, default .local/backup) point it at another.
Compose runs the same procedure with the postgres:15 image's tools (docs/operations.md).

The archive, one folder per cluster (its system identifier: a new `initdb` is a new cluster,
whose WAL must never be mixed with the old one's):

    <CSP_BACKUP_DIR>/<system identifier>/wal/           every WAL segment; the one being
                                                        written ends `.partial`
    <CSP_BACKUP_DIR>/<system identifier>/base/<label>/  base.tar.gz, pg_wal.tar.gz,
                                                        backup_manifest, backup.json
    <CSP_BACKUP_DIR>/<system identifier>/restores/      each restore's server log and summary
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI
from prometheus_client import Counter, Gauge

from contracts.topics import DOMAIN_TOPICS
from deploy.local.stack import (
    ARCHIVER,
    LocalStack,
    _spawn_server,
    abandoned_message,
    dies_with_parent,
    find_postgres_bin,
    free_port,
    port_open,
)
from shared.http import HealthCheck, WorkerParts, serve, worker_app
from shared.logging import get_logger
from shared.retry import pause
from shared.settings import Settings

log = get_logger(__name__)

WAL_SEGMENT_BYTES = 16 * 1024 * 1024  # initdb's default, which the stack and compose keep
_SEGMENTS_PER_ID = 0x1_0000_0000 // WAL_SEGMENT_BYTES
_SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial)?$")
# What the server logs at the end of a recovery: the last transaction it replayed (to the
# end of the archive), or the first it left out (a recovery to a time).
_REPLAYED_UNTIL = re.compile(r"last completed transaction was at log time (\S+ \S+)")
_STOPPED_BEFORE = re.compile(r"recovery stopping before \w+ of transaction \d+, time (\S+ \S+)")


class BackupError(Exception):
    """A backup, restore or check that cannot go on; the message says what to do."""


# -- the pure parts: names, times, choices, the recovery configuration -------------------------


def parse_lsn(text: str) -> int:
    """A WAL position as PostgreSQL prints it ("16/B374D848") as a number."""
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def segment_of(lsn: int) -> int:
    return lsn // WAL_SEGMENT_BYTES


@dataclass(frozen=True, order=True)
class Segment:
    """A WAL segment file of the archive: its timeline, its number, whether it is the one
    pg_receivewal is still writing (`.partial`)."""

    number: int
    timeline: int
    partial: bool = False

    @classmethod
    def parse(cls, name: str) -> Segment | None:
        found = _SEGMENT.match(name)
        if found is None:
            return None
        timeline, high, low, partial = found.groups()
        return cls(
            int(high, 16) * _SEGMENTS_PER_ID + int(low, 16), int(timeline, 16), bool(partial)
        )

    @property
    def name(self) -> str:
        high, low = divmod(self.number, _SEGMENTS_PER_ID)
        return f"{self.timeline:08X}{high:08X}{low:08X}" + (".partial" if self.partial else "")


def segments(names: Iterable[str]) -> list[Segment]:
    return sorted(s for s in map(Segment.parse, names) if s is not None)


def missing_segments(names: Iterable[str], first: int, last: int) -> list[int]:
    """The segment numbers from `first` to `last` that no file of the archive holds (on any
    timeline: a restore follows the timelines' history files from one to the next)."""
    held = {s.number for s in segments(names)}
    return [n for n in range(first, last + 1) if n not in held]


def restore_command(wal_dir: Path) -> str:
    """The server's `restore_command`: a segment from the archive, or the one pg_receivewal
    was writing when the server was lost (`.partial`: the newest commits, which a restore to
    the latest point needs; only asked for when no complete copy exists). A `%` in the folder
    is doubled, since the server expands %f and %p."""
    folder = shlex.quote(str(wal_dir)).replace("%", "%%")
    return f"cp {folder}/%f %p 2>/dev/null || cp {folder}/%f.partial %p 2>/dev/null"


def parse_target(text: str) -> datetime | None:
    """`latest` (None), or a moment with its UTC offset: a time without one is refused, since
    an hour's difference (BST) would silently keep or drop an hour of the record."""
    if text.strip().lower() == "latest":
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise BackupError(f"not a time: {text!r} (e.g. 2025-06-01T14:05:00+01:00)") from error
    if moment.tzinfo is None:
        raise BackupError(
            f"{text!r} has no UTC offset: write it with one (e.g. {text}+01:00 in summer, "
            f"{text}+00:00 in winter)"
        )
    return moment


def recovery_settings(wal_dir: Path, target: datetime | None) -> dict[str, str]:
    """What the server recovering a base backup is started with: where the WAL is, where to
    stop (every commit at or before `target`; all of it for the latest point), along the
    newest timeline, and then to become the primary."""
    settings = {
        "restore_command": restore_command(wal_dir),
        "recovery_target_timeline": "latest",
        "recovery_target_action": "promote",
    }
    if target is not None:
        settings["recovery_target_time"] = target.isoformat(sep=" ")
        settings["recovery_target_inclusive"] = "on"
    return settings


def server_settings(argv: Sequence[str]) -> dict[str, str]:
    """The `-c name=value` settings of a server's command line."""
    pairs = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "-c"]
    return dict(pair.split("=", 1) for pair in pairs)


def parse_server_time(text: str) -> datetime:
    """A time as the server logs it ("2025-06-01 13:05:00.123456+00")."""
    return datetime.fromisoformat(text)


def recovered_until(server_log: str) -> datetime | None:
    """The commit time of the last transaction a recovery to the end of the archive replayed,
    from the server's log."""
    found = _REPLAYED_UNTIL.findall(server_log)
    return parse_server_time(found[-1]) if found else None


def first_left_out(server_log: str) -> datetime | None:
    """The commit time of the first transaction a recovery to a time left out."""
    found = _STOPPED_BEFORE.findall(server_log)
    return parse_server_time(found[-1]) if found else None


@dataclass(frozen=True)
class BaseBackup:
    label: str
    system: str
    timeline: int
    start_lsn: str
    end_lsn: str
    started_at: datetime
    finished_at: datetime  # after pg_basebackup returned: the backup is consistent before it
    size_bytes: int
    verified: bool
    path: Path = field(compare=False)

    @property
    def start_segment(self) -> int:
        return segment_of(parse_lsn(self.start_lsn))

    def as_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if k != "path"}
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat()
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, path: Path) -> BaseBackup:
        data = json.loads(text)
        data["started_at"] = datetime.fromisoformat(data["started_at"])
        data["finished_at"] = datetime.fromisoformat(data["finished_at"])
        return cls(**data, path=path)


def wal_range(manifest: dict[str, Any]) -> tuple[int, str, str]:
    """A backup's timeline and its first and last WAL positions, from its backup_manifest
    (the backup is consistent once recovery has replayed to the last)."""
    ranges = manifest["WAL-Ranges"]
    return int(ranges[-1]["Timeline"]), ranges[0]["Start-LSN"], ranges[-1]["End-LSN"]


def choose_backup(backups: Sequence[BaseBackup], target: datetime | None) -> BaseBackup:
    """The newest verified backup that was complete by the target: recovery must replay past
    a backup's end before it can stop, so a backup finished after the target cannot reach it."""
    usable = [b for b in backups if b.verified and (target is None or b.finished_at <= target)]
    if not usable:
        when = "" if target is None else f" finished by {target.isoformat()}"
        raise BackupError(f"no verified base backup{when} in the archive (`list` shows them)")
    return max(usable, key=lambda b: b.finished_at)


def backup_due(
    backups: Sequence[BaseBackup],
    timeline: int,
    now: datetime,
    every: timedelta,
    wal_names: Iterable[str] = (),
) -> bool:
    """Take a base backup when none verified is younger than `every`, or none was taken on
    the current timeline (after a restore: the new history should not hang on the old one),
    or the archive lacks WAL between the newest one's start and now (the archive's WAL was
    moved aside for a new slot: no restore can cross that gap)."""
    verified = sorted((b for b in backups if b.verified), key=lambda b: b.finished_at)
    if not any(b.timeline == timeline for b in verified):
        return True
    held = segments(wal_names)
    if held and missing_segments(wal_names, verified[-1].start_segment, held[-1].number):
        return True
    return now - verified[-1].finished_at >= every


def leftovers(names: Iterable[str]) -> list[str]:
    """What an interrupted base backup leaves in `base/`: the backup being taken
    (`<label>.partial`) and the unpacked copy being verified (`.verify-<label>.partial`)."""
    return sorted(n for n in names if n.endswith(".partial") or n.startswith(".verify-"))


def refuse_in_place_to_a_time(target: datetime | None, into: Path | None) -> None:
    """A restore to a time goes into a new folder only. In place, the cluster would fork a new
    timeline from a point the archive has WAL past, and the archiver, resuming after the
    archive's newest segment (old timeline, past the fork), would never stream again: every
    commit would wait."""
    if target is not None and into is None:
        raise BackupError(
            "a restore to a time goes into a new folder: add --into DIR, then take back what "
            'is needed from that copy (docs/operations.md, "Restore to a point in time", '
            "which also puts a whole copy back in place); in place, only --to latest"
        )


def to_prune(backups: Sequence[BaseBackup], keep: int) -> list[BaseBackup]:
    """All but the newest `keep` verified backups (a failed one too, once a newer one is
    verified); nothing while fewer than `keep` are verified."""
    verified = sorted((b for b in backups if b.verified), key=lambda b: b.finished_at)
    if len(verified) < keep or keep < 1:
        return []
    oldest_kept = verified[-keep].finished_at
    return [b for b in backups if b.finished_at < oldest_kept]


def wal_to_prune(names: Iterable[str], oldest_backup_start: int) -> list[str]:
    """The WAL segments no kept backup needs: those before the oldest one's start. History
    files are kept: they are small and every restore reads them."""
    return [s.name for s in segments(names) if s.number < oldest_backup_start]


@dataclass(frozen=True)
class Published:
    """An event on a domain topic, as `reconcile` reports it (no stream id: it names a child)."""

    topic: str
    partition: int
    offset: int
    event_id: UUID
    event_type: str
    timestamp: datetime


def missing_from_store(published: Iterable[Published], stored: set[UUID]) -> list[Published]:
    """The events on a topic that its store does not hold, each once (the relay may have
    published one twice)."""
    seen: set[UUID] = set()
    missing = []
    for event in published:
        if event.event_id not in stored and event.event_id not in seen:
            seen.add(event.event_id)
            missing.append(event)
    return missing


# -- the archive and the cluster --------------------------------------------------------------


@dataclass(frozen=True)
class Archive:
    root: Path

    def systems(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name.isdigit())

    def wal(self, system: str) -> Path:
        return self.root / system / "wal"

    def base(self, system: str) -> Path:
        return self.root / system / "base"

    def restores(self, system: str) -> Path:
        return self.root / system / "restores"

    def wal_names(self, system: str) -> list[str]:
        folder = self.wal(system)
        return sorted(os.listdir(folder)) if folder.is_dir() else []

    def backups(self, system: str) -> list[BaseBackup]:
        """The complete backups (a folder with its backup.json), oldest first."""
        found = [
            BaseBackup.from_json((folder / "backup.json").read_text(), folder)
            for folder in sorted(self.base(system).glob("*"))
            if (folder / "backup.json").exists()
        ]
        return sorted(found, key=lambda b: b.finished_at)


@dataclass
class Cluster:
    """The cluster and its tools: the local stack's (or a test's, by the same variables)."""

    stack: LocalStack
    archive: Archive

    @classmethod
    def local(cls) -> Cluster:
        stack = LocalStack()
        return cls(stack, Archive(stack.backup_dir))

    def tool(self, name: str) -> str:
        return str(find_postgres_bin() / name)

    def client_env(self) -> dict[str, str]:
        """The administrator's password for the client tools, never on their command line."""
        return {**os.environ, "PGPASSWORD": self.stack.postgres_password()}

    def connection(self, port: int | None = None) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(port or self.stack.postgres_port), "-U", "csp"]

    def run(self, argv: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        """A tool, as the user the server runs as; its output kept for the error message."""
        result = subprocess.run(
            argv,
            env=self.client_env(),
            capture_output=True,
            text=True,
            **self.stack.as_postgres(),
            **options,
        )
        if result.returncode != 0:
            raise BackupError(f"{Path(argv[0]).name} failed: {result.stderr.strip()[-2000:]}")
        return result

    def folder(self, path: Path) -> Path:
        """A folder of the archive (and those between it and the archive's root), owned by
        the user the server runs as."""
        current = self.stack.own(self.archive.root)
        for part in path.relative_to(self.archive.root).parts:
            current = self.stack.own(current / part)
        return current

    async def connect(self, port: int | None = None, wait_s: float = 5) -> asyncpg.Connection:
        return await asyncpg.connect(
            host="127.0.0.1",
            port=port or self.stack.postgres_port,
            user="csp",
            password=self.stack.postgres_password(),
            database="postgres",
            timeout=wait_s,
        )

    async def identity(self, port: int | None = None) -> tuple[str, int]:
        """The running cluster's system identifier and current timeline."""
        conn = await self.connect(port)
        try:
            row = await conn.fetchrow(
                "SELECT system_identifier::text AS system,"
                " ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"
                " AS timeline FROM pg_control_system()"
            )
        finally:
            await conn.close()
        assert row is not None
        return row["system"], row["timeline"]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# -- base backups -----------------------------------------------------------------------------


def take_base_backup(cluster: Cluster) -> BaseBackup:
    """pg_basebackup (tar, gzip, with the WAL that makes it consistent), then verified: the
    stored files unpacked beside it and checked by pg_verifybackup against the manifest (every
    file's checksum, and the WAL from its start to its end parsed). PostgreSQL 15's verifier
    reads only unpacked backups, so checking the very files a restore would use means
    unpacking them."""
    system, _ = asyncio.run(cluster.identity())
    base = cluster.folder(cluster.archive.base(system))
    with _one_at_a_time(base):
        clean_leftovers(base)
        return _take_base_backup(cluster, system, base)


@contextlib.contextmanager
def _one_at_a_time(base: Path, wait: bool = True) -> Iterator[bool]:
    """An exclusive lock on the archive's `base/` folder while a backup is taken (or its
    leftovers removed): another backup's `.partial` is never taken for a leftover. Yields
    whether it holds the lock (`wait=False`: not when a backup is being taken)."""
    with open(base / ".lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True


def clean_leftovers(base: Path) -> list[str]:
    """Remove what interrupted backups left in `base/` (hold `_one_at_a_time` first)."""
    found = leftovers(p.name for p in base.iterdir())
    for name in found:
        shutil.rmtree(base / name, ignore_errors=True)
    return found


def _take_base_backup(cluster: Cluster, system: str, base: Path) -> BaseBackup:
    started = datetime.now(UTC)
    label = _stamp(started)
    partial = base / f"{label}.partial"
    cluster.run(
        [
            cluster.tool("pg_basebackup"),
            *cluster.connection(),
            "--no-password",
            "-D",
            str(partial),
            "--format=tar",
            "--compress=gzip",
            "--wal-method=stream",
            "--checkpoint=fast",
            f"--label=csp {label}",
        ]
    )
    finished = datetime.now(UTC)
    backup_timeline, start_lsn, end_lsn = wal_range(
        json.loads((partial / "backup_manifest").read_text())
    )
    verify(cluster, partial)
    backup = BaseBackup(
        label=label,
        system=system,
        timeline=backup_timeline,
        start_lsn=start_lsn,
        end_lsn=end_lsn,
        started_at=started,
        finished_at=finished,
        size_bytes=_size(partial),
        verified=True,
        path=base / label,
    )
    (partial / "backup.json").write_text(backup.as_json())
    partial.rename(backup.path)
    return backup


def verify(cluster: Cluster, backup: Path) -> None:
    """Unpack a tar backup into a scratch folder beside it and run pg_verifybackup on it."""
    scratch = backup.parent / f".verify-{backup.name}"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        unpack(cluster, backup, scratch)
        cluster.run(
            [
                cluster.tool("pg_verifybackup"),
                "--quiet",
                f"--manifest-path={backup / 'backup_manifest'}",
                str(scratch),
            ]
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def unpack(cluster: Cluster, backup: Path, into: Path) -> None:
    """A tar backup's files into a data folder (0700, owned by the server's user)."""
    into.mkdir(mode=0o700, parents=True, exist_ok=True)
    cluster.stack.own(into)
    into.chmod(0o700)
    cluster.run(["tar", "-xzf", str(backup / "base.tar.gz"), "-C", str(into)])
    cluster.run(["tar", "-xzf", str(backup / "pg_wal.tar.gz"), "-C", str(into / "pg_wal")])


def prune(cluster: Cluster, system: str, keep: int) -> list[str]:
    """Drop all but the newest `keep` verified backups, and the WAL only they needed."""
    dropped = []
    for backup in to_prune(cluster.archive.backups(system), keep):
        shutil.rmtree(backup.path)
        dropped.append(backup.label)
    kept = [b for b in cluster.archive.backups(system) if b.verified]
    if kept and dropped:
        oldest = min(b.start_segment for b in kept)
        for name in wal_to_prune(cluster.archive.wal_names(system), oldest):
            (cluster.archive.wal(system) / name).unlink()
    return dropped


# -- restore ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    data_dir: Path
    backup: str
    target: datetime | None
    # Every commit up to here is in: the last one replayed (latest), or the target (a time).
    recovered_until: datetime | None
    first_left_out: datetime | None  # a recovery to a time: the first commit after it
    timeline: int
    log: Path
    moved_aside: Path | None


@contextlib.contextmanager
def server_on(
    cluster: Cluster, data_dir: Path, log_path: Path, settings: dict[str, str] | None = None
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A server on a data folder with the cluster's own settings (a recovering server must
    allow at least the connections, locks and workers its primary did), on a free loopback
    port, without the archiver as its synchronous standby (nothing commits through it but
    the restore itself); ready (when it is not recovering) when it is yielded, stopped (fast
    shutdown) on the way out."""
    port = free_port()
    own = server_settings(cluster.stack.postgres_argv(synchronous_archive=False))
    own.update(
        {
            "port": str(port),
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(data_dir),
            "synchronous_standby_names": "",
            **(settings or {}),
        }
    )
    argv = [cluster.tool("postgres"), "-D", str(data_dir)]
    for key, value in own.items():
        argv += ["-c", f"{key}={value}"]
    with open(log_path, "ab") as out:
        server = _spawn_server(
            argv, signal.SIGINT, stdout=out, stderr=subprocess.STDOUT, **cluster.stack.as_postgres()
        )
    try:
        # A server that is not recovering is waited for here; a recovery, by its caller.
        if settings is None and not asyncio.run(
            wait_until_primary(cluster, port, server, log_path, 120)
        ):
            raise BackupError(f"the server on {data_dir} stopped: see {log_path}")
        yield port, server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


async def wait_until_primary(
    cluster: Cluster, port: int, server: subprocess.Popen[bytes], log_path: Path, timeout_s: float
) -> bool:
    """Until the recovering server has replayed to its target and promoted itself (True), or
    has stopped (False: its log says why)."""
    deadline = time.monotonic() + timeout_s
    reported = time.monotonic()
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            conn = await cluster.connect(port, wait_s=2)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            await asyncio.sleep(0.1)  # poll interval while the server starts; deadline above
            continue
        try:
            row = await conn.fetchrow(
                "SELECT pg_is_in_recovery() AS recovering, pg_last_wal_replay_lsn()::text AS at"
            )
        finally:
            await conn.close()
        assert row is not None
        if not row["recovering"]:
            return True
        if time.monotonic() - reported > 10:
            print(f"  replaying the archived WAL: at {row['at']}", flush=True)
            reported = time.monotonic()
        await asyncio.sleep(0.1)  # poll interval while WAL is replayed; deadline above
    raise BackupError(f"the recovery did not finish within {timeout_s:.0f}s: see {log_path}")


def _failed_recovery(server_log: str) -> str:
    if "recovery ended before configured recovery target was reached" in server_log:
        return (
            "the archive holds no commit after the requested time, so the restore cannot know "
            "it has reached it: restore to `latest` (every commit the archive holds)"
        )
    fatal = [line for line in server_log.splitlines() if "FATAL" in line or "PANIC" in line]
    return "the recovery stopped: " + (fatal[-1] if fatal else server_log[-1500:])


def _server_running(data_dir: Path, port: int) -> bool:
    pid_file = data_dir / "postmaster.pid"
    if pid_file.exists():
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pid_file.read_text().split()[0]), 0)
            return True
    return port_open(port)


def choose_system(cluster: Cluster, system: str | None) -> str:
    systems = cluster.archive.systems()
    if system is not None:
        if system not in systems:
            raise BackupError(f"no cluster {system} in {cluster.archive.root}: {systems}")
        return system
    if len(systems) != 1:
        raise BackupError(
            f"{cluster.archive.root} holds {len(systems)} clusters ({', '.join(systems) or '-'}):"
            " name one with --system (`list` shows them)"
        )
    return systems[0]


def restore(
    cluster: Cluster,
    target: datetime | None,
    into: Path | None = None,
    system: str | None = None,
    timeout_s: float = 3600,
) -> Restored:
    """Recover a base backup and the archived WAL up to `target` (None: every commit the
    archive holds) into the cluster's own data folder (the latest point only: the platform
    stopped; what was there is moved aside, never deleted) or into another folder (`into`: a
    copy to read from, e.g. to take one database back from before a mistake). The recovery
    runs on a server of its own on a free port, listening on loopback only, stopped once it
    has promoted itself; for the cluster's own folder the archiver's slot is made first, so
    the WAL of the new timeline waits for the archiver."""
    refuse_in_place_to_a_time(target, into)
    in_place = into is None
    data_dir = (into or cluster.stack.postgres_dir).resolve()
    if in_place and _server_running(data_dir, cluster.stack.postgres_port):
        raise BackupError("PostgreSQL is running: stop the platform first (`make stop`)")
    system = choose_system(cluster, system)
    backup = choose_backup(cluster.archive.backups(system), target)
    now = datetime.now(UTC)
    moved_aside = None
    if data_dir.exists() and any(data_dir.iterdir()):
        if not in_place:
            raise BackupError(f"{data_dir} is not empty: restore into a new folder")
        moved_aside = data_dir.with_name(f"{data_dir.name}.before-restore-{_stamp(now)}")
        data_dir.rename(moved_aside)
    unpack(cluster, backup.path, data_dir)
    cluster.run(["touch", str(data_dir / "recovery.signal")])  # recover, then promote
    log_path = cluster.folder(cluster.archive.restores(system)) / f"{_stamp(now)}.log"
    settings = recovery_settings(cluster.archive.wal(system), target)
    with server_on(cluster, data_dir, log_path, settings) as (port, server):
        if not asyncio.run(wait_until_primary(cluster, port, server, log_path, timeout_s)):
            raise BackupError(_failed_recovery(log_path.read_text(errors="replace")))
        _, timeline = asyncio.run(cluster.identity(port))
        if in_place:
            asyncio.run(_make_archive_slot(cluster, port))
    server_log = log_path.read_text(errors="replace")
    restored = Restored(
        data_dir,
        backup.label,
        target,
        recovered_until(server_log) if target is None else target,
        first_left_out(server_log),
        timeline,
        log_path,
        moved_aside,
    )
    log_path.with_suffix(".json").write_text(
        json.dumps(
            {
                "at": now.isoformat(),
                "backup": backup.label,
                "target": None if target is None else target.isoformat(),
                "recovered_until": _iso(restored.recovered_until),
                "first_left_out": _iso(restored.first_left_out),
                "timeline": timeline,
                "into": str(data_dir),
                "in_place": in_place,
            },
            indent=2,
        )
        + "\n"
    )
    return restored


async def _make_archive_slot(cluster: Cluster, port: int) -> None:
    conn = await cluster.connect(port)
    try:
        await conn.execute(
            "SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS"
            " (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
            ARCHIVER,
        )
    finally:
        await conn.close()


# -- reconcile: what the topics hold that a restored store does not ----------------------------


async def published_since(
    settings: Settings, topics: Sequence[str], since: datetime
) -> dict[str, list[Published]]:
    """Every record of each topic published at or after `since` (Kafka's own time index finds
    where to start on each partition; the relay sends an event after its commit, so an event
    committed after `since` is at or after it). A topic that does not exist has none."""
    found: dict[str, list[Published]] = {topic: [] for topic in topics}
    consumer = AIOKafkaConsumer(**settings.kafka_options(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        existing = [t for t in topics if t in await consumer.topics()]
        if not existing:
            return found
        consumer.subscribe(existing)  # without a group: every partition of each assigned
        for _ in range(600):  # a minute at most: the assignment follows the metadata
            if {tp.topic for tp in consumer.assignment()} == set(existing):
                break
            await asyncio.sleep(0.1)  # poll interval until assigned
        tps = sorted(consumer.assignment())
        starts = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            start = starts.get(tp)
            if start is None:
                continue
            consumer.seek(tp, start.offset)
            while await consumer.position(tp) < ends[tp]:
                for record in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                    found[tp.topic].extend(_published(record))
        return found
    finally:
        await consumer.stop()


def _published(record: ConsumerRecord[bytes, bytes]) -> list[Published]:
    headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
    try:
        event_id = UUID(headers["event_id"])
    except (KeyError, ValueError):
        return []  # not the relay's: nothing a store could hold
    moment = datetime.fromtimestamp(record.timestamp / 1000, UTC)
    kind = headers.get("event_type", "?")
    return [Published(record.topic, record.partition, record.offset, event_id, kind, moment)]


async def reconcile(settings: Settings, since: datetime) -> dict[str, list[Published]]:
    """For each domain topic: the events published since `since` that its service's store
    does not hold. After a restore to a point before the last published event these are on
    the topics (the boards and the partner agencies have them) but no longer in the record."""
    owners = {settings.topic(d.name): d.owner for d in DOMAIN_TOPICS}
    found = await published_since(settings, list(owners), since)
    for topic, published in found.items():
        if not published:
            continue
        conn = await asyncpg.connect(settings.dsn(f"{settings.namespace}{owners[topic]}"))
        try:
            rows = await conn.fetch(
                "SELECT event_id FROM events WHERE event_id = ANY($1::uuid[])",
                [p.event_id for p in published],
            )
        finally:
            await conn.close()
        found[topic] = missing_from_store(published, {r["event_id"] for r in rows})
    return found


# -- check ------------------------------------------------------------------------------------


@dataclass
class Health:
    """What `check` and the archiver's /health report."""

    system: str | None = None
    timeline: int | None = None
    streaming: bool = False
    unarchived_bytes: int | None = None
    slot_active: bool | None = None
    newest_wal: str | None = None
    newest_wal_age_s: float | None = None
    newest_backup: str | None = None
    newest_backup_age_s: float | None = None
    missing_segments: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": not self.problems}


async def health(cluster: Cluster, backup_every: timedelta | None = None) -> Health:
    """The archive as it stands: the archiver streaming as the synchronous standby, the WAL it
    has not flushed yet, the newest WAL file and its age, the newest verified base backup and
    its age, and every segment from that backup's start on held (no gap)."""
    report = Health()
    system: str | None = None
    try:
        system, report.timeline = await cluster.identity()
        report.system = system
        conn = await cluster.connect()
        try:
            row = await conn.fetchrow(
                "SELECT (SELECT sync_state = 'sync' AND state = 'streaming' FROM"
                "  pg_stat_replication WHERE application_name = $1 LIMIT 1) AS streaming,"
                " (SELECT pg_current_wal_lsn() - flush_lsn FROM pg_stat_replication"
                "  WHERE application_name = $1 LIMIT 1)::bigint AS unarchived,"
                " (SELECT active FROM pg_replication_slots WHERE slot_name = $1) AS slot_active",
                ARCHIVER,
            )
        finally:
            await conn.close()
        assert row is not None
        report.streaming = bool(row["streaming"])
        report.unarchived_bytes = row["unarchived"]
        report.slot_active = row["slot_active"]
        if not report.streaming:
            report.problems.append(
                "the archiver is not streaming as the synchronous standby: commits wait"
            )
    except (OSError, asyncpg.PostgresError, TimeoutError):
        report.problems.append("PostgreSQL is not reachable: only the archive is checked")
    systems = cluster.archive.systems()
    system = system or (systems[-1] if len(systems) == 1 else None)
    if system is None:
        report.problems.append(f"no archive in {cluster.archive.root}")
        return report
    _check_archive(cluster.archive, system, report, backup_every)
    return report


def _check_archive(
    archive: Archive, system: str, report: Health, backup_every: timedelta | None
) -> None:
    names = archive.wal_names(system)
    held = segments(names)
    now = time.time()
    if held:
        newest = held[-1]
        report.newest_wal = newest.name
        # pg_receivewal renames `.partial` once the segment is full: seen here, gone there.
        with contextlib.suppress(FileNotFoundError):
            written = (archive.wal(system) / newest.name).stat().st_mtime
            report.newest_wal_age_s = round(now - written)
    backups = [b for b in archive.backups(system) if b.verified]
    if not backups:
        report.problems.append("no verified base backup: take one (`base`)")
        return
    newest_backup = backups[-1]
    report.newest_backup = newest_backup.label
    report.newest_backup_age_s = round(now - newest_backup.finished_at.timestamp())
    if backup_every is not None and report.newest_backup_age_s > 2 * backup_every.total_seconds():
        report.problems.append(f"the newest base backup is {report.newest_backup_age_s}s old")
    if held:
        report.missing_segments = missing_segments(
            names, newest_backup.start_segment, held[-1].number
        )
    if report.missing_segments:
        report.problems.append(
            f"WAL segments missing since the newest backup: {report.missing_segments[:5]}: "
            "take a base backup now"
        )


# -- the archiver (a process of the stack) ----------------------------------------------------

STREAMING = Gauge(
    "csp_backup_archiver_streaming",
    "1 while the archiver streams the WAL as PostgreSQL's synchronous standby (0: commits wait)",
)
UNARCHIVED = Gauge(
    "csp_backup_unarchived_bytes", "WAL written by PostgreSQL and not yet flushed to the archive"
)
LAST_BASE_BACKUP = Gauge(
    "csp_backup_last_base_backup_timestamp_seconds",
    "When the newest verified base backup finished (Unix time; 0: none)",
)
RESTARTS = Counter(
    "csp_backup_archiver_restarts_total", "Times pg_receivewal stopped and was started again"
)
FAILED_BACKUPS = Counter(
    "csp_backup_base_backups_failed_total", "Scheduled base backups that failed (retried later)"
)


def receivewal_argv(cluster: Cluster, wal_dir: Path) -> list[str]:
    """pg_receivewal as the synchronous standby: it flushes each piece of WAL to the archive's
    disk before it tells the server, through the slot (so the server keeps what it has not
    had). It exits when the connection drops; the archiver starts it again."""
    return [
        cluster.tool("pg_receivewal"),
        *cluster.connection(),
        "--no-password",
        "-D",
        str(wal_dir),
        f"--slot={ARCHIVER}",
        "--synchronous",
        "--no-loop",
    ]


async def stream_wal(cluster: Cluster, stop: asyncio.Event) -> None:
    """Run pg_receivewal until asked to stop, starting it again whenever it exits (the server
    restarted, the connection dropped). On the way out it waits (a few seconds at most) for
    the server to stop first, so that the shutdown's last WAL is in the archive too."""
    complained = False
    while not stop.is_set():
        try:
            system, _ = await cluster.identity()
            abandoned = await cluster.stack.archive_slot(keep=True)
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            if not complained:
                log.info("archiver waiting for PostgreSQL", error=type(error).__name__)
                complained = True
            await pause(stop, 1.0)
            continue
        complained = False
        if abandoned is not None:
            log.warning(abandoned_message(abandoned))
        wal_dir = cluster.folder(cluster.archive.wal(system))
        receiver = await asyncio.create_subprocess_exec(
            *receivewal_argv(cluster, wal_dir),
            env={**cluster.client_env(), "PGAPPNAME": ARCHIVER},
            # In a session of its own, so a signal to the supervisor's process group (honcho's
            # SIGTERM) does not stop it before the server's last WAL is in; and killed with
            # the archiver, so no orphan keeps the slot from the next one.
            start_new_session=True,
            preexec_fn=cluster.stack.becoming_postgres(dies_with_parent(signal.SIGTERM)),
        )
        log.info("archiver streaming", archive=str(wal_dir))
        stopping = asyncio.create_task(stop.wait())
        exited = asyncio.create_task(receiver.wait())
        await asyncio.wait({stopping, exited}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if exited.done() and not stop.is_set():
            RESTARTS.inc()
            log.warning("pg_receivewal stopped; starting it again", code=receiver.returncode)
            await pause(stop, 1.0)
            continue
        for _ in range(30):  # 3 s at most: honcho kills every process 5 s after SIGTERM
            if not port_open(cluster.stack.postgres_port):
                break
            await asyncio.sleep(0.1)  # poll interval until the server has stopped
        with contextlib.suppress(ProcessLookupError):
            receiver.terminate()
        await receiver.wait()


async def watch(
    cluster: Cluster,
    stop: asyncio.Event,
    state: Health,
    every: timedelta | None,
    keep: int,
) -> None:
    """Every few seconds: how the archive stands (the gauges, /health); a base backup when one
    is due (`every`; None: only when asked), then the old ones pruned. Nothing stops the loop
    or leaves /health stale: a check that fails is reported as a problem, a backup that fails
    is tried again an hour later while the checks go on."""
    next_backup = 0.0  # time.monotonic() from which a scheduled backup may be tried
    cleaned = False
    while not stop.is_set():
        try:
            fresh, backups, names = await _look(cluster, every)
        except Exception as error:  # any failure of a check is reported
            log.exception("archive check failed")
            fresh, backups, names = Health(problems=[f"the check failed: {error!r}"]), [], []
        for name, value in asdict(fresh).items():
            setattr(state, name, value)
        STREAMING.set(1 if fresh.streaming else 0)
        UNARCHIVED.set(fresh.unarchived_bytes or 0)
        if fresh.system is not None and not cleaned:
            cleaned = await asyncio.to_thread(_clean_at_start, cluster, fresh.system)
        due = (
            fresh.streaming
            and every is not None
            and fresh.timeline is not None
            and time.monotonic() >= next_backup
            and backup_due(backups, fresh.timeline, datetime.now(UTC), every, names)
        )
        if due and fresh.system is not None:
            try:
                taken = await asyncio.to_thread(take_base_backup, cluster)
                log.info("base backup taken", label=taken.label, bytes=taken.size_bytes)
                await asyncio.to_thread(prune, cluster, fresh.system, keep)
            except Exception as error:  # retried later; the checks go on
                FAILED_BACKUPS.inc()
                log.warning("base backup failed; trying again in an hour", error=repr(error))
                next_backup = time.monotonic() + 3600
        await pause(stop, 5.0 if fresh.streaming else 0.5)


async def _look(
    cluster: Cluster, every: timedelta | None
) -> tuple[Health, list[BaseBackup], list[str]]:
    """The archive's health, its backups and WAL (LAST_BASE_BACKUP set from them)."""
    fresh = await health(cluster, every)
    if fresh.system is None:
        return fresh, [], []
    backups = cluster.archive.backups(fresh.system)
    verified = [b for b in backups if b.verified]
    LAST_BASE_BACKUP.set(verified[-1].finished_at.timestamp() if verified else 0)
    return fresh, backups, cluster.archive.wal_names(fresh.system)


def _clean_at_start(cluster: Cluster, system: str) -> bool:
    """What backups interrupted before the archiver started left in `base/` (unless a backup
    is being taken: then its own start cleans them)."""
    base = cluster.archive.base(system)
    try:
        if base.is_dir():
            with _one_at_a_time(base, wait=False) as locked:
                if locked and (found := clean_leftovers(base)):
                    log.info("interrupted backups' leftovers removed", names=found)
    except OSError as error:  # the next base backup cleans them: not worth stopping for
        log.warning("could not remove interrupted backups' leftovers", error=repr(error))
    return True


def archiver_app(
    settings: Settings, cluster: Cluster, every: timedelta | None, keep: int
) -> FastAPI:
    """The archiver as every process of the platform is run: /health (ok while it streams as
    the synchronous standby) and /metrics, its loops in the app's lifespan."""
    state = Health()

    async def start(stop: asyncio.Event) -> WorkerParts:
        async def loop(stop: asyncio.Event) -> None:
            await asyncio.gather(
                stream_wal(cluster, stop), watch(cluster, stop, state, every, keep)
            )

        async def archive_health() -> dict[str, Any]:
            return {**state.as_dict(), "ok": state.streaming}

        async def close() -> None:
            return None

        checks: dict[str, HealthCheck] = {"archive": archive_health}
        return loop, checks, close

    return worker_app("archiver", settings, start)


# -- the command line -------------------------------------------------------------------------


def print_list(cluster: Cluster) -> None:
    systems = cluster.archive.systems()
    if not systems:
        print(f"no archive in {cluster.archive.root}")
    for system in systems:
        print(f"cluster {system} ({cluster.archive.root / system})")
        for b in cluster.archive.backups(system):
            print(
                f"  base {b.label}  finished {b.finished_at.isoformat(timespec='seconds')}  "
                f"timeline {b.timeline}  {b.size_bytes / 1e6:.1f} MB  "
                f"{'verified' if b.verified else 'NOT VERIFIED'}"
            )
        held = segments(cluster.archive.wal_names(system))
        if held:
            print(
                f"  WAL {len(held)} segments, {held[0].name} .. {held[-1].name} "
                f"(timelines {sorted({s.timeline for s in held})})"
            )
        for summary in sorted(cluster.archive.restores(system).glob("*.json")):
            done = json.loads(summary.read_text())
            print(
                f"  restored {done['at'][:19]} from {done['backup']} to "
                f"{done['target'] or 'latest'}: until {done['recovered_until']}, "
                f"timeline {done['timeline']}, into {done['into']}"
            )


def print_restored(restored: Restored) -> None:
    until = restored.recovered_until
    print(f"restored {restored.data_dir} from base backup {restored.backup}")
    print(f"  target: {restored.target.isoformat() if restored.target else 'latest'}")
    print(f"  every commit up to {until.isoformat() if until else '-'} is in")
    if restored.first_left_out:
        print(f"  the first commit left out was at {restored.first_left_out.isoformat()}")
    print(f"  now on timeline {restored.timeline}; the server's log: {restored.log}")
    if restored.moved_aside:
        print(f"  what was in the data folder is in {restored.moved_aside} (delete it when done)")
    since = (until or restored.target or datetime.now(UTC)).isoformat()
    print(
        "Before the platform's workers start, see what the topics hold that the restored "
        f"stores do not: `python -m deploy.backup reconcile --since '{since}'` "
        '(docs/operations.md, "Restore").'
    )


def local_settings() -> Settings:
    """`make run`'s stack as an operator's shell has it (PostgreSQL's administrator; Kafka's
    admin in secure mode), unless the environment says otherwise (a deployment's operator)."""
    from deploy.dead_letters import local_environment

    for key, value in local_environment().items():
        os.environ.setdefault(key, value)
    return Settings(service="backup")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.backup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("base", help="take a base backup, compressed, and verify it")
    commands.add_parser("list", help="the backups, the WAL archive and past restores")
    commands.add_parser("check", help="is the archive healthy? (exit 1 if not)")
    restore_parser = commands.add_parser("restore", help="restore to latest or to a time")
    restore_parser.add_argument("--to", required=True, help="latest, or a time with its offset")
    restore_parser.add_argument("--into", type=Path, help="a new folder (default: the cluster's)")
    restore_parser.add_argument("--system", help="which cluster of the archive (`list`)")
    reconcile_parser = commands.add_parser(
        "reconcile", help="events on the domain topics that the stores do not hold"
    )
    reconcile_parser.add_argument("--since", required=True, help="a time with its offset")
    commands.add_parser("prune", help="keep the newest CSP_BACKUP_KEEP verified backups")
    commands.add_parser("archive", help="the archiver process (`make run` runs it)")
    return parser


def _every() -> timedelta | None:
    """CSP_BACKUP_EVERY_H: hours between the archiver's base backups (0: only when asked)."""
    hours = float(os.environ.get("CSP_BACKUP_EVERY_H", "24"))
    return timedelta(hours=hours) if hours > 0 else None


def _keep() -> int:
    """CSP_BACKUP_KEEP: how many verified base backups `prune` keeps (and the WAL since)."""
    return int(os.environ.get("CSP_BACKUP_KEEP", "2"))


def cmd_archive(cluster: Cluster, args: argparse.Namespace) -> int:
    settings = Settings(service="archiver")
    serve(archiver_app(settings, cluster, _every(), _keep()), settings)
    return 0


def cmd_base(cluster: Cluster, args: argparse.Namespace) -> int:
    backup = take_base_backup(cluster)
    print(
        f"base backup {backup.label}: {backup.size_bytes / 1e6:.1f} MB, timeline "
        f"{backup.timeline}, verified by pg_verifybackup, in {backup.path}"
    )
    return 0


def cmd_list(cluster: Cluster, args: argparse.Namespace) -> int:
    print_list(cluster)
    return 0


def cmd_check(cluster: Cluster, args: argparse.Namespace) -> int:
    report = asyncio.run(health(cluster, _every()))
    print(json.dumps(report.as_dict(), indent=2))
    return 1 if report.problems else 0


def cmd_restore(cluster: Cluster, args: argparse.Namespace) -> int:
    print_restored(restore(cluster, parse_target(args.to), args.into, args.system))
    return 0


def cmd_reconcile(cluster: Cluster, args: argparse.Namespace) -> int:
    since = parse_target(args.since)
    if since is None:
        raise BackupError("--since needs a time")
    missing = asyncio.run(reconcile(local_settings(), since))
    for topic, events in missing.items():
        print(f"{topic}: {len(events)} published events its store does not hold")
        for e in events[:50]:
            print(
                f"  {e.partition}:{e.offset} {e.event_type} {e.event_id} "
                f"published {e.timestamp.isoformat(timespec='seconds')}"
            )
    return 1 if any(missing.values()) else 0


def cmd_prune(cluster: Cluster, args: argparse.Namespace) -> int:
    for system in cluster.archive.systems():
        print(f"{system}: dropped {prune(cluster, system, _keep()) or 'nothing'}")
    return 0


COMMANDS = {
    "archive": cmd_archive,
    "base": cmd_base,
    "list": cmd_list,
    "check": cmd_check,
    "restore": cmd_restore,
    "reconcile": cmd_reconcile,
    "prune": cmd_prune,
}


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        code = COMMANDS[args.command](Cluster.local(), args)
    except BackupError as error:
        raise SystemExit(f"{args.command}: {error}") from None
    sys.exit(code)


if __name__ == "__main__":
    main()

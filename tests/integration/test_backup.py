"""Backup and point-in-time recovery of the cluster that holds the event stores, as an
operator would live it (deploy/backup.py; docs/operations.md, "Backup and restore").

A PostgreSQL cluster of its own (the local stack's code, on a free port, archiving as `make
run` does: the archiver process streams every commit into the archive before it is
acknowledged), the case-events API and worker (its relay) and the projections worker (the
boards) on it, the shared broker under a fresh namespace. A base backup; commands recorded
and published; the time noted; more recorded, the last of them while the relay is down (in
the store, not on the topic); then the machine lost: every process SIGKILLed, PostgreSQL's
data folder deleted. No WAL switch, no checkpoint: nothing the procedure would not do after
a real loss. Then:

- restored to the latest point into a new folder: every acknowledged command is there (the
  newest in the segment the archiver was still writing);
- restored to the noted time into another: everything acknowledged before it, nothing after;
  and `reconcile` names the events the topic got after that time, which that copy lacks (what
  an in-place restore to that time would leave the topic holding);
- restored to the latest point in place, the platform started again: nothing acknowledged
  lost, the relay publishes what the broker never had, nothing applied twice, the boards
  equal a clean rebuild from offset 0, the archiver streams again and commands are
  acknowledged again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg
import httpx
import pytest

from chaos.invariants import check, gather, replay_differences, stored_events
from chaos.workload import Ack, Outcome, journeys, reference_data
from deploy.backup import Archive, Cluster, reconcile, restore, server_on, take_base_backup
from deploy.demo.county import Step
from deploy.local.stack import ROOT, LocalStack, wait_for_port
from services.partner_feeds.api import FEED_SQL
from services.partner_feeds.cursor import START, FeedCursor
from services.partner_feeds.feed_store import (
    Wakeups,
    placed,
    read_page,
    wait_for_page,
)
from shared.envelope import Agency
from shared.settings import Settings
from tests.conftest import fresh_database, settings_for
from tests.infrastructure import (
    Infrastructure,
    ServiceProcess,
    auth,
    eventually,
    free_port,
    health,
    new_namespace,
    poll_until,
)
from tests.integration.test_partner_feed_store import shared_with_police

pytestmark = pytest.mark.integration

PRACTITIONER = auth("practitioner", user="backup-test")
MANAGER = auth("manager", user="backup-test")
NEW_CHILD = {"child_id": "C-990001", "date_of_birth": "2015-03-02", "locality": "Exeter"}


@dataclass
class Site:
    """The test's own cluster, its archive, and the platform's processes on it."""

    stack: LocalStack
    cluster: Cluster
    infra: Infrastructure
    namespace: str
    env: dict[str, str]
    logs: Path
    server: subprocess.Popen[bytes] | None = None

    def process(self, module: str, role: str) -> ServiceProcess:
        return ServiceProcess(module, role, self.env, self.logs)

    def start_postgres(self) -> None:
        with open(self.logs / "postgres.log", "ab") as log:  # the server keeps its own copy
            self.server = self.stack.spawn_postgres(stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.stack.postgres_port, 60, "PostgreSQL")

    def lose_the_machine(self, processes: list[ServiceProcess]) -> None:
        """SIGKILL to the postmaster's whole process group (its backends, its WAL sender) and
        to every process of the platform; then the data folder deleted."""
        assert self.server is not None
        os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait(timeout=30)
        for p in processes:
            if p.proc is not None and p.proc.poll() is None:
                p.kill()
        shutil.rmtree(self.stack.postgres_dir)

    def dsn(self, service: str, port: int | None = None) -> str:
        return (
            f"postgresql://csp:{self.stack.postgres_password()}@127.0.0.1:"
            f"{port or self.stack.postgres_port}/{self.namespace}{service}"
        )

    def settings(self, service: str, port: int | None = None) -> Settings:
        infra = self.infra
        if port is not None:
            infra = Infrastructure(
                "127.0.0.1",
                port,
                "csp",
                self.stack.postgres_password(),
                self.infra.kafka_bootstrap,
                "restored copy",
            )
        return settings_for(infra, service, self.namespace, projection_ledger=True)


@pytest.fixture
def site(infra: Infrastructure, log_dir: Path) -> Iterator[Site]:
    state = ROOT / ".local" / f"backup-test-{os.getpid()}"
    shutil.rmtree(state, ignore_errors=True)
    stack = LocalStack(state_dir=state, postgres_port=free_port(), archiving=True)
    stack.init_postgres()
    archive = Archive(state / "backup")
    mine = Infrastructure(
        "127.0.0.1",
        stack.postgres_port,
        "csp",
        stack.postgres_password(),
        infra.kafka_bootstrap,
        "backup test",
    )
    namespace = new_namespace()
    env = mine.env(
        namespace,
        CSP_DEMO="off",
        CSP_PROJECTION_LEDGER="true",
        CSP_RATE_LIMIT="100000/second",
        # The archiver's: the test's cluster and archive; base backups only when asked.
        CSP_STATE_DIR=str(state),
        CSP_BACKUP_DIR=str(archive.root),
        CSP_BACKUP_EVERY_H="0",
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    found = Site(stack, Cluster(stack, archive), mine, namespace, env, log_dir)
    try:
        yield found
    finally:
        if found.server is not None and found.server.poll() is None:
            found.server.send_signal(signal.SIGINT)
            found.server.wait(timeout=60)
        for restore_log in archive.root.glob("*/restores/*"):  # the recoveries' server logs
            shutil.copy(restore_log, log_dir / f"restore-{restore_log.name}")
        shutil.rmtree(state, ignore_errors=True)


# -- recording commands, as an integration would ------------------------------------------------


def record(
    api: str, steps: list[list[tuple[str, Step]]], headers: dict[str, str], deadline_s: float = 120
) -> list[Ack]:
    """Each journey's commands in order (journeys side by side), each with its idempotency
    key, sent again after a transport error or a 5xx (backing off, up to `deadline_s` per
    command); the acknowledgements."""

    async def run() -> list[Ack]:
        acks: list[Ack] = []
        async with httpx.AsyncClient(timeout=30) as client:

            async def send(key: str, step: Step) -> httpx.Response:
                failures: list[str] = []

                async def answered() -> httpx.Response | None:
                    """The answer, or None after a transport error or a 5xx (sent again)."""
                    try:
                        r = await client.post(
                            f"{api}{step.path}",
                            json=step.body,
                            headers={**headers, "Idempotency-Key": key},
                        )
                    except httpx.TransportError as error:
                        failures.append(repr(error))
                        return None
                    if r.status_code >= 500:
                        failures.append(f"{r.status_code} {r.text[:300]}")
                        return None
                    return r

                try:
                    return await eventually(answered, deadline_s, 0.5, f"{key} acknowledged")
                except TimeoutError:
                    raise AssertionError((key, "not acknowledged", failures[-1:])) from None

            async def journey(commands: list[tuple[str, Step]]) -> None:
                for key, step in commands:
                    r = await send(key, step)
                    assert r.status_code in (200, 201), (key, r.status_code, r.text[:300])
                    body = r.json()
                    acks.append(Ack(key, body["stream_id"], body["stream_version"], 0.0))

            await asyncio.gather(*(journey(j) for j in steps))
        return acks

    return asyncio.run(run())


def phases(seed: int = 11) -> list[list[list[tuple[str, Step]]]]:
    """The county's reference data and its children's journeys, split into four phases of
    whole journeys (a child's commands depend on each other, never on another phase's)."""
    children = journeys(seed, 60)
    quarter = max(1, len(children) // 4)
    return [children[:quarter], children[quarter : 2 * quarter],
            children[2 * quarter : 3 * quarter], children[3 * quarter :]]  # fmt: skip


def _relay_idle(relay: ServiceProcess) -> bool:
    answer = health(relay.url)
    relay_check = answer.get("checks", {}).get("relay", {})
    return answer.get("status") == "ok" and relay_check.get("events_behind") == 0


def relay_caught_up(relay: ServiceProcess, timeout_s: float = 30) -> None:
    poll_until(lambda: _relay_idle(relay), timeout_s, 0.1, "the relay to catch up")


async def _server_now(cluster: Cluster) -> datetime:
    conn = await cluster.connect()
    try:
        moment: datetime = await conn.fetchval("SELECT clock_timestamp()")
        return moment
    finally:
        await conn.close()


async def _settled(site: Site) -> bool:
    """Every stored event applied by the live boards (their ledger)."""
    store = await asyncpg.connect(site.dsn("case_events"))
    boards = await asyncpg.connect(site.dsn("projections"))
    try:
        stored = await store.fetchval("SELECT count(*) FROM events")
        live = await boards.fetchval("SELECT schema_name FROM board_builds WHERE live")
        if live is None:
            return False
        applied = await boards.fetchval(
            f'SELECT count(DISTINCT event_id) FROM "{live}".projection_applied'
        )
        return bool(stored) and applied >= stored
    finally:
        await store.close()
        await boards.close()


async def _waiting_for_the_archive(cluster: Cluster) -> bool:
    conn = await cluster.connect()
    try:
        return bool(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
            )
        )
    finally:
        await conn.close()


def acknowledged_only_once_archived(
    site: Site, archiver: ServiceProcess, api: ServiceProcess
) -> list[Ack]:
    """With pg_receivewal stopped (SIGSTOP), a command's commit waits for it (SyncRep) and is
    not acknowledged; once it runs again, the command is acknowledged."""
    assert archiver.proc is not None
    children = Path(f"/proc/{archiver.proc.pid}/task/{archiver.proc.pid}/children").read_text()
    (receiver,) = map(int, children.split())  # pg_receivewal, the archiver's only child
    child = Step("case_events", "/children", {**NEW_CHILD, "child_id": "C-990002"})
    os.kill(receiver, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(1) as pool:
            sent = pool.submit(
                record, api.url, [[("backup-test-while-paused", child)]], PRACTITIONER
            )
            poll_until(
                lambda: asyncio.run(_waiting_for_the_archive(site.cluster)),
                30,
                0.1,
                "a commit waiting for the archive",
            )
            assert not sent.done(), "acknowledged while the archive did not have it"
            os.kill(receiver, signal.SIGCONT)
            return sent.result(timeout=30)
    finally:
        os.kill(receiver, signal.SIGCONT)


# -- the test ----------------------------------------------------------------------------------


def test_a_lost_cluster_is_restored_to_a_point_in_time_and_to_its_last_commit(site: Site) -> None:
    archiver = site.process("deploy.backup", "archive")
    api = site.process("services.case_events", "api")
    relay = site.process("services.case_events", "worker")
    boards = site.process("services.projections", "worker")
    platform = [archiver, api, relay, boards]
    first, second, third, fourth = phases()
    try:
        site.start_postgres()
        archiver.start().wait_healthy(60)  # streaming as the synchronous standby
        for p in (api, relay, boards):
            p.start()
        for p in (api, relay, boards):
            p.wait_healthy(120)

        # Recorded and published; then the base backup; then the time noted.
        reference = record(api.url, [reference_data(11, 60)], MANAGER)
        phase_a = reference + record(api.url, first, PRACTITIONER)
        relay_caught_up(relay)
        backup = take_base_backup(site.cluster)
        assert backup.verified
        noted = asyncio.run(_server_now(site.cluster))

        phase_b = record(api.url, second, PRACTITIONER)  # after the time: published
        relay_caught_up(relay)
        relay.kill()  # the relay down: what follows is in the store only
        phase_c = record(api.url, third, PRACTITIONER) + record(api.url, fourth, PRACTITIONER)
        phase_c += acknowledged_only_once_archived(site, archiver, api)
        acknowledged = phase_a + phase_b + phase_c
        assert phase_b and phase_c

        site.lose_the_machine(platform)
        assert not site.stack.postgres_dir.exists()

        # 1. The latest point, into a new folder: every acknowledged command is there.
        latest_copy = site.stack.state_dir / "restored-latest"
        restored = restore(site.cluster, None, into=latest_copy)
        assert restored.backup == backup.label
        with server_on(site.cluster, latest_copy, site.logs / "latest-copy.log") as (port, _):
            latest_events, latest_commands = asyncio.run(
                stored_events(site.dsn("case_events", port))
            )
        assert {a.key for a in acknowledged} <= set(latest_commands), "acknowledged but lost"

        def events_of(acks: list[Ack]) -> set[UUID]:
            """A phase's events: those of its streams (a child's journey is in one phase)."""
            streams = {a.stream_id for a in acks}
            return {e for e, (stream, _) in latest_events.items() if stream in streams}

        # 2. The noted time, into another: what came before, nothing after; and what the
        # topic holds that this copy does not (the events published after the time).
        timed_copy = site.stack.state_dir / "restored-at-noted-time"
        restored = restore(site.cluster, noted, into=timed_copy)
        assert restored.first_left_out is not None and restored.first_left_out > noted
        with server_on(site.cluster, timed_copy, site.logs / "timed-copy.log") as (port, _):
            timed_events, timed_commands = asyncio.run(stored_events(site.dsn("case_events", port)))
            published_later = asyncio.run(reconcile(site.settings("case_events", port), noted))
        assert {a.key for a in phase_a} <= set(timed_commands)
        assert not {a.key for a in phase_b + phase_c} & set(timed_commands), "restored too far"
        assert not (events_of(phase_b) | events_of(phase_c)) & set(timed_events)
        topic = site.settings("case_events").topic("case-events")
        flagged = {e.event_id for e in published_later[topic]}
        assert flagged == events_of(phase_b)  # published after the time; the relay was up

        # 3. The latest point in place; PostgreSQL started, the topics reconciled with the
        # stores (nothing published that the record lacks); the platform started again.
        restored = restore(site.cluster, None)
        assert restored.timeline == 2
        assert restored.recovered_until is not None
        site.start_postgres()
        nothing = asyncio.run(reconcile(site.settings("case_events"), restored.recovered_until))
        assert not any(nothing.values()), nothing
        archiver, api, relay, boards = (
            site.process("deploy.backup", "archive"),
            site.process("services.case_events", "api"),
            site.process("services.case_events", "worker"),
            site.process("services.projections", "worker"),
        )
        platform = [archiver, api, relay, boards]
        for p in platform:
            p.start()
        for p in platform:
            p.wait_healthy(120)
        poll_until(lambda: asyncio.run(_settled(site)), 60, 0.2, "the boards to catch up")

        outcome = Outcome(offered=len(acknowledged), acks=acknowledged)
        evidence = asyncio.run(
            gather(outcome, site.settings("projections"), site.dsn("case_events"),
                   site.dsn("projections"))
        )  # fmt: skip
        figures = check("restored", outcome.offered, evidence)
        assert figures.lost == 0 and figures.duplicates_applied == 0, figures.notes
        assert set(evidence.stored) <= set(evidence.published)  # the relay published the rest
        differences, _ = asyncio.run(
            replay_differences(site.settings("projections"), site.dsn("projections"))
        )
        assert differences == dict.fromkeys(differences, 0), "the boards differ from a replay"

        # The archiver streams again, on the new timeline: commands are acknowledged again.
        child = Step("case_events", "/children", NEW_CHILD)
        assert record(api.url, [[("backup-test-after-restore", child)]], PRACTITIONER)
        held = site.cluster.archive.wal_names(backup.system)
        assert any(name.startswith("00000002") for name in held)
    finally:
        for p in platform:
            p.stop()


# -- a partner's cursor across a restore to a time -----------------------------------------


async def _share(dsn: str, key: str) -> None:
    """A message shared with the police and kept for its HTTP feed, in a transaction of its
    own (as the worker's batches are)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await shared_with_police(conn, key)
    finally:
        await conn.close()


async def _feed_after(dsn: str, after: FeedCursor) -> tuple[list[str], FeedCursor]:
    """The police feed's messages (their keys) after `after`, and the cursor to go on from."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    try:

        async def never_gone() -> bool:
            return False

        page = await wait_for_page(pool, Wakeups(), Agency.POLICE, after, 100, 0, never_gone)
        return [s.item["key"] for s in page.served], page.next
    finally:
        await pool.close()


def test_an_agency_s_cursor_from_before_a_restore_to_a_time_misses_nothing_kept_after_it(
    site: Site,
) -> None:
    """The whole cluster put back to a time (docs/operations.md) is a copy on a new timeline,
    which hands out again the transaction ids that came after the time. An agency that had
    read the feed past that time holds a cursor past them: every message kept on the copy
    would have landed behind it, never served (sql/004_*.sql). Here the police read five
    messages, the cluster is lost and restored to the time after the second, and two are kept
    on the copy under transaction ids below the police's cursor: both are served after it,
    and after a cursor from before the time, the message after that cursor as well."""
    archiver = site.process("deploy.backup", "archive")
    try:
        site.start_postgres()
        archiver.start().wait_healthy(60)
        feed = asyncio.run(_migrated_feed(site))
        backup = take_base_backup(site.cluster)
        asyncio.run(_share(feed, "P-1"))
        asyncio.run(_share(feed, "P-2"))
        noted = asyncio.run(_server_now(site.cluster))
        for key in ("P-3", "P-4", "P-5"):
            asyncio.run(_share(feed, key))
        keys, read_to = asyncio.run(_feed_after(feed, START))
        assert keys == ["P-1", "P-2", "P-3", "P-4", "P-5"]
        _, after_first = asyncio.run(_feed_after_one(feed))
        assert read_to.timeline == after_first.timeline == 1

        site.lose_the_machine([archiver])
        copy = site.stack.state_dir / "restored-at-noted-time"
        restored = restore(site.cluster, noted, into=copy)
        assert restored.backup == backup.label and restored.timeline == 2
        with server_on(site.cluster, copy, site.logs / "feed-copy.log") as (port, _):
            on_copy = site.dsn("partner_feeds", port)
            asyncio.run(_share(on_copy, "P-6"))
            asyncio.run(_share(on_copy, "P-7"))
            handed_out_again = asyncio.run(_transaction_of(on_copy, "P-6"))
            assert handed_out_again < read_to.at.transaction_id  # the hazard, in this run

            keys, went_on = asyncio.run(_feed_after(on_copy, read_to))
            assert keys == ["P-6", "P-7"], "kept after the restore, behind the cursor"
            assert went_on.timeline == 2
            assert asyncio.run(_feed_after(on_copy, went_on))[0] == []
            assert asyncio.run(_feed_after(on_copy, after_first))[0] == ["P-2", "P-6", "P-7"]
            assert asyncio.run(_feed_after(on_copy, START))[0] == ["P-1", "P-2", "P-6", "P-7"]
            # A message's own cursor, given on the copy, reads on from its place.
            key, at_p2 = asyncio.run(_feed_after_one(on_copy, after_first))
            assert (key, at_p2.timeline) == ("P-2", 2)
            assert asyncio.run(_feed_after(on_copy, at_p2))[0] == ["P-6", "P-7"]
    finally:
        archiver.stop()


async def _migrated_feed(site: Site) -> str:
    async with fresh_database(site.infra, site.namespace, "partner_feeds", *FEED_SQL):
        pass
    return site.dsn("partner_feeds")


async def _feed_after_one(dsn: str, after: FeedCursor = START) -> tuple[str, FeedCursor]:
    """The first message after `after` (its key) and its cursor."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    try:
        start = await placed(pool, Agency.POLICE, after)
        (first,) = await read_page(pool, Agency.POLICE, start, 1, after == START)
        return first.item["key"], first.cursor
    finally:
        await pool.close()


async def _transaction_of(dsn: str, key: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        txid: str = await conn.fetchval(
            "SELECT transaction_id::text FROM partner_feed WHERE record_key = $1", key
        )
        return int(txid)
    finally:
        await conn.close()

"""Rebuild from offset 0, beside the live boards, after duplicates and a crash: the rebuilt
read model equals the live one row for row, and the worker carries on in it."""

from __future__ import annotations

import asyncio
import itertools
import re
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import asyncpg
import httpx
import pytest

from contracts.case_events import events as ce
from deploy.local.stack import ROOT
from services.projections.boards.model import Happened
from services.projections.boards.queries import happened
from services.projections.builds import (
    BUILDS_SQL,
    READ_MODEL_SQL,
    differences,
    ensure_live_build,
)
from shared.db import open_database
from shared.migrations import PROJECTION_SQL, ensure_database, scripts_in
from shared.retry import pause
from shared.settings import Settings
from tests.conftest import settings_for
from tests.infrastructure import MANAGER, Infrastructure, ServiceProcess, eventually
from tests.integration.scenario import county
from tests.integration.test_seed_figures import seed_events
from tests.publisher import Log

pytestmark = pytest.mark.integration
TABLES = [
    ("children", "child_id"),
    ("child_facts", "attribute, child_id, valid_from, seq"),
    ("occurrences", "kind, subject_id, seq"),
    ("attention_items", "item_id"),  # the incident management teams' queue
    ("attention_acknowledgements", "item_id"),
]


async def rows(conn: asyncpg.Connection, schema: str) -> dict[str, list[tuple[object, ...]]]:
    return {
        t: [tuple(r) for r in await conn.fetch(f'SELECT * FROM "{schema}".{t} ORDER BY {o}')]
        for t, o in TABLES
    }


async def indexes(conn: asyncpg.Connection, schema: str) -> set[tuple[str, str, str]]:
    """Every index of a build: (table, name, definition with the schema left out)."""
    return {
        (
            r["tablename"],
            r["indexname"],
            r["indexdef"].replace(f'"{schema}".', "").replace(f"{schema}.", ""),
        )
        for r in await conn.fetch(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1",
            schema,
        )
    }


async def offsets(conn: asyncpg.Connection) -> int:
    schema = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
    if schema is None:
        return 0
    return int(
        await conn.fetchval(
            f'SELECT coalesce(sum(next_offset), 0) FROM "{schema}".projection_offsets'
        )
    )


async def run_rebuild(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m services.projections rebuild`, as an operator runs it."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.projections", "rebuild"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


class WhileRebuilt:
    """Children registered all the while, and the live boards' count of children, each count
    read in one snapshot (which build is live, and its rows): it must never go down, the swap
    included. (Swapped in at the topics' ends of the rebuild's start, the children registered
    since were gone from the boards until the worker had followed the swap and caught up.)
    Leaving waits for twenty counts more: the boards after the swap are counted too."""

    def __init__(self, settings: Settings, dsn: str) -> None:
        self.settings, self.dsn = settings, dsn
        self.recorded = Log()
        self.counted: list[tuple[str, int]] = []
        self.stop = asyncio.Event()

    async def __aenter__(self) -> WhileRebuilt:
        self.conn = await asyncpg.connect(self.dsn)
        self.tasks = [asyncio.create_task(self._record()), asyncio.create_task(self._count())]
        return self

    async def __aexit__(self, *_: object) -> None:
        mark = len(self.counted)
        try:
            await eventually(lambda: len(self.counted) >= mark + 20, 30, what="counts after")
        finally:
            self.stop.set()
            await asyncio.gather(*self.tasks)
            await self.conn.close()

    async def _record(self) -> None:
        while not self.stop.is_set():
            child = f"CH-DURING-{len(self.recorded.events)}"
            self.recorded.add(
                "case-events",
                child,
                ce.ChildRegistered(
                    child_id=child, date_of_birth=date(2016, 1, 1), locality="South"
                ),
            )
            await self.recorded.publish(self.settings)
            await pause(self.stop, 0.05)  # the recording's pace, ended by the stop

    async def _count(self) -> None:
        while not self.stop.is_set():
            async with self.conn.transaction(isolation="repeatable_read", readonly=True):
                live = await self.conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
                n = await self.conn.fetchval(f'SELECT count(*) FROM "{live}".children')
            self.counted.append((live, n))
            await pause(self.stop, 0.01)  # the count's poll, ended by the stop


async def rebuilt_while_recording(
    settings: Settings, dsn: str, env: dict[str, str], before: str
) -> None:
    """Rebuilt again while children are being registered: the boards never lose one, the
    swap included, and every one is on them at the end."""
    async with WhileRebuilt(settings, dsn) as meanwhile:
        rebuild = await run_rebuild(env)
    assert rebuild.returncode == 0, rebuild.stderr[-2000:]
    after = rebuild.stdout.strip().splitlines()[-1]
    assert {live for live, _ in meanwhile.counted} == {before, after}  # before and after
    went_down = [(a, b) for a, b in itertools.pairwise(meanwhile.counted) if b[1] < a[1]]
    assert not went_down, went_down
    registered = [stream for _, stream, _ in meanwhile.recorded.events]
    assert len(registered) > 5  # children were registered during the rebuild
    conn = await asyncpg.connect(dsn)
    try:

        async def all_on_the_boards() -> bool:
            on = await conn.fetchval(
                f'SELECT count(*) FROM "{after}".children WHERE child_id = ANY($1::text[])',
                registered,
            )
            return bool(on == len(registered))

        await eventually(all_on_the_boards, 60, 0.1, what="the children registered meanwhile")
    finally:
        await conn.close()


async def test_a_rebuild_beside_the_live_boards_equals_them_and_is_followed(
    infra: Infrastructure,
    namespace: str,
    log_dir: Path,
) -> None:
    settings = settings_for(infra, "projections", namespace)
    log = seed_events()
    log.events += county().events
    sent = await log.publish(settings, repeat_every=5)  # a fifth of the messages twice
    env = infra.env(namespace, CSP_PROJECTION_BATCH_SIZE="50")
    await ensure_database(infra.dsn("postgres"), settings.database)
    conn = await asyncpg.connect(infra.dsn(settings.database))
    worker = ServiceProcess("services.projections", "worker", env, log_dir).start()
    api = ServiceProcess("services.projections", "api", env, log_dir).start()
    try:

        async def a_third() -> bool:
            try:
                return await offsets(conn) > sent // 3
            except asyncpg.UndefinedTableError:
                return False

        await eventually(a_third, 120, 0.005, what="a third of the messages")
        worker.kill()  # the crash
        killed_at = await offsets(conn)
        assert killed_at < sent
        worker = ServiceProcess("services.projections", "worker", env, log_dir).start()

        async def all_of_them() -> bool:
            return await offsets(conn) == sent

        await eventually(all_of_them, 120, 0.1, what="the restarted worker")
        api.wait_healthy()
        before = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")

        answers: list[int | str] = []
        stop = threading.Event()

        def keep_asking() -> None:  # the live boards keep answering during the rebuild
            while not stop.is_set():
                try:
                    answers.append(
                        MANAGER.get(
                            f"{api.url}/boards/timeliness",
                            params={"as_at": "2024-06-30", "view": "council"},
                        ).status_code
                    )
                except httpx.HTTPError as error:  # an answer not given is one of the answers
                    answers.append(type(error).__name__)
                stop.wait(0.05)

        asker = threading.Thread(target=keep_asking)
        asker.start()
        rebuild = await run_rebuild({**worker.env, "CSP_LOG_LEVEL": "INFO"})  # each member says so
        stop.set()
        asker.join()
        assert rebuild.returncode == 0, rebuild.stderr[-2000:]
        assert "rebuilding" in rebuild.stderr and "msg" in rebuild.stderr  # the progress bar
        # Two members filled it (CSP_REBUILD_MEMBERS): another process ran beside this one
        # in the build's consumer group, and stopped when the build had caught up. (One this
        # small may be read whole by either before the other joins.)
        logged = rebuild.stdout + rebuild.stderr
        assert "rebuild member stopped" in logged and "member-2" in logged, logged[-2000:]
        # Today's boards (the API keeps them in the live build as it starts) kept in the new
        # build before the swap: kept by the API after it, the live worker would wait.
        assert re.search(r"the live build's days kept .*days=[1-9]", logged), logged[-2000:]
        after = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
        assert after == rebuild.stdout.strip().splitlines()[-1] and after != before
        assert answers and set(answers) == {200}

        live, rebuilt = await rows(conn, before), await rows(conn, after)
        assert len(rebuilt["children"]) == 1006
        assert rebuilt == live
        # Every read-model table, not only these (`differences`, as the chaos runs and the
        # benchmark's rebuild at 1,000,000 events compare): the same rows both ways.
        compared = await differences(conn, before, after)
        assert {"chronology", "assurance_evaluations", "attention_items"} <= set(compared)
        assert "projection_offsets" not in compared
        assert compared == dict.fromkeys(compared, 0)
        # A row one build lacks is a difference, found from either side.
        await conn.execute(
            f'DELETE FROM "{before}".chronology'
            f' WHERE ctid = (SELECT min(ctid) FROM "{before}".chronology)'
        )
        assert await differences(conn, after, before) == {**compared, "chronology": 1}
        # Filled without its secondary indexes, the rebuilt build has every one of them
        # again before it is swapped in, and the planner's statistics of its tables.
        built = await indexes(conn, after)
        assert built == await indexes(conn, before)
        assert len(built) > 20 and ("child_facts", "child_facts_of_a_child") in {
            (table, name) for table, name, _ in built
        }
        analysed = {
            r["relname"]
            for r in await conn.fetch(
                "SELECT relname FROM pg_stat_user_tables"
                " WHERE schemaname = $1 AND last_analyze IS NOT NULL",
                after,
            )
        }
        assert {"child_facts", "chronology", "occurrences"} <= analysed

        # The worker follows the swap: a new event lands in the rebuilt build.
        await (
            Log()
            .add(
                "case-events",
                "CH-NEW",
                ce.ChildRegistered(
                    child_id="CH-NEW", date_of_birth=date(2015, 1, 1), locality="South"
                ),
            )
            .publish(settings)
        )

        async def followed() -> bool:
            return bool(
                await conn.fetchval(
                    f'SELECT 1 FROM "{after}".children WHERE child_id = $1', "CH-NEW"
                )
            )

        await eventually(followed, 60, 0.1, what="the worker to follow the rebuilt build")
        await rebuilt_while_recording(settings, infra.dsn(settings.database), worker.env, after)
        print(
            f"\nrebuild: {sent} messages (duplicates included), worker killed at "
            f"{killed_at}; rebuilt build equals the live one, {len(answers)} board "
            "queries answered during the rebuild"
        )
    finally:
        api.stop()
        worker.stop()
        await conn.close()


D = date(2024, 3, 1)
# Occurrences as a build made before the details had names stored them: (kind, subject, day,
# a, b, n, m), and what each reads back as now.
OLD_OCCURRENCES = [
    ("referral", "C-1", "REF", None, None, None),
    ("triage", "F-1", "North", None, None, None),
    ("breach", "C-1", "UNDER_16_UNREGULATED", "P2", 15, None),
    ("attendance", "C-1", "100001", None, 2, 0),
    ("dip_sample", "C-1", "RED", None, 1, None),
    ("dip_sample", "C-1", "RED", "AMBER", 0, None),
    ("escalation_raised", "E-1", "drift_in_cp_plan", "C-1", None, None),
]
READ_BACK = [
    Happened("referral", "C-1", D, "Exeter", source="REF"),
    Happened("triage", "F-1", D, "North"),
    Happened(
        "breach", "C-1", D, "Exeter", breach="UNDER_16_UNREGULATED", accommodation="P2", age=15
    ),
    Happened(
        "attendance",
        "C-1",
        D,
        "Exeter",
        school_urn="100001",
        sessions_attended=2,
        sessions_missed=0,
    ),
    Happened("dip_sample", "C-1", D, "Exeter", rating="RED", agreed=True),
    Happened("dip_sample", "C-1", D, "Exeter", rating="RED", moderated_to="AMBER", agreed=False),
    Happened("escalation_raised", "E-1", D, "Exeter", reason="drift_in_cp_plan", child_id="C-1"),
]


async def test_a_build_made_before_the_occurrence_details_had_names_is_migrated_in_place(
    infra: Infrastructure, namespace: str
) -> None:
    settings = settings_for(infra, "projections", namespace)
    pool = await open_database(settings, BUILDS_SQL)
    old = "boards_made_by_an_earlier_release"
    try:
        async with pool.acquire() as conn, conn.transaction():
            # As create_build made a build then: every script there was, nothing recorded.
            await conn.execute(f'CREATE SCHEMA "{old}"')
            await conn.execute(f'SET LOCAL search_path TO "{old}"')
            for script in scripts_in(PROJECTION_SQL, READ_MODEL_SQL):
                if script.name < "003":
                    await conn.execute(script.read_text())
            await conn.execute("INSERT INTO children VALUES ('C-1', 'Exeter', '2010-01-01')")
            await conn.executemany(
                "INSERT INTO occurrences (kind, subject_id, seq, day, a, b, n, m)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                [
                    (kind, subject, seq, D, *details)
                    for seq, (kind, subject, *details) in enumerate(OLD_OCCURRENCES, 1)
                ],
            )
            await conn.execute(
                "INSERT INTO public.board_builds (schema_name, live) VALUES ($1, true)", old
            )

        assert await ensure_live_build(pool) == old  # the worker's start migrates it
        assert await ensure_live_build(pool) == old  # once

        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(f'SET LOCAL search_path TO "{old}"')
            columns = {
                r["column_name"]
                for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = $1 AND table_name = 'occurrences'",
                    old,
                )
            }
            assert not columns & {"a", "b", "n", "m"}
            kinds = sorted({kind for kind, *_ in OLD_OCCURRENCES})
            assert sorted(await happened(conn, kinds, D, D, None), key=repr) == sorted(
                READ_BACK, key=repr
            )
            recorded = await conn.fetchval("SELECT count(*) FROM build_migrations")
            assert recorded == len(scripts_in(PROJECTION_SQL, READ_MODEL_SQL))
    finally:
        await pool.close()

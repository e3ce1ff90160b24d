"""Rebuild from offset 0, beside the live boards, after duplicates and a crash: the rebuilt
read model equals the live one row for row, and the worker carries on in it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from contracts.case_events import events as ce
from deploy.local.stack import ROOT
from shared.migrations import ensure_database
from tests.conftest import settings_for
from tests.infrastructure import MANAGER, Infrastructure, ServiceProcess, eventually
from tests.integration.scenario import county
from tests.integration.test_seed_figures import seed_events
from tests.publisher import Log

pytestmark = pytest.mark.integration
TABLES = [("children", "child_id"), ("child_facts", "attribute, child_id, valid_from, seq"),
          ("occurrences", "kind, subject_id, seq")]


async def rows(conn: asyncpg.Connection, schema: str) -> dict[str, list[tuple[object, ...]]]:
    return {t: [tuple(r) for r in await conn.fetch(f'SELECT * FROM "{schema}".{t} ORDER BY {o}')]
            for t, o in TABLES}


async def offsets(conn: asyncpg.Connection) -> int:
    schema = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
    if schema is None:
        return 0
    return int(await conn.fetchval(
        f'SELECT coalesce(sum(next_offset), 0) FROM "{schema}".projection_offsets'))


async def test_a_rebuild_beside_the_live_boards_equals_them_and_is_followed(
    infra: Infrastructure, namespace: str, log_dir: Path,
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

        answers: list[int] = []
        stop = threading.Event()

        def keep_asking() -> None:  # the live boards keep answering during the rebuild
            while not stop.is_set():
                answers.append(MANAGER.get(f"{api.url}/boards/timeliness",
                                         params={"as_at": "2024-06-30", "view": "council"},
                                         timeout=10).status_code)
                stop.wait(0.05)

        asker = threading.Thread(target=keep_asking)
        asker.start()
        rebuild = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "services.projections", "rebuild"],
            cwd=ROOT, env={**worker.env}, capture_output=True, text=True, timeout=300)
        stop.set()
        asker.join()
        assert rebuild.returncode == 0, rebuild.stderr[-2000:]
        assert "rebuilding" in rebuild.stderr and "msg" in rebuild.stderr  # the progress bar
        after = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
        assert after == rebuild.stdout.strip().splitlines()[-1] and after != before
        assert answers and set(answers) == {200}

        live, rebuilt = await rows(conn, before), await rows(conn, after)
        assert len(rebuilt["children"]) == 1006
        assert rebuilt == live

        # The worker follows the swap: a new event lands in the rebuilt build.
        await Log().add("case-events", "CH-NEW", ce.ChildRegistered(
            child_id="CH-NEW", date_of_birth=date(2015, 1, 1), locality="South")
        ).publish(settings)

        async def followed() -> bool:
            return bool(await conn.fetchval(
                f'SELECT 1 FROM "{after}".children WHERE child_id = $1', "CH-NEW"))
        await eventually(followed, 60, 0.1, what="the worker to follow the rebuilt build")
        print(f"\nrebuild: {sent} messages (duplicates included), worker killed at "
              f"{killed_at}; rebuilt build equals the live one, {len(answers)} board "
              "queries answered during the rebuild")
    finally:
        api.stop()
        worker.stop()
        await conn.close()

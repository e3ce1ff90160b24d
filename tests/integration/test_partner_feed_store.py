"""The partners' HTTP feed's store on a real PostgreSQL (services/partner_feeds/feed_store.py)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from services.partner_feeds import feed_store
from services.partner_feeds.api import SHARES_SQL
from services.partner_feeds.cursor import START
from services.partner_feeds.feed_store import CHANNEL, Record, Served, Wakeups, keep
from shared.envelope import Agency
from tests.conftest import fresh_database, settings_for
from tests.infrastructure import Infrastructure, eventually

pytestmark = pytest.mark.integration


async def test_a_message_held_back_by_a_transaction_in_another_database_is_served_when_it_ends(
    infra: Infrastructure, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader reads only below the oldest running transaction of the whole cluster (so a
    message committed late never lands behind a cursor an agency holds), and a batch of
    another service's database is such a transaction. The notification that woke a waiting
    reader was spent on a read that could not see the message yet: it reads again in a
    moment, not at its next poll, and again every tenth of a second at most while the older
    transaction runs on. The poll here is ten minutes, so only the reads again can serve the
    message within the test's deadline."""
    settings = settings_for(infra, "partner_feeds", namespace)
    async with fresh_database(infra, namespace, "partner_feeds", SHARES_SQL) as pool:
        await _served_when_the_older_transaction_ends(pool, settings.dsn("postgres"), monkeypatch)


async def _served_when_the_older_transaction_ends(
    pool: asyncpg.Pool, elsewhere_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_store, "POLL_S", 600.0)
    reads = 0
    read_page = feed_store.read_page

    async def counted(*args: object) -> list[Served]:
        nonlocal reads
        page = await read_page(*args)  # type: ignore[arg-type]
        reads += 1
        return page

    monkeypatch.setattr(feed_store, "read_page", counted)
    wakeups = Wakeups()
    listener = await pool.acquire()
    await listener.add_listener(CHANNEL, wakeups.notify)
    elsewhere = await asyncpg.connect(elsewhere_dsn)  # another database

    async def never_gone() -> bool:
        return False

    waiting = asyncio.create_task(
        feed_store.wait_for_page(pool, wakeups, Agency.POLICE, START, 10, 600, never_gone)
    )
    try:
        await eventually(lambda: reads >= 1, 30, what="the reader waiting")
        older = elsewhere.transaction()
        await older.start()
        await elsewhere.fetchval("SELECT pg_current_xact_id()")  # running, with an xid
        before = reads
        message_id = uuid.uuid4()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO shares (message_id, agency, topic, subject, child_id, event_type,"
                " source_event_id, fields, purpose) VALUES ($1, 'police', 'police-feed',"
                " 'P-1', 'child-1', 'MissingEpisodeRecorded', $2, '{}', 'safeguarding')",
                message_id,
                uuid.uuid4(),
            )
            await keep(conn, [Record(message_id, Agency.POLICE, "P-1", '{"n": 1}', [])])
        await eventually(lambda: reads > before, 30, what="the reader woken, seeing nothing")
        assert not waiting.done()  # held back while the older transaction runs
        # However long it is held back, it reads again every HELD_BACK_LONGEST_S at most:
        # had the wait kept doubling (up to the ten-minute poll), twelve reads would take 41 s.
        await eventually(lambda: reads > before + 12, 10, what="the reader reading again")
        assert not waiting.done()
        await older.rollback()
        page = await asyncio.wait_for(waiting, 20)
        assert [(s.child_id, s.item["key"], s.item["value"]) for s in page] == [
            ("child-1", "P-1", {"n": 1})
        ]
    finally:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await elsewhere.close()
        await listener.remove_listener(CHANNEL, wakeups.notify)
        await pool.release(listener)

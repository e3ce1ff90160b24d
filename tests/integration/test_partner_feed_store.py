"""The partners' HTTP feed's store on a real PostgreSQL (services/partner_feeds/feed_store.py)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from services.partner_feeds import feed_store
from services.partner_feeds.api import FEED_SQL
from services.partner_feeds.cursor import START, FeedCursor
from services.partner_feeds.feed_store import CHANNEL, Page, Record, Served, Wakeups, keep
from shared.envelope import Agency
from shared.eventstore import Cursor
from tests.conftest import fresh_database, settings_for
from tests.infrastructure import Infrastructure, eventually

pytestmark = pytest.mark.integration


async def test_a_message_is_held_back_by_its_own_databases_older_transaction_not_anothers(
    infra: Infrastructure, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader reads only below the oldest running transaction of the feed's own database
    (`partner_feed_page`, sql/003_*.sql), so a message committed late never lands behind a
    cursor an agency holds. A transaction of another database (a projection's batch, a
    rebuild's of seconds: every service's database shares one PostgreSQL) holds nothing back.
    The notification that woke a waiting reader can be spent on a read that cannot see the
    message yet: it reads again in a moment, not at its next poll, and again every tenth of a
    second at most while the older transaction runs on. The poll here is ten minutes, so only
    the notification and the reads again can serve the messages within the test's deadlines."""
    settings = settings_for(infra, "partner_feeds", namespace)
    async with fresh_database(infra, namespace, "partner_feeds", *FEED_SQL) as pool:
        await _held_back_by_its_own_database_only(
            pool, settings.dsn("postgres"), settings.dsn(), monkeypatch
        )


async def _share_audited(conn: asyncpg.Connection, agency: Agency, key: str) -> uuid.UUID:
    """A share's audit row (about child-1), in the caller's transaction: its message id."""
    message_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO shares (message_id, agency, topic, subject, child_id, event_type,"
        " source_event_id, fields, purpose) VALUES ($1, $2, $3, $4, 'child-1',"
        " 'MissingEpisodeRecorded', $5, '{}', 'safeguarding')",
        message_id,
        agency.value,
        f"{agency.value}-feed",
        key,
        uuid.uuid4(),
    )
    return message_id


async def shared_with_police(conn: asyncpg.Connection, key: str, value: str = "{}") -> None:
    """A message shared with the police about child-1 and kept for the HTTP feed, in the
    caller's transaction, as the worker does."""
    message_id = await _share_audited(conn, Agency.POLICE, key)
    await keep(conn, [Record(message_id, Agency.POLICE, key, value, [])])


async def _shared(pool: asyncpg.Pool, key: str, n: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await shared_with_police(conn, key, f'{{"n": {n}}}')


async def _held_back_by_its_own_database_only(
    pool: asyncpg.Pool, elsewhere_dsn: str, here_dsn: str, monkeypatch: pytest.MonkeyPatch
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
    here = await asyncpg.connect(here_dsn)  # the feed's own

    async def never_gone() -> bool:
        return False

    def waiting_after(after: FeedCursor) -> asyncio.Task[Page]:
        return asyncio.create_task(
            feed_store.wait_for_page(pool, wakeups, Agency.POLICE, after, 10, 600, never_gone)
        )

    def seen(page: Page) -> list[tuple[str, str, object]]:
        return [(s.child_id, s.item["key"], s.item["value"]) for s in page.served]

    waiting = waiting_after(START)
    try:
        await eventually(lambda: reads >= 1, 30, what="the reader waiting")
        theirs = elsewhere.transaction()
        await theirs.start()
        await elsewhere.fetchval("SELECT pg_current_xact_id()")  # running, with an xid
        await _shared(pool, "P-1", 1)
        first = await asyncio.wait_for(waiting, 20)  # past another database's transaction
        assert seen(first) == [("child-1", "P-1", {"n": 1})]

        waiting = waiting_after(first.next)
        await eventually(lambda: reads >= 3, 30, what="the reader waiting again")
        older = here.transaction()
        await older.start()
        await here.fetchval("SELECT pg_current_xact_id()")  # the feed's, older, running
        before = reads
        await _shared(pool, "P-2", 2)
        await eventually(lambda: reads > before, 30, what="the reader woken, seeing nothing")
        assert not waiting.done()  # held back while the older transaction runs
        # However long it is held back, it reads again every HELD_BACK_LONGEST_S at most:
        # had the wait kept doubling (up to the ten-minute poll), twelve reads would take 41 s.
        await eventually(lambda: reads > before + 12, 10, what="the reader reading again")
        assert not waiting.done()
        await older.rollback()
        assert seen(await asyncio.wait_for(waiting, 20)) == [("child-1", "P-2", {"n": 2})]
        await theirs.rollback()
    finally:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await elsewhere.close()
        await here.close()
        await listener.remove_listener(CHANNEL, wakeups.notify)
        await pool.release(listener)


async def _kept(
    pool: asyncpg.Pool, agency: Agency, key: str, days_ago: int = 0, *, timeline: int | None = None
) -> FeedCursor:
    """A message shared with `agency`, kept `days_ago` days ago, on this database's timeline
    or, given one, on that (0: kept before the feed kept timelines, sql/004_*.sql); its
    cursor as it would have been given then (timeline 0: a version 1 cursor)."""
    async with pool.acquire() as conn, conn.transaction():
        message_id = await _share_audited(conn, agency, key)
        row = await conn.fetchrow(
            "INSERT INTO partner_feed (message_id, agency, record_key, record_value,"
            " record_headers, shared_at, timeline) VALUES ($1, $2, $3, '{}', '{}',"
            " now() - make_interval(days => $4), coalesce($5, feed_timeline()))"
            " RETURNING timeline, transaction_id::text::bigint AS txid, seq",
            message_id,
            agency.value,
            key,
            days_ago,
            timeline,
        )
    return FeedCursor(row["timeline"], Cursor(row["txid"], row["seq"]))


async def test_a_cursor_given_before_timelines_reads_on_and_is_refused_past_retention(
    infra: Infrastructure, namespace: str
) -> None:
    """A version 1 cursor (timeline 0) reads on from its place: the messages kept before
    timelines after it, and every one kept since. Once retention has removed every message
    of the agency's kept before timelines, such a cursor may have missed what was removed:
    410, never a page from the oldest kept (which is where it would be read on from)."""
    police, health = Agency.POLICE, Agency.HEALTH
    async with fresh_database(infra, namespace, "partner_feeds", *FEED_SQL) as pool:

        async def page(agency: Agency, after: FeedCursor) -> list[str]:
            got = await feed_store.wait_for_page(pool, Wakeups(), agency, after, 10, 0, _never_gone)
            return [s.item["key"] for s in got.served]

        oldest = await _kept(pool, police, "P-old", 100, timeline=0)
        await _kept(pool, police, "P-kept", 10, timeline=0)
        await _kept(pool, police, "P-new")
        health_old = await _kept(pool, health, "H-old", 100, timeline=0)
        await _kept(pool, health, "H-new")
        assert await pool.fetchval("SELECT prune_partner_feed()") == 2  # P-old, H-old

        assert await page(police, oldest) == ["P-kept", "P-new"]
        assert await page(police, START) == ["P-kept", "P-new"]
        with pytest.raises(feed_store.Expired):
            await page(health, health_old)
        with pytest.raises(feed_store.Expired):
            await feed_store.check_cursor(pool, health, health_old)
        assert await page(health, START) == ["H-new"]

        # Read from the start, with nothing kept (all removed): an empty page whose `next`
        # reads on from the start again, not a 410.
        housing = Agency.HOUSING
        await _kept(pool, housing, "U-old", 100)
        assert await pool.fetchval("SELECT prune_partner_feed()") == 1
        empty = await feed_store.wait_for_page(pool, Wakeups(), housing, START, 10, 0, _never_gone)
        assert empty == feed_store.Page([], START)
        await feed_store.check_cursor(pool, housing, empty.next)
        await _kept(pool, housing, "U-new")
        assert await page(housing, empty.next) == ["U-new"]


async def _never_gone() -> bool:
    return False

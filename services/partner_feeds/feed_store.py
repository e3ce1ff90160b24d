"""The HTTP feed's store (sql/002_http_feed.sql): every message sent to a partner's topic, kept
as its record was sent, and read back a page at a time in commit order.

The worker keeps each record in the transaction that records its share (feed.py), so an
agency reading over HTTPS gets exactly what its topic got: the same message ids, the same
values and headers, in the same order for each child. The API reads them (routes/feed.py):
the platform's APIs never talk to Kafka, and this way they need not.

A reader reads only below this database's oldest transaction still in flight (sql/003_*.sql),
so a message committed late can never land behind a cursor an agency already holds (the SQL
says why); a cursor given before a restore of the database is read on from where the
restored copy's messages end (`placed`, sql/004_*.sql), so nothing kept after the restore is
missed; and a cursor older than what retention removed is refused (`Expired`), never
answered with a gap.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg

from services.partner_feeds.cursor import START, FeedCursor, encode
from shared.envelope import Agency
from shared.eventstore import Cursor, held_back_waits
from shared.logging import get_logger
from shared.retry import keep_running, pause

log = get_logger(__name__)

# NOTIFY'd by the worker as a batch with messages commits (payload: the agencies, comma
# separated): waiting readers of those agencies look at once instead of at their next poll.
CHANNEL = "partner_feed"
# A waiting reader looks again this often without a notification: one can be lost (the API's
# listening connection dropped). One that arrives while an older transaction of this database still
# holds the message above the readable horizon is followed by reads a moment apart instead.
POLL_S = 0.5
# How often the worker prunes what retention lets go (the SQL's prune_partner_feed).
PRUNE_EVERY_S = 3600.0
RETENTION_DAYS = 90  # the SQL's interval; a unit test holds it to the partner topics'


@dataclass(frozen=True)
class Record:
    """A partner message as its record was sent to the agency's topic."""

    message_id: UUID
    agency: Agency
    key: str
    value: str  # the JSON text, exactly the bytes sent
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class Served:
    """One message of a page: what the agency is given (`item`), and for the council's audit
    only, the child it is about (`partnership-audit:<audit id>` for an audit's message)."""

    cursor: FeedCursor
    child_id: str
    item: dict[str, Any]


class Page(NamedTuple):
    """The messages served, and the cursor to go on from: the last message's, or with none,
    the one asked with, as it was given (placed again when it is sent back: the start stays
    the start, and a cursor from before a restore is judged again against retention)."""

    served: list[Served]
    next: FeedCursor


class Expired(Exception):
    """Retention removed messages after this cursor: reading on would leave a gap."""


async def keep(conn: asyncpg.Connection, records: Sequence[Record]) -> None:
    """Keep each record to be sent, in the caller's transaction (the one recording its share,
    which commits only once the agency's topic has acknowledged it).

    The runner commits asynchronously (shared/projection.py); this transaction must not: a
    message an agency has been served, with its cursor, must not be lost by a crash of the
    database and come back later under a transaction id below that cursor. On, the commit is
    visible only once it is durable (and archived, where the archiver is a synchronous
    standby). A record kept before (a re-send after a crash) stays as first kept."""
    if not records:
        return
    await conn.execute("SET LOCAL synchronous_commit TO on")
    await conn.executemany(
        "INSERT INTO partner_feed (message_id, agency, record_key, record_value, record_headers)"
        " VALUES ($1, $2, $3, $4::json, $5::jsonb) ON CONFLICT (message_id) DO NOTHING",
        [
            (
                r.message_id,
                r.agency.value,
                r.key,
                r.value,
                json.dumps({name: value.decode() for name, value in r.headers}),
            )
            for r in records
        ],
    )
    agencies = ",".join(sorted({r.agency.value for r in records}))
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, agencies)


async def placed(pool: asyncpg.Pool, agency: Agency, after: FeedCursor) -> FeedCursor:
    """Where the agency's feed reads on from after `after`, as a place on the database's
    timeline now: `after` itself, unless it was given before a restore (sql/004_*.sql)."""
    row = await pool.fetchrow(
        "SELECT timeline, transaction_id::text::bigint AS txid, seq"
        " FROM partner_feed_from($1, $2, $3::text::xid8, $4)",
        agency.value,
        after.timeline,
        str(after.at.transaction_id),
        after.at.position,
    )
    return FeedCursor(row["timeline"], Cursor(row["txid"], row["seq"]))


async def read_page(
    pool: asyncpg.Pool, agency: Agency, after: FeedCursor, limit: int, from_start: bool
) -> list[Served]:
    """Up to `limit` messages of the agency's feed after `after`, a place `placed` gave (on
    the database's timeline now), in commit order; Expired if retention removed some of them,
    unless the agency asked from the oldest kept (`from_start`)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM partner_feed_page($1, $2::text::xid8, $3, $4)",
            agency.value,
            str(after.at.transaction_id),
            after.at.position,
            limit,
        )
        # After the read, not before: a prune that commits between the two is seen here (a
        # 410), where checked first it could take rows after the cursor unseen (a gap).
        if not from_start:
            await _not_expired(conn, agency, after.at)
    return [_served(after.timeline, r) for r in rows]


async def held_back(pool: asyncpg.Pool, agency: Agency, after: FeedCursor) -> bool:
    """Whether a message of the agency's after `after` (as `placed`) is committed but not
    yet read by `read_page`: an older transaction of this database is still running
    (another message's share, the prune; sql/003_*.sql). The notification that woke the
    reader was spent on a read that could not see it yet."""
    return bool(
        await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM partner_feed"
            " WHERE agency = $1 AND (transaction_id, seq) > ($2::text::xid8, $3))",
            agency.value,
            str(after.at.transaction_id),
            after.at.position,
        )
    )


async def check_cursor(pool: asyncpg.Pool, agency: Agency, after: FeedCursor) -> None:
    """Expired if retention removed messages after `after` (as `placed`)."""
    if after == START:  # from the oldest kept: nothing before it is missed
        return
    start = await placed(pool, agency, after)
    async with pool.acquire() as conn:
        await _not_expired(conn, agency, start.at)


async def _not_expired(conn: asyncpg.Connection, agency: Agency, after: Cursor) -> None:
    """Expired if the agency's feed was cut after `after`. A cursor placed at the start
    (none of its timeline or before is kept any more) is refused if anything was ever cut:
    what was cut may have been after it."""
    expired = await conn.fetchval(
        "SELECT (transaction_id, seq) > ($2::text::xid8, $3) FROM partner_feed_expired"
        " WHERE agency = $1",
        agency.value,
        str(after.transaction_id),
        after.position,
    )
    if expired:
        raise Expired(agency.value)


def _served(timeline: int, row: asyncpg.Record) -> Served:
    cursor = FeedCursor(timeline, Cursor(row["txid"], row["seq"]))
    return Served(
        cursor,
        row["child_id"],
        {
            "cursor": encode(cursor),
            "key": row["record_key"],
            "headers": json.loads(row["record_headers"]),
            "value": json.loads(row["record_value"]),
        },
    )


class Wakeups:
    """NOTIFY partner_feed, fanned out to the readers waiting on each agency's feed."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Event] = {}

    def of(self, agency: Agency) -> asyncio.Event:
        """Set at the agency's next notification: take it before reading, so a message
        that commits between the read and the wait still wakes the reader."""
        return self._waiting.setdefault(agency.value, asyncio.Event())

    def notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        for agency in payload.split(","):
            woken = self._waiting.pop(agency, None)
            if woken is not None:
                woken.set()


async def wait_for_page(
    pool: asyncpg.Pool,
    wakeups: Wakeups,
    agency: Agency,
    after: FeedCursor,
    limit: int,
    seconds: float,
    gone: Callable[[], Awaitable[bool]],
) -> Page:
    """The next page, waiting up to `seconds` for one that is not empty: a notification
    wakes the wait, a poll every POLL_S is the fallback, a message committed but held back
    (`held_back`) is looked for again in a moment, and the wait ends early when `gone` (the
    client disconnected)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    soon = held_back_waits(POLL_S)
    start = await placed(pool, agency, after)
    while True:
        woken = wakeups.of(agency)
        page = await read_page(pool, agency, start, limit, after == START)
        left = until - loop.time()
        if page or left <= 0 or await gone():
            return Page(page, page[-1].cursor if page else after)
        if await held_back(pool, agency, start):
            wait = soon.take()
        else:
            soon.reset()
            wait = POLL_S
        await pause(woken, min(wait, left))


async def keep_pruning(pool: asyncpg.Pool, stop: asyncio.Event) -> None:
    """The worker's loop: what the partner topics no longer keep, the HTTP feed drops too."""

    async def prune() -> float:
        removed = await pool.fetchval("SELECT prune_partner_feed()")
        if removed:
            log.info("HTTP feed pruned to the partner topics' retention", messages=removed)
        return PRUNE_EVERY_S

    await keep_running(
        prune,
        stop,
        what="pruning the HTTP feed",
        transient=(OSError, asyncpg.PostgresError, asyncpg.InterfaceError),
    )

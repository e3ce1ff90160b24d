"""Keeping board totals in the read model (the arithmetic is in `totals.py`).

- `keep_days` starts keeping boards on a day: one snapshot of every child as at the day, the
  definition per locality, stored as totals. Days are kept within a window ending today, and
  the month ends of the year before it (`keeps`); the API keeps today and those month ends
  before anyone asks (`api.keep_before_asked`).
- `TotalsMover` is used by the projection in the transaction of each batch: for every kept day
  on or after the earliest change of a child, it moves the totals by that child's contribution
  after the batch minus its contribution before; a trend's month end before the window is
  dropped instead (marked stale, kept again from a snapshot when next asked for or quiet).
- `kept_board` reads a kept board back (a sum over localities).

Locking: the projection takes the `board_days` advisory lock shared in every batch that changes
a child, then each changed child's own lock. `keep_days` takes the first exclusively only to
mark the days it keeps (`keeping`) and begin its snapshot, so the snapshot misses no batch in
flight and every batch after it moves the day; the snapshot is read and its totals worked out
and added with no lock held, the boards current meanwhile (they waited for the whole of a
keep's snapshot before: 10 s at 200,000 children). Two batches changing the same child (from
different topics) take turns, each seeing the other's facts. The days one process keeps at
once take turns in the process first (`_keeping`), and one keep of a build runs at a time
(the keeping lock: another process's keep is waited for, a try at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date

import asyncpg

from services.projections.boards import totals as t
from services.projections.boards.model import Board, Child
from services.projections.boards.queries import snapshot
from services.projections.boards.totals import keeps
from services.projections.builds import live_build
from shared.logging import get_logger

log = get_logger(__name__)

DAYS_LOCK = "hashtext(current_schema() || '.board_days')"
CHILD_LOCKS = (
    "SELECT pg_advisory_xact_lock(hashtext('board_totals.child'), h)"
    " FROM (SELECT DISTINCT hashtext(c) AS h FROM unnest($1::text[]) AS c"
    "       ORDER BY h OFFSET 0) AS ordered"
)  # one order: no deadlock


async def has_totals(conn: asyncpg.Connection) -> bool:
    """Whether this build has the totals tables, with the days' `stale` and `keeping` marks
    (a build made before them has not: its boards are computed from the facts until the
    worker brings it up to date, so an API upgraded before the worker reads no dropped day,
    and no day being kept, as kept)."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('board_days')"
            " AND attname = 'keeping' AND NOT attisdropped)"
        )
    )


async def keep_days(
    writer: asyncpg.Connection,
    reader: asyncpg.Connection,
    build: str,
    boards: Sequence[str],
    day: date,
    today: date,
    window: int,
) -> list[str]:
    """Start keeping `boards` on `day` in `build` (those not kept yet), and stop keeping the
    days before today that are kept no more (`keeps`). Returns the boards it started keeping
    (none where a batch dropped the day meanwhile: `TotalsMover`). Two connections outside a
    transaction: `writer` marks the days and adds the totals, and holds the build's keeping
    lock (`keep`), so no other keep of the build's is under way; `reader` reads the snapshot.

    The days lock is held exclusively only while the days are marked `keeping` and the
    snapshot is begun: no batch is in flight then, so the snapshot holds every batch before
    it, and every batch after it moves the day (not stale) by what it changed. The snapshot's
    totals are then worked out with no lock held (half a minute at 500,000 children, while
    the boards stay current) and added to what the batches moved, and the day is kept."""
    snapshot_begun = reader.transaction(isolation="repeatable_read", readonly=True)
    try:
        async with writer.transaction():
            await writer.execute(f'SET LOCAL search_path TO "{build}", public')
            await writer.execute(f"SELECT pg_advisory_xact_lock({DAYS_LOCK})")
            # Read before the first write: the transaction has no id while it waits for the
            # lock, so it holds back no reader of the cluster's snapshot horizon (every relay
            # and the partners' HTTP feed read only below the oldest transaction id running).
            gone = [
                r["day"]
                for r in await writer.fetch(
                    "SELECT DISTINCT day FROM board_days WHERE day < $1", today
                )
                if not keeps(r["day"], today, window)
            ]
            kept = {
                r["board"]
                for r in await writer.fetch(
                    "SELECT board FROM board_days WHERE day = $1 AND board = ANY($2::text[])"
                    " AND NOT stale AND NOT keeping AND NOT day = ANY($3::date[])",
                    day,
                    list(boards),
                    gone,
                )
            }
            wanted = [b for b in boards if b not in kept]
            # Under the lock no batch is moving totals: the days kept no more, those a batch
            # dropped (`TotalsMover`), and any a stopped keep left `keeping` (no other keep is
            # under way) go with their totals.
            await writer.execute(
                "DELETE FROM board_days WHERE stale OR keeping OR day = ANY($1::date[])", gone
            )
            if not wanted:
                return []
            await writer.executemany(
                "INSERT INTO board_days (board, day, keeping) VALUES ($1, $2, true)",
                [(b, day) for b in wanted],
            )
            await snapshot_begun.start()
            await reader.execute(f'SET LOCAL search_path TO "{build}", public')
            await reader.fetchval("SELECT 1")  # the snapshot taken, with the lock held
        # The lock let go: the batches from here move the day as they change it.
        children = await snapshot(reader, day, None, share=False)
        await snapshot_begun.rollback()  # read only: nothing to commit

        def totals() -> dict[tuple[str, date, str], t.Sums]:
            return {
                (board, day, locality): sums
                for board in wanted
                for locality, sums in t.by_locality(board, children, day).items()
            }

        from_snapshot = await asyncio.to_thread(totals)  # seconds: off the event loop
        for attempt in range(1, FINISHING_ATTEMPTS + 1):
            try:
                return await _finish_keeping(writer, build, day, wanted, from_snapshot)
            except asyncpg.DeadlockDetectedError:
                # A batch applied event by event (`shared/projection.py`, after a failed
                # batch) moves the totals in several statements, each in order, and may take
                # the rows in a cycle with this one: rolled back, so tried again.
                if attempt == FINISHING_ATTEMPTS:
                    raise
                log.warning("keeping a day met a deadlock: tried again", day=str(day))
        raise AssertionError("unreachable")
    finally:
        if reader.is_in_transaction():  # an error: not to be hidden by the rollback's own
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
                await snapshot_begun.rollback()


FINISHING_ATTEMPTS = 3


async def _finish_keeping(
    writer: asyncpg.Connection,
    build: str,
    day: date,
    wanted: Sequence[str],
    from_snapshot: Mapping[tuple[str, date, str], t.Sums],
) -> list[str]:
    """Add the snapshot's totals to what the batches moved since, and clear `keeping`, in one
    transaction; return the boards kept."""
    async with writer.transaction():
        await writer.execute(f'SET LOCAL search_path TO "{build}", public')
        # Rows locked in the order a batch dropping days locks them; a day a batch dropped
        # meanwhile stays stale (its totals would miss that batch's change).
        ready = [
            r["board"]
            for r in await writer.fetch(
                "UPDATE board_days d SET keeping = false FROM (SELECT board, day"
                " FROM board_days WHERE day = $1 AND board = ANY($2::text[]) AND keeping"
                " ORDER BY board, day FOR NO KEY UPDATE) AS k"
                " WHERE (d.board, d.day) = (k.board, k.day) RETURNING d.board, d.stale",
                day,
                list(wanted),
            )
            if not r["stale"]
        ]
        await _add_to_totals(
            writer, {key: sums for key, sums in from_snapshot.items() if key[0] in ready}
        )
    return sorted(ready)


# How long a keep waits for another process's keep of the same build (half a minute a day at
# 500,000 children) before it leaves the day to be read from the facts: in the background,
# and for a request (which works the board out from the facts instead).
KEEPING_WAIT_S = 600.0
ASKED_WAIT_S = 30.0
# The lock a keep of a build's days holds while it runs, by the build's name (the two-key
# form: a space of its own, apart from the days lock and the builds' lock).
KEEPING = "hashtext('board_days.keeping'), hashtext($1)"


@asynccontextmanager
async def _keeping_lock(conn: asyncpg.Connection, build: str, wait_s: float) -> AsyncIterator[bool]:
    """The build's keeping lock, held by a keep while it runs (`keep_days`), on `conn`'s
    session: True once taken, False if another keep has not let it go within `wait_s`.
    Another process's keep is waited for here, a try at a time, not in a statement: a
    statement waiting on it would time out under the pool's command timeout at a national
    size. Let go of at the end; where the end is an error or a cancellation (a try may have
    taken the lock with its answer unread), the session is ended instead, and the lock with
    it: the pool's connections are not reset (`shared/db.py`)."""
    deadline = time.monotonic() + wait_s
    done = False
    try:
        while not (taken := await conn.fetchval(f"SELECT pg_try_advisory_lock({KEEPING})", build)):
            if time.monotonic() > deadline:
                log.warning("another keep of the build's days holds it up", build=build)
                break
            await asyncio.sleep(0.2)
        yield bool(taken)
        if taken:
            await conn.execute(f"SELECT pg_advisory_unlock({KEEPING})", build)
        done = True
    finally:
        if not done:
            conn.terminate()


async def keep(
    pool: asyncpg.Pool,
    day: date,
    today: date,
    window: int,
    build: str | None = None,
    wait_s: float = KEEPING_WAIT_S,
) -> list[str] | None:
    """Start keeping every totalled board on `day` in the live build (one snapshot for all),
    or in `build` (a rebuild's, before it is swapped in). Returns the boards it started
    keeping; None if the day is outside the window, or there is no live build with totals
    yet. A keep of the build's under way in another process is waited for, up to `wait_s`
    (`_keeping_lock`). Takes two connections of the pool (`keep_days`)."""
    if not keeps(day, today, window):
        return None
    async with _keeping(), pool.acquire() as writer:
        async with writer.transaction():
            name = build or await live_build(writer)
            if name is None:
                return None
            await writer.execute(f'SET LOCAL search_path TO "{name}", public')
            if not await has_totals(writer):
                return None
            boards = sorted(t.TOTALLED)
            if await writer.fetchval(
                "SELECT count(*) FROM board_days WHERE day = $1 AND NOT stale AND NOT keeping",
                day,
            ) == len(boards):
                return []  # kept already: no need to take the days lock
        async with _keeping_lock(writer, name, wait_s) as taken:
            if not taken:
                return []
            async with pool.acquire() as reader:
                return await keep_days(writer, reader, name, boards, day, today, window)


_KEEPING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _keeping() -> asyncio.Lock:
    """The days a process keeps at once (a trend page asks for eleven month ends together)
    take turns in the process, not in PostgreSQL: the days lock taken in turn, each keep
    waited for there by a statement under the pool's command timeout, passed it at a national
    size (half a minute a day) and the page was answered 503. So a keep waits in the
    database only for a batch of the projection in flight, and holds no connection of the
    pool while it waits its turn (another process's keep it waits for a try at a time:
    `_keeping_lock`). One lock per event loop (a lock serves one loop)."""
    loop = asyncio.get_running_loop()
    if loop not in _KEEPING:
        _KEEPING[loop] = asyncio.Lock()
    return _KEEPING[loop]


async def kept_board(
    conn: asyncpg.Connection, board: str, day: date, locality: str | None
) -> Board | None:
    """The board on a kept day from its totals; None if the day is not kept."""
    rows = await conn.fetch(
        "SELECT t.key, min(t.label) AS label, sum(t.count)::bigint AS count,"
        " sum(t.denominator)::bigint AS denominator"
        " FROM board_days d LEFT JOIN board_totals t"
        "   ON t.board = d.board AND t.day = d.day AND ($3::text IS NULL OR t.locality = $3)"
        " WHERE d.board = $1 AND d.day = $2 AND NOT d.stale AND NOT d.keeping GROUP BY t.key",
        board,
        day,
        locality,
    )
    if not rows:
        return None
    sums = {r["key"]: (r["label"], r["count"], r["denominator"]) for r in rows if r["key"]}
    return t.assemble(board, day, locality, sums)


class TotalsMover:
    """Moves the kept totals by what one batch changed, in the batch's transaction.

    A past month end kept for the trends (a day before `today() - window`) is dropped by the
    batch that changes it, not moved: only facts dated before it reach it (a history being
    loaded, a late correction), or a child's new date of birth, and moving eleven such days
    for each of them cost a load's facts about ten times what today's move alone does
    (`bench.totals_moves`). It is kept again from a snapshot when next asked for, or when the
    projection is quiet (`api.keep_before_asked`)."""

    def __init__(self, today: Callable[[], date], window: int) -> None:
        self._today = today
        self._window = window
        self._has_totals: bool | None = None

    async def move(
        self,
        conn: asyncpg.Connection,
        registered: Iterable[tuple[str, str, date]],
        facts: Sequence[tuple[str, str, date, int, str | None]],
        births: Mapping[str, date] | None = None,
    ) -> int:
        """`registered`: (child_id, locality, date_of_birth) new in the batch; `facts`: the
        batch's fact rows (attribute, child_id, valid_from, seq, value), not yet written;
        `births`: the date of birth a birth in the batch sets, by child (an unborn child's
        expected date, or a corrected one, changes the ages every board counts by).
        Returns the number of total rows moved."""
        new_children = {c: (locality, dob) for c, locality, dob in registered}
        born = dict(births or {})
        in_batch = _earliest_change(facts)
        # A child registered or born in the batch may change on every day (its facts may have
        # come first): narrowed below to its first fact, once its stored rows are read.
        earliest = {**in_batch, **dict.fromkeys({**new_children, **born}, date.min)}
        if not earliest:
            return 0
        if self._has_totals is None:
            self._has_totals = await has_totals(conn)
        if not self._has_totals:
            return 0
        days = await _kept_days_from(conn, min(earliest.values()))
        if not days:
            return 0
        last = max(day for _, day in days)
        ids = sorted(c for c, first in earliest.items() if first <= last)
        await conn.execute(CHILD_LOCKS, ids)
        known, before = await _stored_records(conn, ids)
        after = {c: list(rows) for c, rows in before.items()}
        for attribute, child_id, valid_from, seq, value in facts:
            after.setdefault(child_id, []).append((attribute, valid_from, seq, value))
        firsts = {
            c: first_counted(
                in_batch.get(c), _every_day(c, known, new_children, born), after.get(c, ())
            )
            for c in ids
        }
        days = await self._drop_past_days(conn, days, firsts.values())
        moved: dict[tuple[str, date, str], t.Sums] = defaultdict(dict)
        for child_id in ids:
            registered_after = known.get(child_id) or new_children.get(child_id)
            first = firsts[child_id]
            if registered_after is None or first is None:
                continue  # not registered yet, or without a fact: counted on no board
            locality, dob = registered_after
            was = (known[child_id], before.get(child_id, ())) if child_id in known else None
            now = ((locality, born.get(child_id, dob)), after.get(child_id, ()))
            for board, day, by in moved_for(child_id, was, now, days, first):
                t.add(moved[(board, day, locality)], by)
        return await _add_to_totals(conn, moved)

    async def _drop_past_days(
        self, conn: asyncpg.Connection, days: list[tuple[str, date]], firsts: Iterable[date | None]
    ) -> list[tuple[str, date]]:
        """The kept days to move: those before the window that a child's change reaches are
        marked stale (their totals count no more) and left out."""
        changed = [first for first in firsts if first is not None]
        if not changed:
            return days
        today, first = self._today(), min(changed)
        dropped = sorted(
            {day for _, day in days if first <= day and not t.in_window(day, today, self._window)}
        )
        if not dropped:
            return days
        # Rows locked in one order: two batches dropping the same days cannot deadlock; a lock
        # that leaves the key alone, so another batch's move of the day (its foreign key's
        # KEY SHARE lock) does not wait for it.
        await conn.execute(
            "UPDATE board_days SET stale = true WHERE (board, day) IN (SELECT board, day"
            " FROM board_days WHERE day = ANY($1::date[]) AND NOT stale"
            " ORDER BY board, day FOR NO KEY UPDATE)",
            dropped,
        )
        return [(board, day) for board, day in days if day not in dropped]


def first_counted(
    in_batch: date | None, every_day: bool, rows: Iterable[tuple[str, date, int, str | None]]
) -> date | None:
    """The first day a child's change can move a board: the first day of its facts in the
    batch; but where every day of the child's may change (`_every_day`), the first of all its
    facts, as a child adds nothing on a day before its first fact (`totals.counts_nothing`).
    None where nothing can move: no fact in the batch, or no fact at all."""
    if not every_day:
        return in_batch
    return min((valid_from for _, valid_from, _, _ in rows), default=None)


def _every_day(
    child_id: str,
    known: Mapping[str, tuple[str, date]],
    registered: Mapping[str, object],
    born: Mapping[str, date],
) -> bool:
    """Whether the batch may change the child on every day: registered in it (its locality
    and age count from its first fact, which may have come first), or its date of birth set
    to another (the age it is counted at). A child registered again, or born on the day
    already held (a copy of the event), changes on no day by it."""
    if child_id in registered and child_id not in known:
        return True
    return child_id in born and (child_id not in known or known[child_id][1] != born[child_id])


Record = tuple[tuple[str, date], Iterable[tuple[str, date, int, str | None]]]


def moved_for(
    child_id: str,
    was: Record | None,
    now: Record,
    kept: Iterable[tuple[str, date]],
    first: date,
) -> Iterator[tuple[str, date, t.Sums]]:
    """What one child's change from `first` moves each kept (board, day) by: its record as at
    a day made once for every board, and a day skipped where the record is the same before
    and after (it adds the same to every board) or adds nothing either way."""
    on_day: dict[date, tuple[Child | None, Child | None]] = {}
    for board, day in kept:
        if first > day:
            continue
        if day not in on_day:
            on_day[day] = (_as_at(child_id, was, day), _as_at(child_id, now, day))
        then, today = on_day[day]
        if then != today:
            yield board, day, _moved_by(board, day, then, today)


def _as_at(child_id: str, record: Record | None, day: date) -> Child | None:
    """The child's record as at the day; None where it adds nothing to any board: not
    registered, or without a fact on the day (`totals.counts_nothing`)."""
    if record is None:
        return None
    (locality, dob), rows = record
    child = t.fact_snapshot(child_id, locality, dob, rows, day)
    return None if t.counts_nothing(child) else child


def _moved_by(board: str, day: date, then: Child | None, now: Child | None) -> t.Sums:
    """What one child's change moves a board's totals by on a day: its contribution now
    minus before (nothing where it adds nothing)."""

    def of(child: Child | None) -> t.Sums:
        return t.contribution(board, [child], day) if child is not None else {}

    return t.difference(of(now), of(then))


FactRow = tuple[str, date, int, str | None]  # attribute, valid_from, seq, value


def _earliest_change(
    facts: Sequence[tuple[str, str, date, int, str | None]],
) -> dict[str, date]:
    """The first day of each child's facts in the batch."""
    earliest: dict[str, date] = {}
    for _, child_id, valid_from, _, _ in facts:
        earliest[child_id] = min(valid_from, earliest.get(child_id, valid_from))
    return earliest


async def _kept_days_from(conn: asyncpg.Connection, first: date) -> list[tuple[str, date]]:
    """The (board, day) kept on or after `first`, with the days lock held shared."""
    # Separate statements: under READ COMMITTED each sees what committed before it began,
    # so the days read after the lock include any day whose keeping held the lock.
    await conn.execute(f"SELECT pg_advisory_xact_lock_shared({DAYS_LOCK})")
    return [
        (r["board"], r["day"])
        for r in await conn.fetch(
            "SELECT board, day FROM board_days WHERE day >= $1 AND NOT stale ORDER BY board, day",
            first,
        )
    ]


# Facts of children not registered yet too: registering one in this batch brings the facts
# that came before it onto the boards. Index probes for each child, whatever the statistics
# (LIMIT 1 and OFFSET 0 keep the planner from turning them into joins): planned for new,
# never analysed tables, the plain joins hashed every child's facts for each batch.
STORED_RECORDS = (
    "SELECT w.child_id, c.locality, c.date_of_birth, f.attribute, f.valid_from,"
    " f.seq, f.value FROM unnest($1::text[]) AS w(child_id)"
    " LEFT JOIN LATERAL (SELECT locality, date_of_birth FROM children"
    "  WHERE children.child_id = w.child_id LIMIT 1) AS c ON true"
    " LEFT JOIN LATERAL (SELECT attribute, valid_from, seq, value FROM child_facts"
    "  WHERE child_facts.child_id = w.child_id OFFSET 0) AS f ON true"
)


async def _stored_records(
    conn: asyncpg.Connection, ids: list[str]
) -> tuple[dict[str, tuple[str, date]], dict[str, list[FactRow]]]:
    """What is stored of these children before the batch: the registered ones' locality
    and date of birth, and every child's fact rows."""
    known: dict[str, tuple[str, date]] = {}
    before: dict[str, list[FactRow]] = defaultdict(list)
    for r in await conn.fetch(STORED_RECORDS, ids):
        if r["locality"] is not None:
            known[r["child_id"]] = (r["locality"], r["date_of_birth"])
        if r["attribute"] is not None:
            before[r["child_id"]].append((r["attribute"], r["valid_from"], r["seq"], r["value"]))
    return known, before


async def _add_to_totals(
    conn: asyncpg.Connection, moved: Mapping[tuple[str, date, str], t.Sums]
) -> int:
    rows = sorted(
        (board, day, locality, *row)
        for (board, day, locality), sums in moved.items()
        for row in t.rows_of(sums)
    )
    if rows:
        await conn.execute(
            "INSERT INTO board_totals AS k (board, day, locality, key, label, count,"
            " denominator) SELECT * FROM unnest($1::text[], $2::date[], $3::text[],"
            " $4::text[], $5::text[], $6::bigint[], $7::bigint[])"
            " ON CONFLICT (board, day, locality, key) DO UPDATE"
            " SET count = k.count + EXCLUDED.count,"
            " denominator = k.denominator + EXCLUDED.denominator",
            *(list(column) for column in zip(*rows, strict=True)),
        )
    return len(rows)

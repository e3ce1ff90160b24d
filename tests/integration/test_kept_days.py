"""Which days the totalled boards stay kept on (services/projections/boards/kept.py,
`keep_days`), on a real PostgreSQL: keeping a day lets go of the days before today that are
kept no more, and keeps the month ends every twelve-month trend reads; the days asked for at
once are kept in turn (`keep`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from services.projections.api import QUIET_S, keep_before_asked
from services.projections.boards import kept
from services.projections.boards.answering import compute
from services.projections.boards.declarations import BOARDS
from services.projections.boards.kept import TotalsMover, keep, kept_board
from services.projections.boards.memo import BoardMemo
from services.projections.boards.totals import TOTALLED, trend_month_ends
from services.projections.builds import reading
from services.projections.dashboard import Asked, Boards, latest, work_out_the_index
from shared.calendar import add_months, month_end
from shared.clock import FixedClock
from shared.retry import pause
from shared.settings import Settings
from tests.infrastructure import Infrastructure, eventually
from tests.integration.read_model import live_build

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 27)


async def test_the_trends_month_ends_stay_kept_and_other_past_days_go(
    infra: Infrastructure, namespace: str
) -> None:
    async with live_build(infra, f"{namespace}kept") as (pool, schema):
        boards = sorted(TOTALLED)
        days = [
            date(2025, 11, 30),  # a month end before the trend
            date(2025, 12, 31),  # the trend's first month end
            date(2026, 9, 29),  # before the window, not a month end
            date(2026, 9, 30),  # a month end of the trend
            date(2026, 11, 1),  # in the window
            date(2026, 12, 15),  # after today (kept by a clock ahead of this one)
        ]
        # Each kept as at itself, the latest first: keeping one lets go only of days before
        # it, so none goes until today's is kept.
        for day in sorted(days, reverse=True):
            assert await keep(pool, day, day, 31) == boards
        kept = {r["day"] for r in await pool.fetch(f'SELECT day FROM "{schema}".board_days')}
        assert kept == set(days)
        assert await keep(pool, TODAY, TODAY, 31) == boards

        rows = await pool.fetch(f'SELECT DISTINCT day, keeping FROM "{schema}".board_days')
        assert {r["day"] for r in rows} == {
            date(2025, 12, 31),
            date(2026, 9, 30),
            date(2026, 11, 1),
            date(2026, 12, 15),
            TODAY,
        }
        assert not any(r["keeping"] for r in rows)  # every keep finished
        async with reading(pool) as conn:
            board = await kept_board(conn, "children-in-care", date(2026, 9, 30), None)
            assert board is not None and board.as_at == date(2026, 9, 30)
            assert await kept_board(conn, "children-in-care", date(2026, 9, 29), None) is None


async def test_a_keep_holds_no_transaction_id_while_its_snapshot_is_read(
    infra: Infrastructure, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relays and the partners' HTTP feed read only below the oldest transaction id still
    running anywhere in the cluster. Keeping a day reads every child and works out the totals
    (half a minute at 500,000 children): a transaction with an id meanwhile (letting go of
    the days kept no more came first) held every relay back that long. Its writes come
    before the snapshot is read, and commit at once, and after the totals are worked out; so
    no transaction of the database has an id while it reads, and one has when it adds them."""
    ids = (  # the clients' (an autovacuum's ANALYZE takes an id of its own)
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND backend_type = 'client backend' AND backend_xid IS NOT NULL"
    )
    while_reading: list[int] = []
    while_adding: list[int] = []
    snapshot, add_to_totals = kept.snapshot, kept._add_to_totals

    async def watched(on: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
        while_reading.append(await on.fetchval(ids))
        return await snapshot(on, *args, **kwargs)

    async def adding(on: asyncpg.Connection, *args: Any) -> int:
        while_adding.append(await on.fetchval(ids))
        return await add_to_totals(on, *args)

    monkeypatch.setattr(kept, "snapshot", watched)
    monkeypatch.setattr(kept, "_add_to_totals", adding)
    async with live_build(infra, f"{namespace}noxid") as (pool, schema):
        boards = sorted(TOTALLED)
        before = date(2026, 9, 29)  # before the window, not a month end: let go of below
        assert await keep(pool, before, before, 31) == boards
        assert await keep(pool, TODAY, TODAY, 31) == boards
        assert while_reading == [0, 0]
        assert while_adding == [1, 1]  # the check can see an id: the keep's own, adding
        days = {r["day"] for r in await pool.fetch(f'SELECT day FROM "{schema}".board_days')}
        assert days == {TODAY}  # and the day kept no more was let go of


async def test_the_days_a_trend_asks_for_at_once_are_kept_in_turn_within_the_command_timeout(
    infra: Infrastructure, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trend page asks for its month ends together. At a national size keeping a day takes
    half a minute; the keeps queued on the days lock in PostgreSQL, the fourth waited there
    longer than the pool's command timeout, and the page was answered 503. Here a keep's
    snapshot takes a second and the timeout is two and a half: four days asked at once are
    all kept only if no keep waits for another in a statement (each waits its turn in the
    process, and the build's keeping lock is tried, not waited on)."""
    seconds_a_keep, timeout = 1.0, 2.5
    snapshot = kept.snapshot

    async def slow(conn: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
        await conn.execute("SELECT pg_sleep($1)", seconds_a_keep)  # with the keeping lock held
        return await snapshot(conn, *args, **kwargs)

    monkeypatch.setattr(kept, "snapshot", slow)
    days = [month_end(add_months(TODAY, -m)) for m in range(1, 5)]
    async with live_build(infra, f"{namespace}turns") as (setup, _):
        database = await setup.fetchval("SELECT current_database()")
        pool = await asyncpg.create_pool(
            infra.dsn(database), min_size=0, max_size=8, command_timeout=timeout
        )
        try:
            started = await asyncio.gather(*(kept.keep(pool, d, TODAY, 7) for d in days))
        finally:
            await pool.close()
        assert started == [sorted(TOTALLED)] * len(days)
        async with reading(setup) as conn:
            rows = await conn.fetch("SELECT DISTINCT day FROM board_days")
        assert {r["day"] for r in rows} == set(days)


async def test_the_api_keeps_today_then_the_trends_month_ends_once_the_projection_is_quiet(
    infra: Infrastructure, namespace: str
) -> None:
    """The API's background keeper (api.keep_before_asked) keeps today at once and, once no
    batch has changed a board for a while, each month end a trend reads, with no request: the
    first person to open a trend does not wait for them (half a minute a day at 500,000
    children). While batches come (a history being loaded) it keeps no month end: the load
    would drop it again. Then it works
    out the index's boards into the memo, so the index's first request reads them."""
    clock = FixedClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    # Quiet is the API's own 5 s: a stall of the event loop that long would read as quiet,
    # and 2 s (which this test used) was within reach of a loaded machine's.
    settings, memo, quiet_s = Settings(board_days_kept=7), BoardMemo(), QUIET_S
    memo.listen()
    wanted = {TODAY, *trend_month_ends(TODAY)}
    async with live_build(infra, f"{namespace}ahead") as (pool, schema):

        async def kept_days() -> set[date]:
            rows = await pool.fetch(
                f'SELECT day FROM "{schema}".board_days WHERE NOT stale AND NOT keeping'
                " GROUP BY day HAVING count(*) = $1",
                len(TOTALLED),
            )
            return {r["day"] for r in rows}

        async def today_kept() -> bool:
            return TODAY in await kept_days()

        async def batches(stop: asyncio.Event) -> None:  # a batch every twentieth of it
            while not stop.is_set():
                memo.changed(TODAY)
                await pause(stop, quiet_s / 20)

        assert await kept_days() == set()
        loading = asyncio.Event()
        load = asyncio.create_task(batches(loading))  # under way before the keeper starts
        keeper = asyncio.create_task(keep_before_asked(pool, clock, settings, memo, quiet_s))
        try:
            await eventually(today_kept, 60, 0.05, what="today kept")
            busy_until = time.monotonic() + 3 * quiet_s
            while time.monotonic() < busy_until:
                assert await kept_days() == {TODAY}  # no month end while batches come
                await asyncio.sleep(quiet_s / 10)
            loading.set()
            await load
            found = await eventually(
                lambda: _all_of(wanted, kept_days), 60, 0.1, what="the month ends kept"
            )
            # Then the index's boards, in the memo before anyone asks: as many answers as a
            # memo of its own holds after working them out, and none worked out again.
            reference = BoardMemo()
            reference.listen()
            await work_out_the_index(pool, settings, TODAY, reference)
            assert len(reference) > 0
            await eventually(
                lambda: _at_least(len(reference), memo), 60, 0.1, what="the index worked out"
            )
            misses = _misses()
            shown = Boards(pool, settings, TODAY, memo)
            for view in ("council", "partnership"):
                question = Asked(TODAY, None, view)
                await asyncio.gather(*(latest(name, question, shown) for name in BOARDS))
            assert _misses() == misses
        finally:
            loading.set()
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        assert found == wanted  # and no other day


async def _at_least(n: int, memo: BoardMemo) -> bool:
    return len(memo) >= n


def _misses() -> float:
    return REGISTRY.get_sample_value("csp_board_memo_answers_total", {"result": "miss"}) or 0.0


async def _all_of(wanted: set[date], days: Callable[[], Awaitable[set[date]]]) -> set[date]:
    found = await days()
    return found if wanted <= found else set()


async def test_a_backdated_fact_drops_the_trends_month_ends_it_reaches_and_moves_the_rest(
    infra: Infrastructure, namespace: str
) -> None:
    """A batch moves the kept totals of the window's days (today and the days just before
    it) by what it changed (a child registered today reaches no earlier day), but a month end
    kept for the trends that its change reaches is marked stale instead (a history being
    loaded would otherwise pay for eleven such days a fact): it then reads as not kept, and
    keeping it again starts it from a snapshot. Every
    day read afterwards equals the definition over the facts."""
    window = 7
    ends = trend_month_ends(TODAY)  # the latest first
    days = [TODAY, TODAY - timedelta(days=3), *ends]
    left_on = ends[3] - timedelta(days=5)  # in the month before the fourth latest month end
    async with live_build(infra, f"{namespace}drop") as (pool, schema):
        await pool.execute(
            f'INSERT INTO "{schema}".child_facts (attribute, child_id, valid_from, seq, value)'
            " VALUES ('in_care', 'C1', '2024-01-01', 1, 'C2')"
        )
        for day in days:
            assert await keep(pool, day, TODAY, window) == sorted(TOTALLED)
        in_care = await _figures(pool, "children-in-care", ends[0])

        mover = TotalsMover(lambda: TODAY, window)
        # A child registered with a fact of today moves today's totals and drops no day.
        born = date(2012, 5, 5)
        newcomer = [("in_care", "C2", TODAY, 1, "C2")]
        assert await _batch(pool, schema, mover, newcomer, ("C2", "Exeter", born)) > 0
        assert await pool.fetchval(f'SELECT count(*) FROM "{schema}".board_days WHERE stale') == 0

        left = ("in_care", "C1", left_on, 2, None)  # C1 leaves care, recorded late
        assert await _batch(pool, schema, mover, [left]) > 0

        rows = await pool.fetch(f'SELECT board, day, stale FROM "{schema}".board_days')
        stale = {r["day"] for r in rows if r["stale"]}
        assert stale == {day for day in ends if day >= left_on}
        assert all(r["stale"] == (r["day"] in stale) for r in rows)  # every board alike
        async with reading(pool) as conn:
            for day in days:
                found = await kept_board(conn, "children-in-care", day, None)
                if day in stale:
                    assert found is None, day  # not read from totals that did not move
                else:  # moved (the window) or not reached (before the change)
                    assert found is not None, day
                    assert found == await compute(conn, "children-in-care", day, None), day

        assert await keep(pool, ends[0], TODAY, window) == sorted(TOTALLED)
        again = await _figures(pool, "children-in-care", ends[0])
        async with reading(pool) as conn:
            reference = await compute(conn, "children-in-care", ends[0], None)
            # The other stale days went with it, under the days lock; the rest stay.
            still = {r["day"] for r in await conn.fetch("SELECT DISTINCT day FROM board_days")}
        assert again == reference.figures != in_care
        assert still == (set(days) - stale) | {ends[0]}


async def _batch(
    pool: asyncpg.Pool,
    schema: str,
    mover: TotalsMover,
    facts: Sequence[tuple[str, str, date, int, str | None]],
    registered: tuple[str, str, date] | None = None,
) -> int:
    """One batch as the projection writes it: the totals moved, then its rows."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
        moved = await mover.move(conn, [registered] if registered else [], facts)
        if registered:
            await conn.execute("INSERT INTO children VALUES ($1, $2, $3)", *registered)
        await conn.copy_records_to_table(
            "child_facts",
            records=facts,
            columns=["attribute", "child_id", "valid_from", "seq", "value"],
        )
    return moved


async def _figures(pool: asyncpg.Pool, board: str, day: date) -> Any:
    async with reading(pool) as conn:
        found = await kept_board(conn, board, day, None)
    assert found is not None
    return found.figures


async def test_a_board_is_read_from_one_snapshot_so_a_day_dropped_meanwhile_is_not_half_read(
    infra: Infrastructure, namespace: str
) -> None:
    """A board's sheet is read in several statements (the county, then each locality). A
    batch dropping the day between them left a sheet without its localities: a 500, or a
    partnership view suppressed unlike the whole. `reading` reads them all from one snapshot."""
    async with live_build(infra, f"{namespace}snapshot") as (pool, schema):
        assert await keep(pool, TODAY, TODAY, 7) == sorted(TOTALLED)
        async with reading(pool, one_snapshot=True) as conn:
            assert await kept_board(conn, "children-in-care", TODAY, None) is not None
            await pool.execute(f'UPDATE "{schema}".board_days SET stale = true')  # committed
            assert await kept_board(conn, "children-in-care", TODAY, "North") is not None
        async with reading(pool) as conn:  # a read begun after it sees the day dropped
            assert await kept_board(conn, "children-in-care", TODAY, "North") is None


def held_snapshot(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """A keep's snapshot read only once the second event is set; the first is set when a
    keep comes to read it (its days marked as being kept, the days lock let go)."""
    reading_begun, read_now = asyncio.Event(), asyncio.Event()
    snapshot = kept.snapshot

    async def held(on: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
        reading_begun.set()
        await read_now.wait()
        return await snapshot(on, *args, **kwargs)

    monkeypatch.setattr(kept, "snapshot", held)
    return reading_begun, read_now


async def test_a_batch_is_not_held_up_by_a_keep_and_moves_the_day_it_keeps(
    infra: Infrastructure, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keeping a day reads every child as at it (half a minute at 500,000 children). It held
    the days lock for all of that, and every batch of the projection waited: the boards stood
    still. Now the lock is held only while the day is marked as being kept and the snapshot
    begun. Here the keep's snapshot is read only once a batch has committed: the batch must
    not wait for it. The batch changes two children after the snapshot (one registered, one
    leaving care), so the day's totals are right only if the batch moved the day being kept
    and the keep added its snapshot's totals to that. Until the keep is done the day reads as
    not kept (worked out from the facts)."""
    reading_begun, read_now = held_snapshot(monkeypatch)
    async with live_build(infra, f"{namespace}nohold") as (pool, schema):
        await pool.execute(
            f'INSERT INTO "{schema}".child_facts (attribute, child_id, valid_from, seq, value)'
            " VALUES ('in_care', 'C1', '2024-01-01', 1, 'C2')"
        )
        keeping = asyncio.create_task(keep(pool, TODAY, TODAY, 7))
        try:
            await asyncio.wait_for(reading_begun.wait(), 30)
            mover = TotalsMover(lambda: TODAY, 7)
            facts = [
                ("in_care", "C2", TODAY, 1, "C2"),  # C2 registered, in care from today
                ("in_care", "C1", TODAY, 2, None),  # C1 leaves care today
            ]
            registered = ("C2", "Exeter", date(2012, 5, 5))
            moved = await asyncio.wait_for(_batch(pool, schema, mover, facts, registered), 20)
            assert moved > 0  # it moved the day being kept
            async with reading(pool) as conn:
                assert await kept_board(conn, "children-in-care", TODAY, None) is None
        finally:
            read_now.set()
        assert await asyncio.wait_for(keeping, 60) == sorted(TOTALLED)
        # By locality, so the two changes cannot cancel out: North loses C1, Exeter gains C2.
        in_care = {}
        async with reading(pool) as conn:
            for locality in (None, "North", "Exeter"):
                found = await kept_board(conn, "children-in-care", TODAY, locality)
                reference = await compute(conn, "children-in-care", TODAY, locality)
                assert found is not None and found == reference, locality
                in_care[locality] = {f.key: f.count for f in found.figures}["in_care"]
        assert in_care == {None: 1, "North": 0, "Exeter": 1}


async def test_a_day_left_being_kept_by_a_keep_that_stopped_is_kept_again(
    infra: Infrastructure, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A keep that stops half-way (its process killed, its snapshot's statement timed out)
    leaves the day marked as being kept, moved by the batches since. It reads as not kept,
    and the next keep (holding the build's keeping lock, so no keep of its can be under way)
    lets go of it, totals and all, and keeps it from a snapshot of its own. A keep under way
    in another process (holding that lock) is waited for first, in the process."""
    snapshot = kept.snapshot

    async def failing(on: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
        raise asyncpg.QueryCanceledError("canceling statement due to statement timeout")

    async with live_build(infra, f"{namespace}stopped") as (pool, schema):
        monkeypatch.setattr(kept, "snapshot", failing)
        with pytest.raises(asyncpg.QueryCanceledError):
            await keep(pool, TODAY, TODAY, 7)
        monkeypatch.setattr(kept, "snapshot", snapshot)
        left = f'SELECT count(*) FROM "{schema}".board_days WHERE keeping'
        assert await pool.fetchval(left) == len(TOTALLED)
        # The failed keep's session ended, and its lock with it (once the server has seen it).
        await eventually(lambda: _no_advisory_locks(pool), 30, 0.05, what="the lock let go")
        facts = [("in_care", "C1", TODAY, 1, "C2")]
        assert await _batch(pool, schema, TotalsMover(lambda: TODAY, 7), facts) > 0
        async with reading(pool) as conn:
            assert await kept_board(conn, "children-in-care", TODAY, None) is None

        async with pool.acquire() as other:  # another process's keep, under way
            assert await other.fetchval(f"SELECT pg_try_advisory_lock({kept.KEEPING})", schema)
            try:
                keeping = asyncio.create_task(keep(pool, TODAY, TODAY, 7))
                done, _ = await asyncio.wait({keeping}, timeout=1.0)
                assert not done  # it waits for the other keep: the rows are that keep's
                assert await pool.fetchval(left) == len(TOTALLED)
                waiting = (
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                assert await pool.fetchval(waiting) == 0  # in the process, not in a statement
            finally:
                await other.execute(f"SELECT pg_advisory_unlock({kept.KEEPING})", schema)
        assert await asyncio.wait_for(keeping, 60) == sorted(TOTALLED)
        assert await pool.fetchval(left) == 0
        assert await _no_advisory_locks(pool)
        async with reading(pool) as conn:
            found = await kept_board(conn, "children-in-care", TODAY, None)
            reference = await compute(conn, "children-in-care", TODAY, None)
        assert found is not None and found == reference
        assert {f.key: f.count for f in found.figures}["in_care"] == 1  # counted once


async def _no_advisory_locks(pool: asyncpg.Pool) -> bool:
    """No advisory lock is held in the database: a keep's session lock left on a pooled
    connection (which the pool does not reset) would hold every later keep of the build up."""
    held = await pool.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return held == 0


async def test_a_month_end_a_batch_drops_while_it_is_kept_stays_dropped(
    infra: Infrastructure, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trend's month end is dropped (marked stale), not moved, by a batch that reaches it.
    One that does so while the day is being kept leaves it dropped: the keep's totals would
    miss that batch's change. It reads as not kept, and the next keep keeps it afresh."""
    end = trend_month_ends(TODAY)[0]
    snapshot = kept.snapshot
    async with live_build(infra, f"{namespace}dropkept") as (pool, schema):
        reading_begun, read_now = held_snapshot(monkeypatch)
        keeping = asyncio.create_task(keep(pool, end, TODAY, 7))
        try:
            await asyncio.wait_for(reading_begun.wait(), 30)
            backdated = [("in_care", "C1", end - timedelta(days=3), 1, "C2")]
            mover = TotalsMover(lambda: TODAY, 7)
            await asyncio.wait_for(_batch(pool, schema, mover, backdated), 20)
        finally:
            read_now.set()
        assert await asyncio.wait_for(keeping, 60) == []  # started none: dropped meanwhile
        monkeypatch.setattr(kept, "snapshot", snapshot)
        async with reading(pool) as conn:
            assert await kept_board(conn, "children-in-care", end, None) is None
        assert await keep(pool, end, TODAY, 7) == sorted(TOTALLED)
        async with reading(pool) as conn:
            found = await kept_board(conn, "children-in-care", end, None)
            reference = await compute(conn, "children-in-care", end, None)
        assert found is not None and found == reference
        assert {f.key: f.count for f in found.figures}["in_care"] == 1

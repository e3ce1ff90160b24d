"""Answering for a board: from its kept totals where it is kept as totals (or, for a board in
two parts, its counted part from them and the rest from what happened), else read as at the day
and computed by its definition (each board is declared in `declarations.py`)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import asyncpg

from services.projections.boards import disclosure
from services.projections.boards.assurance.records import Period
from services.projections.boards.declarations import (
    DECLARED,
    Asked,
    BoardDeclaration,
    Split,
    plan_as_at,
    readings_of,
)
from services.projections.boards.kept import ASKED_WAIT_S, has_totals, keep, kept_board
from services.projections.boards.memo import BoardMemo
from services.projections.boards.model import Board, followed_by, shared_only
from services.projections.boards.queries import happened
from services.projections.boards.totals import year_before
from services.projections.builds import live_build, reading

T = TypeVar("T")


async def board_on(
    pool: asyncpg.Pool,
    board: str,
    as_at: date,
    locality: str | None,
    since: date | None = None,
    dates: list[date] | None = None,
    *,
    today: date,
    window: int,
    compare: Period | None = None,
    memo: BoardMemo | None = None,
) -> Board:
    """A board as the API answers it: from the kept totals where the board has them (a day in
    the window is kept from the first time it is asked for), else computed from the facts;
    from the `memo` where it was answered before and nothing since has changed its day."""
    asked = Question(board, as_at, locality, since, _tuple(dates), compare, today, window)

    async def work_out() -> Board:
        return await _board_on(pool, asked)

    return await memoised(memo, pool, ("council", asked), as_at, work_out)


@dataclass(frozen=True)
class Question:
    """What a board is asked for (the memo's key, with the view)."""

    board: str
    as_at: date
    locality: str | None
    since: date | None
    dates: tuple[date, ...] | None
    compare: Period | None
    today: date
    window: int


async def _board_on(pool: asyncpg.Pool, q: Question) -> Board:
    board, as_at, locality = q.board, q.as_at, q.locality
    if DECLARED[board].kept_as_totals:
        kept = await _on_a_kept_day(pool, q, functools.partial(_kept, pool, board, as_at, locality))
        if kept is not None:
            return kept
    if DECLARED[board].split is not None:
        sheet = await _in_parts(pool, q, [locality], q.since or year_before(as_at))
        if sheet is not None:
            return sheet[locality]
    async with reading(pool) as conn:
        return await compute(conn, board, as_at, locality, q.since, _list(q.dates), q.compare)


async def partnership_sheet(
    pool: asyncpg.Pool,
    board: str,
    as_at: date,
    locality: str | None,
    since: date | None = None,
    dates: list[date] | None = None,
    *,
    today: date,
    window: int,
    threshold: int,
    compare: Period | None = None,
    memo: BoardMemo | None = None,
) -> dict[str | None, Board]:
    """A board in the partnership view (`disclosure`), for `locality` (the caller takes
    `[locality]`) and, computed with it at no extra cost, for the county (None) and every
    locality with records: so what is hidden is hidden alike whichever of them is asked for,
    and a page drawing every locality's trend reads each day once. A board counting over time
    is computed with each month's. A board of other boards' figures reads each in its
    partnership view (what is hidden there stays hidden), suppresses its own numbers as any
    board's, and gives `locality`'s alone. From the `memo` where nothing since has changed
    its day."""

    asked = Question(board, as_at, locality, since, _tuple(dates), compare, today, window)

    async def work_out() -> dict[str | None, Board]:
        return await _partnership_sheet(pool, asked, threshold, memo)

    sheet = await memoised(memo, pool, ("partnership", asked, threshold), as_at, work_out)
    return dict(sheet)  # the caller's own: what is kept is never changed


async def _partnership_sheet(
    pool: asyncpg.Pool, q: Question, threshold: int, memo: BoardMemo | None
) -> dict[str | None, Board]:
    board, as_at, locality, today, window = q.board, q.as_at, q.locality, q.today, q.window
    since, dates, compare = q.since, _list(q.dates), q.compare
    declared = DECLARED[board]
    start = (since or year_before(as_at)).replace(day=1)
    if declared.reads_boards:
        # The plan in a short read of its own, the connection given back before any board is
        # read: each board read takes a connection of the pool, and one held meanwhile would
        # let a few concurrent requests take them all and wait on each other for ever.
        async with reading(pool) as conn:
            plan = await plan_as_at(conn, as_at)

        async def read_board(name: str) -> Board:
            read = await partnership_sheet(
                pool,
                name,
                as_at,
                locality,
                today=today,
                window=window,
                threshold=threshold,
                memo=memo,
            )
            return read[locality]

        readings = await readings_of(plan.measures, read_board)
        own = plan.board(declared.figures, readings, Asked(as_at, locality, start, dates, compare))
        return disclosure.protect({locality: shared_only(own)}, threshold)
    if declared.kept_as_totals or declared.split is not None:
        sheet = await _on_a_kept_day(
            pool, q, functools.partial(_kept_sheet, pool, board, as_at, locality)
        )
        if sheet is not None and declared.split is None:  # without the council's own figures
            return disclosure.protect({p: shared_only(b) for p, b in sheet.items()}, threshold)
        if sheet is not None and declared.split is not None:
            return await _partnership_in_parts(pool, declared.split, sheet, as_at, start, threshold)
    async with reading(pool) as conn:
        inputs = await inputs_of(conn, declared, Asked(as_at, None, start, dates, compare))
    places = disclosure.localities_in(list(inputs)) | ({locality} if locality else set())
    return await off_the_loop(
        disclosure.partnership, declared.figures, inputs, as_at, places, threshold, start
    )


async def council_sheet(
    pool: asyncpg.Pool,
    board: str,
    as_at: date,
    places: list[str | None],
    *,
    today: date,
    window: int,
    memo: BoardMemo | None = None,
) -> dict[str | None, Board]:
    """`board_on`'s answer for each of `places` (None: the county) from one read of the
    county's inputs, split by locality as the partnership view splits them
    (`disclosure.only`): a page of every locality's trend reads each day once, not once a
    place. A board kept as totals (a few rows a place), or of other boards' figures, is read a
    place at a time."""
    declared = DECLARED[board]
    if declared.kept_as_totals or declared.reads_boards:
        return {
            place: await board_on(pool, board, as_at, place, today=today, window=window, memo=memo)
            for place in dict.fromkeys(places)
        }
    asked = Question(board, as_at, None, None, None, None, today, window)
    wanted = tuple(sorted(set(places), key=lambda p: p or ""))

    async def work_out() -> dict[str | None, Board]:
        start = year_before(as_at)
        if declared.split is not None:
            kept = await _in_parts(pool, asked, wanted, start)
            if kept is not None:
                return kept
        async with reading(pool) as conn:
            inputs = await inputs_of(conn, declared, Asked(as_at, None, start))
        over_time = {"since": start} if disclosure.counts_over_time(declared.figures) else {}

        def each_place() -> dict[str | None, Board]:
            parts = [disclosure.split(x, wanted) for x in inputs]
            return {
                place: declared.figures(
                    *(part[place] for part in parts),
                    as_at=as_at,
                    locality=place,
                    **over_time,
                )
                for place in wanted
            }

        return await off_the_loop(each_place)

    sheet = await memoised(memo, pool, ("council", asked, wanted), as_at, work_out)
    return dict(sheet)


def _tuple(dates: list[date] | None) -> tuple[date, ...] | None:
    return None if dates is None else tuple(dates)


def _list(dates: tuple[date, ...] | None) -> list[date] | None:
    return None if dates is None else list(dates)


async def memoised(
    memo: BoardMemo | None,
    pool: asyncpg.Pool,
    key: tuple[Hashable, ...],
    as_at: date,
    work_out: Callable[[], Awaitable[T]],
) -> T:
    """`work_out()`'s answer, from the memo where it has it for the live build (a rebuild
    swapped in is a new key: nothing worked out on the build before it is used)."""
    if memo is None or not memo.listening:
        return await work_out()
    return await memo.answer((await live_build(pool), *key), as_at, work_out)


async def inputs_of(
    conn: asyncpg.Connection, declared: BoardDeclaration, asked: Asked
) -> tuple[Any, ...]:
    """What the board's definition is given (before `as_at`), as its declaration reads it."""
    args, _ = await given_to(conn, declared, asked)
    return args[: disclosure.inputs_count(declared.figures)]


async def given_to(
    conn: asyncpg.Connection, declared: BoardDeclaration, asked: Asked
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Everything the declaration reads and hands to the board's definition, the definition
    not applied: its arguments, as they would be passed."""
    given: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def capture(*args: Any, **kwargs: Any) -> Board:
        given.append((args, kwargs))
        return Board(board=declared.name, title="", as_at=asked.as_at, locality=None, figures=[])

    await declared.reads(conn, capture, asked)
    [args_and_kwargs] = given
    return args_and_kwargs


async def _kept_sheet(
    pool: asyncpg.Pool, board: str, as_at: date, locality: str | None
) -> dict[str | None, Board] | None:
    """The board on a kept day for the county and each locality; None if the day is not kept."""
    async with reading(pool, one_snapshot=True) as conn:
        if not await has_totals(conn):
            return None
        county = await kept_board(conn, board, as_at, None)
        if county is None:
            return None
        places = {
            r["locality"]
            for r in await conn.fetch(
                "SELECT DISTINCT locality FROM board_totals WHERE board = $1 AND day = $2",
                board,
                as_at,
            )
        } | ({locality} if locality else set())
        sheet: dict[str | None, Board] = {None: county}
        for place in sorted(places):
            found = await kept_board(conn, board, as_at, place)
            if found is None:
                return None  # the day is not kept (whole or not at all)
            sheet[place] = found
        return sheet


async def _partnership_in_parts(
    pool: asyncpg.Pool,
    split: Split,
    counted: dict[str | None, Board],
    as_at: date,
    start: date,
    threshold: int,
) -> dict[str | None, Board]:
    """The partnership view of a board in two parts on a kept day, from its counted part's
    kept boards: what happened read for the county, then both parts shown together as the
    whole definition's would be (`disclosure.partnership_in_parts`)."""
    async with reading(pool) as conn:
        happenings = await happened(conn, list(split.kinds), start, as_at, None)
    localities = disclosure.localities_in(happenings) | {p for p in counted if p is not None}
    every = {
        place: counted.get(place) or split.counted([], as_at, place)
        for place in (None, *sorted(localities))
    }
    return await off_the_loop(
        disclosure.partnership_in_parts, every, split.happened, happenings, as_at, threshold, start
    )


async def _in_parts(
    pool: asyncpg.Pool, q: Question, places: Sequence[str | None], since: date
) -> dict[str | None, Board] | None:
    """A board in two parts (`declarations.Split`) on a kept day, for each of `places`: its
    counted part from the kept totals, then what happened from `since`, read once for the
    county and split by place. None where the day is not kept (and is not to be)."""
    split = DECLARED[q.board].split
    assert split is not None

    async def read() -> dict[str | None, Board] | None:
        async with reading(pool, one_snapshot=True) as conn:
            if not await has_totals(conn):
                return None
            counted: dict[str | None, Board] = {}
            for place in dict.fromkeys(places):
                board = await kept_board(conn, q.board, q.as_at, place)
                if board is None:
                    return None
                counted[place] = board
            happenings = await happened(conn, list(split.kinds), since, q.as_at, None)
        parts = disclosure.split(happenings, counted)
        return {
            place: followed_by(board, split.happened(parts[place], q.as_at, since))
            for place, board in counted.items()
        }

    return await _on_a_kept_day(pool, q, read)


async def _on_a_kept_day(
    pool: asyncpg.Pool, q: Question, read: Callable[[], Awaitable[T | None]]
) -> T | None:
    """What `read` finds on the kept day asked for; where the day is not kept yet but is one
    to keep (`kept.keep`), it is kept and read again. None where the day is not kept and is
    not to be: the caller works the board out from the records."""
    found = await read()
    if (
        found is None
        and await keep(pool, q.as_at, q.today, q.window, wait_s=ASKED_WAIT_S) is not None
    ):
        found = await read()
    return found


async def _kept(pool: asyncpg.Pool, board: str, as_at: date, locality: str | None) -> Board | None:
    async with reading(pool) as conn:
        return await kept_board(conn, board, as_at, locality) if await has_totals(conn) else None


async def compute(
    conn: asyncpg.Connection,
    board: str,
    as_at: date,
    locality: str | None,
    since: date | None = None,
    dates: list[date] | None = None,
    compare: Period | None = None,
) -> Board:
    """The board as at the day: its definition applied to the children's records as at the
    day and to what happened (the reference the kept totals are held to)."""
    declared = DECLARED[board]
    asked = Asked(as_at, locality, since or year_before(as_at), dates, compare)
    args, kwargs = await given_to(conn, declared, asked)
    return await off_the_loop(declared.figures, *args, **kwargs)


async def off_the_loop(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A board's definition applied in a thread of its own, not on the API's event loop: at a
    county's size it takes seconds, and every other request (a page, a health check, the live
    queue) is served meanwhile. The definitions are pure functions of what they are given, and
    what they are given (a day's snapshot, perhaps shared with another request) only read."""
    return await asyncio.to_thread(work, *args, **kwargs)

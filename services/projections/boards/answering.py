"""Answering for a board: from its kept totals where it is kept as totals, else read as at the
day and computed by its definition (each board is declared in `declarations.py`)."""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg

from services.projections.boards.declarations import DECLARED, Asked
from services.projections.boards.kept import has_totals, keep, kept_board
from services.projections.boards.model import Board
from services.projections.builds import reading


def year_before(as_at: date) -> date:
    """The first day of the month eleven months before: twelve months of trend."""
    month = as_at.replace(day=1)
    for _ in range(11):
        month = (month - timedelta(days=1)).replace(day=1)
    return month


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
) -> Board:
    """A board as the API answers it: from the kept totals where the board has them (a day in
    the window is kept from the first time it is asked for), else computed from the facts."""
    if DECLARED[board].kept_as_totals:
        kept = await _kept(pool, board, as_at, locality)
        if kept is None and await keep(pool, as_at, today, window) is not None:
            kept = await _kept(pool, board, as_at, locality)
        if kept is not None:
            return kept
    async with reading(pool) as conn:
        return await compute(conn, board, as_at, locality, since, dates)


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
) -> Board:
    """The board as at the day: its definition applied to the children's records as at the
    day and to what happened (the reference the kept totals are held to)."""
    declared = DECLARED[board]
    asked = Asked(as_at, locality, since or year_before(as_at), dates)
    return await declared.reads(conn, declared.figures, asked)

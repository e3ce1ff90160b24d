"""Computing a board: read what it needs as at the date, then apply its pure definition."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import asyncpg

from services.projections.boards import definitions as d
from services.projections.boards.kept import has_totals, keep, kept_board
from services.projections.boards.model import Board
from services.projections.boards.queries import happened, snapshot
from services.projections.boards.totals import TOTALLED
from services.projections.builds import reading

BOARDS = {
    "priority-cohort": "Priority cohort weekly tracker",
    "care-leavers": "Care leavers",
    "attendance": "School attendance of vulnerable groups",
    "risk": "Risk ratings and moderation",
    "early-help-triage": "Early help triage",
    "timeliness": "Timeliness: plans and proceedings",
    "children-in-care": "Children in care",
    "iro-escalations": "IRO and CP chair escalations",
    "ewo-and-red": "EWO escalations and RED ratings",
}
PERSON_LEVEL = {"priority-cohort"}


def year_before(as_at: date) -> date:
    """The first day of the month eleven months before: twelve months of trend."""
    month = as_at.replace(day=1)
    for _ in range(11):
        month = (month - timedelta(days=1)).replace(day=1)
    return month


async def board_on(pool: asyncpg.Pool, board: str, as_at: date, locality: str | None,
                   since: date | None = None, dates: list[date] | None = None, *,
                   today: date, window: int) -> Board:
    """A board as the API answers it: from the kept totals where the board has them (a day in
    the window is kept from the first time it is asked for), else computed from the facts."""
    if board in TOTALLED:
        kept = await _kept(pool, board, as_at, locality)
        if kept is None and await keep(pool, as_at, today, window) is not None:
            kept = await _kept(pool, board, as_at, locality)
        if kept is not None:
            return kept
    async with reading(pool) as conn:
        return await compute(conn, board, as_at, locality, since, dates)


async def _kept(pool: asyncpg.Pool, board: str, as_at: date, locality: str | None
                ) -> Board | None:
    async with reading(pool) as conn:
        return await kept_board(conn, board, as_at, locality) if await has_totals(conn) else None


async def compute(conn: asyncpg.Connection, board: str, as_at: date, locality: str | None,
                  since: date | None = None, dates: list[date] | None = None) -> Board:
    """The board as at the day: its definition applied to the children's records as at the
    day and to what happened (the reference the kept totals are held to)."""
    since = since or year_before(as_at)
    match board:
        case "priority-cohort":
            children = await snapshot(conn, as_at, locality)
            raised = await happened(conn, ["escalation_raised"], date.min, as_at, locality)
            resolved = {h.subject_id for h in await happened(
                conn, ["escalation_resolved"], date.min, as_at, locality)}
            open_by_child = Counter(h.b for h in raised if h.subject_id not in resolved and h.b)
            return d.priority_cohort(children, dict(open_by_child), as_at, locality)
        case "care-leavers":
            return d.care_leavers(await snapshot(conn, as_at, locality), as_at, locality)
        case "attendance":
            if not dates:
                rows = await conn.fetch(
                    "SELECT DISTINCT day FROM occurrences WHERE kind = 'attendance'"
                    " AND day <= $1 ORDER BY day DESC LIMIT 10", as_at)
                dates = sorted(r["day"] for r in rows)
            days = []
            for day in dates:
                marks = await happened(conn, ["attendance"], day, day, locality)
                days.append((day, await snapshot(conn, day, locality), marks))
            return d.attendance(days, as_at, locality)
        case "risk":
            return d.risk(await snapshot(conn, as_at, locality),
                          await happened(conn, ["dip_sample"], since, as_at, locality),
                          as_at, locality, since)
        case "early-help-triage":
            discussions = await happened(conn, ["triage"], since.replace(year=since.year - 1),
                                         as_at, locality)
            return d.early_help_triage(discussions, as_at, locality, since)
        case "timeliness":
            return d.timeliness(await snapshot(conn, as_at, locality), as_at, locality)
        case "children-in-care":
            return d.children_in_care(await snapshot(conn, as_at, locality), as_at, locality)
        case "iro-escalations":
            return d.iro_escalations(
                await happened(conn, ["escalation_raised"], date.min, as_at, locality),
                await happened(conn, ["escalation_resolved"], date.min, as_at, locality),
                as_at, locality, since)
        case "ewo-and-red":
            month_ends = []
            for month in d.months_between(since, as_at):
                end = min((month + timedelta(days=32)).replace(day=1) - timedelta(days=1), as_at)
                month_ends.append((end, await snapshot(conn, end, locality)))
            return d.ewo_and_red(await happened(conn, ["ewo"], since, as_at, locality),
                                 month_ends, as_at, locality, since)
    raise KeyError(board)

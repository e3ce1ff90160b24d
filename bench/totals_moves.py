"""What the projection spends moving the kept totals for one child, in-process (no I/O): for
each board kept as totals, one child's contribution before and after a change on one day; then
the whole of one batch's work for one child when every day a twelve-month trend reads is kept
(today and the eleven month ends before it), for a child just registered (no fact yet) and for
a fact dated today on a child in care. The same functions the projection calls
(services/projections/boards/kept.py).

    python -m bench.totals_moves
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import date

from services.projections.boards import totals as t
from services.projections.boards.kept import Record, _moved_by, moved_for
from services.projections.boards.model import Child
from shared.calendar import add_months, month_end

TODAY = date(2026, 12, 3)
BORN = date(2010, 5, 5)
IN_CARE: list[tuple[str, date, int, str | None]] = [
    ("in_care", date(2024, 1, 1), 1, "C2"),
    ("rag", date(2024, 1, 2), 2, "RED"),
    ("factors", date(2024, 3, 1), 3, "3B,4B"),
    ("tenancy", date(2024, 3, 1), 4, "social"),
]


def timed(work: Callable[[], object], n: int) -> float:
    """Microseconds a call, over n calls."""
    start = time.perf_counter()
    for _ in range(n):
        work()
    return (time.perf_counter() - start) / n * 1e6


def one_batch(
    child_id: str, was: Record | None, now: Record, days: list[date], first: date, skip: bool
) -> None:
    """A batch's work for one child whose record changes from `first`, as
    `TotalsMover.move` does it (`skip`: `kept.moved_for`), or as it did before it skipped a
    child the same on the day before and after, or without a fact then: every board worked
    out on every day."""
    kept = [(board, day) for board in t.TOTALLED for day in days]
    if skip:
        for _ in moved_for(child_id, was, now, kept, first):
            pass
        return
    for board, day in kept:
        if day >= first:
            _moved_by(board, day, _whole(child_id, was, day), _whole(child_id, now, day))


def _whole(child_id: str, record: Record | None, day: date) -> Child | None:
    if record is None:
        return None
    (locality, born), rows = record
    return t.fact_snapshot(child_id, locality, born, rows, day)


def main() -> None:
    before = Child("C-1", "Exeter", BORN, {"in_care": "C2", "rag": "RED"})
    after = Child("C-1", "Exeter", BORN, {"in_care": "C2", "rag": "AMBER", "cp_plan": "P1"})
    print("| board | one child, one day (µs) |\n|---|---|")
    for board in sorted(t.TOTALLED):
        cost = timed(functools.partial(_moved_by, board, TODAY, before, after), 2000)
        print(f"| {board} | {cost:,.0f} |")
    days = [TODAY] + [month_end(add_months(TODAY, -m)) for m in range(1, 12)]
    registered: Record = (("Exeter", BORN), [])
    changed: Record = (("Exeter", BORN), [*IN_CARE, ("cp_plan", TODAY, 5, "P1")])
    was: Record = (("Exeter", BORN), IN_CARE)
    print(
        f"\nOne batch's work for one child, {len(days)} days kept, {len(t.TOTALLED)} boards"
        " (as the projection does it; before it skipped what cannot move):"
    )
    year_ago = add_months(TODAY, -12)
    backdated: Record = (("Exeter", BORN), [*IN_CARE, ("cp_plan", year_ago, 5, "P1")])
    cases: list[tuple[str, Record | None, Record, date]] = [
        ("a child just registered", None, registered, date.min),
        ("a fact dated today on a child in care", was, changed, TODAY),
        ("a fact dated a year ago on a child in care (a history loaded)", was, backdated, year_ago),
    ]
    for label, then, now, first in cases:
        skipping, every = (
            timed(functools.partial(one_batch, "C-1", then, now, days, first, skip), 200)
            for skip in (True, False)
        )
        today_only = timed(
            functools.partial(one_batch, "C-1", then, now, days[:1], first, True), 200
        )
        print(
            f"- {label}: {skipping / 1000:,.2f} ms (before: {every / 1000:,.2f} ms;"
            f" today alone kept: {today_only / 1000:,.2f} ms)"
        )


if __name__ == "__main__":
    main()

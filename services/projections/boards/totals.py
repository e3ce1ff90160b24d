"""Board totals: the figures of the boards that count children as at a day, kept as sums.

A board that counts children (care leavers, timeliness, children in care), or the part of a
board that does (risk's ratings, housing's tenancies, pre-proceedings open), is a sum over the
children: each child adds to some counts and denominators, whatever the others do. So its
figures on a day can be kept as totals per locality, changed by each child's *contribution*
when that child's record changes, and read back by adding a few hundred rows, instead of
rebuilding every child's record as at the day and applying the definition to all of them.

The definitions in `definitions.py` stay the reference: a board assembled from totals must
equal the definition applied to the same children (a property test holds every board here to
that). Nothing in this module does I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.projections.boards import casework
from services.projections.boards.declarations import BOARD_DECLARATIONS
from services.projections.boards.model import Board, Child, figure
from shared.calendar import add_months, month_end

Definition = Callable[[Sequence[Child], date, str | None], Board]

# The boards declared as kept as totals, by name: the definition a kept board stands for (a
# board assembled from its totals is that definition's board); for a board in two parts
# (`declarations.Split`), the part that counts children.
STANDS_FOR: dict[str, Definition] = {
    **{b.name: b.figures for b in BOARD_DECLARATIONS if b.kept_as_totals},
    **{b.name: b.split.counted for b in BOARD_DECLARATIONS if b.split is not None},
}
# The definitions whose figures are kept as totals: those above, but for a board worked out
# from sums over children (`declarations.Tallied`), those sums; and the board from them.
TOTALLED: dict[str, Definition] = {
    **STANDS_FOR,
    **{b.name: b.tallied.counts for b in BOARD_DECLARATIONS if b.tallied is not None},
}
WORKED_OUT: dict[str, Callable[[Board], Board]] = {
    b.name: b.tallied.board for b in BOARD_DECLARATIONS if b.tallied is not None
}


@dataclass(frozen=True)
class Dynamic:
    """Figures whose keys are not fixed (one per code seen): `prefix` + code. They sit after
    the fixed figure `after`, and their denominator is the count of the fixed figure
    `denominator_of` (the group they are a share of), or none."""

    prefix: str
    after: str
    denominator_of: str | None


DYNAMIC: dict[str, tuple[Dynamic, ...]] = {
    "children-in-care": (
        Dynamic("permanence_plan.", "permanence_plan", "in_care"),
        Dynamic("placement.", "permanence_plan", "in_care"),
    ),
    "workforce": (  # its counts (`casework.workforce_counts`)
        Dynamic(f"{casework.BY_TEAM}.", "in_need_unallocated", "sw.allocated"),
        Dynamic(casework.SW_CASELOAD, "in_need_unallocated", None),
        Dynamic(casework.PA_CASELOAD, "in_need_unallocated", None),
    ),
}

# What a child adds to a board: key -> (label, count, denominator).
Sums = dict[str, tuple[str, int, int]]


def fact_snapshot(
    child_id: str,
    locality: str,
    date_of_birth: date,
    facts: Iterable[tuple[str, date, int, str | None]],
    as_at: date,
) -> Child:
    """A child's record as at a day from its fact rows (attribute, valid_from, seq, value):
    for each attribute the latest row on or before the day, ordered as the SQL snapshot
    orders them (valid_from, then seq); an attribute whose latest value is None is left out."""
    latest: dict[str, tuple[date, int, str | None]] = {}
    for attribute, valid_from, seq, value in facts:
        if valid_from > as_at:
            continue
        held = latest.get(attribute)
        if held is None or (valid_from, seq) > held[:2]:
            latest[attribute] = (valid_from, seq, value)
    return Child(
        child_id,
        locality,
        date_of_birth,
        {a: v for a, (_, _, v) in latest.items() if v is not None},
    )


def counts_nothing(child: Child) -> bool:
    """A child without a fact on the day adds nothing to any board kept as totals (a property
    test holds every such board to it): a child just registered, or whose record starts
    later, need not be worked out."""
    return not child.facts


def contribution(board: str, children: Sequence[Child], as_at: date) -> Sums:
    """What these children add to the board's totals on the day: the definition applied to
    them alone."""
    sums: Sums = {}
    for f in TOTALLED[board](children, as_at, None).figures:
        if f.period is not None:
            raise ValueError(f"{board}: {f.key} has a period; totals are for a single day")
        sums[f.key] = (f.label, f.count or 0, f.denominator or 0)
    return sums


def difference(after: Sums, before: Sums) -> Sums:
    """after - before, key by key (a key missing on one side counts as zero there)."""
    out: Sums = {}
    for key in after.keys() | before.keys():
        label = (after.get(key) or before[key])[0]
        _, c1, d1 = after.get(key, (label, 0, 0))
        _, c0, d0 = before.get(key, (label, 0, 0))
        if (c1 - c0, d1 - d0) != (0, 0):
            out[key] = (label, c1 - c0, d1 - d0)
    return out


def add(into: Sums, more: Mapping[str, tuple[str, int, int]]) -> Sums:
    for key, (label, count, denominator) in more.items():
        _, c, n = into.get(key, (label, 0, 0))
        into[key] = (label, c + count, n + denominator)
    return into


def by_locality(board: str, children: Sequence[Child], as_at: date) -> dict[str, Sums]:
    """The board's totals on the day for each locality with children: what a day starts from
    when it is first kept."""
    groups: dict[str, list[Child]] = defaultdict(list)
    for c in children:
        groups[c.locality].append(c)
    return {locality: contribution(board, group, as_at) for locality, group in groups.items()}


def _dynamic(board: str, key: str) -> tuple[int, Dynamic]:
    """The declared group of a figure that is not fixed, with its place among the groups."""
    for i, spec in enumerate(DYNAMIC.get(board, ())):
        if key.startswith(spec.prefix):
            return i, spec
    raise KeyError(f"{board}: figure {key!r} is neither fixed nor declared in DYNAMIC")


def _rank(board: str, fixed: Mapping[str, int], key: str) -> tuple[int, int, str]:
    if key in fixed:
        return (fixed[key], 0, "")
    i, spec = _dynamic(board, key)
    return (fixed[spec.after], i + 1, key)


def assemble(
    board: str, as_at: date, locality: str | None, sums: Mapping[str, tuple[str, int, int]]
) -> Board:
    """The board from its totals: the fixed figures (zero where nothing counted), then the
    dynamic ones with a count, in the definition's order, percentages worked out again; for a
    board worked out from them (`WORKED_OUT`), that board."""
    template = TOTALLED[board]([], as_at, locality)
    fixed = {f.key: i for i, f in enumerate(template.figures)}
    definition = template.figures[0].definition if template.figures else ""
    figures = []
    for f in template.figures:
        _, count, denominator = sums.get(f.key, (f.label, 0, 0))
        figures.append(
            figure(
                f.key,
                f.label,
                count,
                None if f.denominator is None else denominator,
                definition=f.definition,
            )
        )
    counts = {f.key: f.count or 0 for f in figures}
    for key, (label, count, _) in sums.items():
        if key in fixed or count == 0:
            continue
        _, spec = _dynamic(board, key)
        of = None if spec.denominator_of is None else counts[spec.denominator_of]
        figures.append(figure(key, label, count, of, definition=definition))
    figures.sort(key=lambda f: _rank(board, fixed, f.key))
    assembled = template.model_copy(update={"figures": figures})
    worked_out = WORKED_OUT.get(board)
    return assembled if worked_out is None else worked_out(assembled)


def rows_of(sums: Mapping[str, tuple[str, int, int]]) -> list[tuple[Any, ...]]:
    """(key, label, count, denominator) rows, sorted by key (so concurrent writers lock the
    same rows in the same order)."""
    return sorted(
        (key, label, count, denominator) for key, (label, count, denominator) in sums.items()
    )


def keeps(day: date, today: date, window: int) -> bool:
    """Whether boards are kept on `day`: today and the `window` days before it, and each month
    end of the year before today, which every page's twelve-month trend reads (worked out from
    every child's facts, each took seconds at 50,000 children the first time a page was read).
    Keeping a day takes a snapshot of every child (half a minute at 500,000 children, the
    projection not waiting for it), and every batch then moves the day: once a day for today,
    once for each month end. Other days further back are computed from the facts when asked,
    and moved by no batch."""
    if in_window(day, today, window) and day <= today:
        return True
    return day == month_end(day) and first_trend_month_end(today) <= day < today


def in_window(day: date, today: date, window: int) -> bool:
    """Whether `day` is in the window of recent days kept: today and the `window` days before
    it (a day after today counts too: kept by a clock ahead). Before it, only the trends'
    month ends are kept, and a batch drops them rather than moves them (`kept.TotalsMover`)."""
    return today - timedelta(days=window) <= day


def year_before(as_at: date) -> date:
    """The first day of the month eleven months before: twelve months of trend."""
    return add_months(as_at.replace(day=1), -11)


def first_trend_month_end(today: date) -> date:
    """The earliest month end a trend as at today reads."""
    return month_end(year_before(today))


def trend_month_ends(today: date) -> list[date]:
    """The month ends before today that a trend as at today reads, the latest first (the
    index's last complete month and the one before it lead)."""
    first = today.replace(day=1)
    return [month_end(add_months(first, -months)) for months in range(1, 12)]

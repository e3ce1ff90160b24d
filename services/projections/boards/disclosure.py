"""The partnership view: small numbers suppressed so that no board identifies a child, and no
suppressed number can be worked back from the published ones. No I/O.

A board is read as quantities: each figure's count, and its denominator (one quantity wherever
it appears: the cohort is the denominator of every share of the cohort). The definitions make
some of them add up (`sums_of`): a breakdown adds up to its total (age bands, RAG ratings,
plan durations, placement types, permanence plans, reasons, dip-sample outcomes, the months of
a period; on the boards of the child's whole record, as their `Shape` declares: caseload
bands, stages, outcomes, tenures...), and each locality's quantity adds up to the county's.
A group published with a group within it (`NESTED_CUTS`: the under-1s within the 0-8s;
`COMPLEMENTS`: the children in need with a social worker within all of them) adds up to it
with the rest, a quantity no figure publishes, protected as one that did: its difference is
not published when small.
Figures naming a worker (`model.COUNCIL_ONLY`) are left out before anything else. A quantity
is hidden when

1. (primary) it is from 1 to threshold-1, or it is the count of a share whose denominator is
   hidden ("0 of 3" says as much as "3 of 3");
2. (secondary) it is the smallest non-zero known part (else the total) of a sum that would
   otherwise have exactly one hidden member: no published total has one unknown part;
3. (over time) it is a month's count, or a count over a period of months, and the same figure
   is hidden on the board of one of those months alone (from its first day to its last, or to
   the day asked): every published count over time is then a sum of published months, so no
   hidden month is the difference of two published periods or of two consecutive days.

A figure is published only when neither its count nor its denominator is hidden. The same
numbers give the same hidden set whichever locality is asked for (the board of every locality
and of the county are protected together), and a month is hidden or published alike on every
board that shows it.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts.quality.codes import GOOD_OR_BETTER, GRADE_ORDER, EvaluatedPlan, Strand
from services.projections.boards.assurance.records import Period
from services.projections.boards.model import (
    Board,
    Child,
    Figure,
    Happened,
    Local,
    followed_by,
    shared_only,
)
from shared.calendar import month_end, months_between

Name = tuple[str, str | None]  # a quantity on one board: (name, period)
Q = tuple[str | None, str, str | None]  # (locality, None for the county; name; period)
Sheet = dict[str | None, Board]  # one board for each locality and for the county (None)

CARE_LEAVER_BANDS = ("17-18", "19-21", "22-25")
CP_DURATION_BANDS = ("under_3_months", "3_to_6_months", "6_to_9_months", "9_months_or_more")
RAG = ("rag.red", "rag.amber", "rag.green")
CHANGES = frozenset({"early-help-triage"})  # figures against a year before: not shares


@dataclass(frozen=True)
class Sum:
    """`total` is the sum of `parts` (on the same board; a part it lacks counts 0)."""

    total: Name
    parts: tuple[Name, ...]


def windowed(period: str | None) -> bool:
    """A count over a period from `since` to the day (`2024-01-01/2024-06-30`)."""
    return period is not None and "/" in period


def _glob(pattern: str, key: str) -> str | None:
    """What `*` stands for when `key` matches `pattern` (one `*`, or none: the key itself)."""
    head, star, tail = pattern.partition("*")
    if not star:
        return "" if key == pattern else None
    if len(key) > len(head) + len(tail) and key.startswith(head) and key.endswith(tail):
        return key[len(head) : len(key) - len(tail)]
    return None


# (total, part, rest): a group, a group within it, and the rest of it (unpublished), as
# patterns over the names of a board's quantities (`*` the same in all three): wherever the
# total and the part are on a board in a period, total = part + rest.
NESTED_CUTS = (("cut.age_0_8.*", "cut.under_1.*", "cut.age_1_to_8.*"),)
COMPLEMENTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "attendance": (
        ("cin_all", "cin_allocated", "cin_unallocated"),  # those attending
        ("of:cin_all", "of:cin_allocated", "of:cin_unallocated"),  # the groups
    ),
}
REST = "rest:"  # the names of the rests (never a figure's)


def complements_of(board: str, values: dict[Q, int], loc: str | None) -> list[Sum]:
    """The sums a group within a group makes on one locality's board, with its rest's value
    (added to `values`) as total less part."""
    found = []
    for total, part, rest in (*COMPLEMENTS.get(board, ()), *NESTED_CUTS):
        # This locality's quantities alone (those of the localities before it are many, and
        # never match): read again for each pattern, which sees the rests the ones before added.
        own = sorted(((q, v) for q, v in values.items() if q[0] == loc), key=_order_q)
        for (_, key, period), value in own:
            star = _glob(total, key)
            within = (loc, part.replace("*", star or ""), period)
            if star is None or within not in values or values[within] > value:
                continue
            left: Q = (loc, REST + rest.replace("*", star), period)
            values[left] = value - values[within]
            found.append(Sum((key, period), ((within[1], period), (left[1], period))))
    return found


@dataclass(frozen=True)
class Shape:
    """How a board's figures are tied, declared as patterns over their keys (`*` stands for
    one part, the same on both sides):

    - `shares`: (figure, its denominator), in the same period unless the denominator is
      one of `as_at` (a count of children on the day);
    - `totals`: (total, parts): the parts add up to the total in each period;
    - `monthly`: counts whose count over the period is the sum of their months'."""

    shares: tuple[tuple[str, str], ...] = ()
    totals: tuple[tuple[str, str], ...] = ()
    monthly: tuple[str, ...] = ()
    as_at: frozenset[str] = frozenset()

    def denominator(self, key: str, period: str | None) -> Name | None:
        for pattern, of in self.shares:
            star = _glob(pattern, key)
            if star is not None:
                name = of.replace("*", star)
                return (name, None if name in self.as_at else period)
        return None

    def sums(self, keys: Sequence[Name]) -> list[Sum]:
        """The sums among these figures (a total with no parts in its period: none)."""
        found = []
        for total, pattern in self.totals:
            for p in sorted({p for k, p in keys if k == total}, key=str):
                parts = tuple((k, q) for k, q in keys if q == p and _glob(pattern, k) is not None)
                if parts:
                    found.append(Sum((total, p), parts))
        for key in self.monthly:
            months = tuple((k, p) for k, p in keys if k == key and _is_month(p))
            found += [Sum((k, p), months) for k, p in keys if k == key and windowed(p) and months]
        return found


# The boards of the child's whole record (and the cuts on the risk board), by their shapes.
SHAPES: dict[str, Shape] = {
    "risk": Shape(shares=(("cut.*.rag.red", "cut.*.rated"),)),
    "visits": Shape(
        shares=(
            ("within_frequency", "rated"),
            ("within_frequency.*", "rated.*"),
            ("statutory.*.in_timescale", "statutory.*"),
            ("not_seen.*", "open_cases"),
            ("cut.*.within_frequency", "cut.*.rated"),
        ),
        totals=(("rated", "rated.*"), ("within_frequency", "within_frequency.*")),
    ),
    "workforce": Shape(
        shares=(
            ("sw.caseload.*", "sw.workers"),
            ("pa.caseload.*", "pa.workers"),
            ("worker.team.*", "sw.allocated"),
            ("in_need_unallocated", "in_need"),
        ),
        totals=(
            ("sw.workers", "sw.caseload.*"),
            ("pa.workers", "pa.caseload.*"),
            ("sw.allocated", "worker.team.*"),
        ),
    ),
    "front-door": Shape(
        shares=(
            ("re_referrals", "referrals"),
            ("assessments_in_45_days", "assessments"),
            ("icpcs_in_15_days", "icpcs"),
            ("contacts.*", "contacts"),
            ("referral_outcomes.*", "referral_outcomes"),
            ("s47_concluded.*", "s47_concluded"),
            ("factor.*", "assessments"),
        ),
        totals=(
            ("contacts", "contacts.*"),
            ("referral_outcomes", "referral_outcomes.*"),
            ("s47_concluded", "s47_concluded.*"),
        ),
        monthly=(
            "contacts",
            "referrals",
            "re_referrals",
            "assessments",
            "assessments_in_45_days",
            "s47_enquiries",
            "icpcs",
            "icpcs_in_15_days",
        ),
    ),
    "missing": Shape(
        shares=(
            ("episodes.*", "episodes"),
            ("rhi_offered", "returned"),
            ("rhi_within_72_hours", "returned"),
            ("rhi_accepted", "rhi_offered"),
        ),
        totals=(("episodes", "episodes.*"),),
        monthly=("episodes",),
    ),
    "escalation-stages": Shape(
        shares=(("open.*", "open"), ("advanced.*", "advanced"), ("responses.*", "responses")),
        totals=(("open", "open.*"), ("advanced", "advanced.*"), ("responses", "responses.*")),
    ),
    "pre-proceedings": Shape(
        shares=(("concluded.*", "concluded"), ("weeks.*", "concluded")),
        totals=(("concluded", "concluded.*"), ("concluded", "weeks.*")),
        monthly=("concluded",),
    ),
    "placement-stability": Shape(
        shares=(("moved", "in_care"), ("moves_3_or_more", "in_care")),
    ),
    "housing": Shape(
        shares=(
            ("in_tenancy.*", "in_tenancy"),
            ("homelessness_outcomes.*", "homelessness_outcomes"),
            ("tenancies_ended_unplanned", "tenancies_ended"),
        ),
        totals=(
            ("in_tenancy", "in_tenancy.*"),
            ("homelessness_outcomes", "homelessness_outcomes.*"),
        ),
    ),
    "education-support": Shape(
        shares=(
            ("neet_reviewed", "neet"),
            ("neet_panel_reviews.*", "neet_panel_reviews"),
            ("summer_school.*", "summer_school"),
        ),
        totals=(
            ("neet_panel_reviews", "neet_panel_reviews.*"),
            ("summer_school", "summer_school.*"),
        ),
        as_at=frozenset({"neet"}),
    ),
}


def _practice_evaluations() -> Shape:
    grades = tuple(f"grade.{g.value}" for g in GRADE_ORDER)
    plans = tuple(f"plan.{p.value}" for p in EvaluatedPlan)
    strands = [s.value for s in Strand]
    return Shape(
        shares=(
            ("grade.*", "evaluations"),
            ("plan.*", "evaluations"),
            ("good_or_better", "evaluations"),
            ("strand_good_or_better.*", "strand.*"),
            *((f"strand.{s}.*", f"strand.{s}") for s in strands),
            ("moderation_agreed", "moderated"),
            ("actions_overdue", "actions_open"),
        ),
        totals=(
            ("evaluations", "grade.*"),
            ("evaluations", "plan.*"),
            *((f"strand.{s}", f"strand.{s}.*") for s in strands),
        ),
        monthly=("evaluations", "good_or_better", *grades, *plans),
    )


# The boards of quality assurance (services/projections/assurance/boards.py).
SHAPES |= {
    "practice-evaluations": _practice_evaluations(),
    "feedback": Shape(
        shares=(("*.yes", "*.answered"), ("*.partly", "*.answered"), ("*.no", "*.answered")),
    ),
    "serious-incidents": Shape(
        shares=(
            ("notified_in_5_working_days", "notified"),
            ("rapid_reviews_in_15_working_days", "rapid_reviews"),
            ("decision.*", "rapid_reviews"),
            ("rapid_reviews_overdue", "rapid_reviews_awaited"),
            ("learning_actions_overdue", "learning_actions_open"),
        ),
        totals=(("rapid_reviews", "decision.*"),),
    ),
}
ANSWERED = ("yes", "partly", "no")


def denominator_of(board: str, f: Figure) -> Name | None:
    """The quantity a figure's denominator is."""
    if f.denominator is None:
        return None
    shape = SHAPES.get(board)
    declared = shape.denominator(f.key, f.period) if shape else None
    return declared or _denominator_of(board, f.key, f.period)


def _denominator_of(board: str, key: str, period: str | None) -> Name:
    """The first boards' denominators (before `Shape`)."""
    match board:
        case "priority-cohort":
            return ("cohort", None)
        case "care-leavers":
            return (f"{key.split('.', 1)[0]}.care_leavers", None)
        case "risk" if key.startswith("rag."):
            return ("of:rated", None)
        case "risk" if key == "dip_sample_agreement" or key.startswith("moderated."):
            return ("dip_samples", period)
        case "early-help-triage" if period:
            year, month = period.split("-")
            return (key, f"{int(year) - 1:04d}-{month}")
        case "timeliness" if key.startswith("cp_plans.") or key == "cp_reviews_overdue":
            return ("cp_plans_open", None)
        case "children-in-care" if key != "year_11_confirmed_destination":
            return ("in_care", None)
        case "iro-escalations" if key.startswith("resolved"):
            return ("raised" + key.removeprefix("resolved"), period)
    return (f"of:{key}", period)


def sums_of(board: Board) -> list[Sum]:
    """The sums the board's definition makes (those that hold on the day are used)."""
    keys = sorted({(f.key, f.period) for f in board.figures}, key=str)
    shape = SHAPES.get(board.board)
    return (shape.sums(keys) if shape else []) + _first_sums(board.board, keys)


def _first_sums(board: str, keys: list[Name]) -> list[Sum]:
    """The first boards' sums (before `Shape`)."""

    def starting(prefix: str) -> tuple[Name, ...]:
        return tuple(k for k in keys if k[0].startswith(prefix))

    windows = {p for k, p in keys if windowed(p)}
    window = next(iter(windows)) if windows else None
    match board:
        case "care-leavers":
            measures = sorted({k.split(".", 1)[1] for k, _ in keys})
            return [
                Sum((f"all.{m}", None), tuple((f"{b}.{m}", None) for b in CARE_LEAVER_BANDS))
                for m in measures
            ]
        case "risk":
            return [
                Sum(("of:rated", None), tuple((k, None) for k in RAG)),
                Sum(
                    ("dip_samples", window),
                    (("dip_sample_agreement", window), *starting("moderated.")),
                ),
            ]
        case "timeliness":
            return [
                Sum(
                    ("cp_plans_open", None),
                    tuple((f"cp_plans.{b}", None) for b in CP_DURATION_BANDS),
                )
            ]
        case "children-in-care":
            return [
                Sum(("permanence_plan", None), starting("permanence_plan.")),
                Sum(("in_care", None), starting("placement.")),
            ]
        case "iro-escalations":
            return [
                Sum(("raised", window), starting("raised.")),
                Sum(("resolved", window), starting("resolved.")),
                Sum(("raised", window), starting("raised_in_month")),
            ]
        case "ewo-and-red":
            return [Sum(("ewo_escalations", window), starting("ewo_in_month"))]
        case "feedback":
            return _feedback_sums(keys)
        case "practice-evaluations":
            return _good_or_better_sums(keys)
    return []


def _good_or_better_sums(keys: list[Name]) -> list[Sum]:
    """Good or better is outstanding and good: overall, and of each strand."""
    best = [g.value for g in GRADE_ORDER if g in GOOD_OR_BETTER]
    found = []
    for key, period in keys:
        if key == "good_or_better":
            found.append(Sum((key, period), tuple((f"grade.{g}", period) for g in best)))
        elif key.startswith("strand_good_or_better."):
            strand = key.split(".", 1)[1]
            parts = tuple((f"strand.{strand}.{g}", period) for g in best)
            found.append(Sum((key, period), parts))
    return found


FEEDBACK_BREAKDOWNS = ("by.", "by_service.")  # by respondent type, by service


def _feedback_sums(keys: list[Name]) -> list[Sum]:
    """Each question's answered is its yes, partly and no; and each of those, over the
    respondent types, is the question's, and over the services (`not_recorded` among them
    where some responses name none) too."""
    present = set(keys)
    # Each key's breakdowns (`by.<respondent>.<key>`, `by_service.<service>.<key>`) of its
    # period, in the keys' order: found by the key, not by a scan of every key for each.
    breakdowns: dict[tuple[str, str, str | None], list[Name]] = defaultdict(list)
    for k, p in keys:
        for prefix in FEEDBACK_BREAKDOWNS:
            of = k.split(".", 2)
            if k.startswith(prefix) and len(of) == 3:
                breakdowns[(prefix, of[2], p)].append((k, p))
    found = []
    for key, period in keys:
        if key.endswith(".answered"):
            base = key.removesuffix(".answered")
            parts = tuple((f"{base}.{a}", period) for a in ANSWERED)
            found.append(Sum((key, period), tuple(p for p in parts if p in present)))
        if key.startswith(FEEDBACK_BREAKDOWNS) or key.rsplit(".", 1)[-1] not in (
            *ANSWERED,
            "answered",
        ):
            continue
        for prefix in FEEDBACK_BREAKDOWNS:
            by = tuple(breakdowns.get((prefix, key, period), ()))
            if by:
                found.append(Sum((key, period), by))
    return found


def _order(q: Q) -> tuple[str, str, str]:
    return (q[0] or "", q[1], q[2] or "")


def _order_q(item: tuple[Q, int]) -> tuple[str, str, str]:
    return _order(item[0])


@dataclass
class _Quantities:
    values: dict[Q, int]
    figures: list[tuple[Q, Q | None, bool]]  # count, denominator, whether a share
    sums: list[tuple[Q, tuple[Q, ...]]]
    # The denominators of the shares each count is the count of (`_sensitive` asks of each
    # hidden quantity: found by the count, not by a scan of every figure).
    shares_of: dict[Q, list[Q]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for count, denominator, share in self.figures:
            if share and denominator is not None:
                self.shares_of.setdefault(count, []).append(denominator)


def _quantities(sheet: Sheet) -> _Quantities:
    values: dict[Q, int] = {}
    figures: list[tuple[Q, Q | None, bool]] = []
    sums: list[tuple[Q, tuple[Q, ...]]] = []
    places = sorted(sheet, key=lambda loc: loc or "")
    for loc in places:
        board = sheet[loc]
        for f in board.figures:
            count: Q = (loc, f.key, f.period)
            values[count] = f.count or 0
            name = denominator_of(board.board, f)
            denominator: Q | None = None if name is None else (loc, *name)
            if denominator is not None:
                values.setdefault(denominator, f.denominator or 0)
            figures.append((count, denominator, board.board not in CHANGES))
        declared = sums_of(board) + complements_of(board.board, values, loc)
        sums += [((loc, *s.total), tuple((loc, *p) for p in s.parts)) for s in declared]
    localities = [loc for loc in places if loc is not None]
    if None in sheet and localities:
        for _, key, period in sorted({(None, n, p) for _, n, p in values}, key=_order):
            sums.append(((None, key, period), tuple((loc, key, period) for loc in localities)))
    holding = [
        (total, parts)
        for total, parts in sums
        if total in values and values[total] == sum(values.get(q, 0) for q in parts)
    ]
    return _Quantities(values, figures, holding)


def hidden_in(
    sheet: Sheet,
    threshold: int,
    seed: Iterable[Q] = (),
    fixed: Callable[[Q], bool] = lambda _: False,
) -> set[Q]:
    """The quantities the partnership view hides: rules 1 and 2, then, while the published
    numbers still determine a hidden one that matters (a small number, the count of a share of
    a small group, or one `seed` hides: rule 3), one more known quantity tied to it. `fixed`:
    quantities decided elsewhere (a month's, on its own board), never hidden here."""
    q = _quantities(sheet)
    # A rest is never published: unknown, but the one unknown of its sum when not small.
    rests = {k for k in q.values if k[1].startswith(REST)}
    free = {k for k in rests if not 0 < q.values[k] < threshold}
    hidden = set(seed) | rests | {k for k, v in q.values.items() if 0 < v < threshold}
    seeded = set(seed)
    given_up: set[Q] = set()
    while True:
        _secondary(q, hidden, lambda k: k in rests or fixed(k), free)
        matters = seeded | {
            k for k in hidden if q.values.get(k, 0) < threshold and _sensitive(q, k, threshold)
        }
        determined = sorted(_determined(q.sums, hidden) & matters - given_up, key=_order)
        if not determined:
            return hidden - free
        more = _nearest_known(q, hidden, determined[0], lambda k: k in rests or fixed(k))
        if more is None:
            given_up.add(determined[0])
        else:
            hidden.add(more)


def _sensitive(q: _Quantities, k: Q, threshold: int) -> bool:
    """A small number, or the count of a share whose denominator is small ("0 of 3")."""
    if 0 < q.values.get(k, 0) < threshold:
        return True
    return any(0 < q.values.get(d, 0) < threshold for d in q.shares_of.get(k, ()))


def _secondary(
    q: _Quantities, hidden: set[Q], fixed: Callable[[Q], bool], free: Collection[Q] = ()
) -> None:
    """Rule 2 (and the count of a share of a hidden denominator), until nothing changes;
    `free`: unpublished quantities that may be the one unknown of a sum (not small)."""
    while True:
        for count, denominator, share in q.figures:
            if share and denominator in hidden:
                hidden.add(count)
        changed = False
        for total, parts in q.sums:
            unknown = [m for m in (total, *parts) if m in hidden]
            if len(unknown) != 1 or unknown[0] in free:
                continue
            known = [
                m for m in parts if m not in hidden and q.values.get(m, 0) > 0 and not fixed(m)
            ]
            if not known and total not in hidden and q.values[total] > 0 and not fixed(total):
                known = [total]
            if known:
                hidden.add(min(known, key=lambda m: (q.values[m], *_order(m))))
                changed = True
        if not changed:
            return


def _nearest_known(
    q: _Quantities, hidden: set[Q], target: Q, fixed: Callable[[Q], bool]
) -> Q | None:
    """The smallest non-zero known quantity in a sum with `target`, else in a sum with a
    hidden quantity of those sums, and so on outwards."""
    reached, frontier = {target}, {target}
    while frontier:
        sums = [(t, p) for t, p in q.sums if frontier & {t, *p}]
        members = {m for t, p in sums for m in (t, *p)}
        known = [
            m
            for m in members
            if m not in hidden and m in q.values and q.values[m] > 0 and not fixed(m)
        ]
        if known:
            return min(known, key=lambda m: (q.values[m], *_order(m)))
        frontier = {m for m in members if m in hidden} - reached
        reached |= frontier
    return None


PRIME = (1 << 61) - 1  # ranks mod this prime are the ranks over the rationals here


def _determined(sums: Sequence[tuple[Q, tuple[Q, ...]]], hidden: set[Q]) -> set[Q]:
    """The hidden quantities the sums and the known quantities determine: Gaussian elimination
    of the sums over the hidden quantities (the known ones are constants), fully reduced; a
    quantity is determined when its row holds nothing else."""
    rows: dict[Q, dict[Q, int]] = {}

    def subtract(row: dict[Q, int], factor: int, other: dict[Q, int]) -> None:
        for k, c in other.items():
            row[k] = (row.get(k, 0) - factor * c) % PRIME
            if not row[k]:
                del row[k]

    for total, parts in sums:
        row: dict[Q, int] = {total: 1} if total in hidden else {}
        for p in parts:
            if p in hidden:
                row[p] = (row.get(p, 0) - 1) % PRIME
        row = {k: c for k, c in row.items() if c}
        for pivot, prow in rows.items():
            if pivot in row:
                subtract(row, row[pivot], prow)
        if not row:
            continue
        pivot = min(row, key=_order)
        inverse = pow(row[pivot], PRIME - 2, PRIME)
        row = {k: c * inverse % PRIME for k, c in row.items()}
        for other in rows.values():
            if pivot in other:
                subtract(other, other[pivot], row)
        rows[pivot] = row
    return {pivot for pivot, row in rows.items() if len(row) == 1}


def _is_month(period: str | None) -> bool:
    return period is not None and len(period) == 7


def _within(period: str, window: str) -> bool:
    """Whether a period (`start/end`) lies within a window (`start/end`)."""
    start, end = period.split("/")
    first, last = window.split("/")
    return first <= start and end <= last


def _carried(month: Sheet, hidden: set[Q], windows: Collection[str]) -> set[Q]:
    """What the board of one month hides of the month's own figures, as the quantities of
    the board over a period: the month's count, and each count over a period that holds the
    month's (a board comparing two periods has two windows: each month's counts are carried
    to the window holding them)."""
    own = {board.as_at.isoformat()[:7] for board in month.values()}
    carried: set[Q] = set()
    for loc, name, period in hidden:
        if windowed(period):
            carried |= {(loc, name, w) for w in windows if _within(str(period), w)}
        elif period in own:
            carried.add((loc, name, period))
    return carried


def protect(sheet: Sheet, threshold: int, months: Sequence[Sheet] = ()) -> Sheet:
    """The partnership view of every board of the sheet; `months`: the sheet of each month of
    the period alone, for boards that count over time."""
    windows = {str(f.period) for b in sheet.values() for f in b.figures if windowed(f.period)}
    seed: set[Q] = set()
    for month in months:
        seed |= _carried(month, hidden_in(month, threshold), windows)
    # A month's figures are decided on the month's own board: never hidden here besides.
    by_month = bool(months)
    hidden = hidden_in(sheet, threshold, seed, lambda k: by_month and _is_month(k[2]))
    return {loc: _shown(board, loc, hidden) for loc, board in sheet.items()}


def _shown(board: Board, loc: str | None, hidden: set[Q]) -> Board:
    def show(f: Figure) -> Figure:
        name = denominator_of(board.board, f)
        if (loc, f.key, f.period) not in hidden and (name is None or (loc, *name) not in hidden):
            return f
        return f.hidden()

    return board.model_copy(
        update={"figures": [show(f) for f in board.figures], "rows": None, "view": "partnership"}
    )


# -- a board for every locality, from the inputs read once for the county --------------------


def only(value: Any, locality: str | None) -> Any:
    """The part of a board's inputs about one locality (children, and what happened, by
    locality; lists of them, and tuples holding them, e.g. a day and its children)."""
    if locality is None:
        return value
    if isinstance(value, list):
        return [
            only(v, locality)
            for v in value
            if not isinstance(v, Child | Happened | Local) or v.locality == locality
        ]
    if isinstance(value, tuple):
        return tuple(only(v, locality) for v in value)
    return value


def split(value: Any, places: Iterable[str | None]) -> dict[str | None, Any]:
    """`only(value, place)` for each of `places`, in one pass over each list rather than one
    pass a place (a page of every locality's board reads the county's inputs once)."""
    wanted = list(dict.fromkeys(places))
    named = [p for p in wanted if p is not None]
    parts = _split(value, named) if named else {}
    return {p: value if p is None else parts[p] for p in wanted}


def _split(value: Any, places: list[str]) -> dict[str, Any]:
    if isinstance(value, list):
        lists: dict[str, list[Any]] = {p: [] for p in places}
        for v in value:
            if isinstance(v, Child | Happened | Local):
                part = lists.get(v.locality)  # type: ignore[arg-type]
                if part is not None:
                    part.append(v)
            else:
                parts = _split(v, places)
                for p in places:
                    lists[p].append(parts[p])
        return dict(lists)
    if isinstance(value, tuple):
        each = [_split(v, places) for v in value]
        return {p: tuple(parts[p] for parts in each) for p in places}
    return dict.fromkeys(places, value)


def localities_in(value: Any) -> set[str]:
    if isinstance(value, Child | Happened | Local):
        return {value.locality} if value.locality else set()
    if isinstance(value, list | tuple):
        return set().union(*(localities_in(v) for v in value)) if value else set()
    return set()


def inputs_count(figures: Callable[..., Board]) -> int:
    """How many inputs a board's definition takes before `as_at`, `locality` (and `since`)."""
    return list(inspect.signature(figures).parameters).index("as_at")


def counts_over_time(figures: Callable[..., Board]) -> bool:
    return "since" in inspect.signature(figures).parameters


def by_locality(
    figures: Callable[..., Board],
    inputs: Sequence[Any],
    as_at: date,
    localities: Iterable[str],
    since: date | None = None,
) -> Sheet:
    """The board of the county and of each locality, from the county's inputs, as the
    partnership view starts from them: without the figures the council view alone shows."""
    extra = {"since": since} if since is not None else {}
    places = (None, *sorted(set(localities)))
    parts = [split(x, places) for x in inputs]
    return {
        loc: shared_only(
            figures(*(part[loc] for part in parts), as_at=as_at, locality=loc, **extra)
        )
        for loc in places
    }


def partnership(
    figures: Callable[..., Board],
    inputs: Sequence[Any],
    as_at: date,
    localities: Iterable[str],
    threshold: int,
    since: date | None = None,
) -> Sheet:
    """Every locality's board and the county's, in the partnership view, from the inputs of
    the county's board. A board counting over time counts whole months from `since`'s.

    A period among the inputs (`Period`: the feedback board's period compared with) is a
    count over time like the board's own: each of its months gets its board alone (the
    inputs with no period compared, from the month's first day, or the period's, to its last,
    or the period's), and what that hides is hidden over the period, as for the months of
    `since` to the day. The month boards read no period compared: each is the month's."""
    places = sorted(set(localities))
    if since is None or not counts_over_time(figures):
        return protect(by_locality(figures, inputs, as_at, places), threshold)
    start = since.replace(day=1)
    sheet = by_locality(figures, inputs, as_at, places, start)
    alone = [None if isinstance(x, Period) else x for x in inputs]
    months = [
        by_locality(figures, alone, min(month_end(m), as_at), places, m)
        for m in months_between(start, as_at)
    ]
    for compared in (x for x in inputs if isinstance(x, Period)):
        last = min(compared.end, as_at)
        months += [
            by_locality(figures, alone, min(month_end(m), last), places, max(m, compared.start))
            for m in months_between(compared.start, last)
        ]
    return protect(sheet, threshold, months)


def partnership_in_parts(
    counted: Sheet,
    happened: Callable[[Sequence[Happened], date, date], list[Figure]],
    happenings: Sequence[Happened],
    as_at: date,
    threshold: int,
    since: date,
) -> Sheet:
    """`partnership` of a board in two parts (`declarations.Split`): its counted part for the
    county and each locality (`counted`: from the kept totals, a board for every place asked)
    followed by what happened in whole months from `since`'s (`happenings`, the county's).

    The same sheet as `partnership` of the board's whole definition over the children as at
    the day: the two parts share no sum and no share, so what each hides depends on its own
    numbers alone, and the board of each month alone (whose hiding is carried to the period)
    holds only the part over a period, as those months' figures of the counted part are never
    carried (a property test holds the two to the same answer)."""
    places = list(counted)
    parts = split(happenings, places)
    start = since.replace(day=1)

    def sheet_on(day: date, first: date, boards: Sheet) -> Sheet:
        return {
            loc: shared_only(followed_by(boards[loc], happened(parts[loc], day, first)))
            for loc in places
        }

    months = []
    for m in months_between(start, as_at):
        day = min(month_end(m), as_at)
        alone = {
            loc: b.model_copy(update={"as_at": day, "figures": []}) for loc, b in counted.items()
        }
        months.append(sheet_on(day, m, alone))
    return protect(sheet_on(as_at, start, counted), threshold, months)

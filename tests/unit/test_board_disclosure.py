"""The partnership view against an attacker: boards computed from generated children and
occurrences, published for every locality and the county, on consecutive days, month ends and
several period starts; the attacker knows every published number and the arithmetic of the
definitions (breakdowns add up to their totals, localities to the county, a count over a period
is the sum of its days) and solves the linear system. No suppressed small number (from 1 to
threshold-1, or the 0 of a share of a small group together with that group's size) may come
out determined."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.projections.boards import casework as cw
from services.projections.boards import definitions as d
from services.projections.boards import disclosure
from services.projections.boards import oversight as ov
from services.projections.boards.assurance.figures import comparison_before, feedback, whole_months
from services.projections.boards.assurance.records import Answer, Question
from services.projections.boards.declarations import BOARD_DECLARATIONS, DECLARED
from services.projections.boards.model import Board, Child, Happened, suppress

THRESHOLD = 5
PLACES = ("Exeter", "North", "South")
PRIME = (1 << 61) - 1  # ranks over GF(p) equal ranks over Q for these small-integer systems
START, END = date(2024, 1, 1), date(2024, 3, 31)

Id = tuple[Any, ...]


# -- the attacker -----------------------------------------------------------------------------


def canonical(board: str, loc: str | None, name: str, period: str | None, as_at: date) -> Id:
    """One id per number whichever board publishes it: a count over days by its days, a
    month's count by its month (to the day asked, in the month itself), else as at the day."""
    if period and "/" in period:
        first, last = period.split("/")
        return ("window", board, loc, name, first, last)
    if period and len(period) == 7:
        month = date.fromisoformat(f"{period}-01")
        last = min(disclosure.month_end(month), as_at).isoformat()
        over = {"raised_in_month": "raised", "ewo_in_month": "ewo_escalations"}
        if name in over:  # the month's count is the count over the month's days
            return ("window", board, loc, over[name], month.isoformat(), last)
        shape = disclosure.SHAPES.get(board)
        if shape and name in shape.monthly:  # the same name, over the month's days
            return ("window", board, loc, name, month.isoformat(), last)
        return ("month", board, loc, name, month.isoformat(), last)
    return ("day", board, loc, name, period, as_at.isoformat())


# Counts over a period on the boards of the child's whole record that are the sum of the same
# count on each day (an occurrence counted by its own day, whatever else is asked).
ADDITIVE = {
    "front-door": ("",),  # every count over the period
    "missing": ("episodes",),
    "escalation-stages": ("advanced", "responses"),
    "pre-proceedings": ("concluded", "weeks."),
    "housing": ("",),
    "education-support": ("neet_panel_reviews", "summer_school"),
    "feedback": ("",),  # every count is of responses, each on its day
}


def additive_over_days(board: str, name: str) -> bool:
    """Counts of occurrences in a period: the sum of the same count on each of its days."""
    return any(name.startswith(prefix) for prefix in ADDITIVE.get(board, ())) or (
        (board == "iro-escalations" and (name == "raised" or name.startswith("raised.")))
        or (board == "ewo-and-red" and name == "ewo_escalations")
        or (
            board == "risk"
            and (name in ("dip_samples", "dip_sample_agreement") or name.startswith("moderated."))
        )
    )


@dataclass
class Attacker:
    known: dict[Id, int] = field(default_factory=dict)
    truth: dict[Id, int] = field(default_factory=dict)
    equations: list[dict[Id, int]] = field(default_factory=list)  # sum of coef * id = 0
    targets: dict[Id, str] = field(default_factory=dict)
    pairs: dict[tuple[Id, Id], str] = field(default_factory=dict)

    def read(self, published: disclosure.Sheet, council: disclosure.Sheet) -> None:
        """One published sheet (every locality and the county) and its true numbers."""
        for loc, board in published.items():
            true = council[loc]
            for shown, real in zip(board.figures, true.figures, strict=True):
                assert (shown.key, shown.period) == (real.key, real.period)
                count = canonical(board.board, loc, real.key, real.period, board.as_at)
                name = disclosure.denominator_of(board.board, real)
                den = None if name is None else canonical(board.board, loc, *name, board.as_at)
                self._true(count, real.count or 0)
                if den is not None:
                    self._true(den, real.denominator or 0)
                if not shown.suppressed:
                    self._know(count, real.count or 0)
                    if den is not None:
                        self._know(den, real.denominator or 0)
                    continue
                small = 0 < (real.count or 0) < THRESHOLD
                share_of_few = (
                    board.board not in disclosure.CHANGES
                    and real.denominator is not None
                    and 0 < real.denominator < THRESHOLD
                )
                why = f"{board.board} {loc} {real.key} {real.period}"
                if small:
                    self.targets[count] = why
                elif share_of_few and den is not None:  # "0 of 3": with the 3 it identifies
                    self.pairs[(count, den)] = why
            values = {(f.key, f.period): f.count or 0 for f in true.figures}
            for s in disclosure.sums_of(true):  # the definitions' breakdowns, where they hold
                parts = [p for p in s.parts if p in values]
                if s.total in values and values[s.total] == sum(values[p] for p in parts):
                    self.equations.append(
                        _minus(
                            {canonical(board.board, loc, *s.total, board.as_at): 1},
                            [canonical(board.board, loc, *p, board.as_at) for p in parts],
                        )
                    )

    def _true(self, key: Id, value: int) -> None:
        assert self.truth.setdefault(key, value) == value, f"{key}: {value}"

    def _know(self, key: Id, value: int) -> None:
        self.known[key] = value

    def arithmetic(self) -> None:
        """Localities add up to the county; counts over days to the sum of their days."""
        by_place: dict[Id, dict[str | None, Id]] = defaultdict(dict)
        for key in self.truth:
            by_place[(key[0], key[1], *key[3:])][key[2]] = key
        for places in by_place.values():
            parts = [places[p] for p in PLACES if p in places]
            if None in places and self.truth[places[None]] == sum(self.truth[p] for p in parts):
                self.equations.append(_minus({places[None]: 1}, parts))
        for key in list(self.truth):
            kind, board, loc, name, *span = key
            if kind == "window" and additive_over_days(board, name):
                first, last = (date.fromisoformat(x) for x in span)
                days = [("daily", board, loc, name, day.isoformat()) for day in _days(first, last)]
                self.equations.append(_minus({key: 1}, days))
        daily = {
            ("daily", board, name, d.isoformat())
            for (kind, board, _, name, *span) in self.truth
            if kind == "window" and additive_over_days(board, name)
            for d in _days(*(date.fromisoformat(x) for x in span))
        }
        for _, board, name, day in daily:
            county = ("daily", board, None, name, day)
            self.equations.append(
                _minus({county: 1}, [("daily", board, p, name, day) for p in PLACES])
            )

    def derived(self) -> list[str]:
        """The targets the published numbers determine."""
        rows = _reduced(self.equations, self.known)
        found = set(self.known) | {pivot for pivot, row in rows.items() if len(row) == 1}
        return [why for key, why in self.targets.items() if key in found] + [
            why for (count, den), why in self.pairs.items() if count in found and den in found
        ]

    def check_equations_hold(self) -> None:
        for eq in self.equations:
            if all(k in self.truth for k in eq):
                assert sum(c * self.truth[k] for k, c in eq.items()) == 0, eq


def _minus(total: dict[Id, int], parts: Iterable[Id]) -> dict[Id, int]:
    eq = dict(total)
    for p in parts:
        eq[p] = eq.get(p, 0) - 1
    return {k: c for k, c in eq.items() if c}


@functools.cache  # the same windows over and over, for every example
def _days(first: date, last: date) -> tuple[date, ...]:
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


def _reduced(equations: Sequence[dict[Id, int]], known: dict[Id, int]) -> dict[Id, dict[Id, int]]:
    """The equations over the unknowns (the known numbers moved to the constant side, which
    does not decide what is determined), fully reduced mod PRIME: each pivot and its row. An
    unknown is determined exactly when its row holds nothing else. No row holds another's
    pivot, and `holding` finds the rows that hold an unknown without looking through them all."""
    rows: dict[Id, dict[Id, int]] = {}
    holding: dict[Id, set[Id]] = defaultdict(set)  # unknown -> the pivots of the rows it is in
    for eq in equations:
        row = {k: c % PRIME for k, c in eq.items() if k not in known and c % PRIME}
        for k in [k for k in row if k in rows]:  # a pivot's row holds no other pivot
            if k in row:
                _subtract(row, row[k], rows[k])
        if not row:
            continue
        pivot = min(row, key=str)
        inverse = pow(row[pivot], PRIME - 2, PRIME)
        row = {k: c * inverse % PRIME for k, c in row.items()}
        for other in list(holding[pivot]):
            added, removed = _subtract(rows[other], rows[other][pivot], row)
            for k in added:
                holding[k].add(other)
            for k in removed:
                holding[k].discard(other)
        rows[pivot] = row
        for k in row:
            holding[k].add(pivot)
    return rows


def _subtract(row: dict[Id, int], factor: int, other: dict[Id, int]) -> tuple[list[Id], list[Id]]:
    """row -= factor * other, mod PRIME; the unknowns it added to the row and took out."""
    added, removed = [], []
    for k, c in other.items():
        value = (row.get(k, 0) - factor * c) % PRIME
        if value:
            if k not in row:
                added.append(k)
            row[k] = value
        elif k in row:
            del row[k]
            removed.append(k)
    return added, removed


# -- generated children and occurrences ---------------------------------------------------------

DAY = st.dates(min_value=START, max_value=END)
FACTS = st.fixed_dictionaries(
    {},
    optional={
        "care_leaver": st.just("relevant"),
        "in_touch": st.sampled_from(["YES", "NO"]),
        "accommodation": st.sampled_from(["B1", "B2"]),
        "activity": st.sampled_from(["F4", "G5"]),
        "personal_adviser": st.just("PA-1"),
        "cp_plan": st.just("P"),
        "cp_started": st.sampled_from(["2023-01-10", "2023-06-01", "2023-11-20", "2024-01-05"]),
        "cp_repeat": st.sampled_from(["0", "1"]),
        "in_care": st.just("C2"),
        "permanence_plan": st.sampled_from(["P1", "P2"]),
        "placement": st.sampled_from(["K2", "U1", "R1"]),
        "rag": st.sampled_from(["RED", "AMBER", "GREEN"]),
        "priority": st.just("exploitation"),
        "cin_plan": st.just("CIN"),
    },
)


@st.composite
def county(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 45))
    children = [
        Child(
            f"C-{i}",
            draw(st.sampled_from(PLACES)),
            draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2010, 1, 1))),
            draw(FACTS),
        )
        for i in range(n)
    ]
    places = {c.child_id: c.locality for c in children}
    raised, resolved, dips, ewo, triage = [], [], [], [], []
    if children:
        ids = st.sampled_from(sorted(places))
        for i in range(draw(st.integers(0, 30))):
            child, day = draw(ids), draw(DAY)
            reason = draw(st.sampled_from(["permanence", "drift"]))
            raised.append(
                Happened(
                    "escalation_raised", f"E-{i}", day, places[child], reason=reason, child_id=child
                )
            )
            if draw(st.booleans()):
                later = day + timedelta(days=draw(st.integers(0, 40)))
                resolved.append(
                    Happened("escalation_resolved", f"E-{i}", later, places[child], child_id=child)
                )
        for _ in range(draw(st.integers(0, 25))):
            child = draw(ids)
            agreed = draw(st.booleans())
            dips.append(
                Happened(
                    "dip_sample",
                    child,
                    draw(DAY),
                    places[child],
                    rating="RED",
                    agreed=agreed,
                    moderated_to=None if agreed else draw(st.sampled_from(["AMBER", "GREEN"])),
                )
            )
        for _ in range(draw(st.integers(0, 25))):
            child = draw(ids)
            ewo.append(Happened("ewo", child, draw(DAY), places[child]))
    for _ in range(draw(st.integers(0, 40))):
        day = draw(st.dates(min_value=date(2023, 1, 1), max_value=END))
        family = f"F-{draw(st.integers(0, 30))}"
        triage.append(Happened("triage", family, day, draw(st.sampled_from(PLACES))))
    for seq in (raised, resolved, dips, ewo, triage):
        seq.sort(key=lambda h: (h.day, h.subject_id))
    return {
        "children": children,
        "raised": raised,
        "resolved": resolved,
        "dips": dips,
        "ewo": ewo,
        "triage": triage,
    }


def inputs(board: str, data: dict[str, Any], as_at: date, since: date) -> tuple[Any, ...]:
    """What each board's declaration reads (declarations.py), as at the day."""
    children = data["children"]
    match board:
        case "iro-escalations":
            return (
                [h for h in data["raised"] if h.day <= as_at],
                [h for h in data["resolved"] if h.day <= as_at],
            )
        case "risk":
            return (children, [h for h in data["dips"] if since <= h.day <= as_at])
        case "ewo-and-red":
            ends = [
                (min(disclosure.month_end(m), as_at), children)
                for m in d.months_between(since, as_at)
            ]
            return ([h for h in data["ewo"] if since <= h.day <= as_at], ends)
        case "early-help-triage":
            return ([h for h in data["triage"] if h.day <= as_at],)
        case "priority-cohort":
            return (children, {})
        case "attendance":
            marks = [
                Happened("attendance", c.child_id, as_at, c.locality, sessions_attended=i % 2)
                for i, c in enumerate(children)
            ]
            return ([(as_at, children, marks)],)
    return (children,)


FIGURES: dict[str, Callable[..., Board]] = {
    "priority-cohort": d.priority_cohort,
    "care-leavers": d.care_leavers,
    "attendance": d.attendance,
    "risk": d.risk,
    "early-help-triage": d.early_help_triage,
    "timeliness": d.timeliness,
    "children-in-care": d.children_in_care,
    "iro-escalations": d.iro_escalations,
    "ewo-and-red": d.ewo_and_red,
}


def publish(attacker: Attacker, board: str, data: dict[str, Any], as_at: date, since: date) -> None:
    figures = FIGURES[board]
    over_time = disclosure.counts_over_time(figures)
    start = since.replace(day=1) if over_time else None
    given = inputs(board, data, as_at, since.replace(day=1))
    published = disclosure.partnership(figures, given, as_at, PLACES, THRESHOLD, start)
    council = disclosure.by_locality(figures, given, as_at, PLACES, start)
    attacker.read(published, council)


ASKED = [  # consecutive days across a month's end, month ends, and several period starts
    (date(2024, 2, 28), date(2024, 1, 1)),
    (date(2024, 2, 29), date(2024, 1, 1)),
    (date(2024, 3, 1), date(2024, 1, 1)),
    (date(2024, 3, 2), date(2024, 1, 1)),
    (date(2024, 3, 2), date(2024, 2, 1)),
    (date(2024, 3, 2), date(2024, 3, 1)),
    (date(2024, 3, 1), date(2024, 3, 1)),
    (date(2024, 1, 31), date(2024, 1, 1)),
    (date(2024, 2, 29), date(2024, 2, 10)),  # a start within a month: whole months
    (date(2024, 3, 31), date(2024, 2, 1)),
]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=county())
def test_no_suppressed_count_over_time_is_the_difference_of_published_ones(
    data: dict[str, Any],
) -> None:
    for board in ("iro-escalations", "risk", "ewo-and-red", "early-help-triage"):
        attacker = Attacker()
        for as_at, since in ASKED:
            publish(attacker, board, data, as_at, since)
        attacker.arithmetic()
        attacker.check_equations_hold()
        assert not attacker.derived(), board


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=county())
def test_no_suppressed_cell_comes_back_from_totals_or_other_localities(
    data: dict[str, Any],
) -> None:
    for board in (
        "care-leavers",
        "timeliness",
        "children-in-care",
        "risk",
        "priority-cohort",
        "attendance",
    ):
        attacker = Attacker()
        for as_at in (date(2024, 3, 1), date(2024, 3, 2)):
            publish(attacker, board, data, as_at, date(2024, 1, 1))
        attacker.arithmetic()
        attacker.check_equations_hold()
        assert not attacker.derived(), board


# -- the attacker finds what primary suppression alone leaves --------------------------------


def _leaver(cid: str, place: str, born: date, **facts: str) -> Child:
    return Child(cid, place, born, {"care_leaver": "relevant", **facts})


def test_the_attacker_finds_a_band_from_the_total_under_primary_suppression_alone() -> None:
    """Three care leavers aged 17-18 among twelve: hidden by primary suppression, given back
    by `all` minus the other two bands. The partnership view hides a second band."""
    as_at = date(2024, 3, 1)
    children = [
        *(_leaver(f"A{i}", "Exeter", date(2006, 6, 1), in_touch="YES") for i in range(3)),
        *(_leaver(f"B{i}", "Exeter", date(2003, 6, 1), in_touch="YES") for i in range(5)),
        *(_leaver(f"C{i}", "Exeter", date(2000, 6, 1), in_touch="YES") for i in range(6)),
    ]
    council = disclosure.by_locality(d.care_leavers, (children,), as_at, ["Exeter"])
    primary_only = {loc: suppress(b, THRESHOLD) for loc, b in council.items()}
    attacker = Attacker()
    attacker.read(primary_only, council)
    assert any("17-18.care_leavers" in leak for leak in attacker.derived())

    attacker = Attacker()
    attacker.read(
        disclosure.partnership(d.care_leavers, (children,), as_at, ["Exeter"], THRESHOLD), council
    )
    attacker.arithmetic()
    assert not attacker.derived()
    shown = {
        f.key: f
        for f in disclosure.partnership(d.care_leavers, (children,), as_at, ["Exeter"], THRESHOLD)[
            None
        ].figures
    }
    assert shown["17-18.care_leavers"].suppressed and shown["19-21.care_leavers"].suppressed
    assert shown["all.care_leavers"].count == 14  # the total stays published


def test_the_attacker_finds_a_day_from_two_published_periods_under_primary_alone() -> None:
    """Seven escalations by 29 February, nine by 1 March: the two raised on 1 March (hidden
    on the board of March alone) are the difference. The partnership view hides the period
    that holds a hidden month."""
    child = "C-1"
    raised = [
        *(
            Happened(
                "escalation_raised",
                f"E{i}",
                date(2024, 2, 10),
                "Exeter",
                reason="drift",
                child_id=child,
            )
            for i in range(7)
        ),
        *(
            Happened(
                "escalation_raised",
                f"F{i}",
                date(2024, 3, 1),
                "Exeter",
                reason="drift",
                child_id=child,
            )
            for i in range(2)
        ),
    ]
    asked = [
        (date(2024, 2, 29), date(2024, 2, 1)),
        (date(2024, 3, 1), date(2024, 2, 1)),
        (date(2024, 3, 1), date(2024, 3, 1)),
    ]

    def sheets(protect: bool) -> Attacker:
        attacker = Attacker()
        for as_at, since in asked:
            given: tuple[list[Any], list[Any]] = ([h for h in raised if h.day <= as_at], [])
            council = disclosure.by_locality(d.iro_escalations, given, as_at, ["Exeter"], since)
            published = (
                disclosure.partnership(
                    d.iro_escalations, given, as_at, ["Exeter"], THRESHOLD, since
                )
                if protect
                else {loc: suppress(b, THRESHOLD) for loc, b in council.items()}
            )
            attacker.read(published, council)
        attacker.arithmetic()
        return attacker

    assert any("raised" in leak for leak in sheets(protect=False).derived())
    assert not sheets(protect=True).derived()


def test_a_locality_is_suppressed_alike_whichever_board_of_the_sheet_is_asked() -> None:
    """One child placed in K2 in North: hidden in North and in the county (also 1). North's
    U1 (6) is then the one unknown of North's placements (in care 7 = K2 + U1), so it is hidden
    too, and Exeter's U1 with it (county U1 = Exeter U1 + North U1), whichever is asked."""
    children = [
        *(
            Child(f"X{i}", "Exeter", date(2012, 1, 1), {"in_care": "C2", "placement": "U1"})
            for i in range(8)
        ),
        Child("Y", "North", date(2012, 1, 1), {"in_care": "C2", "placement": "K2"}),
        *(
            Child(f"Z{i}", "North", date(2012, 1, 1), {"in_care": "C2", "placement": "U1"})
            for i in range(6)
        ),
    ]
    as_at, places = date(2024, 3, 1), ["Exeter", "North"]
    sheet = disclosure.partnership(d.children_in_care, (children,), as_at, places, THRESHOLD)
    hidden = {(loc, f.key) for loc, b in sheet.items() for f in b.figures if f.suppressed}
    assert {("North", "placement.K2"), (None, "placement.K2")} <= hidden
    assert ("North", "placement.U1") in hidden
    attacker = Attacker()
    attacker.read(sheet, disclosure.by_locality(d.children_in_care, (children,), as_at, places))
    attacker.arithmetic()
    assert not attacker.derived()


# -- the boards of the child's whole record ----------------------------------------------------

RECORD_FACTS = st.fixed_dictionaries(
    {},
    optional={
        "rag": st.sampled_from(["RED", "AMBER", "GREEN"]),
        "visit_every": st.sampled_from(["7", "14"]),
        "rating_since": st.sampled_from(["2024-01-20", "2024-02-25"]),
        "last_seen": st.sampled_from(["2024-01-05", "2024-02-20", "2024-02-28"]),
        "cp_plan": st.just("P"),
        "cp_started": st.sampled_from(["2024-01-10", "2024-02-20"]),
        "seen:CP": st.sampled_from(["2024-02-15", "2024-02-27"]),
        "cin_plan": st.just("CIN"),
        "cin_started": st.just("2024-01-02"),
        "in_care": st.just("C2"),
        "care_started": st.sampled_from(["2023-06-01", "2024-02-01"]),
        "social_worker": st.sampled_from(["SW-1", "SW-2", "SW-3"]),
        "sw_team": st.sampled_from(["T1", "T2"]),
        "care_leaver": st.just("relevant"),
        "personal_adviser": st.sampled_from(["PA-1", "PA-2"]),
        "activity": st.sampled_from(["G5", "F4"]),
        "tenancy": st.sampled_from(["social", "private"]),
        "homelessness": st.just("open"),
        "pre_proceedings": st.just("2024-01-05"),
        "disabilities": st.just("LD"),
    },
)
STEPS = st.sampled_from(["formal", "senior_manager"])


@st.composite
def record_county(draw: st.DrawFn) -> dict[str, Any]:
    """Children with the record's facts, and what happened to them, in three localities."""
    n = draw(st.integers(1, 35))
    children = [
        Child(
            f"C-{i}",
            draw(st.sampled_from(PLACES)),
            draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2023, 6, 1))),
            draw(RECORD_FACTS),
        )
        for i in range(n)
    ]
    places = {c.child_id: c.locality for c in children}
    ids = st.sampled_from(sorted(places))
    happened: list[Happened] = []

    def add(kind: str, subject: str, day: date, child: str, **details: Any) -> None:
        happened.append(Happened(kind, subject, day, places[child], **details))

    for _ in range(draw(st.integers(0, 40))):
        child = draw(ids)
        kind = draw(
            st.sampled_from(
                [
                    "contact",
                    "referral",
                    "referral_outcome",
                    "assessment_completed",
                    "icpc",
                    "missing",
                    "return_interview",
                    "pre_proceedings_concluded",
                    "placement_move",
                    "homelessness_outcome",
                    "tenancy_ended",
                    "neet_panel",
                    "summer_school",
                ]
            )
        )
        add(
            kind,
            child,
            draw(st.dates(min_value=date(2023, 6, 1), max_value=END)),
            child,
            outcome=draw(st.sampled_from(["nfa", "issue", "prevented", "training_offer"])),
            within_timescale=draw(st.booleans()),
            factors=draw(st.sampled_from([None, "3B", "3B,4B"])),
            missing_kind=draw(st.sampled_from(["M", "A"])),
            ended_on=draw(st.sampled_from([None, date(2024, 2, 1)])),
            started_on=draw(st.sampled_from([date(2024, 1, 10), date(2024, 2, 5)])),
            accepted=draw(st.booleans()),
            duration=draw(st.integers(5, 30)),
            planned=draw(st.booleans()),
            year_group=draw(st.sampled_from([5, 10])),
        )
    for i in range(draw(st.integers(0, 20))):
        child, raised = draw(ids), draw(DAY)
        add("escalation_raised", f"E-{i}", raised, child, child_id=child)
        for _ in range(draw(st.integers(0, 2))):
            later = raised + timedelta(days=draw(st.integers(0, 20)))
            add("escalation_advanced", f"E-{i}", later, child, child_id=child, stage=draw(STEPS))
        if draw(st.booleans()):
            later = raised + timedelta(days=draw(st.integers(0, 20)))
            add("escalation_responded", f"E-{i}", later, child, child_id=child)
        if draw(st.booleans()):
            later = raised + timedelta(days=draw(st.integers(0, 40)))
            add("escalation_resolved", f"E-{i}", later, child, child_id=child)
    happened.sort(key=lambda h: (h.day, h.subject_id))
    return {"children": children, "happened": happened}


RECORD_FIGURES: dict[str, Callable[..., Board]] = {
    "visits": cw.visits,
    "workforce": cw.workforce,
    "placement-stability": ov.placement_stability,
    "front-door": cw.front_door,
    "missing": cw.missing,
    "escalation-stages": ov.escalation_stages,
    "pre-proceedings": ov.pre_proceedings,
    "housing": ov.housing,
    "education-support": ov.education_support,
}


def record_inputs(board: str, data: dict[str, Any], as_at: date, since: date) -> tuple[Any, ...]:
    """What each new board's declaration reads (declarations.py), as at the day."""
    children, happened = data["children"], [h for h in data["happened"] if h.day <= as_at]
    match board:
        case "visits" | "workforce":
            return (children,)
        case "placement-stability":
            return (children, happened)
        case "front-door" | "escalation-stages":
            return (happened,)
        case "missing":
            return ([h for h in happened if since <= h.day],)
    return (children, [h for h in happened if since <= h.day])


def publish_record(
    attacker: Attacker, board: str, data: dict[str, Any], as_at: date, since: date
) -> None:
    figures = RECORD_FIGURES[board]
    start = since.replace(day=1) if disclosure.counts_over_time(figures) else None
    given = record_inputs(board, data, as_at, since.replace(day=1))
    published = disclosure.partnership(figures, given, as_at, PLACES, THRESHOLD, start)
    council = disclosure.by_locality(figures, given, as_at, PLACES, start)
    attacker.read(published, council)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=record_county())
def test_no_suppressed_number_of_the_new_boards_over_time_comes_back(
    data: dict[str, Any],
) -> None:
    for board in (
        "front-door",
        "missing",
        "escalation-stages",
        "pre-proceedings",
        "housing",
        "education-support",
    ):
        attacker = Attacker()
        for as_at, since in ASKED[:6]:
            publish_record(attacker, board, data, as_at, since)
        attacker.arithmetic()
        attacker.check_equations_hold()
        assert not attacker.derived(), board


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=record_county())
def test_no_suppressed_number_of_the_new_boards_of_a_day_comes_back(
    data: dict[str, Any],
) -> None:
    for board in ("visits", "workforce", "placement-stability"):
        attacker = Attacker()
        for as_at in (date(2024, 3, 1), date(2024, 3, 2)):
            publish_record(attacker, board, data, as_at, date(2024, 1, 1))
        attacker.arithmetic()
        attacker.check_equations_hold()
        assert not attacker.derived(), board


def test_a_caseload_band_hidden_alone_would_come_back_from_the_workers_total() -> None:
    """Seven workers with one child each and one with twelve: the band of the one (1) is
    the total (8) minus the other bands under primary suppression alone. The partnership
    view hides a second band, and never names a worker."""
    children = [
        *(Child(f"A{i}", "Exeter", date(2010, 1, 1), {"social_worker": f"W{i}"}) for i in range(7)),
        *(Child(f"B{i}", "Exeter", date(2010, 1, 1), {"social_worker": "BIG"}) for i in range(12)),
    ]
    as_at = date(2024, 3, 1)
    council = disclosure.by_locality(cw.workforce, (children,), as_at, ["Exeter"])
    primary_only = {loc: suppress(b, THRESHOLD) for loc, b in council.items()}
    attacker = Attacker()
    attacker.read(primary_only, council)
    assert any("sw.caseload.11_to_15" in leak for leak in attacker.derived())
    published = disclosure.partnership(cw.workforce, (children,), as_at, ["Exeter"], THRESHOLD)
    attacker = Attacker()
    attacker.read(published, council)
    attacker.arithmetic()
    assert not attacker.derived()
    shown = {f.key: f for f in published[None].figures}
    assert shown["sw.caseload.11_to_15"].suppressed and shown["sw.caseload.1_to_10"].suppressed
    assert not [key for key in shown if key.startswith("worker.")]


def _shown(sheet: disclosure.Sheet) -> dict[str, Any]:
    return {f.key: f for f in sheet[None].figures}


def _in_need(n: int, allocated: int, as_at: date) -> list[tuple[date, list[Child], list[Happened]]]:
    """`n` children in need on a CIN plan, the first `allocated` with a social worker, every
    one attending (so the counts attending are the groups' sizes)."""
    children = [
        Child(
            f"C{i}",
            "Exeter",
            date(2012, 1, 1),
            {"cin_plan": "P", **({"social_worker": "SW"} if i < allocated else {})},
        )
        for i in range(n)
    ]
    marks = [
        Happened("attendance", c.child_id, as_at, "Exeter", sessions_attended=1) for c in children
    ]
    return [(as_at, children, marks)]


def test_few_children_in_need_without_a_worker_are_not_the_difference_of_two_groups() -> None:
    """Twenty children in need, two without a social worker (the number the workforce board
    suppresses): the attendance board's `cin_all` (20) less `cin_allocated` (18) would give it
    under primary suppression alone; the partnership view hides one of the two. With ten
    without a worker, both groups stay published."""
    as_at = date(2024, 3, 1)
    days = _in_need(20, 18, as_at)
    council = disclosure.by_locality(d.attendance, (days,), as_at, ["Exeter"])
    primary = {f.key: f for f in suppress(council[None], THRESHOLD).figures}
    assert primary["cin_all"].denominator == 20 and primary["cin_allocated"].denominator == 18
    shown = _shown(disclosure.partnership(d.attendance, (days,), as_at, ["Exeter"], THRESHOLD))
    assert shown["cin_all"].suppressed or shown["cin_allocated"].suppressed
    many = _in_need(20, 10, as_at)
    shown = _shown(disclosure.partnership(d.attendance, (many,), as_at, ["Exeter"], THRESHOLD))
    assert (shown["cin_all"].denominator, shown["cin_allocated"].denominator) == (20, 10)


def _plans(under_1: int, aged_1_to_8: int, as_at: date) -> list[Child]:
    born = (*([as_at - timedelta(days=100)] * under_1), *([date(2020, 1, 1)] * aged_1_to_8))
    return [Child(f"P{i}", "Exeter", b, {"cp_plan": "P"}) for i, b in enumerate(born)]


def test_a_cut_within_a_cut_does_not_publish_a_small_difference() -> None:
    """Ten under-1s and two children aged 1 to 8 on a plan: `cut.age_0_8` (12) less
    `cut.under_1` (10) is the two; one of them is hidden. Three under-1s among twelve: the
    under-1s are hidden, the 0-8s (whose rest, nine, is published nowhere) are not."""
    as_at = date(2024, 3, 1)
    key, inner = "cut.age_0_8.cp_plans_open", "cut.under_1.cp_plans_open"
    children = _plans(10, 2, as_at)
    primary = {f.key: f for f in suppress(d.timeliness(children, as_at, None), THRESHOLD).figures}
    assert (primary[key].count, primary[inner].count) == (12, 10)
    shown = _shown(disclosure.partnership(d.timeliness, (children,), as_at, ["Exeter"], THRESHOLD))
    assert shown[key].suppressed or shown[inner].suppressed
    few = _plans(3, 9, as_at)
    shown = _shown(disclosure.partnership(d.timeliness, (few,), as_at, ["Exeter"], THRESHOLD))
    assert shown[inner].suppressed and shown[key].count == 12


# -- feedback: two periods side by side, the one compared with asked for freely -----------------

FEEDBACK_MONTHS = [date(2023, 11, 1), date(2023, 12, 1), *d.months_between(START, END)]
ANSWERS = st.sampled_from(["yes", "partly", "no", "not_answered"])


@st.composite
def feedback_county(draw: st.DrawFn) -> list[Answer]:
    """Responses to a question from November to March in three localities, from parents and
    children, about a service or none: in each month and locality none, a few or enough."""
    answers: list[Answer] = []
    for place in PLACES:
        for month in FEEDBACK_MONTHS:
            for _ in range(draw(st.sampled_from([0, 0, 1, 2, 6, 9]))):
                day = month + timedelta(days=draw(st.integers(0, 27)))
                who = draw(st.sampled_from(["parent", "child"]))
                service = draw(st.sampled_from([None, "CP", "CP", "CIN"]))
                answers.append(
                    Answer("S", f"R-{len(answers)}", "Q1", who, day, draw(ANSWERS), place, service)
                )
    return answers


# (as_at, since, the period compared with as asked: start and end, or None for the default)
FEEDBACK_ASKED: list[tuple[date, date, tuple[date, date] | None]] = [
    (date(2024, 3, 2), date(2024, 3, 1), (date(2023, 11, 1), date(2023, 12, 31))),
    (date(2024, 3, 2), date(2024, 3, 1), (date(2023, 11, 1), date(2024, 1, 31))),
    (date(2024, 3, 2), date(2024, 3, 1), (date(2023, 12, 5), date(2024, 1, 20))),
    (date(2024, 3, 2), date(2024, 3, 1), (date(2024, 2, 1), date(2024, 3, 2))),
    (date(2024, 3, 1), date(2024, 3, 1), None),
    (date(2024, 3, 2), date(2024, 3, 1), None),
    (date(2024, 3, 31), date(2024, 3, 1), None),
    # each month alone as the period: what it hides is the attacker's target
    (date(2023, 12, 31), date(2023, 12, 1), None),
    (date(2024, 1, 31), date(2024, 1, 1), None),
    (date(2024, 2, 29), date(2024, 2, 1), None),
]


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(answers=feedback_county())
def test_no_suppressed_feedback_comes_back_from_the_periods_compared_with(
    answers: list[Answer],
) -> None:
    """The attacker reads the feedback board on consecutive days, against periods compared
    with that differ by a month (or, asked for by the day, would differ by days): every count
    is a count of responses, the sum of its days."""
    attacker = Attacker()
    questions = [Question("S", "Q1", "Informed")]
    for as_at, since, asked in FEEDBACK_ASKED:
        compare = comparison_before(since, as_at) if asked is None else whole_months(*asked, as_at)
        given = (answers, questions, compare)
        published = disclosure.partnership(feedback, given, as_at, PLACES, THRESHOLD, since)
        attacker.read(published, disclosure.by_locality(feedback, given, as_at, PLACES, since))
    attacker.arithmetic()
    attacker.check_equations_hold()
    assert not attacker.derived()


# -- a board's inputs split by locality in one pass ------------------------------------------

_LOCALITY = st.sampled_from([*PLACES, "Elsewhere"])
_RECORD = st.one_of(
    st.builds(
        Child,
        st.sampled_from(["C1", "C2", "C3"]),
        _LOCALITY,
        st.just(date(2015, 1, 1)),
        st.just({}),
    ),
    st.builds(
        Happened,
        st.just("referral"),
        st.sampled_from(["C1", "C2"]),
        st.just(START),
        st.one_of(st.none(), _LOCALITY),
    ),
)
_INPUT = st.recursive(
    st.one_of(_RECORD, st.integers(), st.none(), st.just(START)),
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.tuples(inner, inner)),
    max_leaves=20,
)


@given(st.lists(_INPUT, max_size=3), st.lists(st.one_of(st.none(), _LOCALITY), max_size=4))
def test_the_inputs_split_in_one_pass_are_each_localitys_part_of_them(
    inputs: list[Any], places: list[str | None]
) -> None:
    """`split` is `only` for every place at once: the same part for each, in the same order."""
    for value in inputs:
        parts = disclosure.split(value, places)
        assert list(parts) == list(dict.fromkeys(places))
        for place in places:
            assert parts[place] == disclosure.only(value, place)


def _feedback_sums_by_scanning(keys: list[tuple[str, str | None]]) -> list[Any]:
    """The feedback board's sums as first written: every key scanned for each key's
    breakdowns (the reference `_feedback_sums` is held to)."""
    present = set(keys)
    found = []
    for key, period in keys:
        if key.endswith(".answered"):
            base = key.removesuffix(".answered")
            parts = tuple((f"{base}.{a}", period) for a in ("yes", "partly", "no"))
            found.append(disclosure.Sum((key, period), tuple(p for p in parts if p in present)))
        if key.startswith(disclosure.FEEDBACK_BREAKDOWNS) or key.rsplit(".", 1)[-1] not in (
            "yes",
            "partly",
            "no",
            "answered",
        ):
            continue
        for prefix in disclosure.FEEDBACK_BREAKDOWNS:
            by = tuple(
                (k, p)
                for k, p in keys
                if p == period and k.startswith(prefix) and k.split(".", 2)[2] == key
            )
            if by:
                found.append(disclosure.Sum((key, period), by))
    return found


_QUESTION = st.sampled_from(["s1.q1", "s1.q2", "s2.q1"])
_FEEDBACK_KEY = st.one_of(
    st.builds(
        lambda q, a: f"{q}.{a}", _QUESTION, st.sampled_from(["yes", "partly", "no", "answered"])
    ),
    st.builds(
        lambda by, who, q, a: f"{by}{who}.{q}.{a}",
        st.sampled_from(disclosure.FEEDBACK_BREAKDOWNS),
        st.sampled_from(["parent", "child", "cin", "not_recorded"]),
        _QUESTION,
        st.sampled_from(["yes", "partly", "no", "answered"]),
    ),
    st.just("responses"),
)


@given(
    st.lists(
        st.tuples(_FEEDBACK_KEY, st.sampled_from([None, "2024-01", "2024-02"])),
        unique=True,
        max_size=40,
    )
)
def test_the_feedback_sums_found_by_key_are_those_a_scan_of_every_key_finds(
    keys: list[tuple[str, str | None]],
) -> None:
    assert disclosure._feedback_sums(keys) == _feedback_sums_by_scanning(keys)


# -- a board in two parts: its counted part kept as totals, the rest read when asked ----------

IN_TWO_PARTS = {b.name: b.split for b in BOARD_DECLARATIONS if b.split is not None}


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(risk_county=county(), record=record_county())
def test_a_board_in_two_parts_is_shown_as_its_whole_definition_is(
    risk_county: dict[str, Any], record: dict[str, Any]
) -> None:
    """The partnership view of a board in two parts (`disclosure.partnership_in_parts`: its
    counted part's board for each place, as the kept totals give it, then what happened) hides
    exactly what the view of its whole definition over the same children hides: the same
    sheet, figure for figure."""
    assert sorted(IN_TWO_PARTS) == ["housing", "pre-proceedings", "risk"]
    places = (None, *PLACES)
    for name, split in IN_TWO_PARTS.items():
        for as_at, since in ASKED:
            start = since.replace(day=1)
            given_to = (
                inputs(name, risk_county, as_at, start)
                if name == "risk"
                else record_inputs(name, record, as_at, start)
            )
            children, happenings = given_to
            whole = disclosure.partnership(
                DECLARED[name].figures, given_to, as_at, PLACES, THRESHOLD, start
            )
            counted = {
                loc: split.counted(disclosure.only(children, loc), as_at, loc) for loc in places
            }
            in_parts = disclosure.partnership_in_parts(
                counted, split.happened, happenings, as_at, THRESHOLD, start
            )
            assert in_parts == whole, (name, as_at, since)

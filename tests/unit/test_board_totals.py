"""Board totals against the definitions they stand for: for any children and any day, the
board assembled from totals (per child, per locality, or changed child by child) is the board
the definition gives."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.case_events.codes import EXPLOITATION_FACTORS
from contracts.case_events.codes import AssessmentFactor as F
from services.projections.boards import totals as t
from services.projections.boards.answering import year_before
from services.projections.boards.kept import Record, _every_day, first_counted, moved_for
from services.projections.boards.model import Child
from shared.calendar import month_end

DAYS = st.dates(min_value=date(2016, 1, 1), max_value=date(2026, 12, 31))
LOCALITIES = st.sampled_from(["Exeter", "Mid Devon", "Torridge"])
ISO = DAYS.map(date.isoformat)


def _maybe(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), strategy)


FACTS = st.fixed_dictionaries(
    {},
    optional={
        "care_leaver": st.sampled_from(["eligible", "relevant", "former_relevant"]),
        "in_touch": st.sampled_from(["YES", "NO", "REFU"]),
        "accommodation": st.sampled_from(["B1", "B2", "T1", "T2", "P2"]),
        "activity": st.sampled_from(["F4", "G5", "G6", "0", "E1"]),
        "pathway_review_due": ISO,
        "personal_adviser": st.sampled_from(["PA-1", "PA-2"]),
        "passport_offered": st.sampled_from(["16", "18"]),
        "passport_accepted": st.just("1"),
        "cp_plan": st.sampled_from(["P1", "P2"]),
        "cp_started": ISO,
        "cp_repeat": st.sampled_from(["0", "1"]),
        "cp_review_due": ISO,
        "in_care": st.sampled_from(["C2", "E1", "V2", "J1"]),
        "la_review_due": ISO,
        "pre_proceedings": ISO,
        "proceedings": ISO,
        "permanence_plan": st.sampled_from(["P1", "P2", "P5", "P7"]),
        "placement": st.sampled_from(["K2", "U1", "P2", "H5", "R1"]),
        "y11_confirmed": st.sampled_from(["FE", "APP"]),
        # visits and the vulnerability cuts
        "cin_plan": st.sampled_from(["CIN-1"]),
        "cin_started": ISO,
        "care_started": ISO,
        "care_leaver_since": ISO,
        "rag": st.sampled_from(["RED", "AMBER", "GREEN"]),
        "visit_every": st.sampled_from(["7", "14", "28"]),
        "rating_since": ISO,
        "last_seen": ISO,
        "seen:CP": ISO,
        "seen:CIN": ISO,
        "seen:CLA": ISO,
        "seen:CL": ISO,
        "unborn": st.just("1"),
        # the workforce and the priority cohort (tests/unit/test_board_reads.py)
        "social_worker": st.sampled_from(["SW-1", "SW-2"]),
        "sw_team": st.sampled_from(["T1", "T2"]),
        "priority": st.sampled_from(["exploitation", "missing"]),
        "last_contact": ISO,
        "ewo_open": st.just("1"),
        "drift:cp_review": ISO,
        "school": st.just("own"),
        # the counted parts of risk, housing and pre-proceedings
        "assessment": st.sampled_from(["AS-1", "AS-2"]),
        "homelessness": st.just("open"),
        "tenancy": st.sampled_from(["social", "private", "supported", "other"]),
        "disabilities": st.sampled_from(["LD", "AUT,MOB"]),
        "factors": st.sampled_from(
            [
                ",".join(sorted(f.value for f in group))
                for group in (EXPLOITATION_FACTORS, {F.DOMESTIC_ABUSE_PARENT, F.NEGLECT})
            ]
        ),
    },
)


@st.composite
def children(draw: st.DrawFn) -> list[Child]:
    n = draw(st.integers(0, 25))
    return [
        Child(
            f"C-{i}",
            draw(LOCALITIES),
            draw(st.dates(min_value=date(1995, 1, 1), max_value=date(2026, 12, 31))),
            draw(FACTS),
        )
        for i in range(n)
    ]


BOARDS = sorted(t.TOTALLED)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(BOARDS), children(), DAYS)
def test_totals_added_child_by_child_give_the_definitions_board(
    board: str, kids: list[Child], as_at: date
) -> None:
    sums: t.Sums = {}
    for c in kids:
        t.add(sums, t.contribution(board, [c], as_at))
    assert t.assemble(board, as_at, None, sums) == t.STANDS_FOR[board](kids, as_at, None)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(BOARDS), children(), DAYS, LOCALITIES)
def test_totals_by_locality_give_each_locality_and_the_whole(
    board: str, kids: list[Child], as_at: date, locality: str
) -> None:
    kept = t.by_locality(board, kids, as_at)
    mine = [c for c in kids if c.locality == locality]
    assert t.assemble(board, as_at, locality, kept.get(locality, {})) == t.STANDS_FOR[board](
        mine, as_at, locality
    )
    whole: t.Sums = {}
    for sums in kept.values():
        t.add(whole, sums)
    assert t.assemble(board, as_at, None, whole) == t.STANDS_FOR[board](kids, as_at, None)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(BOARDS), children(), DAYS, FACTS, st.data())
def test_a_childs_change_moves_the_totals_by_its_difference(
    board: str, kids: list[Child], as_at: date, new_facts: dict[str, str], data: st.DataObject
) -> None:
    if not kids:
        return
    i = data.draw(st.integers(0, len(kids) - 1))
    before, after = (
        kids[i],
        Child(kids[i].child_id, kids[i].locality, kids[i].date_of_birth, new_facts),
    )
    sums: t.Sums = {}
    for c in kids:
        t.add(sums, t.contribution(board, [c], as_at))
    t.add(
        sums,
        t.difference(t.contribution(board, [after], as_at), t.contribution(board, [before], as_at)),
    )
    changed = [*kids[:i], after, *kids[i + 1 :]]
    assert t.assemble(board, as_at, None, sums) == t.STANDS_FOR[board](changed, as_at, None)


def test_a_snapshot_from_fact_rows_takes_the_latest_on_or_before_the_day() -> None:
    day = date(2024, 6, 1)
    rows = [
        ("in_care", day - timedelta(days=30), 1, "C2"),
        ("in_care", day, 2, "E1"),  # same attribute, later: wins
        ("in_care", day + timedelta(days=1), 3, None),  # after the day: ignored
        ("cp_plan", day - timedelta(days=5), 4, "P1"),
        ("cp_plan", day - timedelta(days=5), 5, None),  # same day, later seq: ended
        ("placement", day - timedelta(days=9), 7, "U1"),
        ("placement", day - timedelta(days=9), 6, "K2"),
    ]  # lower seq on the same day
    child = t.fact_snapshot("C-1", "Exeter", date(2010, 1, 1), rows, day)
    assert child.facts == {"in_care": "E1", "placement": "U1"}


def test_a_figure_that_is_neither_fixed_nor_declared_is_refused() -> None:
    with pytest.raises(KeyError, match="neither fixed nor declared"):
        t.assemble("timeliness", date(2024, 1, 1), None, {"cp_plans.new_band": ("x", 1, 1)})


def test_days_are_kept_from_today_back_through_the_window_only() -> None:
    today = date(2026, 11, 27)
    assert t.keeps(today, today, 31)
    assert t.keeps(today - timedelta(days=31), today, 31)
    assert not t.keeps(today - timedelta(days=32), today, 31)  # computed from the facts instead
    assert not t.keeps(today + timedelta(days=1), today, 31)


def test_the_month_ends_every_trend_reads_are_kept_too_and_no_other_day_before() -> None:
    """A page's twelve-month trend as at today reads the month ends from eleven months
    before (answering.year_before) to the last: those are kept, each once."""
    today = date(2026, 11, 27)
    kept = [d for d in (today - timedelta(days=n) for n in range(800)) if t.keeps(d, today, 31)]
    before_window = [d for d in kept if d < today - timedelta(days=31)]
    assert before_window == [
        date(2026, 9, 30),
        date(2026, 8, 31),
        date(2026, 7, 31),
        date(2026, 6, 30),
        date(2026, 5, 31),
        date(2026, 4, 30),
        date(2026, 3, 31),
        date(2026, 2, 28),
        date(2026, 1, 31),
        date(2025, 12, 31),
    ]  # October's is in the window, and the trend starts with December 2025's month
    trend_start = year_before(today)
    assert t.first_trend_month_end(today) == month_end(trend_start) == date(2025, 12, 31)
    assert not t.keeps(date(2025, 11, 30), today, 31)  # a month end before the trend


@given(DAYS)
def test_the_month_ends_kept_before_anyone_asks_are_the_trends_the_latest_first(
    today: date,
) -> None:
    """The API keeps these in the background (api.keep_before_asked): each is a day kept, and
    they are every month end before today that is kept, the latest first."""
    ends = t.trend_month_ends(today)
    earlier = (today - timedelta(days=n) for n in range(1, 400))
    kept = [d for d in earlier if d == month_end(d) and t.keeps(d, today, 0)]
    assert ends == kept and len(ends) == 11
    assert all(t.keeps(d, today, 31) for d in ends)


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(1995, 1, 1), max_value=date(2026, 12, 31)), LOCALITIES, DAYS)
def test_a_child_without_a_fact_adds_nothing_to_any_board(
    born: date, locality: str, as_at: date
) -> None:
    """What lets the projection skip a child without a fact on a day (`counts_nothing`)."""
    child = Child("C-1", locality, born, {})
    assert t.counts_nothing(child)
    for board in BOARDS:
        added = t.contribution(board, [child], as_at)
        assert all((count, denominator) == (0, 0) for _, count, denominator in added.values())


ROWS = st.lists(
    st.tuples(st.sampled_from(["in_care", "rag", "cp_plan"]), DAYS, st.integers(1, 9)).map(
        lambda r: (
            r[0],
            r[1],
            r[2],
            "C2" if r[0] == "in_care" else "RED" if r[0] == "rag" else "P1",
        )
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(ROWS, DAYS, DAYS, DAYS)
def test_a_child_registered_or_born_in_a_batch_moves_no_day_before_its_first_fact(
    rows: list[tuple[str, date, int, str | None]], born: date, born_before: date, day: date
) -> None:
    """The projection drops the trends' month ends a batch's change reaches (kept.TotalsMover);
    for a child registered or born in the batch that is every day from its first fact on, not
    every day (`first_counted`): before it the child adds nothing on any board, whether just
    registered or with its date of birth changed, so a child registered today with facts of
    today leaves last year's month ends kept."""
    first = first_counted(None, True, rows)
    assert first == min((r[1] for r in rows), default=None)
    kept = [(b, day) for b in BOARDS]
    if first is None or day < first:
        registered: Record = (("Exeter", born), rows)
        assert list(moved_for("C-1", None, registered, kept, date.min)) == []
        was: Record = (("Exeter", born_before), rows)
        assert list(moved_for("C-1", was, registered, kept, date.min)) == []
    # A child changed by its facts alone: from the first of the batch's, or not at all.
    assert first_counted(day, False, rows) == day
    assert first_counted(None, False, rows) is None


def test_only_a_new_child_or_a_new_date_of_birth_reaches_every_day() -> None:
    known = {"K": ("Exeter", date(2015, 1, 1))}
    assert _every_day("N", known, {"N": ()}, {})  # registered in the batch
    assert not _every_day("K", known, {"K": ()}, {})  # registered again: a copy
    assert _every_day("K", known, {}, {"K": date(2015, 1, 2)})  # born on another day
    assert not _every_day("K", known, {}, {"K": date(2015, 1, 1)})  # the day held
    assert _every_day("U", known, {"U": ()}, {"U": date(2025, 1, 1)})  # new and born
    assert not _every_day("F", known, {}, {})  # facts alone

"""The boards as pure functions: snapshots in, figures out."""

from __future__ import annotations

from datetime import date

from contracts.case_events import events as ce
from services.projections.boards import definitions as d
from services.projections.boards.facts import Fact, Occurrence, board_changes
from services.projections.boards.model import Child, Happened, figure, suppress


def child(cid: str, **facts: str) -> Child:
    return Child(cid, "Exeter", date(2010, 9, 15), facts)


def test_suppression_hides_small_counts_and_the_percentages_made_from_them() -> None:
    board = d.timeliness([child("A", cp_plan="P", cp_started="2024-01-01")], date(2024, 6, 1), None)
    hidden = suppress(board, threshold=5)
    assert hidden.view == "partnership" and hidden.rows is None
    band = next(f for f in hidden.figures if f.key == "cp_plans.under_3_months")
    assert (band.count, band.suppressed) == (None, True)  # "0 of 1" still identifies a child
    none = next(f for f in hidden.figures if f.key == "proceedings_over_26_weeks")
    assert (none.count, none.denominator, none.suppressed) == (0, 0, False)  # identifies no one
    assert all(
        f.suppressed for f in hidden.figures if any(v and v < 5 for v in (f.count, f.denominator))
    )


def test_percentages_have_two_decimals_and_no_denominator_no_percentage() -> None:
    assert figure("k", "l", 1, 3).percentage == 33.33
    assert figure("k", "l", 0, 0).percentage is None


def test_year_11_is_the_english_academic_year_cohort() -> None:
    as_at = date(2024, 6, 30)  # academic year 2023-24: born 1 Sep 2007 to 31 Aug 2008
    assert d.year_11_cohort(Child("A", "X", date(2007, 9, 1)), as_at)
    assert d.year_11_cohort(Child("B", "X", date(2008, 8, 31)), as_at)
    assert not d.year_11_cohort(Child("C", "X", date(2008, 9, 1)), as_at)


def test_a_family_discussed_twice_in_a_month_counts_once() -> None:
    talks = [
        Happened("triage", "F1", date(2024, 3, 1), "Exeter"),
        Happened("triage", "F1", date(2024, 3, 9), "Exeter"),
        Happened("triage", "F2", date(2023, 3, 9), "Exeter"),
    ]
    [march] = d.early_help_triage(talks, date(2024, 3, 31), None, date(2024, 3, 1)).figures
    assert (march.count, march.denominator, march.percentage) == (1, 1, 0.0)


def test_a_plan_ending_clears_every_attribute_it_set() -> None:
    started = board_changes(
        ce.ChildProtectionPlanStarted(
            child_id="C-1",
            plan_id="P",
            category="NEG",
            start_date=date(2024, 1, 31),
            previous_plans=2,
        )
    )
    ended = board_changes(
        ce.ChildProtectionPlanEnded(plan_id="P", end_date=date(2024, 9, 1), days_open=214)
    )
    assert {c.attribute for c in started if isinstance(c, Fact)} == {
        c.attribute for c in ended if isinstance(c, Fact)
    }
    assert all(c.value is None for c in ended if isinstance(c, Fact))
    assert Fact("cp_repeat", date(2024, 1, 31), "1") in started
    assert Fact("cp_review_due", date(2024, 1, 31), "2024-04-30") in started
    triage = board_changes(
        ce.EarlyHelpTriageDiscussed(discussion_date=date(2024, 3, 1), locality="North")
    )
    assert triage == [Occurrence("triage", date(2024, 3, 1), locality="North")]

"""Escalation rules, without I/O: ratings and moderation, stages, EWO and drift rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.case_events import events as ce
from contracts.escalations import events as e
from contracts.escalations.codes import RAG, DriftRule, RatingSource
from services.escalations.domain import commands as c
from services.escalations.domain.escalation import Escalation
from services.escalations.domain.risk import ChildRisk
from services.escalations.domain.rules import (
    EWOBreach,
    StopWatching,
    Watch,
    drift_changes,
    duty_ended,
    ewo_breach,
    ewo_window_start,
)
from shared.aggregate import (
    Aggregate,
    AlreadyRecorded,
    Decision,
    DomainRuleViolation,
    KnownChild,
    UnknownStream,
)
from shared.envelope import DomainEvent

D = Decision(today=date(2024, 6, 1), child=KnownChild("C-1", date(2012, 1, 1), "Exeter"))


def fold(aggregate: Aggregate, events: Sequence[DomainEvent]) -> Sequence[DomainEvent]:
    for event in events:
        aggregate.when(event)
    return events


def test_a_moderated_dip_sample_changes_the_rating_and_its_visiting_frequency() -> None:
    risk = ChildRisk("C-1")
    fold(risk, risk.assign_rating(c.AssignRiskRating(rated_on="2024-04-02", rating="GREEN"), D))
    sampled, rerated = fold(
        risk,
        risk.dip_sample(
            c.RecordDipSample(
                sampled_on="2024-04-09", manager_id="TM-1", agreed=False, moderated_to="AMBER"
            ),
            D,
        ),
    )
    assert isinstance(sampled, e.RiskRatingDipSampled) and sampled.rating_sampled is RAG.GREEN
    assert isinstance(rerated, e.RiskRatingAssigned)
    assert (rerated.previous, rerated.rating, rerated.source, rerated.visiting_frequency_days) == (
        RAG.GREEN,
        RAG.AMBER,
        RatingSource.MODERATION,
        14,
    )
    with pytest.raises(DomainRuleViolation, match="other than AMBER"):
        risk.dip_sample(
            c.RecordDipSample(
                sampled_on="2024-04-10", manager_id="TM-1", agreed=False, moderated_to="AMBER"
            ),
            D,
        )


def test_an_escalation_only_moves_forward_and_resolves_once() -> None:
    esc = Escalation("IRO-1")
    fold(
        esc,
        esc.raise_(
            c.RaiseEscalation(
                escalation_id="IRO-1",
                child_id="C-1",
                raised_on="2024-04-01",
                raised_by="IRO",
                reason="drift_in_cp_plan",
            ),
            D,
        ),
    )
    fold(esc, esc.advance(c.AdvanceEscalation(advanced_on="2024-04-10", stage="senior_manager"), D))
    with pytest.raises(DomainRuleViolation, match="after the current stage"):
        esc.advance(c.AdvanceEscalation(advanced_on="2024-04-11", stage="formal"), D)
    [resolved] = fold(
        esc, esc.resolve(c.ResolveEscalation(resolved_on="2024-05-01", resolution="agreed"), D)
    )
    assert isinstance(resolved, e.EscalationResolved) and resolved.days_open == 30
    with pytest.raises(DomainRuleViolation, match="already resolved"):
        esc.respond(c.RecordEscalationResponse(responded_on="2024-05-02"), D)


def test_an_escalation_id_that_holds_a_childs_risk_record_is_no_escalation() -> None:
    """Found by the fuzzer: `POST /escalations/000/resolutions`, where `000` was a child's
    risk stream, crashed on an assert (500). Every step answers "no record" (404) and raising
    an escalation under that id is refused (409), never appended to the child's stream."""
    risk = ChildRisk("000")
    history = fold(
        risk, risk.assign_rating(c.AssignRiskRating(rated_on="2024-04-02", rating="RED"), D)
    )
    esc = Escalation("000")
    fold(esc, history)
    esc.version = len(history)
    assert not esc.exists
    for step in (
        lambda: esc.resolve(c.ResolveEscalation(resolved_on="2024-05-01", resolution="agreed"), D),
        lambda: esc.advance(c.AdvanceEscalation(advanced_on="2024-04-10", stage="formal"), D),
        lambda: esc.respond(c.RecordEscalationResponse(responded_on="2024-05-02"), D),
    ):
        with pytest.raises(UnknownStream, match="'000'"):
            step()
    with pytest.raises(AlreadyRecorded, match="already used"):
        esc.raise_(
            c.RaiseEscalation(
                escalation_id="000",
                child_id="C-1",
                raised_on="2024-04-01",
                raised_by="IRO",
                reason="drift_in_cp_plan",
            ),
            D,
        )


def test_no_domain_code_asserts_what_a_request_can_reach() -> None:
    """A state a request can reach is a typed domain error (404/409/422 with the reason), never
    an `assert` (a 500, and gone under python -O)."""
    root = Path(__file__).resolve().parents[2] / "services"
    asserting = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.glob("*/domain/*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.lstrip().startswith("assert ")
    ]
    assert asserting == []


def test_one_open_ewo_escalation_and_one_alert_per_drifting_thing() -> None:
    risk = ChildRisk("C-1")
    assert fold(risk, risk.raise_ewo({date(2024, 5, 1): 10}, date(2024, 5, 1), 10, 10))
    assert (
        risk.raise_ewo({date(2024, 5, 1): 10, date(2024, 5, 2): 1}, date(2024, 5, 2), 10, 10) == []
    )
    assert fold(
        risk,
        risk.raise_drift(
            date(2024, 5, 1), DriftRule.NO_CONTACT, "contact", date(2024, 1, 1), date(2024, 2, 26)
        ),
    )
    assert (
        risk.raise_drift(
            date(2024, 5, 2), DriftRule.NO_CONTACT, "contact", date(2024, 1, 1), date(2024, 2, 26)
        )
        == []
    )
    assert risk.clear_drift(date(2024, 5, 3), DriftRule.NO_CONTACT, "contact")


def test_the_ewo_window_is_ten_weeks_ending_on_the_register_day() -> None:
    assert ewo_window_start(date(2024, 11, 8), 10) == date(2024, 8, 31)


def test_a_day_recorded_late_completes_the_window_of_a_later_day() -> None:
    # Four days of two sessions missed, the earliest recorded last: its own window (ending on
    # it) holds 2, the window ending on the last day holds 8.
    days = {date(2024, 5, 6) + timedelta(days=n): 2 for n in range(4)}
    assert ewo_breach(days, date(2024, 5, 9), 2, 8) == EWOBreach(
        date(2024, 4, 26), date(2024, 5, 9), 8
    )
    assert ewo_breach(days, date(2024, 5, 6), 2, 8) == EWOBreach(
        date(2024, 4, 26), date(2024, 5, 9), 8
    )
    assert ewo_breach(days, date(2024, 5, 6), 2, 9) is None
    # A day beyond the window's reach of the register's day is no window of its.
    assert ewo_breach({**days, date(2024, 5, 30): 9}, date(2024, 5, 6), 2, 9) is None


def test_absences_an_escalation_was_closed_on_are_not_raised_again() -> None:
    risk = ChildRisk("C-1")
    days = {date(2024, 5, 1) + timedelta(days=n): 2 for n in range(5)}
    [raised] = fold(risk, risk.raise_ewo(days, date(2024, 5, 5), 10, 10))
    assert isinstance(raised, e.EWOAttendanceEscalationRaised)
    assert (raised.raised_on, raised.sessions_missed) == (date(2024, 5, 5), 10)
    closing = c.CloseEWOEscalation(closed_on=date(2024, 5, 6), outcome="attendance_improved")
    fold(risk, risk.close_ewo(closing, Decision(today=date(2024, 5, 6))))
    # One more session missed the next day: the window still holds the ten before the closure.
    days[date(2024, 5, 7)] = 1
    assert risk.raise_ewo(days, date(2024, 5, 7), 10, 10) == []
    # Ten missed after it are a new escalation, counted from the day after the closure.
    days |= {date(2024, 5, 8) + timedelta(days=n): 2 for n in range(5)}
    [again] = risk.raise_ewo(days, date(2024, 5, 12), 10, 10)
    assert isinstance(again, e.EWOAttendanceEscalationRaised)
    assert (again.window_start, again.sessions_missed) == (date(2024, 5, 7), 11)


def test_drift_watches_follow_the_case_events() -> None:
    started = ce.ChildProtectionPlanStarted(
        child_id="C-1", plan_id="P1", category="NEG", start_date=date(2024, 1, 31), previous_plans=0
    )
    # Nine months on 31 October: alerted that day, as the boards count it (30 October in time).
    assert drift_changes(started, 56) == [
        Watch(DriftRule.CP_PLAN_9_MONTHS, "P1", date(2024, 1, 31), date(2024, 10, 30))
    ]
    contact = ce.ContactRecorded(contact_date=date(2024, 3, 1), in_touch="YES")
    assert drift_changes(contact, 56) == [
        StopWatching(DriftRule.NO_CONTACT, "contact", date(2024, 3, 1)),
        Watch(DriftRule.NO_CONTACT, "contact", date(2024, 3, 1), date(2024, 4, 26)),
    ]
    assert drift_changes(ce.ContactRecorded(contact_date=date(2024, 3, 1), in_touch="NO"), 56) == []


@given(
    st.dictionaries(st.integers(0, 60), st.integers(0, 2), min_size=1),
    st.integers(1, 3),
    st.integers(1, 12),
    st.none() | st.integers(0, 60),
    st.data(),
)
def test_the_ewo_breach_is_the_first_window_holding_the_day_summed_in_full(
    offsets: dict[int, int], weeks: int, threshold: int, closed: int | None, data: st.DataObject
) -> None:
    origin = date(2024, 9, 2)
    days = {origin + timedelta(days=n): missed for n, missed in offsets.items()}
    day = origin + timedelta(days=data.draw(st.sampled_from(sorted(offsets))))
    after = None if closed is None else origin + timedelta(days=closed)
    expected = None
    for end in sorted(d for d in days if day <= d < day + timedelta(weeks=weeks)):
        start = ewo_window_start(end, weeks)
        if after is not None:
            start = max(start, after + timedelta(days=1))
        missed = sum(n for d, n in days.items() if start <= d <= end)
        if missed >= threshold:
            expected = EWOBreach(start, end, missed)
            break
    assert ewo_breach(days, day, weeks, threshold, after) == expected


@pytest.mark.parametrize(
    ("rule", "born", "due", "ended"),
    [
        # A care leaver's watches: ended once due on or after the 25th birthday.
        (DriftRule.NO_CONTACT, date(2001, 6, 1), date(2026, 6, 1), True),
        (DriftRule.NO_CONTACT, date(2001, 6, 1), date(2026, 5, 31), False),
        (DriftRule.PATHWAY_PLAN_REVIEW_OVERDUE, date(2001, 6, 1), date(2026, 6, 1), True),
        (DriftRule.PATHWAY_PLAN_REVIEW_OVERDUE, date(2001, 6, 2), date(2026, 6, 1), False),
        # Born on 29 February: 25 on 28 February of a year without one (add_months).
        (DriftRule.NO_CONTACT, date(2004, 2, 29), date(2029, 2, 28), True),
        (DriftRule.NO_CONTACT, date(2004, 2, 29), date(2029, 2, 27), False),
        # Not known when born: watched as ever.
        (DriftRule.NO_CONTACT, None, date(2060, 1, 1), False),
        # Not a leaving-care duty.
        (DriftRule.PROCEEDINGS_26_WEEKS, date(1990, 1, 1), date(2026, 6, 1), False),
        (DriftRule.CP_PLAN_9_MONTHS, date(1990, 1, 1), date(2026, 6, 1), False),
    ],
)
def test_leaving_care_watches_end_at_25(
    rule: DriftRule, born: date | None, due: date, ended: bool
) -> None:
    assert duty_ended(rule, born, due) is ended

"""The child's rules, without I/O."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from contracts.case_events import events as e
from contracts.case_events.codes import ChildProtectionCategory
from services.case_events.domain import commands as c
from services.case_events.domain.child import Child, ChildAlreadyRegistered
from shared.aggregate import Decision, DomainRuleViolation
from shared.envelope import DomainEvent

TODAY = Decision(today=date(2024, 6, 1))


def apply(child: Child, events: list[DomainEvent]) -> Child:
    for event in events:
        child.when(event)
        child.version += 1
    return child


def registered(dob: date = date(2015, 3, 2)) -> Child:
    child = Child("C-001")
    return apply(
        child,
        child.register(
            c.RegisterChild(child_id="C-001", date_of_birth=dob, locality="Exeter"), TODAY
        ),
    )


def plan(plan_id: str = "P1", start: date = date(2024, 3, 1)) -> c.StartChildProtectionPlan:
    return c.StartChildProtectionPlan(
        plan_id=plan_id, category=ChildProtectionCategory.NEGLECT, start_date=start
    )


def refused(field: str, reason: str, decide: Callable[..., object], *args: object) -> None:
    with pytest.raises(DomainRuleViolation) as error:
        decide(*args, TODAY)
    assert error.value.field == field
    assert reason in error.value.reason


def test_registering_records_the_child() -> None:
    events = Child("C-001").register(
        c.RegisterChild(child_id="C-001", date_of_birth=date(2015, 3, 2), locality="Exeter"), TODAY
    )
    assert events == [
        e.ChildRegistered(child_id="C-001", date_of_birth=date(2015, 3, 2), locality="Exeter")
    ]


def test_a_child_cannot_be_registered_twice_or_born_in_the_future() -> None:
    with pytest.raises(ChildAlreadyRegistered):
        registered().register(
            c.RegisterChild(child_id="C-001", date_of_birth=date(2015, 3, 2), locality="Exeter"),
            TODAY,
        )
    refused(
        "date_of_birth",
        "in the future",
        Child("C-002").register,
        c.RegisterChild(child_id="C-002", date_of_birth=date(2030, 1, 1), locality="Exeter"),
    )


def test_a_plan_starts_and_counts_previous_plans() -> None:
    child = registered()
    apply(child, child.start_child_protection_plan(plan("P1"), TODAY))
    apply(
        child,
        child.end_child_protection_plan(
            c.EndChildProtectionPlan(plan_id="P1", end_date=date(2024, 4, 1)), TODAY
        ),
    )
    [repeat] = child.start_child_protection_plan(plan("P2", date(2024, 5, 1)), TODAY)
    assert repeat == e.ChildProtectionPlanStarted(
        child_id="C-001",
        plan_id="P2",
        category=ChildProtectionCategory.NEGLECT,
        start_date=date(2024, 5, 1),
        previous_plans=1,
    )


def test_plans_before_those_held_are_counted_as_an_import_says_and_after_it() -> None:
    """An import of past returns holds only its years: a plan said to have had two before it
    counts two, and the next counts three, though the platform holds one plan before it."""
    child = registered()
    first = c.StartChildProtectionPlan.model_validate(
        {**plan("P1").model_dump(), "previous_plans": 2}
    )
    [started] = child.start_child_protection_plan(first, TODAY)
    assert isinstance(started, e.ChildProtectionPlanStarted)
    assert started.previous_plans == 2
    apply(child, [started])
    end = c.EndChildProtectionPlan(plan_id="P1", end_date=date(2024, 4, 1))
    apply(child, child.end_child_protection_plan(end, TODAY))
    [repeat] = child.start_child_protection_plan(plan("P2", date(2024, 5, 1)), TODAY)
    assert isinstance(repeat, e.ChildProtectionPlanStarted)
    assert repeat.previous_plans == 3


@pytest.mark.parametrize(
    ("command", "field", "reason"),
    [
        (plan(start=date(2024, 7, 1)), "start_date", "in the future"),
        (plan(start=date(2014, 1, 1)), "start_date", "before the child's date of birth"),
    ],
)
def test_impossible_dates_are_refused(
    command: c.StartChildProtectionPlan, field: str, reason: str
) -> None:
    refused(field, reason, registered().start_child_protection_plan, command)


def test_a_second_plan_cannot_start_while_one_is_open() -> None:
    child = registered()
    apply(child, child.start_child_protection_plan(plan("P1"), TODAY))
    refused("plan_id", "already open", child.start_child_protection_plan, plan("P2"))


def test_a_plan_cannot_end_before_it_starts_nor_be_reviewed_before_it() -> None:
    child = registered()
    apply(child, child.start_child_protection_plan(plan("P1", date(2024, 3, 1)), TODAY))
    refused(
        "end_date",
        "before the plan's start",
        child.end_child_protection_plan,
        c.EndChildProtectionPlan(plan_id="P1", end_date=date(2024, 2, 1)),
    )
    refused(
        "review_date",
        "before the plan's start",
        child.review_child_protection_plan,
        c.ReviewChildProtectionPlan(plan_id="P1", review_date=date(2024, 2, 28)),
    )
    refused(
        "plan_id",
        "no such open",
        child.review_child_protection_plan,
        c.ReviewChildProtectionPlan(plan_id="P9", review_date=date(2024, 4, 1)),
    )


def test_timescales_are_derived_on_working_days() -> None:
    child = registered()
    [started] = child.start_assessment(
        c.StartAssessment(assessment_id="A1", start_date=date(2024, 5, 1)), TODAY
    )
    assert isinstance(started, e.AssessmentStarted)
    assert started.due_date == date(2024, 7, 5)  # 45 working days, 6 and 27 May bank holidays
    [held] = child.record_strategy_discussion(
        c.RecordStrategyDiscussion(
            discussion_id="S1", discussion_date=date(2024, 5, 20), section_47_enquiry=True
        ),
        TODAY,
    )
    assert isinstance(held, e.StrategyDiscussionHeld)
    assert held.icpc_due_date == date(2024, 6, 11)  # 15 working days, 27 May a bank holiday


def test_proceedings_and_care_follow_their_order() -> None:
    child = registered()
    refused(
        "change_date",
        "not in care",
        child.change_legal_status,
        c.ChangeLegalStatus(change_date=date(2024, 5, 1), legal_status="C2"),
    )
    apply(
        child,
        child.issue_care_proceedings(
            c.IssueCareProceedings(proceedings_id="LJ1", issued_on=date(2023, 10, 2)), TODAY
        ),
    )
    [concluded] = child.conclude_care_proceedings(
        c.ConcludeCareProceedings(
            proceedings_id="LJ1", concluded_on=date(2024, 5, 6), order="care_order"
        ),
        TODAY,
    )
    assert isinstance(concluded, e.CareProceedingsConcluded)
    assert (concluded.weeks_taken, concluded.within_26_weeks) == (31, False)


def test_care_leaver_rules() -> None:
    young = registered(dob=date(2010, 1, 1))
    refused(
        "recorded_on",
        "16th birthday",
        young.record_care_leaver_status,
        c.RecordCareLeaverStatus(recorded_on=date(2024, 5, 1), status="eligible"),
    )
    leaver = registered(dob=date(2006, 1, 1))
    refused(
        "contact_date",
        "no care leaver status",
        leaver.record_contact,
        c.RecordContact(contact_date=date(2024, 5, 1), in_touch="YES"),
    )
    apply(
        leaver,
        leaver.record_care_leaver_status(
            c.RecordCareLeaverStatus(recorded_on=date(2024, 1, 2), status="former_relevant"), TODAY
        ),
    )
    assert leaver.record_contact(
        c.RecordContact(contact_date=date(2024, 5, 1), in_touch="NO"), TODAY
    )
    refused(
        "accepted_on",
        "no health passport was offered",
        leaver.accept_health_passport,
        c.AcceptHealthPassport(accepted_on=date(2024, 5, 1)),
    )

"""The child's rules, without I/O."""

from __future__ import annotations

from datetime import date

import pytest

from services.case_events.domain.child import Child, ChildAlreadyRegistered
from services.case_events.domain.commands import RegisterChild, StartChildProtectionPlan
from services.case_events.events import (
    ChildProtectionCategory,
    ChildProtectionPlanStarted,
    ChildRegistered,
)
from shared.aggregate import DomainRuleViolation

TODAY = date(2024, 6, 1)


def registered(dob: date = date(2015, 3, 2)) -> Child:
    child = Child("C-001")
    for event in child.register(RegisterChild(child_id="C-001", date_of_birth=dob,
                                              locality="Exeter"), TODAY):
        child.when(event)
    child.version = 1
    return child


def plan(plan_id: str = "P1", start: date = date(2024, 3, 1)) -> StartChildProtectionPlan:
    return StartChildProtectionPlan(plan_id=plan_id, category=ChildProtectionCategory.NEGLECT,
                                    start_date=start)


def test_registering_records_the_child() -> None:
    events = Child("C-001").register(
        RegisterChild(child_id="C-001", date_of_birth=date(2015, 3, 2), locality="Exeter"), TODAY)
    assert events == [ChildRegistered(child_id="C-001", date_of_birth=date(2015, 3, 2),
                                      locality="Exeter")]


def test_a_child_cannot_be_registered_twice_or_born_in_the_future() -> None:
    with pytest.raises(ChildAlreadyRegistered):
        registered().register(RegisterChild(child_id="C-001", date_of_birth=date(2015, 3, 2),
                                            locality="Exeter"), TODAY)
    with pytest.raises(DomainRuleViolation) as refused:
        Child("C-002").register(RegisterChild(child_id="C-002", date_of_birth=date(2030, 1, 1),
                                              locality="Exeter"), TODAY)
    assert refused.value.field == "date_of_birth"


def test_a_plan_starts_and_counts_previous_plans() -> None:
    child = registered()
    [started] = child.start_child_protection_plan(plan(), TODAY)
    assert started == ChildProtectionPlanStarted(
        child_id="C-001", plan_id="P1", category=ChildProtectionCategory.NEGLECT,
        start_date=date(2024, 3, 1), previous_plans=0)


@pytest.mark.parametrize(("command", "field", "reason"), [
    (plan(start=date(2024, 7, 1)), "start_date", "in the future"),
    (plan(start=date(2014, 1, 1)), "start_date", "before the child's date of birth"),
])
def test_impossible_dates_are_refused(command: StartChildProtectionPlan, field: str,
                                      reason: str) -> None:
    with pytest.raises(DomainRuleViolation) as refused:
        registered().start_child_protection_plan(command, TODAY)
    assert refused.value.field == field
    assert reason in refused.value.reason


def test_a_second_plan_cannot_start_while_one_is_open() -> None:
    child = registered()
    for event in child.start_child_protection_plan(plan("P1"), TODAY):
        child.when(event)
    with pytest.raises(DomainRuleViolation, match="already open"):
        child.start_child_protection_plan(plan("P2"), TODAY)

"""The child: the aggregate whose stream is the child's statutory journey."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.case_events.domain.commands import RegisterChild, StartChildProtectionPlan
from services.case_events.events import (
    ChildProtectionPlanStarted,
    ChildRegistered,
    case_event_types,
)
from shared.aggregate import Aggregate, DomainRuleViolation
from shared.envelope import DomainEvent


class ChildAlreadyRegistered(Exception):
    pass


@dataclass(frozen=True)
class OpenPlan:
    plan_id: str
    start_date: date


class Child(Aggregate):
    registry = case_event_types

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.date_of_birth: date | None = None
        self.locality: str | None = None
        self.open_plan: OpenPlan | None = None
        self.plan_ids: set[str] = set()

    # -- decisions -------------------------------------------------------------------------

    def register(self, command: RegisterChild, today: date) -> list[DomainEvent]:
        if self.exists:
            raise ChildAlreadyRegistered(f"child {self.stream_id!r} is already registered")
        if command.date_of_birth > today:
            raise DomainRuleViolation("date_of_birth", "is in the future")
        return [ChildRegistered(child_id=command.child_id, date_of_birth=command.date_of_birth,
                                locality=command.locality)]

    def start_child_protection_plan(self, command: StartChildProtectionPlan, today: date
                                    ) -> list[DomainEvent]:
        assert self.date_of_birth is not None
        if command.start_date > today:
            raise DomainRuleViolation("start_date", "is in the future")
        if command.start_date < self.date_of_birth:
            raise DomainRuleViolation("start_date", "is before the child's date of birth")
        if self.open_plan is not None:
            raise DomainRuleViolation(
                "plan_id",
                f"plan {self.open_plan.plan_id} is already open since "
                f"{self.open_plan.start_date.isoformat()}; end it first",
            )
        if command.plan_id in self.plan_ids:
            raise DomainRuleViolation("plan_id", "was already used for this child")
        return [ChildProtectionPlanStarted(
            child_id=self.stream_id, plan_id=command.plan_id, category=command.category,
            start_date=command.start_date, previous_plans=len(self.plan_ids),
        )]

    # -- state -----------------------------------------------------------------------------

    def when(self, event: DomainEvent) -> None:
        match event:
            case ChildRegistered():
                self.date_of_birth = event.date_of_birth
                self.locality = event.locality
            case ChildProtectionPlanStarted():
                self.open_plan = OpenPlan(event.plan_id, event.start_date)
                self.plan_ids.add(event.plan_id)

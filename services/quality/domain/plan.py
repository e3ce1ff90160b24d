"""The improvement plan: its priorities, the measures tied to board figures with their
targets, performance surgeries, and the actions agreed against each priority.

A plan has no opening event: its first priority starts it (a council may keep one plan, or
one per inspection)."""

from __future__ import annotations

from datetime import date

from contracts.quality import events as e
from contracts.quality.codes import ActionOf
from services.quality.domain import commands as c
from services.quality.domain.record import Actions, QualityRecord, not_given, required
from shared.aggregate import (
    AlreadyRecorded,
    Decision,
    DomainRuleViolation,
    not_before,
    not_in_future,
)
from shared.envelope import DomainEvent


class ImprovementPlan(QualityRecord):
    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.priorities: dict[str, date] = {}
        self.surgeries: set[str] = set()
        self.actions = Actions(ActionOf.IMPROVEMENT_PLAN)

    def add_priority(self, cmd: c.AddImprovementPriority, d: Decision) -> list[DomainEvent]:
        if self.version > 0 and not self.exists:
            self._new("plan")  # another kind of record's id
        if cmd.priority_id in self.priorities:
            raise AlreadyRecorded(f"priority {cmd.priority_id!r} is already in the plan")
        not_in_future("added_on", cmd.added_on, d)
        return [e.ImprovementPriorityAdded(**cmd.model_dump())]

    def set_measure(self, cmd: c.SetImprovementMeasure, d: Decision) -> list[DomainEvent]:
        added_on = self._priority(cmd.priority_id)
        not_in_future("set_on", cmd.set_on, d)
        not_before("set_on", cmd.set_on, added_on, "the priority was added")
        return [e.ImprovementMeasureSet(**cmd.model_dump())]

    def hold_surgery(
        self, cmd: c.HoldPerformanceSurgery, d: Decision, decisions: str | None
    ) -> list[DomainEvent]:
        self._opened()
        if cmd.surgery_id in self.surgeries:
            raise AlreadyRecorded(f"surgery {cmd.surgery_id!r} is already recorded")
        not_in_future("held_on", cmd.held_on, d)
        return [
            e.PerformanceSurgeryHeld(**cmd.model_dump(exclude={"decisions"}), decisions=decisions)
        ]

    def agree_action(
        self, cmd: c.AgreeQualityAction, d: Decision, summary: str | None
    ) -> list[DomainEvent]:
        required("priority_id", cmd.priority_id, "for an action of the improvement plan")
        added_on = self._priority(cmd.priority_id or "")
        not_given("agency", cmd.agency, "a partnership audit's actions")
        return [self.actions.agree(cmd, d, summary, added_on, "the priority was added")]

    def complete_action(self, cmd: c.CompleteQualityAction, d: Decision) -> list[DomainEvent]:
        self._opened()
        return [self.actions.complete(cmd, d)]

    def _priority(self, priority_id: str) -> date:
        """The day the priority was added (404 for no plan, 422 for no such priority)."""
        self._opened()
        added_on = self.priorities.get(priority_id)
        if added_on is None:
            raise DomainRuleViolation("priority_id", "no such priority in the plan")
        return added_on

    def when(self, event: DomainEvent) -> None:
        match event:
            case e.ImprovementPriorityAdded():
                self.priorities[event.priority_id] = event.added_on
                self.opened_on = self.opened_on or event.added_on
            case e.PerformanceSurgeryHeld():
                self.surgeries.add(event.surgery_id)
            case _:
                self.actions.when(event)

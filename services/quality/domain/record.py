"""What every quality record shares: its stream in the service's one store, and its actions,
agreed with an owner and a due date and tracked to completion the same way for every kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.quality import events as e
from contracts.quality.codes import ActionOf, AuditAgency
from services.quality.domain import commands as c
from shared.aggregate import (
    Aggregate,
    AlreadyRecorded,
    Decision,
    DomainRuleViolation,
    UnknownStream,
    not_before,
    not_in_future,
)
from shared.envelope import DomainEvent


class QualityRecord(Aggregate):
    """A record of one kind. The service's streams share one store, so an id may hold a
    record of another kind: `opened_on` is set by this kind's first event only, and commands
    on another kind's stream answer 404 (or 409 when they would start a record)."""

    registry = e.quality_event_types

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.opened_on: date | None = None

    @property
    def exists(self) -> bool:
        return self.opened_on is not None

    def _new(self, what: str) -> None:
        if self.version > 0:
            raise AlreadyRecorded(f"{what} id {self.stream_id!r} is already used")

    def _opened(self) -> date:
        if self.opened_on is None:
            raise UnknownStream(self.stream_id)
        return self.opened_on


@dataclass
class Action:
    agreed_on: date
    due_on: date
    agency: AuditAgency | None
    completed_on: date | None = None


class Actions:
    """The actions agreed on one record (`of`), by id."""

    def __init__(self, of: ActionOf) -> None:
        self.of = of
        self.agreed: dict[str, Action] = {}

    def agree(
        self,
        cmd: c.AgreeQualityAction,
        d: Decision,
        summary: str | None,
        since: date,
        what: str,
    ) -> e.QualityActionAgreed:
        """The action, once neither agreed nor due before the record's own date (`since`,
        described as `what`); `summary` is the sealed text."""
        if cmd.action_id in self.agreed:
            raise AlreadyRecorded(f"action {cmd.action_id!r} is already agreed on this record")
        not_in_future("agreed_on", cmd.agreed_on, d)
        not_before("agreed_on", cmd.agreed_on, since, what)
        not_before("due_on", cmd.due_on, since, what)
        return e.QualityActionAgreed(
            **cmd.model_dump(exclude={"summary"}), of=self.of, summary=summary
        )

    def complete(self, cmd: c.CompleteQualityAction, d: Decision) -> e.QualityActionCompleted:
        action = self.agreed.get(cmd.action_id)
        if action is None:
            raise DomainRuleViolation("action_id", "no such action is agreed on this record")
        if action.completed_on is not None:
            raise DomainRuleViolation(
                "action_id", f"is already completed ({action.completed_on.isoformat()})"
            )
        not_in_future("completed_on", cmd.completed_on, d)
        not_before("completed_on", cmd.completed_on, action.agreed_on, "the action's agreement")
        return e.QualityActionCompleted(
            completed_on=cmd.completed_on, action_id=cmd.action_id, of=self.of, agency=action.agency
        )

    def when(self, event: DomainEvent) -> None:
        match event:
            case e.QualityActionAgreed():
                self.agreed[event.action_id] = Action(event.agreed_on, event.due_on, event.agency)
            case e.QualityActionCompleted():
                self.agreed[event.action_id].completed_on = event.completed_on


def not_given(field: str, value: object, only: str) -> None:
    """A field of the action that belongs to another kind of record (`only` says which)."""
    if value is not None:
        raise DomainRuleViolation(field, f"is only for {only}")


def required(field: str, value: object, why: str) -> None:
    if value is None:
        raise DomainRuleViolation(field, f"is required {why}")

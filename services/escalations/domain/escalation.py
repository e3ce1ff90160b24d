"""An IRO or CP-chair escalation, through its stages to resolution."""

from __future__ import annotations

from datetime import date

from contracts.escalations import events as e
from contracts.escalations.codes import STAGE_ORDER, EscalationReason, Stage
from services.escalations.domain import commands as c
from shared.aggregate import (
    Aggregate,
    AlreadyRecorded,
    Decision,
    DomainRuleViolation,
    UnknownStream,
    known,
    not_before,
    not_in_future,
)
from shared.envelope import DomainEvent


class Escalation(Aggregate):
    registry = e.escalation_event_types

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.child_id = ""
        self.reason: EscalationReason | None = None
        self.raised_on: date | None = None
        self.stage = Stage.INFORMAL
        self.last: date | None = None
        self.resolved = False

    @property
    def exists(self) -> bool:
        # The service's streams share one store: an id may hold a child's risk record, which
        # is no escalation (commands on it answer 404, not a crash).
        return self.raised_on is not None

    def raise_(self, cmd: c.RaiseEscalation, d: Decision) -> list[DomainEvent]:
        if self.version > 0:
            raise AlreadyRecorded(f"escalation id {self.stream_id!r} is already used")
        child = known(d)
        not_in_future("raised_on", cmd.raised_on, d)
        not_before("raised_on", cmd.raised_on, child.date_of_birth, "the child's birth")
        return [e.EscalationRaised(**cmd.model_dump(), locality=child.locality)]

    def advance(self, cmd: c.AdvanceEscalation, d: Decision) -> list[DomainEvent]:
        self._open("advanced_on", cmd.advanced_on, d)
        if STAGE_ORDER.index(cmd.stage) <= STAGE_ORDER.index(self.stage):
            raise DomainRuleViolation(
                "stage", f"must come after the current stage ({self.stage.value})"
            )
        return [e.EscalationAdvanced(**cmd.model_dump(), child_id=self.child_id)]

    def respond(self, cmd: c.RecordEscalationResponse, d: Decision) -> list[DomainEvent]:
        self._open("responded_on", cmd.responded_on, d)
        return [e.EscalationResponded(**cmd.model_dump(), child_id=self.child_id)]

    def resolve(self, cmd: c.ResolveEscalation, d: Decision) -> list[DomainEvent]:
        raised_on, reason = self._open("resolved_on", cmd.resolved_on, d)
        return [
            e.EscalationResolved(
                **cmd.model_dump(),
                child_id=self.child_id,
                reason=reason,
                days_open=(cmd.resolved_on - raised_on).days,
            )
        ]

    def _open(self, name: str, day: date, d: Decision) -> tuple[date, EscalationReason]:
        """The escalation's raising (day and reason), when it is open to a step on `day`."""
        if self.raised_on is None or self.reason is None:
            raise UnknownStream(self.stream_id)
        if self.resolved:
            raise DomainRuleViolation(name, "the escalation is already resolved")
        not_in_future(name, day, d)
        not_before(name, day, self.last, "the escalation's last step")
        return self.raised_on, self.reason

    def when(self, event: DomainEvent) -> None:
        match event:
            case e.EscalationRaised():
                self.child_id, self.reason = event.child_id, event.reason
                self.raised_on = self.last = event.raised_on
            case e.EscalationAdvanced():
                self.stage, self.last = event.stage, event.advanced_on
            case e.EscalationResponded():
                self.last = event.responded_on
            case e.EscalationResolved():
                self.resolved, self.last = True, event.resolved_on

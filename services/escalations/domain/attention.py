"""An item of the incident management teams' attention queue, as this service records what
people did about it: acknowledged, and assigned to a worker (again, to reassign it).

The item itself (a missing child, a breach, a RED rating...) is a fact of whichever service
recorded it; the queue is the projections' read model of those facts. This stream holds only
the acknowledgements, so that they are events like every oversight action, published on
`escalation-events` and audited with the child they are about.
"""

from __future__ import annotations

from contracts.escalations import events as e
from contracts.escalations.codes import AttentionKind
from services.escalations.domain import commands as c
from shared.aggregate import Aggregate, Decision, DomainRuleViolation
from shared.envelope import DomainEvent


def stream_of(item_id: str) -> str:
    return f"attention-{item_id}"


class AttentionItem(Aggregate):
    registry = e.escalation_event_types

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.child_id: str | None = None
        self.kind: AttentionKind | None = None

    def acknowledge(
        self, kind: AttentionKind, item_id: str, cmd: c.AcknowledgeAttention, d: Decision
    ) -> list[DomainEvent]:
        # An item is one fact about one child: an acknowledgement naming another child or
        # another kind is a mistake, not a reassignment.
        if self.child_id is not None and cmd.child_id != self.child_id:
            raise DomainRuleViolation("child_id", f"the item is about {self.child_id}")
        if self.kind is not None and kind is not self.kind:
            raise DomainRuleViolation("kind", f"the item is of kind {self.kind.value}")
        return [
            e.AttentionAcknowledged(
                **cmd.model_dump(), acknowledged_on=d.today, kind=kind, item_id=item_id
            )
        ]

    def when(self, event: DomainEvent) -> None:
        match event:
            case e.AttentionAcknowledged():
                self.child_id, self.kind = event.child_id, event.kind

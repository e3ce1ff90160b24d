"""The events this service publishes on `escalation-events`: its published contract.

Streams: a child's risk record (by child id), each IRO or CP-chair escalation (by
escalation id, naming the child), and the acknowledgements of each item of the attention queue
(`attention-{item_id}`, naming the child).
"""

from __future__ import annotations

from pydantic import Field

from contracts.escalations.codes import (
    RAG,
    AttentionKind,
    DriftRule,
    EscalationReason,
    EWOOutcome,
    Raiser,
    RatingSource,
    Resolution,
    Stage,
)
from contracts.ids import CHILD_ID_PATTERN, ID_PATTERN, WORKER_ID_PATTERN
from shared.envelope import DatedEvent, Day, EventRegistry, Facts

escalation_event_types = EventRegistry()


class RatingFacts(Facts):
    rated_on: Day
    rating: RAG


@escalation_event_types.event
class RiskRatingAssigned(RatingFacts, DatedEvent):
    """The child's RAG rating; it sets the visiting frequency and is shared with schools."""

    event_type = "RiskRatingAssigned"
    previous: RAG | None
    visiting_frequency_days: int
    source: RatingSource


class DipSampleFacts(Facts):
    sampled_on: Day
    manager_id: str = Field(pattern=ID_PATTERN)
    agreed: bool
    moderated_to: RAG | None = Field(None, description="Required when the manager disagrees.")


@escalation_event_types.event
class RiskRatingDipSampled(DipSampleFacts, DatedEvent):
    """A manager's moderation of a rating: agreed, or moderated to another rating."""

    event_type = "RiskRatingDipSampled"
    rating_sampled: RAG


class RaiseFacts(Facts):
    escalation_id: str = Field(pattern=ID_PATTERN)
    child_id: str = Field(pattern=CHILD_ID_PATTERN)
    raised_on: Day
    raised_by: Raiser
    reason: EscalationReason


@escalation_event_types.event
class EscalationRaised(RaiseFacts, DatedEvent):
    """An IRO or CP chair escalated a concern about a child's plan (informal stage)."""

    event_type = "EscalationRaised"
    locality: str


class AdvanceFacts(Facts):
    advanced_on: Day
    stage: Stage


@escalation_event_types.event
class EscalationAdvanced(AdvanceFacts, DatedEvent):
    event_type = "EscalationAdvanced"
    child_id: str


class RespondFacts(Facts):
    responded_on: Day


@escalation_event_types.event
class EscalationResponded(RespondFacts, DatedEvent):
    event_type = "EscalationResponded"
    child_id: str


class ResolveFacts(Facts):
    resolved_on: Day
    resolution: Resolution


@escalation_event_types.event
class EscalationResolved(ResolveFacts, DatedEvent):
    event_type = "EscalationResolved"
    child_id: str
    reason: EscalationReason
    days_open: int


@escalation_event_types.event
class EWOAttendanceEscalationRaised(DatedEvent):
    """Raised by rule from attendance: N sessions missed within M school weeks."""

    event_type = "EWOAttendanceEscalationRaised"
    raised_on: Day
    sessions_missed: int
    window_start: Day
    threshold: int


class EWOCloseFacts(Facts):
    closed_on: Day
    outcome: EWOOutcome


@escalation_event_types.event
class EWOAttendanceEscalationClosed(EWOCloseFacts, DatedEvent):
    event_type = "EWOAttendanceEscalationClosed"


@escalation_event_types.event
class DriftAlertRaised(DatedEvent):
    """Raised by rule when something has been open too long or is overdue."""

    event_type = "DriftAlertRaised"
    raised_on: Day
    rule: DriftRule
    subject_id: str = Field(description="What drifts: the plan, proceedings, or 'contact'.")
    since: Day
    due: Day


@escalation_event_types.event
class DriftAlertCleared(DatedEvent):
    """The drifting thing ended or was brought back in date."""

    event_type = "DriftAlertCleared"
    cleared_on: Day
    rule: DriftRule
    subject_id: str


# The attention queue's item: the id of the event that opened it (the projections' read model
# of the queue names each item so; services/projections/attention).
ITEM_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class AcknowledgeFacts(Facts):
    child_id: str = Field(pattern=CHILD_ID_PATTERN, description="The child the item is about.")
    assigned_to: str = Field(
        pattern=WORKER_ID_PATTERN, description="Pseudonymous id of the council worker assigned."
    )


@escalation_event_types.event
class AttentionAcknowledged(AcknowledgeFacts, DatedEvent):
    """Someone of an incident management team saw an item of the attention queue and assigned
    it to a worker (again: a later acknowledgement reassigns it). Who acknowledged is the
    envelope's actor."""

    event_type = "AttentionAcknowledged"
    acknowledged_on: Day
    kind: AttentionKind
    item_id: str = Field(pattern=ITEM_ID_PATTERN)

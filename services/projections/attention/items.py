"""Which recorded fact opens an item of the attention queue, which ends it, and what the queue
says of an open item on a day. Pure: no I/O, the day is the caller's.

An item is one fact about one child that needs a person now, keyed by its kind, the child and
its `subject` (what it is about within the child: a plan, an escalation, the day an episode
started...). It is opened by the event that records the fact (whose event id names the item)
and closed by the event that ends it:

- accommodation_breach: opened by AccommodationBreachFlagged; closed when the placement
  changes or ends (a care leaver's code Z at 17: when other accommodation is recorded);
- unsuitable_accommodation: a care leaver's accommodation recorded or reassessed unsuitable
  (2); closed when recorded or reassessed suitable (1);
- missing: a missing episode recorded without its end; closed by the same episode recorded
  with its end (the return);
- red_rating: a RED rating after none or another; closed by a later rating that is not RED;
- drift_alert: DriftAlertRaised (but a CP plan's nine months: its own kind); DriftAlertCleared;
- escalation: EscalationRaised; EscalationResponded or EscalationResolved;
- ewo_escalation: EWOAttendanceEscalationRaised; EWOAttendanceEscalationClosed;
- cp_plan_9_months: ChildProtectionPlanStarted (shown from nine months on);
  ChildProtectionPlanEnded.

Two states depend on the day and are worked out when the queue is read, not stored: an
escalation past its response time (RESPONSE_DUE_WORKING_DAYS after its latest step), and a
CP plan past nine months (shown from the day it reaches them: no event marks that day). The
drift rules raise an alert for a CP plan at nine months too, but only when the worker checks
them; the queue shows the plan itself from that very day, once, as a CP plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.accommodation import events as acc
from contracts.accommodation.codes import Breach, Suitability
from contracts.case_events import events as ce
from contracts.escalations import events as esc
from contracts.escalations.codes import (
    RAG,
    RESPONSE_DUE_WORKING_DAYS,
    AttentionKind,
    DriftRule,
)
from shared.calendar import add_months, add_working_days, age_on
from shared.envelope import DomainEvent

K = AttentionKind

# What a person reads for each kind: the queue's headings, the filter's options.
LABELS: dict[AttentionKind, str] = {
    K.ACCOMMODATION_BREACH: "Placement the law does not allow",
    K.UNSUITABLE_ACCOMMODATION: "Care leaver in unsuitable accommodation",
    K.MISSING: "Missing",
    K.RED_RATING: "New RED rating",
    K.DRIFT_ALERT: "Drift alert",
    K.ESCALATION: "IRO or CP chair escalation",
    K.EWO_ESCALATION: "EWO attendance escalation",
    K.CP_PLAN_9_MONTHS: "Child protection plan past nine months",
}

# Ages as the incident management teams divide the work: the 0-8s, the older children, the
# adolescents (contextual safeguarding), and the care leavers.
AGE_BANDS = (("0-8", 0, 8), ("9-12", 9, 12), ("13-17", 13, 17), ("18-25", 18, 25))

# The subjects of a child's items that there is one of at a time.
PLACEMENT = "placement"
CARE_LEAVER_ACCOMMODATION = "care-leaver-accommodation"
RATING = "rating"
EWO = "ewo"


@dataclass(frozen=True)
class Opened:
    """An item opens (unless the same one is open already: it stays as it was)."""

    kind: AttentionKind
    child_id: str
    subject: str
    detail: str  # the fact's own code, as a person reads it (a breach, a rule, a reason...)
    opened_on: date
    due_on: date | None = None  # an escalation's response, a CP plan's nine months


@dataclass(frozen=True)
class Closed:
    """The open item (of `subject`; None: every open item of the kind for the child) ends."""

    kind: AttentionKind
    child_id: str
    subject: str | None
    closed_on: date


@dataclass(frozen=True)
class Due:
    """An open item is due again: an escalation advanced to a stage awaits its response."""

    kind: AttentionKind
    child_id: str
    subject: str
    due_on: date


Change = Opened | Closed | Due


def response_due(step: date) -> date:
    return add_working_days(step, RESPONSE_DUE_WORKING_DAYS)


def changes(stream_id: str, event: DomainEvent) -> list[Change]:
    """The queue's changes an event makes (most make none). `stream_id`: the event's stream,
    the child for every event here but an IRO escalation's (named on each of them)."""
    return (
        _accommodation(stream_id, event) or _case(stream_id, event) or _oversight(stream_id, event)
    )


def _accommodation(child: str, event: DomainEvent) -> list[Change]:
    match event:
        case acc.AccommodationBreachFlagged():
            subject = (
                CARE_LEAVER_ACCOMMODATION if event.breach is Breach.CODE_Z_AT_17 else PLACEMENT
            )
            return [
                Opened(
                    K.ACCOMMODATION_BREACH,
                    child,
                    subject,
                    f"{event.breach.value} ({event.code}, aged {event.age})",
                    event.flagged_on,
                )
            ]
        case acc.PlacementChanged():  # before the new placement's own breach, if any
            return [Closed(K.ACCOMMODATION_BREACH, child, PLACEMENT, event.start_date)]
        case acc.PlacementEnded():
            return [Closed(K.ACCOMMODATION_BREACH, child, PLACEMENT, event.end_date)]
        case acc.CareLeaverAccommodationRecorded():
            return [
                Closed(K.ACCOMMODATION_BREACH, child, CARE_LEAVER_ACCOMMODATION, event.recorded_on),
                *_suitability(child, event.suitability, event.code, event.recorded_on),
            ]
        case acc.SuitabilityReassessed():
            return _suitability(child, event.suitability, event.code, event.reassessed_on)
    return []


def _suitability(child: str, suitability: Suitability, code: str, on: date) -> list[Change]:
    if suitability is Suitability.UNSUITABLE:
        return [Opened(K.UNSUITABLE_ACCOMMODATION, child, CARE_LEAVER_ACCOMMODATION, code, on)]
    return [Closed(K.UNSUITABLE_ACCOMMODATION, child, CARE_LEAVER_ACCOMMODATION, on)]


def _case(child: str, event: DomainEvent) -> list[Change]:
    match event:
        case ce.MissingEpisodeRecorded():
            episode = event.started_on.isoformat()
            if event.ended_on is not None:
                return [Closed(K.MISSING, child, episode, event.ended_on)]
            return [Opened(K.MISSING, child, episode, event.kind.value, event.started_on)]
        case ce.ChildProtectionPlanStarted():
            return [
                Opened(
                    K.CP_PLAN_9_MONTHS,
                    event.child_id,
                    event.plan_id,
                    event.category.value,
                    event.start_date,
                    add_months(event.start_date, 9),
                )
            ]
        case ce.ChildProtectionPlanEnded():
            return [Closed(K.CP_PLAN_9_MONTHS, child, event.plan_id, event.end_date)]
    return []


def _oversight(stream: str, event: DomainEvent) -> list[Change]:
    match event:
        case esc.RiskRatingAssigned() if event.rating is RAG.RED:
            if event.previous is RAG.RED:
                return []  # RED again: the item already raised stays as it is
            return [Opened(K.RED_RATING, stream, RATING, event.source.value, event.rated_on)]
        case esc.RiskRatingAssigned():
            return [Closed(K.RED_RATING, stream, RATING, event.rated_on)]
        case esc.DriftAlertRaised() if event.rule is not DriftRule.CP_PLAN_9_MONTHS:
            return [
                Opened(
                    K.DRIFT_ALERT,
                    stream,
                    f"{event.rule.value}:{event.subject_id}",
                    event.rule.value,
                    event.raised_on,
                    event.due,
                )
            ]
        case esc.DriftAlertCleared() if event.rule is not DriftRule.CP_PLAN_9_MONTHS:
            subject = f"{event.rule.value}:{event.subject_id}"
            return [Closed(K.DRIFT_ALERT, stream, subject, event.cleared_on)]
        case esc.EscalationRaised():
            return [
                Opened(
                    K.ESCALATION,
                    event.child_id,
                    stream,
                    event.reason.value,
                    event.raised_on,
                    response_due(event.raised_on),
                )
            ]
        case esc.EscalationAdvanced():
            return [Due(K.ESCALATION, event.child_id, stream, response_due(event.advanced_on))]
        case esc.EscalationResponded():
            return [Closed(K.ESCALATION, event.child_id, stream, event.responded_on)]
        case esc.EscalationResolved():
            return [Closed(K.ESCALATION, event.child_id, stream, event.resolved_on)]
        case esc.EWOAttendanceEscalationRaised():
            missed = f"{event.sessions_missed} sessions missed since {event.window_start}"
            return [Opened(K.EWO_ESCALATION, stream, EWO, missed, event.raised_on)]
        case esc.EWOAttendanceEscalationClosed():
            return [Closed(K.EWO_ESCALATION, stream, EWO, event.closed_on)]
    return []


# -- what the queue says of an open item on a day ----------------------------------------------


def shown(kind: AttentionKind, due_on: date | None, today: date) -> bool:
    """A CP plan is in the queue from the day it reaches nine months; everything else from the
    day it was recorded."""
    return kind is not K.CP_PLAN_9_MONTHS or (due_on is not None and due_on <= today)


def needs_attention_since(kind: AttentionKind, opened_on: date, due_on: date | None) -> date:
    """The day the item has needed a person since: a CP plan's nine months, else the fact's."""
    if kind is K.CP_PLAN_9_MONTHS and due_on is not None:
        return due_on
    return opened_on


def past_response_time(kind: AttentionKind, due_on: date | None, today: date) -> bool:
    """An escalation not answered by the end of its response day."""
    return kind is K.ESCALATION and due_on is not None and today > due_on


def age_band(date_of_birth: date, today: date) -> str:
    if date_of_birth > today:
        return "unborn"
    age = age_on(date_of_birth, today)
    return next((band for band, low, high in AGE_BANDS if low <= age <= high), "over 25")

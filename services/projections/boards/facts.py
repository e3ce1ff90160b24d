"""What each domain event means for the boards: changes of a child's attributes over time,
and things that happened on a day. Pure: `board_changes(event)` is all the mapping there is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from operator import attrgetter

from contracts.accommodation import events as acc
from contracts.case_events import events as ce
from contracts.education import events as edu
from contracts.escalations import events as esc
from shared.calendar import add_months
from shared.envelope import DomainEvent


@dataclass(frozen=True)
class Fact:
    """`attribute` of the stream's child is `value` from `valid_from` (None: no longer)."""

    attribute: str
    valid_from: date
    value: str | None


@dataclass(frozen=True)
class Occurrence:
    """`kind` happened on `day`, with the details of its kind (the others stay None)."""

    kind: str
    day: date
    source: str | None = None  # referral: where it came from
    locality: str | None = None  # triage: where the discussion was held
    breach: str | None = None  # breach: the rule broken, the accommodation, the child's age
    accommodation: str | None = None
    age: int | None = None
    school_urn: str | None = None  # attendance: the school and the day's sessions
    sessions_attended: int | None = None
    sessions_missed: int | None = None
    rating: str | None = None  # dip_sample: the rating sampled, any moderation, agreement
    moderated_to: str | None = None
    agreed: bool | None = None
    reason: str | None = None  # escalation_*: why, and the child (the stream is the escalation)
    child_id: str | None = None
    subject_id: str | None = None  # defaults to the stream id


# The columns of `occurrences` after its key and day, in the order `occurrence_details` gives them.
OCCURRENCE_DETAILS = (
    "source",
    "locality",
    "breach",
    "accommodation",
    "age",
    "school_urn",
    "sessions_attended",
    "sessions_missed",
    "rating",
    "moderated_to",
    "agreed",
    "reason",
    "child_id",
)
occurrence_details = attrgetter(*OCCURRENCE_DETAILS)


Change = Fact | Occurrence


def _referral_to_protection(event: DomainEvent) -> list[Change]:
    """Case events from referral and triage to child protection plans."""
    match event:
        case ce.ReferralReceived():
            return [Occurrence("referral", event.referral_date, source=event.source.value)]
        case ce.EarlyHelpTriageDiscussed():
            return [Occurrence("triage", event.discussion_date, locality=event.locality)]
        case ce.AssessmentStarted():
            return [Fact("assessment", event.start_date, event.assessment_id)]
        case ce.AssessmentCompleted():
            return [Fact("assessment", event.completion_date, None)]
        case ce.ChildInNeedPlanStarted():
            return [Fact("cin_plan", event.start_date, event.plan_id)]
        case ce.ChildInNeedPlanEnded():
            return [Fact("cin_plan", event.end_date, None)]
        case ce.ChildProtectionPlanStarted():
            return [
                Fact("cp_plan", event.start_date, event.plan_id),
                Fact("cp_started", event.start_date, event.start_date.isoformat()),
                Fact("cp_category", event.start_date, event.category.value),
                Fact("cp_repeat", event.start_date, "1" if event.previous_plans else "0"),
                Fact(
                    "cp_review_due", event.start_date, add_months(event.start_date, 3).isoformat()
                ),
            ]
        case ce.ChildProtectionPlanReviewed():
            return [Fact("cp_review_due", event.review_date, event.next_review_due.isoformat())]
        case ce.ChildProtectionPlanEnded():
            return [
                Fact(a, event.end_date, None)
                for a in ("cp_plan", "cp_started", "cp_category", "cp_repeat", "cp_review_due")
            ]
    return []


def _care_and_proceedings(event: DomainEvent) -> list[Change]:
    """Case events of care, permanence and court proceedings."""
    match event:
        case ce.PeriodOfCareStarted():
            return [
                Fact("in_care", event.start_date, event.legal_status.value),
                Fact("la_review_due", event.start_date, event.first_review_due.isoformat()),
            ]
        case ce.LegalStatusChanged():
            return [Fact("in_care", event.change_date, event.legal_status.value)]
        case ce.PeriodOfCareEnded():
            return [
                Fact("in_care", event.end_date, None),
                Fact("la_review_due", event.end_date, None),
                Fact("permanence_plan", event.end_date, None),
            ]
        case ce.LookedAfterReviewHeld():
            return [Fact("la_review_due", event.review_date, event.next_review_due.isoformat())]
        case ce.PermanencePlanRecorded():
            return [Fact("permanence_plan", event.recorded_on, event.plan.value)]
        case ce.PreProceedingsEntered():
            return [Fact("pre_proceedings", event.entered_on, event.entered_on.isoformat())]
        case ce.PreProceedingsConcluded():
            return [Fact("pre_proceedings", event.concluded_on, None)]
        case ce.CareProceedingsIssued():
            return [Fact("proceedings", event.issued_on, event.issued_on.isoformat())]
        case ce.CareProceedingsConcluded():
            return [Fact("proceedings", event.concluded_on, None)]
    return []


def _leaving_care_and_priority(event: DomainEvent) -> list[Change]:
    """Case events of leaving care, health passports and the priority cohort."""
    match event:
        case ce.CareLeaverStatusRecorded():
            return [Fact("care_leaver", event.recorded_on, event.status.value)]
        case ce.PersonalAdviserAllocated():
            return [Fact("personal_adviser", event.allocated_on, event.adviser_id)]
        case ce.PathwayPlanCreated():
            return [Fact("pathway_review_due", event.created_on, event.review_due.isoformat())]
        case ce.PathwayPlanReviewed():
            return [
                Fact("pathway_review_due", event.review_date, event.next_review_due.isoformat())
            ]
        case ce.ContactRecorded():
            changes: list[Change] = [Fact("in_touch", event.contact_date, event.in_touch.value)]
            if event.in_touch is ce.InTouch.YES:
                changes.append(
                    Fact("last_contact", event.contact_date, event.contact_date.isoformat())
                )
            return changes
        case ce.HealthPassportOffered():
            return [Fact("passport_offered", event.offered_on, event.milestone.value)]
        case ce.HealthPassportAccepted():
            return [Fact("passport_accepted", event.accepted_on, "1")]
        case ce.PriorityCohortFlagSet():
            return [Fact("priority", event.set_on, event.reason.value)]
        case ce.PriorityCohortFlagCleared():
            return [Fact("priority", event.cleared_on, None)]
    return []


def _accommodation(event: DomainEvent) -> list[Change]:
    match event:
        case acc.PlacementStarted() | acc.PlacementChanged():
            return [Fact("placement", event.start_date, event.placement_type.value)]
        case acc.PlacementEnded():
            return [Fact("placement", event.end_date, None)]
        case acc.CareLeaverAccommodationRecorded():
            return [Fact("accommodation", event.recorded_on, event.code)]
        case acc.SuitabilityReassessed():
            return [Fact("accommodation", event.reassessed_on, event.code)]
        case acc.AccommodationBreachFlagged():
            return [
                Occurrence(
                    "breach",
                    event.flagged_on,
                    breach=event.breach.value,
                    accommodation=event.code,
                    age=event.age,
                )
            ]
    return []


def _education(event: DomainEvent) -> list[Change]:
    match event:
        case edu.SchoolEnrolled():
            return [
                Fact("school", event.start_date, "own" if event.school_in_council_area else "other")
            ]
        case edu.SchoolLeft():
            return [Fact("school", event.left_on, None)]
        case edu.EducationHealthCarePlanStarted():
            return [Fact("ehcp", event.started_on, "1")]
        case edu.EducationHealthCarePlanEnded():
            return [Fact("ehcp", event.ended_on, None)]
        case edu.AttendanceRecorded():
            return [
                Occurrence(
                    "attendance",
                    event.attendance_date,
                    school_urn=event.school_urn,
                    sessions_attended=event.sessions_attended,
                    sessions_missed=event.sessions_missed,
                )
            ]
        case edu.Year11DestinationIntended():
            return [Fact("y11_intended", event.recorded_on, event.destination.value)]
        case edu.Year11DestinationConfirmed():
            return [Fact("y11_confirmed", event.recorded_on, event.destination.value)]
        case edu.EETActivityRecorded():
            return [Fact("activity", event.recorded_on, event.activity.value)]
    return []


def _escalations(event: DomainEvent) -> list[Change]:
    match event:
        case esc.RiskRatingAssigned():
            return [Fact("rag", event.rated_on, event.rating.value)]
        case esc.RiskRatingDipSampled():
            return [
                Occurrence(
                    "dip_sample",
                    event.sampled_on,
                    rating=event.rating_sampled.value,
                    moderated_to=(event.moderated_to.value if event.moderated_to else None),
                    agreed=event.agreed,
                )
            ]
        case esc.EscalationRaised():
            return [
                Occurrence(
                    "escalation_raised",
                    event.raised_on,
                    reason=event.reason.value,
                    child_id=event.child_id,
                )
            ]
        case esc.EscalationResolved():
            return [
                Occurrence(
                    "escalation_resolved",
                    event.resolved_on,
                    reason=event.reason.value,
                    child_id=event.child_id,
                )
            ]
        case esc.EWOAttendanceEscalationRaised():
            return [Fact("ewo_open", event.raised_on, "1"), Occurrence("ewo", event.raised_on)]
        case esc.EWOAttendanceEscalationClosed():
            return [Fact("ewo_open", event.closed_on, None)]
        case esc.DriftAlertRaised():
            return [Fact(f"drift:{event.rule.value}:{event.subject_id}", event.raised_on, "1")]
        case esc.DriftAlertCleared():
            return [Fact(f"drift:{event.rule.value}:{event.subject_id}", event.cleared_on, None)]
    return []


def board_changes(event: DomainEvent) -> list[Change]:
    return (
        _referral_to_protection(event)
        + _care_and_proceedings(event)
        + _leaving_care_and_priority(event)
        + _accommodation(event)
        + _education(event)
        + _escalations(event)
    )

"""The events this service publishes on the `case-events` topic: its published contract.

Part of the published language (`contracts/`): any service and any partner may import it.
Each fact's fields are declared once (a `...Facts` model); the event adds what the service
derives when it records it (due dates, counts), and the command in the service's
`domain/commands.py` reuses the facts as its body.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from contracts.case_events.codes import (
    CareLeaverStatus,
    ChildInNeedClosureReason,
    ChildProtectionCategory,
    ClearedReason,
    CourtOrder,
    HealthAssessmentKind,
    HealthPassportMilestone,
    InTouch,
    LegalStatus,
    MissingKind,
    PermanencePlan,
    PreProceedingsOutcome,
    PrimaryNeed,
    PriorityReason,
    ReasonCeased,
    ReferralSource,
)
from contracts.ids import CHILD_ID_PATTERN, ID_PATTERN, LOCALITY_PATTERN
from shared.envelope import DatedEvent, Day, DomainEvent, EventRegistry, Facts, at_start_of

case_event_types = EventRegistry()


Id = Field(pattern=ID_PATTERN, description="The recording system's id for this record.")


# -- the child ------------------------------------------------------------------------------


class ChildFacts(Facts):
    child_id: str = Field(
        pattern=CHILD_ID_PATTERN, description="The council's pseudonymous id for the child."
    )
    date_of_birth: Day
    locality: str = Field(
        pattern=LOCALITY_PATTERN, description="The council's locality responsible for the child."
    )


@case_event_types.event
class ChildRegistered(ChildFacts, DomainEvent):
    """A child became known to the platform under a pseudonymous id."""

    event_type = "ChildRegistered"


class ReferralFacts(Facts):
    referral_id: str = Id
    referral_date: Day
    source: ReferralSource


@case_event_types.event
class ReferralReceived(ReferralFacts, DatedEvent):
    """Children's social care received a referral about the child."""

    event_type = "ReferralReceived"


# -- early help (a family's stream) ---------------------------------------------------------


class TriageFacts(Facts):
    discussion_date: Day
    locality: str = Field(pattern=LOCALITY_PATTERN)


@case_event_types.event
class EarlyHelpTriageDiscussed(TriageFacts, DatedEvent):
    """A family was discussed at the locality's daily early-help triage."""

    event_type = "EarlyHelpTriageDiscussed"


# -- assessment and child in need -----------------------------------------------------------


class AssessmentStartFacts(Facts):
    assessment_id: str = Id
    start_date: Day


@case_event_types.event
class AssessmentStarted(AssessmentStartFacts, DatedEvent):
    """A child and family assessment started; due within 45 working days."""

    event_type = "AssessmentStarted"
    due_date: Day


class AssessmentCompletionFacts(Facts):
    assessment_id: str = Id
    completion_date: Day


@case_event_types.event
class AssessmentCompleted(AssessmentCompletionFacts, DatedEvent):
    event_type = "AssessmentCompleted"
    working_days_taken: int = Field(ge=0)
    within_timescale: bool


class ChildInNeedPlanStartFacts(Facts):
    plan_id: str = Id
    start_date: Day
    primary_need: PrimaryNeed


@case_event_types.event
class ChildInNeedPlanStarted(ChildInNeedPlanStartFacts, DatedEvent):
    event_type = "ChildInNeedPlanStarted"


class ChildInNeedPlanEndFacts(Facts):
    plan_id: str = Id
    end_date: Day
    reason: ChildInNeedClosureReason


@case_event_types.event
class ChildInNeedPlanEnded(ChildInNeedPlanEndFacts, DatedEvent):
    event_type = "ChildInNeedPlanEnded"


# -- child protection ------------------------------------------------------------------------


class StrategyDiscussionFacts(Facts):
    discussion_id: str = Id
    discussion_date: Day
    section_47_enquiry: bool = Field(description="Whether a section 47 enquiry was started.")


@case_event_types.event
class StrategyDiscussionHeld(StrategyDiscussionFacts, DatedEvent):
    """A strategy discussion; with a section 47 enquiry the ICPC is due in 15 working days."""

    event_type = "StrategyDiscussionHeld"
    icpc_due_date: Day | None


class ConferenceFacts(Facts):
    conference_date: Day
    plan_required: bool


@case_event_types.event
class InitialChildProtectionConferenceHeld(ConferenceFacts, DatedEvent):
    event_type = "InitialChildProtectionConferenceHeld"
    within_timescale: bool


class ChildProtectionPlanStartFacts(Facts):
    plan_id: str = Id
    category: ChildProtectionCategory
    start_date: Day


@case_event_types.event
class ChildProtectionPlanStarted(DomainEvent):
    """A child protection plan started (after an initial child protection conference)."""

    event_type = "ChildProtectionPlanStarted"

    child_id: str = Field(pattern=CHILD_ID_PATTERN)
    plan_id: str = Field(min_length=1, max_length=64)
    category: ChildProtectionCategory
    start_date: Day
    previous_plans: int = Field(ge=0, description="Plans this child had before: >0 is a repeat.")

    def occurred_at(self) -> datetime:
        return at_start_of(self.start_date)


class ChildProtectionPlanReviewFacts(Facts):
    plan_id: str = Id
    review_date: Day


@case_event_types.event
class ChildProtectionPlanReviewed(ChildProtectionPlanReviewFacts, DatedEvent):
    """A review conference; the first is due within 3 months, then at most every 6 months."""

    event_type = "ChildProtectionPlanReviewed"
    next_review_due: Day


class ChildProtectionPlanEndFacts(Facts):
    plan_id: str = Id
    end_date: Day


@case_event_types.event
class ChildProtectionPlanEnded(ChildProtectionPlanEndFacts, DatedEvent):
    event_type = "ChildProtectionPlanEnded"
    days_open: int = Field(ge=0)


# -- children in care -----------------------------------------------------------------------


class PeriodOfCareStartFacts(Facts):
    start_date: Day
    legal_status: LegalStatus


@case_event_types.event
class PeriodOfCareStarted(PeriodOfCareStartFacts, DatedEvent):
    """The child became looked after; first review due within 20 working days."""

    event_type = "PeriodOfCareStarted"
    first_review_due: Day


class LegalStatusChangeFacts(Facts):
    change_date: Day
    legal_status: LegalStatus


@case_event_types.event
class LegalStatusChanged(LegalStatusChangeFacts, DatedEvent):
    event_type = "LegalStatusChanged"


class PeriodOfCareEndFacts(Facts):
    end_date: Day
    reason: ReasonCeased


@case_event_types.event
class PeriodOfCareEnded(PeriodOfCareEndFacts, DatedEvent):
    event_type = "PeriodOfCareEnded"


class LookedAfterReviewFacts(Facts):
    review_date: Day


@case_event_types.event
class LookedAfterReviewHeld(LookedAfterReviewFacts, DatedEvent):
    """The second review is due within 3 months of the first, then every 6 months."""

    event_type = "LookedAfterReviewHeld"
    next_review_due: Day


class PermanencePlanFacts(Facts):
    recorded_on: Day
    plan: PermanencePlan


@case_event_types.event
class PermanencePlanRecorded(PermanencePlanFacts, DatedEvent):
    event_type = "PermanencePlanRecorded"


# -- pre-proceedings and care proceedings ---------------------------------------------------


class PreProceedingsEntryFacts(Facts):
    entered_on: Day


@case_event_types.event
class PreProceedingsEntered(PreProceedingsEntryFacts, DatedEvent):
    """The Public Law Outline's pre-proceedings stage started (drift alert after 12 weeks)."""

    event_type = "PreProceedingsEntered"


class PreProceedingsMeetingFacts(Facts):
    meeting_date: Day


@case_event_types.event
class PreProceedingsMeetingHeld(PreProceedingsMeetingFacts, DatedEvent):
    event_type = "PreProceedingsMeetingHeld"


class LetterBeforeProceedingsFacts(Facts):
    sent_on: Day


@case_event_types.event
class LetterBeforeProceedingsSent(LetterBeforeProceedingsFacts, DatedEvent):
    event_type = "LetterBeforeProceedingsSent"


class PreProceedingsOutcomeFacts(Facts):
    concluded_on: Day
    outcome: PreProceedingsOutcome


@case_event_types.event
class PreProceedingsConcluded(PreProceedingsOutcomeFacts, DatedEvent):
    event_type = "PreProceedingsConcluded"
    weeks_taken: int = Field(ge=0)


class CareProceedingsIssueFacts(Facts):
    proceedings_id: str = Id
    issued_on: Day


@case_event_types.event
class CareProceedingsIssued(CareProceedingsIssueFacts, DatedEvent):
    """Care proceedings issued; the statutory limit is 26 weeks."""

    event_type = "CareProceedingsIssued"
    statutory_deadline: Day


class CareProceedingsHearingFacts(Facts):
    proceedings_id: str = Id
    hearing_date: Day


@case_event_types.event
class CareProceedingsHearingHeld(CareProceedingsHearingFacts, DatedEvent):
    event_type = "CareProceedingsHearingHeld"


class CareProceedingsConclusionFacts(Facts):
    proceedings_id: str = Id
    concluded_on: Day
    order: CourtOrder


@case_event_types.event
class CareProceedingsConcluded(CareProceedingsConclusionFacts, DatedEvent):
    event_type = "CareProceedingsConcluded"
    weeks_taken: int = Field(ge=0)
    within_26_weeks: bool


# -- care leavers ----------------------------------------------------------------------------


class CareLeaverStatusFacts(Facts):
    recorded_on: Day
    status: CareLeaverStatus


@case_event_types.event
class CareLeaverStatusRecorded(CareLeaverStatusFacts, DatedEvent):
    event_type = "CareLeaverStatusRecorded"


class PersonalAdviserFacts(Facts):
    allocated_on: Day
    adviser_id: str = Field(pattern=ID_PATTERN, description="Pseudonymous id of the PA.")


@case_event_types.event
class PersonalAdviserAllocated(PersonalAdviserFacts, DatedEvent):
    event_type = "PersonalAdviserAllocated"


class PathwayPlanFacts(Facts):
    created_on: Day


@case_event_types.event
class PathwayPlanCreated(PathwayPlanFacts, DatedEvent):
    """A pathway plan; reviewed at least every 6 months."""

    event_type = "PathwayPlanCreated"
    review_due: Day


class PathwayPlanReviewFacts(Facts):
    review_date: Day


@case_event_types.event
class PathwayPlanReviewed(PathwayPlanReviewFacts, DatedEvent):
    event_type = "PathwayPlanReviewed"
    next_review_due: Day


class ContactFacts(Facts):
    contact_date: Day
    in_touch: InTouch


@case_event_types.event
class ContactRecorded(ContactFacts, DatedEvent):
    """Contact (or an attempt) with a care leaver, with the SSDA903 in-touch code."""

    event_type = "ContactRecorded"


# -- health ----------------------------------------------------------------------------------


class HealthPassportOfferFacts(Facts):
    offered_on: Day
    milestone: HealthPassportMilestone


@case_event_types.event
class HealthPassportOffered(HealthPassportOfferFacts, DatedEvent):
    event_type = "HealthPassportOffered"


class HealthPassportAcceptanceFacts(Facts):
    accepted_on: Day


@case_event_types.event
class HealthPassportAccepted(HealthPassportAcceptanceFacts, DatedEvent):
    event_type = "HealthPassportAccepted"


class HealthAssessmentFacts(Facts):
    assessment_date: Day
    kind: HealthAssessmentKind


@case_event_types.event
class HealthAssessmentCompleted(HealthAssessmentFacts, DatedEvent):
    event_type = "HealthAssessmentCompleted"


# -- missing and priority --------------------------------------------------------------------


class MissingEpisodeFacts(Facts):
    started_on: Day
    ended_on: Day | None = None
    kind: MissingKind


@case_event_types.event
class MissingEpisodeRecorded(MissingEpisodeFacts, DatedEvent):
    event_type = "MissingEpisodeRecorded"


class PriorityFlagFacts(Facts):
    set_on: Day
    reason: PriorityReason


@case_event_types.event
class PriorityCohortFlagSet(PriorityFlagFacts, DatedEvent):
    """The young person joins the priority cohort tracked weekly by senior managers."""

    event_type = "PriorityCohortFlagSet"


class PriorityFlagClearFacts(Facts):
    cleared_on: Day
    reason: ClearedReason


@case_event_types.event
class PriorityCohortFlagCleared(PriorityFlagClearFacts, DatedEvent):
    event_type = "PriorityCohortFlagCleared"


# -- personal data: sealed with the child's own key, erasable ---------------------------------

SEALED_PATTERN = r"^sealed:v1:[A-Za-z0-9_-]+$"
Sealed = Field(
    None,
    pattern=SEALED_PATTERN,
    max_length=4000,
    description="AES-256-GCM under the child's own key (erasure deletes the key)",
)
PERSONAL_FIELDS = ("given_names", "family_name", "address", "notes")


class SealedPersonalDetails(Facts):
    given_names: str | None = Sealed
    family_name: str | None = Sealed
    address: str | None = Sealed
    notes: str | None = Sealed


@case_event_types.event
class PersonalDetailsRecorded(SealedPersonalDetails, DomainEvent):
    """The child's name, address or notes, each sealed with the child's key: unreadable to
    every consumer of the topic, and to everyone once the child's data is erased."""

    event_type = "PersonalDetailsRecorded"


class ErasureReason(StrEnum):
    SUBJECT_REQUEST = "subject_request"  # UK GDPR Article 17
    RETENTION_EXPIRED = "retention_expired"  # past the retention date
    RECORDED_IN_ERROR = "recorded_in_error"


class ErasureFacts(Facts):
    erased_on: Day
    reason: ErasureReason


@case_event_types.event
class ChildPersonalDataErased(ErasureFacts, DatedEvent):
    """The child's key was destroyed: every sealed field now reads as erased, everywhere.
    The statutory, non-identifying facts of the record remain."""

    event_type = "ChildPersonalDataErased"

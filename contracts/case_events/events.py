"""The events this service publishes on the `case-events` topic: its published contract.

Part of the published language (`contracts/`): any service and any partner may import it.
Each fact's fields are declared once (a `...Facts` model); the event adds what the service
derives when it records it (due dates, counts), and the command in the service's
`domain/commands.py` reuses the facts as its body.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from contracts.case_events.codes import (
    AdoptersLegalStatus,
    AdoptersSex,
    AdoptionDecisionReversalReason,
    AssessmentFactor,
    CareLeaverStatus,
    ChildInNeedClosureReason,
    ChildProtectionCategory,
    ClearedReason,
    ContactOutcome,
    CourtOrder,
    DeprivationOfLibertyBasis,
    Disability,
    Ethnicity,
    HealthAssessmentKind,
    HealthPassportMilestone,
    InTouch,
    LegalStatus,
    MissingKind,
    PermanencePlan,
    PlanType,
    PreProceedingsOutcome,
    PreviousPermanence,
    PrimaryNeed,
    PriorityReason,
    ReasonCeased,
    ReferralOutcome,
    ReferralSource,
    ReviewParticipation,
    SdqReason,
    Section47Outcome,
    Sex,
    SocialWorkerChangeReason,
)
from contracts.ids import (
    CHILD_ID_PATTERN,
    ID_PATTERN,
    LA_CODE_PATTERN,
    LOCALITY_PATTERN,
    POSTCODE_DISTRICT_PATTERN,
    WORKER_ID_PATTERN,
    Referenced,
)
from shared.envelope import DatedEvent, Day, DomainEvent, EventRegistry, Facts, at_start_of

case_event_types = EventRegistry()


Id = Field(pattern=ID_PATTERN, description="The recording system's id for this record.")
Locality = Annotated[
    str,
    Field(pattern=LOCALITY_PATTERN, description="One of the council's localities."),
    Referenced("locality"),
]
SocialWorkerId = Annotated[
    str,
    Field(pattern=WORKER_ID_PATTERN, description="Pseudonymous id of a council worker."),
    Referenced("social_worker"),
]
TeamId = Annotated[
    str,
    Field(pattern=ID_PATTERN, description="One of the council's teams."),
    Referenced("team"),
]
PostcodeDistrict = Annotated[
    str, Field(pattern=POSTCODE_DISTRICT_PATTERN, description="A postcode's outward code.")
]


# -- the child ------------------------------------------------------------------------------


class ChildFacts(Facts):
    child_id: str = Field(
        pattern=CHILD_ID_PATTERN, description="The council's pseudonymous id for the child."
    )
    date_of_birth: Day
    locality: Locality


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
    locality: Locality


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
    completion_date: Day = Field(description="The day the assessment was authorised.")
    factors: list[AssessmentFactor] = Field(
        default_factory=list, max_length=40, description="Factors identified at the end."
    )
    primary_need: PrimaryNeed | None = Field(
        None,
        description="The child's category of primary need found by the assessment (the CIN "
        "census's PrimaryNeedCode for an episode with no child in need plan).",
    )


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


class EpisodeOfNeedClosureFacts(Facts):
    referral_id: str = Id
    closed_on: Day
    reason: ChildInNeedClosureReason


@case_event_types.event
class EpisodeOfNeedClosed(EpisodeOfNeedClosureFacts, DatedEvent):
    """The child's episode of need that began with the referral was closed: after an
    assessment or a section 47 enquiry that found no further action, at the end of a child
    protection plan with no step-down, or at the end of the last plan (the CIN census's
    CINclosureDate and ReasonForClosure). Nothing of the episode may be open then."""

    event_type = "EpisodeOfNeedClosed"


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
    previous_plans: int | None = Field(
        None,
        ge=0,
        le=99,
        description="Plans the child had before this one that the platform does not hold (an "
        "import of past returns: the CIN census's NumberOfPreviousCPP); the plan records the "
        "larger of this and the plans it holds.",
    )


@case_event_types.event
class ChildProtectionPlanStarted(DomainEvent):
    """A child protection plan started (after an initial child protection conference)."""

    event_type = "ChildProtectionPlanStarted"

    child_id: str = Field(pattern=CHILD_ID_PATTERN)
    # The pattern every command gave it (ChildProtectionPlanStartFacts): declared here too, so
    # a chronology shows it and the returns pair the plan with its reviews and its end.
    plan_id: str = Id
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
    home_postcode: PostcodeDistrict | None = None
    category_of_need: PrimaryNeed | None = Field(
        None,
        description="Why the child became looked after: SSDA903's CIN, N1 to N8 (N0 and N9 "
        "are the CIN census's only).",
    )


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
    participation: ReviewParticipation | None = None


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
    since: Day | None = Field(
        None,
        description="The day the young person first had care leaver status (derived: a "
        "re-recorded status does not restart the visiting clock); None in events recorded "
        "before it was derived.",
    )


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


# -- the child's characteristics and an unborn child --------------------------------------


class UnbornChildFacts(Facts):
    child_id: str = Field(
        pattern=CHILD_ID_PATTERN, description="The council's pseudonymous id for the child."
    )
    expected_date_of_birth: Day
    locality: Locality


@case_event_types.event
class UnbornChildRegistered(UnbornChildFacts, DomainEvent):
    """An unborn child became known (a pre-birth assessment or conference); `ChildBorn`
    follows with the date of birth."""

    event_type = "UnbornChildRegistered"


class BirthFacts(Facts):
    date_of_birth: Day


@case_event_types.event
class ChildBorn(BirthFacts, DatedEvent):
    event_type = "ChildBorn"


class CharacteristicsFacts(Facts):
    recorded_on: Day
    sex: Sex
    ethnicity: Ethnicity
    disabilities: list[Disability] = Field(
        default_factory=list, max_length=13, description="NONE, or each disability the child has."
    )
    unaccompanied_asylum_seeking: bool = False
    uasc_ceased_on: Day | None = Field(
        None, description="The day the child ceased to be an unaccompanied asylum seeker."
    )
    mother: bool | None = Field(
        None, description="A girl who is a mother (SSDA903's MOTHER); None: not recorded."
    )
    first_child_born_on: Day | None = Field(
        None, description="The day her first child was born (SSDA903's MC_DOB), if a mother."
    )


@case_event_types.event
class ChildCharacteristicsRecorded(CharacteristicsFacts, DatedEvent):
    """The child's sex, ethnicity, disabilities and asylum status as recorded on the day
    (each recording replaces the last)."""

    event_type = "ChildCharacteristicsRecorded"


# -- workforce ------------------------------------------------------------------------------


class SocialWorkerAllocationFacts(Facts):
    allocated_on: Day
    worker_id: SocialWorkerId
    team_id: TeamId
    reason: SocialWorkerChangeReason | None = Field(
        None, description="Why the social worker changed: required when one replaces another."
    )


@case_event_types.event
class SocialWorkerAllocated(SocialWorkerAllocationFacts, DatedEvent):
    """A social worker (in a team) is allocated to the child; ends any earlier allocation."""

    event_type = "SocialWorkerAllocated"
    previous_worker_id: str | None = None


class SocialWorkerAllocationEndFacts(Facts):
    ended_on: Day
    # Not `SocialWorkerId`: an allocation of a worker since retired must still be ended (the
    # decision checks it names the allocated worker).
    worker_id: str = Field(pattern=WORKER_ID_PATTERN)


@case_event_types.event
class SocialWorkerAllocationEnded(SocialWorkerAllocationEndFacts, DatedEvent):
    """The child has no allocated social worker from this day (the case closed or moved)."""

    event_type = "SocialWorkerAllocationEnded"


# -- statutory visits -----------------------------------------------------------------------


class StatutoryVisitFacts(Facts):
    visit_date: Day
    plan_type: PlanType
    seen: bool
    seen_alone: bool | None = Field(None, description="Only when the child was seen.")
    visitor_id: str = Field(pattern=WORKER_ID_PATTERN, description="Who visited (worker id).")


@case_event_types.event
class StatutoryVisitRecorded(StatutoryVisitFacts, DatedEvent):
    """A statutory visit under the child's plan, whether or not the child was seen."""

    event_type = "StatutoryVisitRecorded"


# -- the front door -------------------------------------------------------------------------


class FrontDoorContactFacts(Facts):
    contact_id: str = Id
    contact_date: Day
    source: ReferralSource
    outcome: ContactOutcome


@case_event_types.event
class FrontDoorContactReceived(FrontDoorContactFacts, DatedEvent):
    """A contact about the child at the front door, and what was decided on it."""

    event_type = "FrontDoorContactReceived"


class ReferralOutcomeFacts(Facts):
    referral_id: str = Id
    decided_on: Day
    outcome: ReferralOutcome
    primary_need: PrimaryNeed | None = Field(
        None,
        description="The category of primary need the referral was accepted for (the CIN "
        "census's PrimaryNeedCode until an assessment or a plan finds one).",
    )


@case_event_types.event
class ReferralOutcomeRecorded(ReferralOutcomeFacts, DatedEvent):
    event_type = "ReferralOutcomeRecorded"


class Section47ConclusionFacts(Facts):
    discussion_id: str = Id
    concluded_on: Day
    outcome: Section47Outcome


@case_event_types.event
class Section47EnquiryConcluded(Section47ConclusionFacts, DatedEvent):
    """The section 47 enquiry the strategy discussion started concluded."""

    event_type = "Section47EnquiryConcluded"


# -- children in care: health, missing, adoption, permanence, liberty -----------------------


class HealthOutcomesFacts(Facts):
    recorded_on: Day
    convicted: bool
    health_check: bool = Field(description="Health check up to date.")
    immunisations: bool = Field(description="Immunisations up to date.")
    teeth_check: bool = Field(description="Dental check up to date.")
    health_assessment: bool = Field(description="Health assessment up to date.")
    substance_misuse: bool = Field(description="Identified as having a substance misuse problem.")
    intervention_received: bool | None = None
    intervention_offered: bool | None = None
    sdq_score: int | None = Field(None, ge=0, le=40, description="Strengths and Difficulties.")
    sdq_reason: SdqReason | None = Field(None, description="Why there is no SDQ score.")


@case_event_types.event
class HealthOutcomesRecorded(HealthOutcomesFacts, DatedEvent):
    """The outcomes the SSDA903 OC2 table reports for a child in care."""

    event_type = "HealthOutcomesRecorded"


class ReturnInterviewFacts(Facts):
    # `offered_on` first: an event's first date field is when it occurred.
    offered_on: Day
    missing_started_on: Day = Field(description="The start of the episode it follows.")
    accepted: bool


@case_event_types.event
class ReturnHomeInterviewOffered(ReturnInterviewFacts, DatedEvent):
    """A return home interview offered after a missing episode (due within 72 hours)."""

    event_type = "ReturnHomeInterviewOffered"
    within_72_hours: bool


class AdoptionDecisionFacts(Facts):
    decided_on: Day


@case_event_types.event
class AdoptionDecisionMade(AdoptionDecisionFacts, DatedEvent):
    """The agency decision maker decided the child should be placed for adoption."""

    event_type = "AdoptionDecisionMade"


class AdoptionDecisionReversalFacts(Facts):
    reversed_on: Day
    reason: AdoptionDecisionReversalReason


@case_event_types.event
class AdoptionDecisionReversed(AdoptionDecisionReversalFacts, DatedEvent):
    event_type = "AdoptionDecisionReversed"


class AdoptionMatchFacts(Facts):
    matched_on: Day
    adopted_by_foster_carer: bool
    number_of_adopters: int = Field(ge=1, le=2)
    adopters_sex: AdoptersSex
    adopters_legal_status: AdoptersLegalStatus


@case_event_types.event
class AdoptionMatched(AdoptionMatchFacts, DatedEvent):
    event_type = "AdoptionMatched"


class PreviousPermanenceFacts(Facts):
    recorded_on: Day
    arrangement: PreviousPermanence
    order_date: Day | None = None
    local_authority: str | None = Field(
        None, pattern=LA_CODE_PATTERN, description="The DfE code of the LA that made it."
    )


@case_event_types.event
class PreviousPermanenceRecorded(PreviousPermanenceFacts, DatedEvent):
    event_type = "PreviousPermanenceRecorded"


class DeprivationOfLibertyFacts(Facts):
    authorised_on: Day
    basis: DeprivationOfLibertyBasis
    expires_on: Day | None = None


@case_event_types.event
class DeprivationOfLibertyAuthorised(DeprivationOfLibertyFacts, DatedEvent):
    event_type = "DeprivationOfLibertyAuthorised"


class DeprivationOfLibertyEndFacts(Facts):
    ended_on: Day


@case_event_types.event
class DeprivationOfLibertyEnded(DeprivationOfLibertyEndFacts, DatedEvent):
    event_type = "DeprivationOfLibertyEnded"


# -- personal data: sealed with the child's own key, erasable ---------------------------------

SEALED_PATTERN = r"^sealed:v1:[A-Za-z0-9_-]+$"
Sealed = Field(
    None,
    pattern=SEALED_PATTERN,
    max_length=4000,
    description="AES-256-GCM under the child's own key (erasure deletes the key)",
)
PERSONAL_FIELDS = ("given_names", "family_name", "address", "notes", "upn")


class SealedPersonalDetails(Facts):
    given_names: str | None = Sealed
    family_name: str | None = Sealed
    address: str | None = Sealed
    notes: str | None = Sealed
    upn: str | None = Sealed


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

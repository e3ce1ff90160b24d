"""What a practitioner (or the case-management integration) asks the service to record.

Each command's body is the facts of the event it asks for (declared once in events.py); the
service derives the rest (due dates, counts) when it records it.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from contracts.case_events import events as e
from contracts.ids import UPN_PATTERN, upn_check_letter
from shared.commands import PersonalFields, example

PlainText = Field(None, min_length=1, max_length=1000)


class PersonalDetails(PersonalFields):
    """Personal fields, as the practitioner types them. Never stored or sent as they are:
    the service seals each with the child's own key before recording it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    given_names: str | None = PlainText
    family_name: str | None = PlainText
    address: str | None = PlainText
    notes: str | None = PlainText
    upn: str | None = Field(
        None,
        pattern=UPN_PATTERN,
        description="The child's Unique Pupil Number (DfE): its first character is the check "
        "letter of the other twelve.",
    )

    @field_validator("upn")
    @classmethod
    def _upn_check_letter(cls, upn: str | None) -> str | None:
        """A mistyped UPN is refused here, before it is sealed: once sealed, nothing in the
        service can read it to find the mistake."""
        if upn is not None and upn[0] != upn_check_letter(upn):
            raise ValueError("the check letter (first character) does not match the UPN")
        return upn


class RegisterChild(e.ChildFacts):
    model_config = example(
        child_id="C-000123",
        date_of_birth="2012-05-14",
        locality="Exeter",
        personal={"given_names": "Sam", "family_name": "Example"},
    )
    personal: PersonalDetails | None = None


class RegisterUnbornChild(e.UnbornChildFacts):
    model_config = example(
        child_id="C-000124",
        expected_date_of_birth="2025-03-01",
        locality="Exeter",
        personal={"family_name": "Example"},
    )
    personal: PersonalDetails | None = None


class RecordBirth(e.BirthFacts):
    model_config = example(date_of_birth="2025-02-26")


class RecordCharacteristics(e.CharacteristicsFacts):
    model_config = example(
        recorded_on="2024-01-09",
        sex="2",
        ethnicity="WBRI",
        disabilities=["NONE"],
        unaccompanied_asylum_seeking=False,
        mother=False,
    )


class RecordPersonalDetails(PersonalDetails):
    model_config = example(address="1 Example Street, Exeter", upn="A950000178301")


class EraseChildPersonalData(e.ErasureFacts):
    model_config = example(erased_on="2025-01-31", reason="subject_request")


class RecordReferral(e.ReferralFacts):
    model_config = example(referral_id="R-2024-118", referral_date="2024-01-08", source="6")


class RecordFrontDoorContact(e.FrontDoorContactFacts):
    model_config = example(
        contact_id="CT-2024-0311", contact_date="2024-01-05", source="2A", outcome="referral"
    )


class RecordReferralOutcome(e.ReferralOutcomeFacts):
    model_config = example(referral_id="R-2024-118", decided_on="2024-01-09", outcome="assessment")


class CloseEpisodeOfNeed(e.EpisodeOfNeedClosureFacts):
    model_config = example(referral_id="R-2024-118", closed_on="2024-02-20", reason="RC8")


class AllocateSocialWorker(e.SocialWorkerAllocationFacts):
    model_config = example(allocated_on="2024-01-09", worker_id="SW-0001", team_id="T-EX-CIN")


class EndSocialWorkerAllocation(e.SocialWorkerAllocationEndFacts):
    model_config = example(ended_on="2024-09-30", worker_id="SW-0001")


class RecordStatutoryVisit(e.StatutoryVisitFacts):
    model_config = example(
        visit_date="2024-03-01", plan_type="CIN", seen=True, seen_alone=True, visitor_id="SW-0001"
    )


class RecordTriageDiscussion(e.TriageFacts):
    model_config = example(discussion_date="2024-03-04", locality="North")


class StartAssessment(e.AssessmentStartFacts):
    model_config = example(assessment_id="A-2024-77", start_date="2024-01-09")


class CompleteAssessment(e.AssessmentCompletionFacts):
    model_config = example(
        assessment_id="A-2024-77",
        completion_date="2024-02-20",
        factors=["3A", "4B"],
        primary_need="N1",
    )


class StartChildInNeedPlan(e.ChildInNeedPlanStartFacts):
    model_config = example(plan_id="CIN-31", start_date="2024-02-21", primary_need="N1")


class EndChildInNeedPlan(e.ChildInNeedPlanEndFacts):
    model_config = example(plan_id="CIN-31", end_date="2024-09-30", reason="RC7")


class RecordStrategyDiscussion(e.StrategyDiscussionFacts):
    model_config = example(
        discussion_id="SD-9", discussion_date="2024-02-01", section_47_enquiry=True
    )


class ConcludeSection47Enquiry(e.Section47ConclusionFacts):
    model_config = example(discussion_id="SD-9", concluded_on="2024-02-14", outcome="icpc")


class RecordInitialConference(e.ConferenceFacts):
    model_config = example(conference_date="2024-02-20", plan_required=True)


class StartChildProtectionPlan(e.ChildProtectionPlanStartFacts):
    model_config = example(plan_id="CPP-2024-0042", category="NEG", start_date="2024-02-20")


class ReviewChildProtectionPlan(e.ChildProtectionPlanReviewFacts):
    model_config = example(plan_id="CPP-2024-0042", review_date="2024-05-14")


class EndChildProtectionPlan(e.ChildProtectionPlanEndFacts):
    model_config = example(plan_id="CPP-2024-0042", end_date="2024-11-12")


class StartPeriodOfCare(e.PeriodOfCareStartFacts):
    model_config = example(
        start_date="2024-06-03", legal_status="C1", home_postcode="EX4", category_of_need="N1"
    )


class ChangeLegalStatus(e.LegalStatusChangeFacts):
    model_config = example(change_date="2024-11-20", legal_status="C2")


class EndPeriodOfCare(e.PeriodOfCareEndFacts):
    model_config = example(end_date="2030-05-14", reason="E17")


class RecordLookedAfterReview(e.LookedAfterReviewFacts):
    model_config = example(review_date="2024-06-28", participation="PN1")


class RecordPermanencePlan(e.PermanencePlanFacts):
    model_config = example(recorded_on="2024-08-01", plan="long_term_fostering")


class RecordHealthOutcomes(e.HealthOutcomesFacts):
    model_config = example(
        recorded_on="2025-03-31",
        convicted=False,
        health_check=True,
        immunisations=True,
        teeth_check=True,
        health_assessment=True,
        substance_misuse=False,
        sdq_score=14,
    )


class MakeAdoptionDecision(e.AdoptionDecisionFacts):
    model_config = example(decided_on="2024-09-12")


class ReverseAdoptionDecision(e.AdoptionDecisionReversalFacts):
    model_config = example(reversed_on="2025-01-20", reason="RD1")


class RecordAdoptionMatch(e.AdoptionMatchFacts):
    model_config = example(
        matched_on="2024-12-02",
        adopted_by_foster_carer=False,
        number_of_adopters=2,
        adopters_sex="MF",
        adopters_legal_status="L11",
    )


class RecordPreviousPermanence(e.PreviousPermanenceFacts):
    model_config = example(
        recorded_on="2024-06-03", arrangement="P2", order_date="2019-07-01", local_authority="878"
    )


class AuthoriseDeprivationOfLiberty(e.DeprivationOfLibertyFacts):
    model_config = example(authorised_on="2024-07-01", basis="s25", expires_on="2024-09-30")


class EndDeprivationOfLiberty(e.DeprivationOfLibertyEndFacts):
    model_config = example(ended_on="2024-09-30")


class EnterPreProceedings(e.PreProceedingsEntryFacts):
    model_config = example(entered_on="2024-03-11")


class RecordPreProceedingsMeeting(e.PreProceedingsMeetingFacts):
    model_config = example(meeting_date="2024-03-25")


class SendLetterBeforeProceedings(e.LetterBeforeProceedingsFacts):
    model_config = example(sent_on="2024-03-12")


class ConcludePreProceedings(e.PreProceedingsOutcomeFacts):
    model_config = example(concluded_on="2024-05-20", outcome="issue")


class IssueCareProceedings(e.CareProceedingsIssueFacts):
    model_config = example(proceedings_id="LJ24C00123", issued_on="2024-05-28")


class RecordCareProceedingsHearing(e.CareProceedingsHearingFacts):
    model_config = example(proceedings_id="LJ24C00123", hearing_date="2024-06-03")


class ConcludeCareProceedings(e.CareProceedingsConclusionFacts):
    model_config = example(
        proceedings_id="LJ24C00123", concluded_on="2024-11-20", order="care_order"
    )


class RecordCareLeaverStatus(e.CareLeaverStatusFacts):
    model_config = example(recorded_on="2028-05-14", status="relevant")


class AllocatePersonalAdviser(e.PersonalAdviserFacts):
    model_config = example(allocated_on="2028-02-01", adviser_id="PA-17")


class CreatePathwayPlan(e.PathwayPlanFacts):
    model_config = example(created_on="2028-02-14")


class ReviewPathwayPlan(e.PathwayPlanReviewFacts):
    model_config = example(review_date="2028-08-01")


class RecordContact(e.ContactFacts):
    model_config = example(contact_date="2028-09-04", in_touch="YES")


class OfferHealthPassport(e.HealthPassportOfferFacts):
    model_config = example(offered_on="2028-05-20", milestone="16")


class AcceptHealthPassport(e.HealthPassportAcceptanceFacts):
    model_config = example(accepted_on="2028-06-02")


class RecordHealthAssessment(e.HealthAssessmentFacts):
    model_config = example(assessment_date="2024-06-27", kind="initial")


class RecordMissingEpisode(e.MissingEpisodeFacts):
    model_config = example(started_on="2025-01-10", ended_on="2025-01-11", kind="M")


class OfferReturnHomeInterview(e.ReturnInterviewFacts):
    model_config = example(missing_started_on="2025-01-10", offered_on="2025-01-13", accepted=True)


class SetPriorityCohortFlag(e.PriorityFlagFacts):
    model_config = example(set_on="2028-10-01", reason="unsuitable_accommodation")


class ClearPriorityCohortFlag(e.PriorityFlagClearFacts):
    model_config = example(cleared_on="2029-01-15", reason="no_longer_a_concern")

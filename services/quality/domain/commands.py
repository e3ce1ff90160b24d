"""Commands of the quality service: the contract's facts, and the free text in the clear.

The free text (findings, summary, finding, comment, learning, decisions) arrives plain and is
sealed with the subject's key by the API before anything is decided or stored
(services/quality/routes/sealed.py); the events carry only the sealed text.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from contracts.ids import ID_PATTERN, LOCALITY_PATTERN, Referenced
from contracts.quality import events as e
from shared.commands import example

# Plain text, sealed before it is stored: never in a log, an event or a hash in the clear.
TEXT_MAX = 8000
Text = Field(None, min_length=1, max_length=TEXT_MAX, description="Sealed before it is stored.")


class RecordPracticeEvaluation(e.EvaluationFacts):
    findings: str | None = Text
    model_config = example(
        evaluation_id="PE-2024-07-001",
        child_id="C-000123",
        evaluated_on="2024-07-10",
        plan_type="CP",
        auditor_id="QA-1",
        practitioner_id="SW-12",
        grade="requires_improvement",
        strands=[
            {"strand": "voice_of_the_child", "grade": "good"},
            {"strand": "management_oversight", "grade": "requires_improvement"},
        ],
        findings="The child's wishes are recorded but not reflected in the plan.",
    )


class ModeratePracticeEvaluation(e.ModerationFacts):
    model_config = example(moderated_on="2024-07-17", moderator_id="QA-2", grade="good")


class AgreeQualityAction(e.ActionFacts):
    summary: str | None = Text
    model_config = example(
        action_id="A-1",
        agreed_on="2024-07-10",
        owner_id="TM-4",
        due_on="2024-08-10",
        summary="Review the plan with the child and record their views.",
    )


class CompleteQualityAction(e.ActionCompletedFacts):
    action_id: str = Field(pattern=ID_PATTERN)
    model_config = example(action_id="A-1", completed_on="2024-08-02")


class OpenPartnershipAudit(e.AuditFacts):
    model_config = example(
        audit_id="PA-2024-03",
        opened_on="2024-06-03",
        theme="Neglect",
        cases=["C-000123", "C-000456"],
        agencies=["social_care", "police", "health", "schools"],
    )


class RecordAuditFinding(e.AuditFindingFacts):
    finding: str | None = Text
    model_config = example(
        finding_id="F-1",
        recorded_on="2024-06-20",
        agency="health",
        finding="Health visitor contacts were not shared with the core group.",
    )


class ConcludePartnershipAudit(e.AuditCloseFacts):
    model_config = example(concluded_on="2024-07-15")


class LaunchFeedbackSurvey(e.SurveyFacts):
    model_config = example(
        survey_id="FS-2020-21",
        title="Parents' feedback on child protection conferences",
        opens_on="2020-04-01",
        closes_on="2020-07-31",
        questions=[
            {"question_id": "Q1", "text": "Did you understand why we were involved?"},
            {"question_id": "Q2", "text": "Were your views listened to?"},
        ],
    )


# One of the council's localities (its reference data, kept by case events): a response
# naming another, or a retired one, is refused with the known ones listed.
Locality = Annotated[
    str,
    Field(pattern=LOCALITY_PATTERN, description="One of the council's localities."),
    Referenced("locality"),
]


class RecordFeedbackResponse(e.ResponseFacts):
    locality: Locality | None = Field(None, description="Taken from the child when one is named.")
    comment: str | None = Text
    model_config = example(
        response_id="R-1",
        responded_on="2020-05-12",
        respondent="parent",
        answers=[
            {"question_id": "Q1", "answer": "yes"},
            {"question_id": "Q2", "answer": "partly"},
        ],
        service="CP",
        locality="Exeter",
        comment="The social worker explained everything.",
    )


class NotifySeriousIncident(e.IncidentFacts):
    model_config = example(
        incident_id="SI-2024-02",
        child_id="C-000123",
        aware_on="2024-03-04",
        notified_on="2024-03-07",
    )


class CompleteRapidReview(e.RapidReviewFacts):
    model_config = example(completed_on="2024-03-22", decision="local_review")


class CommissionPracticeReview(e.ReviewCommissionFacts):
    model_config = example(commissioned_on="2024-04-10")


class PublishPracticeReview(e.ReviewPublishFacts):
    model_config = example(published_on="2024-11-28")


class RecordLearningPoint(e.LearningFacts):
    learning: str | None = Text
    model_config = example(
        learning_id="L-1",
        recorded_on="2024-03-22",
        learning="Information about the father was held by probation and not shared.",
    )


class AddImprovementPriority(e.PriorityFacts):
    model_config = example(
        priority_id="P1", added_on="2024-04-01", title="Timely, child-focused plans"
    )


class SetImprovementMeasure(e.MeasureFacts):
    model_config = example(
        measure_id="M1",
        priority_id="P1",
        set_on="2024-04-01",
        measure={"board": "practice-evaluations", "figure": "good_or_better"},
        use="percentage",
        target=60.0,
        direction="higher_is_better",
    )


class HoldPerformanceSurgery(e.SurgeryFacts):
    decisions: str | None = Text
    model_config = example(
        surgery_id="S-2024-05",
        held_on="2024-05-14",
        figures=[{"board": "practice-evaluations", "figure": "good_or_better"}],
        decisions="Team managers to dip sample every CP plan before its first review.",
    )


# One command per kind of record for the same action, so each route has its own operation id
# and body schema in the OpenAPI document.


class AgreeEvaluationAction(AgreeQualityAction):
    pass


class AgreeAuditAction(AgreeQualityAction):
    model_config = example(
        action_id="A-1",
        agreed_on="2024-06-20",
        owner_id="HV-LEAD-2",
        due_on="2024-09-01",
        agency="health",
        summary="Share health visitor contacts with the core group.",
    )


class AgreeIncidentAction(AgreeQualityAction):
    pass


class AgreePlanAction(AgreeQualityAction):
    model_config = example(
        action_id="A-1",
        agreed_on="2024-05-14",
        owner_id="SM-1",
        due_on="2024-07-31",
        priority_id="P1",
        summary="Dip sample every CP plan before its first review.",
    )


class CompleteEvaluationAction(CompleteQualityAction):
    pass


class CompleteAuditAction(CompleteQualityAction):
    pass


class CompleteIncidentAction(CompleteQualityAction):
    pass


class CompletePlanAction(CompleteQualityAction):
    pass


class DraftBoardPack(e.BoardPackFacts):
    localities: list[Locality] = Field(
        default_factory=list,
        max_length=50,
        description="The council's localities, each a table of its own; none: the county.",
    )
    model_config = example(
        pack_id="BP-2020-07",
        title="Safeguarding partnership executive, July 2020",
        as_at="2020-07-08",
        boards=["attendance", "early-help-triage"],
        localities=[],
        view="partnership",
    )


class RecordBoardPackCommentary(e.CommentaryFacts):
    commentary: str | None = Text
    model_config = example(
        commentary_id="BPC-1",
        section="early-help-triage",
        commentary="Analysis is under way to understand the rise in families discussed.",
    )

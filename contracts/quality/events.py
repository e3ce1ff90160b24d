"""The events the quality service publishes on `quality-events`: its published contract.

Streams, each by its record's id: a practice evaluation (naming its child), a partnership
audit, a feedback survey (its responses on the same stream), a serious incident, the
improvement plan, and a partnership board pack (its commentary on the same stream). Free text
(findings, comments, learning, decisions, action summaries, commentary) is
sealed with the subject's own key before it is stored: the child's when the record names one,
otherwise the record's; erasing that key leaves the graded, countable facts and nothing to read.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from contracts.ids import CHILD_ID_PATTERN, ID_PATTERN, LOCALITY_PATTERN, WORKER_ID_PATTERN
from contracts.quality.codes import (
    ActionOf,
    Answer,
    AuditAgency,
    Direction,
    EvaluatedPlan,
    Grade,
    PackView,
    Respondent,
    ReviewDecision,
    ServiceArea,
    Strand,
)
from shared.envelope import DatedEvent, Day, DomainEvent, EventRegistry, Facts

quality_event_types = EventRegistry()

SEALED_PATTERN = r"^sealed:v1:[A-Za-z0-9_-]+$"
Sealed = Field(
    None,
    pattern=SEALED_PATTERN,
    max_length=44000,  # 8,000 characters of text, sealed (multi-byte text grows most)
    description="AES-256-GCM under the subject's own key (the child's, else the record's)",
)


class StrandGrade(Facts):
    strand: Strand
    grade: Grade


class Question(Facts):
    question_id: str = Field(pattern=ID_PATTERN)
    text: str = Field(min_length=1, max_length=300, description="Not personal: the wording.")


class Answered(Facts):
    question_id: str = Field(pattern=ID_PATTERN)
    answer: Answer


class FigureRef(Facts):
    """A board's figure: its board's name and the figure's key (docs/boards.md)."""

    board: str = Field(pattern=ID_PATTERN)
    figure: str = Field(min_length=1, max_length=120)


# -- practice evaluations (case audits) -------------------------------------------------------


class EvaluationFacts(Facts):
    evaluation_id: str = Field(pattern=ID_PATTERN)
    child_id: str = Field(pattern=CHILD_ID_PATTERN)
    evaluated_on: Day
    plan_type: EvaluatedPlan
    auditor_id: str = Field(pattern=WORKER_ID_PATTERN)
    practitioner_id: str = Field(pattern=WORKER_ID_PATTERN)
    grade: Grade
    strands: list[StrandGrade] = Field(default_factory=list, max_length=len(Strand))


@quality_event_types.event
class PracticeEvaluationRecorded(EvaluationFacts, DatedEvent):
    """A case audit: the overall grade and each strand's, with the findings sealed."""

    event_type = "PracticeEvaluationRecorded"
    locality: str = Field(pattern=LOCALITY_PATTERN)
    findings: str | None = Sealed


class ModerationFacts(Facts):
    moderated_on: Day
    moderator_id: str = Field(pattern=WORKER_ID_PATTERN)
    grade: Grade = Field(description="The moderator's grade: the same grade is agreement.")


@quality_event_types.event
class PracticeEvaluationModerated(ModerationFacts, DatedEvent):
    """A second auditor's moderation of the grade (never the original auditor)."""

    event_type = "PracticeEvaluationModerated"
    child_id: str
    original_grade: Grade
    agreed: bool


# -- actions, of every kind of record -----------------------------------------------------------


class ActionFacts(Facts):
    action_id: str = Field(pattern=ID_PATTERN)
    agreed_on: Day
    owner_id: str = Field(pattern=WORKER_ID_PATTERN)
    due_on: Day
    agency: AuditAgency | None = Field(None, description="Partnership audits: the agency's action.")
    priority_id: str | None = Field(None, pattern=ID_PATTERN, description="Improvement plan.")


@quality_event_types.event
class QualityActionAgreed(ActionFacts, DatedEvent):
    """An action agreed from an evaluation, an audit, a serious incident's learning or the
    improvement plan: its owner and due date, its summary sealed."""

    event_type = "QualityActionAgreed"
    of: ActionOf
    summary: str | None = Sealed


class ActionCompletedFacts(Facts):
    completed_on: Day


@quality_event_types.event
class QualityActionCompleted(ActionCompletedFacts, DatedEvent):
    event_type = "QualityActionCompleted"
    action_id: str
    of: ActionOf
    agency: AuditAgency | None = None


# -- partnership audits -----------------------------------------------------------------------


class AuditFacts(Facts):
    audit_id: str = Field(pattern=ID_PATTERN)
    opened_on: Day
    theme: str = Field(min_length=1, max_length=200, description="Not personal: the theme.")
    cases: list[Annotated[str, Field(pattern=CHILD_ID_PATTERN)]] = Field(
        min_length=1, max_length=200, description="Children sampled (their ids)."
    )
    agencies: list[AuditAgency] = Field(min_length=1, max_length=len(AuditAgency))


@quality_event_types.event
class PartnershipAuditOpened(AuditFacts, DatedEvent):
    """The partnership's quality assurance group opened a 'live' multi-agency audit."""

    event_type = "PartnershipAuditOpened"


class AuditFindingFacts(Facts):
    finding_id: str = Field(pattern=ID_PATTERN)
    recorded_on: Day
    agency: AuditAgency


@quality_event_types.event
class PartnershipAuditFindingRecorded(AuditFindingFacts, DatedEvent):
    event_type = "PartnershipAuditFindingRecorded"
    finding: str | None = Sealed


class AuditCloseFacts(Facts):
    concluded_on: Day


@quality_event_types.event
class PartnershipAuditConcluded(AuditCloseFacts, DatedEvent):
    event_type = "PartnershipAuditConcluded"


# -- feedback: surveys and responses ------------------------------------------------------------


class SurveyFacts(Facts):
    survey_id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    opens_on: Day
    closes_on: Day
    questions: list[Question] = Field(min_length=1, max_length=50)


@quality_event_types.event
class FeedbackSurveyLaunched(SurveyFacts, DatedEvent):
    event_type = "FeedbackSurveyLaunched"


class ResponseFacts(Facts):
    response_id: str = Field(pattern=ID_PATTERN)
    responded_on: Day
    respondent: Respondent
    answers: list[Answered] = Field(min_length=1, max_length=50)
    child_id: str | None = Field(None, pattern=CHILD_ID_PATTERN)
    service: ServiceArea | None = None


@quality_event_types.event
class FeedbackResponseRecorded(ResponseFacts, DatedEvent):
    """A parent's, carer's or young person's answers; a skipped question is `not_answered`."""

    event_type = "FeedbackResponseRecorded"
    locality: str | None = Field(None, pattern=LOCALITY_PATTERN)
    comment: str | None = Sealed


# -- serious incidents ---------------------------------------------------------------------------


class IncidentFacts(Facts):
    incident_id: str = Field(pattern=ID_PATTERN)
    child_id: str = Field(pattern=CHILD_ID_PATTERN)
    aware_on: Day = Field(
        description="The day the council became aware: the notification's clock starts."
    )
    notified_on: Day = Field(description="Notified to the national panel (5 working days).")


@quality_event_types.event
class SeriousIncidentNotified(IncidentFacts, DatedEvent):
    event_type = "SeriousIncidentNotified"
    locality: str = Field(pattern=LOCALITY_PATTERN)
    notification_due: Day
    working_days_to_notify: int


class RapidReviewFacts(Facts):
    completed_on: Day
    decision: ReviewDecision


@quality_event_types.event
class RapidReviewCompleted(RapidReviewFacts, DatedEvent):
    """The rapid review and its decision: `due` and `working_days` count from the notification
    to the national panel (15 working days). Recorded before 7 December 2026, they counted
    from awareness."""

    event_type = "RapidReviewCompleted"
    due: Day
    working_days: int


class ReviewCommissionFacts(Facts):
    commissioned_on: Day


@quality_event_types.event
class PracticeReviewCommissioned(ReviewCommissionFacts, DatedEvent):
    """A Child Safeguarding Practice Review commissioned (local, or recommended nationally)."""

    event_type = "PracticeReviewCommissioned"
    decision: ReviewDecision


class ReviewPublishFacts(Facts):
    published_on: Day


@quality_event_types.event
class PracticeReviewPublished(ReviewPublishFacts, DatedEvent):
    event_type = "PracticeReviewPublished"


class LearningFacts(Facts):
    learning_id: str = Field(pattern=ID_PATTERN)
    recorded_on: Day


@quality_event_types.event
class LearningPointRecorded(LearningFacts, DatedEvent):
    """A learning point, to be taken back to teams by its actions."""

    event_type = "LearningPointRecorded"
    learning: str | None = Sealed


# -- the improvement plan and performance surgeries -------------------------------------------


class PriorityFacts(Facts):
    priority_id: str = Field(pattern=ID_PATTERN)
    added_on: Day
    title: str = Field(min_length=1, max_length=200, description="Not personal: the priority.")


@quality_event_types.event
class ImprovementPriorityAdded(PriorityFacts, DatedEvent):
    event_type = "ImprovementPriorityAdded"


class MeasureFacts(Facts):
    measure_id: str = Field(pattern=ID_PATTERN)
    priority_id: str = Field(pattern=ID_PATTERN)
    set_on: Day
    measure: FigureRef
    use: str = Field("percentage", pattern=r"^(count|percentage)$")
    target: float
    direction: Direction


@quality_event_types.event
class ImprovementMeasureSet(MeasureFacts, DatedEvent):
    """A measure of a priority: a board's figure and its target (set again to change it)."""

    event_type = "ImprovementMeasureSet"


class SurgeryFacts(Facts):
    surgery_id: str = Field(pattern=ID_PATTERN)
    held_on: Day
    figures: list[FigureRef] = Field(min_length=1, max_length=50)


@quality_event_types.event
class PerformanceSurgeryHeld(SurgeryFacts, DatedEvent):
    """A performance surgery: the figures looked at, its decisions sealed (its actions are
    agreed on the plan like any other)."""

    event_type = "PerformanceSurgeryHeld"
    decisions: str | None = Sealed


# -- partnership board packs --------------------------------------------------------------------

BOARD_PATTERN = r"^[a-z][a-z0-9-]{0,63}$"  # a board's name, as docs/boards.md heads it


class BoardPackFacts(Facts):
    pack_id: str = Field(pattern=ID_PATTERN)
    title: str = Field(
        min_length=1, max_length=200, description="Not personal: the meeting, e.g. the board's."
    )
    as_at: Day = Field(description="The day the pack's figures are as at (never in the future).")
    boards: list[Annotated[str, Field(pattern=BOARD_PATTERN)]] = Field(
        min_length=1, max_length=40, description="The boards, one section each, in this order."
    )
    localities: list[Annotated[str, Field(pattern=LOCALITY_PATTERN)]] = Field(
        default_factory=list,
        max_length=50,
        description="The localities, each a section's table of its own; none: the county.",
    )
    view: PackView = PackView.PARTNERSHIP


@quality_event_types.event
class BoardPackDrafted(BoardPackFacts, DomainEvent):
    """A board pack chosen: its boards, the day and the localities, and whose figures
    (`view`). Drafted when recorded; who drafted it is the envelope's actor."""

    event_type = "BoardPackDrafted"


class CommentaryFacts(Facts):
    commentary_id: str = Field(pattern=ID_PATTERN)
    section: str = Field(pattern=BOARD_PATTERN, description="The board whose section it is.")


@quality_event_types.event
class BoardPackCommentaryRecorded(CommentaryFacts, DomainEvent):
    """A person's commentary on one section of a pack, sealed with the pack's key; who wrote
    it, and when, are the envelope's actor and recorded-at (taken from the token, never the
    body)."""

    event_type = "BoardPackCommentaryRecorded"
    commentary: str | None = Sealed

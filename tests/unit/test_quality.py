"""Quality assurance rules, without I/O: every rule accepted and refused, the statutory clocks
of a serious incident in working days, and the moderation's agreement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from contracts.quality import events as e
from contracts.quality.codes import (
    ActionOf,
    AuditAgency,
    Grade,
    ReviewDecision,
    notification_due,
    rapid_review_due,
)
from services.quality.domain import commands as c
from services.quality.domain.audit import PartnershipAudit
from services.quality.domain.evaluation import PracticeEvaluation
from services.quality.domain.incident import SeriousIncident
from services.quality.domain.plan import ImprovementPlan
from services.quality.domain.survey import FeedbackSurvey
from services.quality.routes.sealed import SEALED_MAX, UnknownCase
from shared.aggregate import (
    Aggregate,
    AlreadyRecorded,
    Decision,
    DomainRuleViolation,
    KnownChild,
    UnknownStream,
)
from shared.commands import referenced_fields
from shared.envelope import DomainEvent
from shared.sealing import seal

CHILD = KnownChild("C-1", date(2015, 1, 1), "Exeter")
D = Decision(today=date(2024, 9, 30), child=CHILD)
SEALED = seal(bytes(32), "C-1", "findings", "The plan does not reflect the child's wishes.")


def fold(aggregate: Aggregate, events: Sequence[DomainEvent]) -> Sequence[DomainEvent]:
    for event in events:
        aggregate.when(event)
        aggregate.version += 1
    return events


def refused(field: str, match: str = "") -> Any:
    """pytest.raises for a DomainRuleViolation naming `field`."""

    class Check:
        def __enter__(self) -> None:
            self.raises = pytest.raises(DomainRuleViolation, match=match)
            self.info = self.raises.__enter__()

        def __exit__(self, *exc: Any) -> bool:
            handled = self.raises.__exit__(*exc)
            assert self.info.value.field == field, self.info.value
            return bool(handled)

    return Check()


# -- practice evaluations -----------------------------------------------------------------------


def evaluation_cmd(**overrides: Any) -> c.RecordPracticeEvaluation:
    fields: dict[str, Any] = {
        "evaluation_id": "PE-1",
        "child_id": "C-1",
        "evaluated_on": "2024-07-10",
        "plan_type": "CP",
        "auditor_id": "QA-1",
        "practitioner_id": "SW-1",
        "grade": "requires_improvement",
        "strands": [
            {"strand": "voice_of_the_child", "grade": "good"},
            {"strand": "planning", "grade": "inadequate"},
        ],
    }
    return c.RecordPracticeEvaluation(**{**fields, **overrides})


def recorded_evaluation() -> PracticeEvaluation:
    evaluation = PracticeEvaluation("PE-1")
    fold(evaluation, evaluation.record(evaluation_cmd(findings="plain"), D, SEALED))
    return evaluation


def test_an_evaluation_is_recorded_in_the_childs_locality_with_only_the_sealed_findings() -> None:
    evaluation = PracticeEvaluation("PE-1")
    [event] = evaluation.record(evaluation_cmd(findings="plain"), D, SEALED)
    assert isinstance(event, e.PracticeEvaluationRecorded)
    assert (event.locality, event.findings, event.grade) == (
        "Exeter",
        SEALED,
        Grade.REQUIRES_IMPROVEMENT,
    )
    assert "plain" not in event.model_dump_json()
    with pytest.raises(ValidationError):  # the event takes nothing but sealed text
        evaluation.record(evaluation_cmd(), D, "the findings in the clear")


def test_an_evaluation_refuses_a_grade_off_the_scale_a_strand_twice_and_a_future_date() -> None:
    with pytest.raises(ValidationError, match="grade"):
        evaluation_cmd(grade="satisfactory")
    with pytest.raises(ValidationError, match="strand"):
        evaluation_cmd(strands=[{"strand": "charm", "grade": "good"}])
    twice = [{"strand": "risk", "grade": "good"}, {"strand": "risk", "grade": "inadequate"}]
    with refused("strands[1].strand", "graded twice"):
        PracticeEvaluation("PE-1").record(evaluation_cmd(strands=twice), D, None)
    with refused("evaluated_on", "future"):
        PracticeEvaluation("PE-1").record(evaluation_cmd(evaluated_on="2024-10-01"), D, None)
    with refused("evaluated_on", "date of birth"):
        PracticeEvaluation("PE-1").record(evaluation_cmd(evaluated_on="2014-12-31"), D, None)
    with pytest.raises(AlreadyRecorded):
        recorded_evaluation().record(evaluation_cmd(), D, None)


def test_a_moderation_agrees_when_the_second_auditor_gives_the_same_grade() -> None:
    for grade, agreed in ((Grade.REQUIRES_IMPROVEMENT, True), (Grade.GOOD, False)):
        evaluation = recorded_evaluation()
        [event] = evaluation.moderate(
            c.ModeratePracticeEvaluation(
                moderated_on="2024-07-17", moderator_id="QA-2", grade=grade
            ),
            D,
        )
        assert isinstance(event, e.PracticeEvaluationModerated)
        assert (event.agreed, event.original_grade, event.child_id) == (
            agreed,
            Grade.REQUIRES_IMPROVEMENT,
            "C-1",
        )


def test_a_moderation_is_by_another_auditor_after_the_evaluation_and_once() -> None:
    def moderation(**overrides: Any) -> c.ModeratePracticeEvaluation:
        fields = {"moderated_on": "2024-07-17", "moderator_id": "QA-2", "grade": "good"}
        return c.ModeratePracticeEvaluation(**{**fields, **overrides})

    evaluation = recorded_evaluation()
    with refused("moderator_id", "original auditor"):
        evaluation.moderate(moderation(moderator_id="QA-1"), D)
    with refused("moderated_on", "before the evaluation"):
        evaluation.moderate(moderation(moderated_on="2024-07-09"), D)
    with refused("moderated_on", "future"):
        evaluation.moderate(moderation(moderated_on="2024-10-01"), D)
    fold(evaluation, evaluation.moderate(moderation(), D))
    with pytest.raises(AlreadyRecorded):
        evaluation.moderate(moderation(), D)
    with pytest.raises(UnknownStream):
        PracticeEvaluation("PE-2").moderate(moderation(), D)


def action(**overrides: Any) -> c.AgreeQualityAction:
    fields = {
        "action_id": "A-1",
        "agreed_on": "2024-07-10",
        "owner_id": "TM-1",
        "due_on": "2024-08-10",
    }
    return c.AgreeQualityAction(**{**fields, **overrides})


def completion(**overrides: Any) -> c.CompleteQualityAction:
    return c.CompleteQualityAction(
        **{"action_id": "A-1", "completed_on": "2024-08-01", **overrides}
    )


def test_an_evaluations_action_is_due_after_it_and_completed_once() -> None:
    evaluation = recorded_evaluation()
    with refused("due_on", "before the evaluation"):
        evaluation.agree_action(action(due_on="2024-07-09"), D, None)
    with refused("agreed_on", "before the evaluation"):
        evaluation.agree_action(action(agreed_on="2024-07-09"), D, None)
    with refused("agreed_on", "future"):
        evaluation.agree_action(action(agreed_on="2024-10-01", due_on="2024-11-01"), D, None)
    with refused("agency", "partnership audit"):
        evaluation.agree_action(action(agency="police"), D, None)
    with refused("priority_id", "improvement plan"):
        evaluation.agree_action(action(priority_id="P1"), D, None)
    [agreed] = fold(evaluation, evaluation.agree_action(action(), D, SEALED))
    assert isinstance(agreed, e.QualityActionAgreed)
    assert (agreed.of, agreed.summary) == (ActionOf.PRACTICE_EVALUATION, SEALED)
    with pytest.raises(AlreadyRecorded):
        evaluation.agree_action(action(), D, None)
    with refused("action_id", "no such action"):
        evaluation.complete_action(completion(action_id="A-9"), D)
    with refused("completed_on", "before the action"):
        evaluation.complete_action(completion(completed_on="2024-07-09"), D)
    [done] = fold(evaluation, evaluation.complete_action(completion(), D))
    assert isinstance(done, e.QualityActionCompleted) and done.of is ActionOf.PRACTICE_EVALUATION
    with refused("action_id", "already completed"):
        evaluation.complete_action(completion(), D)


# -- partnership audits -------------------------------------------------------------------------


def opened_audit() -> PartnershipAudit:
    audit = PartnershipAudit("PA-1")
    fold(
        audit,
        audit.open(
            c.OpenPartnershipAudit(
                audit_id="PA-1",
                opened_on="2024-06-03",
                theme="Neglect",
                cases=["C-1", "C-2"],
                agencies=["social_care", "police", "health"],
            ),
            D,
        ),
    )
    return audit


def test_an_audit_refuses_an_agency_or_case_twice_and_a_future_opening() -> None:
    def opening(**overrides: Any) -> c.OpenPartnershipAudit:
        fields = {
            "audit_id": "PA-1",
            "opened_on": "2024-06-03",
            "theme": "Neglect",
            "cases": ["C-1"],
            "agencies": ["police"],
        }
        return c.OpenPartnershipAudit(**{**fields, **overrides})

    with refused("agencies[1]", "twice"):
        PartnershipAudit("PA-1").open(opening(agencies=["police", "police"]), D)
    with refused("cases[2]", "twice"):
        PartnershipAudit("PA-1").open(opening(cases=["C-1", "C-2", "C-1"]), D)
    with refused("opened_on", "future"):
        PartnershipAudit("PA-1").open(opening(opened_on="2024-10-01"), D)
    with pytest.raises(AlreadyRecorded):
        opened_audit().open(opening(), D)


@pytest.mark.parametrize("case", ["", "x", "C 1", "C-1; DROP TABLE", "<script>", "C-" + "1" * 63])
def test_an_audits_cases_are_child_ids_in_the_contract(case: str) -> None:
    """The sample names children by their ids (the topic's partners and the projections read
    them as such): anything else is refused, naming its place in the list."""
    fields = {"audit_id": "PA-1", "opened_on": "2024-06-03", "theme": "Neglect"}
    with pytest.raises(ValidationError) as refusal:
        c.OpenPartnershipAudit(**fields, cases=["C-1", case], agencies=["police"])
    assert [error["loc"] for error in refusal.value.errors()] == [("cases", 1)]
    with pytest.raises(ValidationError):
        e.PartnershipAuditOpened(**fields, cases=[case], agencies=["police"])


def test_an_unknown_case_is_answered_as_an_unknown_child_naming_its_place() -> None:
    unknown = UnknownCase(3, "C-9")
    assert isinstance(unknown, UnknownStream)  # a 404, as for a record's own unknown child
    assert str(unknown) == "cases[3]: no record of 'C-9'"


def test_an_audits_findings_and_actions_are_for_the_agencies_taking_part() -> None:
    audit = opened_audit()
    finding = {"finding_id": "F-1", "recorded_on": "2024-06-20", "agency": "health"}
    with refused("agency", "not taking part"):
        audit.record_finding(c.RecordAuditFinding(**{**finding, "agency": "schools"}), D, None)
    with refused("recorded_on", "before the audit"):
        audit.record_finding(
            c.RecordAuditFinding(**{**finding, "recorded_on": "2024-06-02"}), D, None
        )
    [found] = fold(audit, audit.record_finding(c.RecordAuditFinding(**finding), D, SEALED))
    assert isinstance(found, e.PartnershipAuditFindingRecorded) and found.finding == SEALED
    with pytest.raises(AlreadyRecorded):
        audit.record_finding(c.RecordAuditFinding(**finding), D, None)

    with refused("agency", "required"):
        audit.agree_action(action(agreed_on="2024-06-20"), D, None)
    with refused("agency", "not taking part"):
        audit.agree_action(action(agreed_on="2024-06-20", agency="housing"), D, None)
    with refused("due_on", "before the audit"):
        audit.agree_action(
            action(agreed_on="2024-06-03", due_on="2024-06-01", agency="police"), D, None
        )
    [agreed] = fold(
        audit, audit.agree_action(action(agreed_on="2024-06-20", agency="police"), D, None)
    )
    assert isinstance(agreed, e.QualityActionAgreed) and agreed.agency is AuditAgency.POLICE

    with refused("concluded_on", "before the audit"):
        audit.conclude(c.ConcludePartnershipAudit(concluded_on="2024-06-01"), D)
    fold(audit, audit.conclude(c.ConcludePartnershipAudit(concluded_on="2024-07-15"), D))
    with refused("concluded_on", "concluded"):
        audit.conclude(c.ConcludePartnershipAudit(concluded_on="2024-07-16"), D)
    with refused("recorded_on", "concluded"):
        audit.record_finding(c.RecordAuditFinding(**{**finding, "finding_id": "F-2"}), D, None)
    # an action agreed before the conclusion is still followed up, and carries its agency
    [done] = audit.complete_action(completion(completed_on="2024-08-01"), D)
    assert isinstance(done, e.QualityActionCompleted) and done.agency is AuditAgency.POLICE


# -- feedback surveys ---------------------------------------------------------------------------


def launched_survey() -> FeedbackSurvey:
    survey = FeedbackSurvey("FS-1")
    fold(
        survey,
        survey.launch(
            c.LaunchFeedbackSurvey(
                survey_id="FS-1",
                title="CP conferences",
                opens_on="2020-04-01",
                closes_on="2020-07-31",
                questions=[
                    {"question_id": "Q1", "text": "Did you understand why we were involved?"},
                    {"question_id": "Q2", "text": "Were your views listened to?"},
                ],
            ),
            D,
        ),
    )
    return survey


def response(**overrides: Any) -> c.RecordFeedbackResponse:
    fields: dict[str, Any] = {
        "response_id": "R-1",
        "responded_on": "2020-05-12",
        "respondent": "parent",
        "answers": [
            {"question_id": "Q1", "answer": "yes"},
            {"question_id": "Q2", "answer": "not_answered"},
        ],
    }
    return c.RecordFeedbackResponse(**{**fields, **overrides})


def test_a_survey_closes_after_it_opens_and_asks_each_question_once() -> None:
    def launch(**overrides: Any) -> c.LaunchFeedbackSurvey:
        fields = {
            "survey_id": "FS-1",
            "title": "t",
            "opens_on": "2020-04-01",
            "closes_on": "2020-07-31",
            "questions": [{"question_id": "Q1", "text": "q"}],
        }
        return c.LaunchFeedbackSurvey(**{**fields, **overrides})

    with refused("closes_on", "before the survey opens"):
        FeedbackSurvey("FS-1").launch(launch(closes_on="2020-03-31"), D)
    with refused("questions[1].question_id", "twice"):
        FeedbackSurvey("FS-1").launch(
            launch(
                questions=[{"question_id": "Q1", "text": "a"}, {"question_id": "Q1", "text": "b"}]
            ),
            D,
        )
    with refused("opens_on", "future"):
        FeedbackSurvey("FS-1").launch(launch(opens_on="2024-10-01", closes_on="2024-12-01"), D)
    with pytest.raises(AlreadyRecorded):
        launched_survey().launch(launch(), D)


def test_a_response_answers_the_surveys_questions_once_each_within_its_period() -> None:
    survey = launched_survey()
    with refused("answers[1].question_id", "not a question"):
        survey.respond(
            response(
                answers=[
                    {"question_id": "Q1", "answer": "yes"},
                    {"question_id": "Q9", "answer": "no"},
                ]
            ),
            D,
            None,
        )
    with refused("answers[1].question_id", "answered twice"):
        survey.respond(
            response(
                answers=[
                    {"question_id": "Q1", "answer": "yes"},
                    {"question_id": "Q1", "answer": "no"},
                ]
            ),
            D,
            None,
        )
    for outside in ("2020-03-31", "2020-08-01"):
        with refused("responded_on", "outside the survey's period"):
            survey.respond(response(responded_on=outside), D, None)
    with pytest.raises(ValidationError, match="answer"):
        response(answers=[{"question_id": "Q1", "answer": "maybe"}])
    [event] = fold(survey, survey.respond(response(locality="Exeter"), Decision(D.today), SEALED))
    assert isinstance(event, e.FeedbackResponseRecorded)
    assert (event.locality, event.comment, event.child_id) == ("Exeter", SEALED, None)
    with pytest.raises(AlreadyRecorded):
        survey.respond(response(), D, None)


def test_a_responses_locality_is_one_of_the_councils() -> None:
    """The API refuses a locality the council's reference data does not have (422 listing
    the known ones), as case events does a child's."""
    assert referenced_fields(c.RecordFeedbackResponse) == {"locality": "locality"}
    assert {
        kind
        for command in vars(c).values()
        if isinstance(command, type) and issubclass(command, BaseModel)
        for kind in referenced_fields(command).values()
    } == {"locality"}  # an auditor's or owner's id is not checked, as a visitor's is not


def test_a_response_naming_a_child_takes_the_childs_locality() -> None:
    survey = launched_survey()
    [event] = survey.respond(response(child_id="C-1"), D, None)
    assert isinstance(event, e.FeedbackResponseRecorded) and event.locality == "Exeter"
    with refused("locality", "child's locality"):
        survey.respond(response(child_id="C-1", locality="Torbay"), D, None)


# -- serious incidents --------------------------------------------------------------------------


def test_the_clocks_count_working_days_over_weekends_and_bank_holidays() -> None:
    # Monday 4 March 2024: five working days is Monday 11 March, fifteen is Monday 25 March.
    assert notification_due(date(2024, 3, 4)) == date(2024, 3, 11)
    assert rapid_review_due(date(2024, 3, 4)) == date(2024, 3, 25)
    # Monday 25 March 2024: Good Friday (29 March) and Easter Monday (1 April) do not count.
    assert notification_due(date(2024, 3, 25)) == date(2024, 4, 3)


def notified_incident(
    aware_on: str = "2024-03-04", notified_on: str = "2024-03-12"
) -> SeriousIncident:
    incident = SeriousIncident("SI-1")
    fold(
        incident,
        incident.notify(
            c.NotifySeriousIncident(
                incident_id="SI-1", child_id="C-1", aware_on=aware_on, notified_on=notified_on
            ),
            D,
        ),
    )
    return incident


def test_a_notification_records_its_clock_and_comes_after_awareness() -> None:
    incident = SeriousIncident("SI-1")
    [event] = incident.notify(
        c.NotifySeriousIncident(
            incident_id="SI-1", child_id="C-1", aware_on="2024-03-04", notified_on="2024-03-12"
        ),
        D,
    )
    assert isinstance(event, e.SeriousIncidentNotified)
    assert (event.notification_due, event.working_days_to_notify, event.locality) == (
        date(2024, 3, 11),
        6,  # a day late
        "Exeter",
    )
    with refused("notified_on", "before the council became aware"):
        SeriousIncident("SI-1").notify(
            c.NotifySeriousIncident(
                incident_id="SI-1", child_id="C-1", aware_on="2024-03-04", notified_on="2024-03-01"
            ),
            D,
        )
    with refused("aware_on", "future"):
        SeriousIncident("SI-1").notify(
            c.NotifySeriousIncident(
                incident_id="SI-1", child_id="C-1", aware_on="2024-10-04", notified_on="2024-10-04"
            ),
            D,
        )
    with pytest.raises(AlreadyRecorded):
        notified_incident().notify(
            c.NotifySeriousIncident(
                incident_id="SI-1", child_id="C-1", aware_on="2024-03-04", notified_on="2024-03-05"
            ),
            D,
        )


def test_the_rapid_review_follows_the_notification_and_counts_its_working_days() -> None:
    incident = notified_incident()
    with refused("completed_on", "before the notification"):
        incident.complete_rapid_review(
            c.CompleteRapidReview(completed_on="2024-03-11", decision="local_review"), D
        )
    [event] = fold(
        incident,
        incident.complete_rapid_review(
            c.CompleteRapidReview(completed_on="2024-04-04", decision="local_review"), D
        ),
    )
    assert isinstance(event, e.RapidReviewCompleted)
    # Fifteen working days from the notification (Tuesday 12 March), over Easter: in time,
    # just. From awareness (Monday 4 March) they would have ended on 25 March.
    assert (event.due, event.working_days) == (date(2024, 4, 4), 15)
    with refused("completed_on", "already recorded"):
        incident.complete_rapid_review(
            c.CompleteRapidReview(completed_on="2024-03-26", decision="no_review"), D
        )


def test_a_practice_review_is_commissioned_after_a_rapid_review_deciding_one() -> None:
    commission = c.CommissionPracticeReview(commissioned_on="2024-04-10")
    publish = c.PublishPracticeReview(published_on="2024-09-02")
    incident = notified_incident()
    with refused("commissioned_on", "no rapid review"):
        incident.commission_review(commission, D)
    with refused("published_on", "no practice review"):
        incident.publish_review(publish, D)
    declined = notified_incident()
    fold(
        declined,
        declined.complete_rapid_review(
            c.CompleteRapidReview(completed_on="2024-03-20", decision="no_review"), D
        ),
    )
    with refused("commissioned_on", "no review"):
        declined.commission_review(commission, D)

    fold(
        incident,
        incident.complete_rapid_review(
            c.CompleteRapidReview(completed_on="2024-03-20", decision="national_review"), D
        ),
    )
    with refused("commissioned_on", "before the rapid review"):
        incident.commission_review(c.CommissionPracticeReview(commissioned_on="2024-03-19"), D)
    [commissioned] = fold(incident, incident.commission_review(commission, D))
    assert isinstance(commissioned, e.PracticeReviewCommissioned)
    assert commissioned.decision is ReviewDecision.NATIONAL_REVIEW
    with refused("commissioned_on", "already commissioned"):
        incident.commission_review(commission, D)
    with refused("published_on", "before its commissioning"):
        incident.publish_review(c.PublishPracticeReview(published_on="2024-04-09"), D)
    with refused("published_on", "future"):
        incident.publish_review(c.PublishPracticeReview(published_on="2024-10-01"), D)
    fold(incident, incident.publish_review(publish, D))
    with refused("published_on", "already published"):
        incident.publish_review(publish, D)


def test_learning_points_and_their_actions_follow_awareness() -> None:
    incident = notified_incident()
    learning = {"learning_id": "L-1", "recorded_on": "2024-03-20"}
    with refused("recorded_on", "before the council became aware"):
        incident.record_learning(
            c.RecordLearningPoint(**{**learning, "recorded_on": "2024-03-01"}), D, None
        )
    [point] = fold(incident, incident.record_learning(c.RecordLearningPoint(**learning), D, SEALED))
    assert isinstance(point, e.LearningPointRecorded) and point.learning == SEALED
    with pytest.raises(AlreadyRecorded):
        incident.record_learning(c.RecordLearningPoint(**learning), D, None)
    with refused("due_on", "before the council became aware"):
        incident.agree_action(action(agreed_on="2024-03-20", due_on="2024-03-01"), D, None)
    [agreed] = incident.agree_action(action(agreed_on="2024-03-20"), D, None)
    assert isinstance(agreed, e.QualityActionAgreed) and agreed.of is ActionOf.SERIOUS_INCIDENT


# -- the improvement plan -----------------------------------------------------------------------


def priority(**overrides: Any) -> c.AddImprovementPriority:
    fields = {"priority_id": "P1", "added_on": "2024-04-01", "title": "Timely plans"}
    return c.AddImprovementPriority(**{**fields, **overrides})


def measure(**overrides: Any) -> c.SetImprovementMeasure:
    fields: dict[str, Any] = {
        "measure_id": "M1",
        "priority_id": "P1",
        "set_on": "2024-04-02",
        "measure": {"board": "practice-evaluations", "figure": "good_or_better"},
        "target": 60,
        "direction": "higher_is_better",
    }
    return c.SetImprovementMeasure(**{**fields, **overrides})


def test_the_plans_measures_and_actions_are_of_its_priorities() -> None:
    plan = ImprovementPlan("PLAN-1")
    with pytest.raises(UnknownStream):
        plan.set_measure(measure(), D)
    with refused("added_on", "future"):
        plan.add_priority(priority(added_on="2024-10-01"), D)
    fold(plan, plan.add_priority(priority(), D))
    with pytest.raises(AlreadyRecorded):
        plan.add_priority(priority(), D)
    with refused("priority_id", "no such priority"):
        plan.set_measure(measure(priority_id="P9"), D)
    with refused("set_on", "before the priority"):
        plan.set_measure(measure(set_on="2024-03-31"), D)
    fold(plan, plan.set_measure(measure(), D))
    fold(plan, plan.set_measure(measure(target=70), D))  # set again to change it

    with refused("priority_id", "required"):
        plan.agree_action(action(agreed_on="2024-05-14"), D, None)
    with refused("priority_id", "no such priority"):
        plan.agree_action(action(agreed_on="2024-05-14", priority_id="P9"), D, None)
    with refused("due_on", "before the priority"):
        plan.agree_action(
            action(agreed_on="2024-04-01", due_on="2024-03-01", priority_id="P1"), D, None
        )
    with refused("agency", "partnership audit"):
        plan.agree_action(
            action(agreed_on="2024-05-14", priority_id="P1", agency="police"), D, None
        )
    [agreed] = plan.agree_action(action(agreed_on="2024-05-14", priority_id="P1"), D, SEALED)
    assert isinstance(agreed, e.QualityActionAgreed) and agreed.of is ActionOf.IMPROVEMENT_PLAN


def test_a_surgery_is_held_on_an_existing_plan_once() -> None:
    surgery = c.HoldPerformanceSurgery(
        surgery_id="S-1",
        held_on="2024-05-14",
        figures=[{"board": "practice-evaluations", "figure": "good_or_better"}],
    )
    with pytest.raises(UnknownStream):
        ImprovementPlan("PLAN-1").hold_surgery(surgery, D, None)
    plan = ImprovementPlan("PLAN-1")
    fold(plan, plan.add_priority(priority(), D))
    with refused("held_on", "future"):
        plan.hold_surgery(surgery.model_copy(update={"held_on": date(2024, 10, 1)}), D, None)
    [held] = fold(plan, plan.hold_surgery(surgery, D, SEALED))
    assert isinstance(held, e.PerformanceSurgeryHeld) and held.decisions == SEALED
    with pytest.raises(AlreadyRecorded):
        plan.hold_surgery(surgery, D, None)


def test_a_record_of_one_kind_is_not_another_kind() -> None:
    """The service's streams share one store: an evaluation's id is no plan, audit or survey."""
    plan = ImprovementPlan("PE-1")
    fold(plan, [e.PracticeEvaluationRecorded(**evaluation_cmd().model_dump(), locality="Exeter")])
    with pytest.raises(AlreadyRecorded):
        plan.add_priority(priority(), D)
    audit = PartnershipAudit("PE-1")
    fold(audit, [e.PracticeEvaluationRecorded(**evaluation_cmd().model_dump(), locality="Exeter")])
    with pytest.raises(UnknownStream):
        audit.conclude(c.ConcludePartnershipAudit(concluded_on="2024-07-15"), D)


def test_plain_text_is_at_most_the_commands_limit_and_fits_the_event_once_sealed() -> None:
    with pytest.raises(ValidationError, match="findings"):
        evaluation_cmd(findings="x" * (c.TEXT_MAX + 1))
    assert len(seal(bytes(32), "C-1", "findings", "x" * 5000)) <= SEALED_MAX

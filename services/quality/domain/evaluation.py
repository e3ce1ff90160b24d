"""A practice evaluation (a case audit): the child's overall grade and each strand's, a second
auditor's moderation, and the actions it leads to."""

from __future__ import annotations

from contracts.quality import events as e
from contracts.quality.codes import ActionOf, Grade
from services.quality.domain import commands as c
from services.quality.domain.record import Actions, QualityRecord, not_given
from shared.aggregate import (
    AlreadyRecorded,
    Decision,
    DomainRuleViolation,
    check_day,
    known,
    not_before,
    not_in_future,
)
from shared.envelope import DomainEvent


class PracticeEvaluation(QualityRecord):
    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.child_id = ""
        self.auditor_id = ""
        self.grade: Grade | None = None
        self.moderated = False
        self.actions = Actions(ActionOf.PRACTICE_EVALUATION)

    def record(
        self, cmd: c.RecordPracticeEvaluation, d: Decision, findings: str | None
    ) -> list[DomainEvent]:
        self._new("evaluation")
        child = known(d)
        check_day("evaluated_on", cmd.evaluated_on, d, child.date_of_birth)
        graded: set[str] = set()
        for i, strand in enumerate(cmd.strands):
            if strand.strand in graded:
                raise DomainRuleViolation(f"strands[{i}].strand", "is graded twice")
            graded.add(strand.strand)
        return [
            e.PracticeEvaluationRecorded(
                **cmd.model_dump(exclude={"findings"}), locality=child.locality, findings=findings
            )
        ]

    def moderate(self, cmd: c.ModeratePracticeEvaluation, d: Decision) -> list[DomainEvent]:
        evaluated_on = self._opened()
        if self.grade is None:
            raise LookupError("an evaluation without its grade")  # set with evaluated_on
        if self.moderated:
            raise AlreadyRecorded(f"evaluation {self.stream_id!r} is already moderated")
        if cmd.moderator_id == self.auditor_id:
            raise DomainRuleViolation("moderator_id", "must not be the original auditor")
        not_in_future("moderated_on", cmd.moderated_on, d)
        not_before("moderated_on", cmd.moderated_on, evaluated_on, "the evaluation")
        return [
            e.PracticeEvaluationModerated(
                **cmd.model_dump(),
                child_id=self.child_id,
                original_grade=self.grade,
                agreed=cmd.grade == self.grade,
            )
        ]

    def agree_action(
        self, cmd: c.AgreeQualityAction, d: Decision, summary: str | None
    ) -> list[DomainEvent]:
        evaluated_on = self._opened()
        not_given("agency", cmd.agency, "a partnership audit's actions")
        not_given("priority_id", cmd.priority_id, "the improvement plan's actions")
        return [self.actions.agree(cmd, d, summary, evaluated_on, "the evaluation")]

    def complete_action(self, cmd: c.CompleteQualityAction, d: Decision) -> list[DomainEvent]:
        self._opened()
        return [self.actions.complete(cmd, d)]

    def when(self, event: DomainEvent) -> None:
        match event:
            case e.PracticeEvaluationRecorded():
                self.child_id, self.auditor_id = event.child_id, event.auditor_id
                self.grade, self.opened_on = event.grade, event.evaluated_on
            case e.PracticeEvaluationModerated():
                self.moderated = True
            case _:
                self.actions.when(event)

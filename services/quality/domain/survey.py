"""A feedback survey: its questions and the period it runs, and the responses of parents,
carers, children and young people (a skipped question is `not_answered`)."""

from __future__ import annotations

from datetime import date

from contracts.quality import events as e
from services.quality.domain import commands as c
from services.quality.domain.record import QualityRecord
from shared.aggregate import (
    AlreadyRecorded,
    Decision,
    DomainRuleViolation,
    KnownChild,
    not_before,
    not_in_future,
)
from shared.envelope import DomainEvent


class FeedbackSurvey(QualityRecord):
    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.closes_on: date | None = None
        self.questions: frozenset[str] = frozenset()
        self.responses: set[str] = set()

    def launch(self, cmd: c.LaunchFeedbackSurvey, d: Decision) -> list[DomainEvent]:
        self._new("survey")
        not_in_future("opens_on", cmd.opens_on, d)
        not_before("closes_on", cmd.closes_on, cmd.opens_on, "the survey opens")
        asked: set[str] = set()
        for i, question in enumerate(cmd.questions):
            if question.question_id in asked:
                raise DomainRuleViolation(f"questions[{i}].question_id", "is used twice")
            asked.add(question.question_id)
        return [e.FeedbackSurveyLaunched(**cmd.model_dump())]

    def respond(
        self, cmd: c.RecordFeedbackResponse, d: Decision, comment: str | None
    ) -> list[DomainEvent]:
        """A response; the child it names, if any, is the decision's (its locality is the
        response's)."""
        opens_on = self._opened()
        if cmd.response_id in self.responses:
            raise AlreadyRecorded(f"response {cmd.response_id!r} is already recorded")
        not_in_future("responded_on", cmd.responded_on, d)
        if not opens_on <= cmd.responded_on <= (self.closes_on or cmd.responded_on):
            raise DomainRuleViolation(
                "responded_on",
                f"is outside the survey's period ({opens_on.isoformat()} to "
                f"{self.closes_on.isoformat() if self.closes_on else '?'})",
            )
        answered: set[str] = set()
        for i, answer in enumerate(cmd.answers):
            if answer.question_id not in self.questions:
                raise DomainRuleViolation(
                    f"answers[{i}].question_id", "is not a question of this survey"
                )
            if answer.question_id in answered:
                raise DomainRuleViolation(f"answers[{i}].question_id", "is answered twice")
            answered.add(answer.question_id)
        locality = _locality(cmd, d.child)
        return [
            e.FeedbackResponseRecorded(
                **cmd.model_dump(exclude={"comment", "locality"}),
                locality=locality,
                comment=comment,
            )
        ]

    def when(self, event: DomainEvent) -> None:
        match event:
            case e.FeedbackSurveyLaunched():
                self.opened_on, self.closes_on = event.opens_on, event.closes_on
                self.questions = frozenset(q.question_id for q in event.questions)
            case e.FeedbackResponseRecorded():
                self.responses.add(event.response_id)


def _locality(cmd: c.RecordFeedbackResponse, child: KnownChild | None) -> str | None:
    """The child's locality when the response names a child; else the one given, if any."""
    if cmd.child_id is None:
        return cmd.locality
    if child is None or child.child_id != cmd.child_id:
        raise LookupError("a response naming a child needs the child looked up")
    if cmd.locality is not None and cmd.locality != child.locality:
        raise DomainRuleViolation("locality", "must be the child's locality, or left out")
    return child.locality

"""A serious incident: notification to the national panel (5 working days from awareness),
the rapid review (15 working days from that notification) and its decision, a Child
Safeguarding Practice Review commissioned and published, learning points and the actions
that take them back to teams."""

from __future__ import annotations

from datetime import date

from contracts.quality import events as e
from contracts.quality.codes import (
    ActionOf,
    ReviewDecision,
    notification_due,
    rapid_review_due,
)
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
from shared.calendar import working_days_between
from shared.envelope import DomainEvent


class SeriousIncident(QualityRecord):
    """`opened_on` is the day the council became aware: the notification's clock starts
    there, the rapid review's at the notification."""

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.notified_on: date | None = None
        self.reviewed_on: date | None = None
        self.decision: ReviewDecision | None = None
        self.commissioned_on: date | None = None
        self.published_on: date | None = None
        self.learning: set[str] = set()
        self.actions = Actions(ActionOf.SERIOUS_INCIDENT)

    def notify(self, cmd: c.NotifySeriousIncident, d: Decision) -> list[DomainEvent]:
        self._new("incident")
        child = known(d)
        check_day("aware_on", cmd.aware_on, d, child.date_of_birth)
        not_in_future("notified_on", cmd.notified_on, d)
        not_before("notified_on", cmd.notified_on, cmd.aware_on, "the council became aware")
        return [
            e.SeriousIncidentNotified(
                **cmd.model_dump(),
                locality=child.locality,
                notification_due=notification_due(cmd.aware_on),
                working_days_to_notify=working_days_between(cmd.aware_on, cmd.notified_on),
            )
        ]

    def complete_rapid_review(self, cmd: c.CompleteRapidReview, d: Decision) -> list[DomainEvent]:
        self._opened()
        notified_on = self.notified_on
        if notified_on is None:  # recorded with the incident: not in any stream written
            raise DomainRuleViolation("completed_on", "the notification is not recorded")
        if self.reviewed_on is not None:
            raise DomainRuleViolation(
                "completed_on", f"the rapid review is already recorded ({self.reviewed_on})"
            )
        not_in_future("completed_on", cmd.completed_on, d)
        not_before("completed_on", cmd.completed_on, notified_on, "the notification")
        return [
            e.RapidReviewCompleted(
                **cmd.model_dump(),
                due=rapid_review_due(notified_on),
                working_days=working_days_between(notified_on, cmd.completed_on),
            )
        ]

    def commission_review(self, cmd: c.CommissionPracticeReview, d: Decision) -> list[DomainEvent]:
        self._opened()
        if self.decision is None:
            raise DomainRuleViolation("commissioned_on", "no rapid review is recorded yet")
        if self.decision is ReviewDecision.NO_REVIEW:
            raise DomainRuleViolation("commissioned_on", "the rapid review decided on no review")
        if self.commissioned_on is not None:
            raise DomainRuleViolation(
                "commissioned_on", f"a review is already commissioned ({self.commissioned_on})"
            )
        not_in_future("commissioned_on", cmd.commissioned_on, d)
        not_before("commissioned_on", cmd.commissioned_on, self.reviewed_on, "the rapid review")
        return [e.PracticeReviewCommissioned(**cmd.model_dump(), decision=self.decision)]

    def publish_review(self, cmd: c.PublishPracticeReview, d: Decision) -> list[DomainEvent]:
        self._opened()
        if self.commissioned_on is None:
            raise DomainRuleViolation("published_on", "no practice review is commissioned")
        if self.published_on is not None:
            raise DomainRuleViolation(
                "published_on", f"the review is already published ({self.published_on})"
            )
        not_in_future("published_on", cmd.published_on, d)
        not_before("published_on", cmd.published_on, self.commissioned_on, "its commissioning")
        return [e.PracticeReviewPublished(**cmd.model_dump())]

    def record_learning(
        self, cmd: c.RecordLearningPoint, d: Decision, learning: str | None
    ) -> list[DomainEvent]:
        aware_on = self._opened()
        if cmd.learning_id in self.learning:
            raise AlreadyRecorded(f"learning point {cmd.learning_id!r} is already recorded")
        not_in_future("recorded_on", cmd.recorded_on, d)
        not_before("recorded_on", cmd.recorded_on, aware_on, "the council became aware")
        return [e.LearningPointRecorded(**cmd.model_dump(exclude={"learning"}), learning=learning)]

    def agree_action(
        self, cmd: c.AgreeQualityAction, d: Decision, summary: str | None
    ) -> list[DomainEvent]:
        aware_on = self._opened()
        not_given("agency", cmd.agency, "a partnership audit's actions")
        not_given("priority_id", cmd.priority_id, "the improvement plan's actions")
        return [self.actions.agree(cmd, d, summary, aware_on, "the council became aware")]

    def complete_action(self, cmd: c.CompleteQualityAction, d: Decision) -> list[DomainEvent]:
        self._opened()
        return [self.actions.complete(cmd, d)]

    def when(self, event: DomainEvent) -> None:
        match event:
            case e.SeriousIncidentNotified():
                self.opened_on, self.notified_on = event.aware_on, event.notified_on
            case e.RapidReviewCompleted():
                self.reviewed_on, self.decision = event.completed_on, event.decision
            case e.PracticeReviewCommissioned():
                self.commissioned_on = event.commissioned_on
            case e.PracticeReviewPublished():
                self.published_on = event.published_on
            case e.LearningPointRecorded():
                self.learning.add(event.learning_id)
            case _:
                self.actions.when(event)

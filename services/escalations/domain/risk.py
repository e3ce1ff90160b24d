"""A child's risk record: the RAG rating and its moderation, EWO escalations, drift alerts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from contracts.escalations import events as e
from contracts.escalations.codes import RAG, VISITING_FREQUENCY_DAYS, DriftRule, RatingSource
from services.escalations.domain import commands as c
from services.escalations.domain.rules import ewo_breach
from shared.aggregate import Aggregate, Decision, DomainRuleViolation, not_before, not_in_future
from shared.envelope import DomainEvent


class ChildRisk(Aggregate):
    registry = e.escalation_event_types

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.rating: RAG | None = None
        self.rated_on: date | None = None
        self.ewo_open_since: date | None = None
        self.ewo_closed_on: date | None = None
        self.open_alerts: set[tuple[DriftRule, str]] = set()

    def assign_rating(self, cmd: c.AssignRiskRating, d: Decision) -> list[DomainEvent]:
        not_in_future("rated_on", cmd.rated_on, d)
        not_before("rated_on", cmd.rated_on, self.rated_on, "the current rating")
        return [self._rating(cmd.rated_on, cmd.rating, RatingSource.ASSESSMENT)]

    def dip_sample(self, cmd: c.RecordDipSample, d: Decision) -> list[DomainEvent]:
        if self.rating is None:
            raise DomainRuleViolation("sampled_on", "the child has no rating to sample")
        not_in_future("sampled_on", cmd.sampled_on, d)
        not_before("sampled_on", cmd.sampled_on, self.rated_on, "the rating")
        sampled = e.RiskRatingDipSampled(**cmd.model_dump(), rating_sampled=self.rating)
        if cmd.agreed:
            if cmd.moderated_to is not None:
                raise DomainRuleViolation("moderated_to", "must be empty when the manager agrees")
            return [sampled]
        if cmd.moderated_to is None or cmd.moderated_to == self.rating:
            raise DomainRuleViolation(
                "moderated_to", f"must be a rating other than {self.rating.value}"
            )
        return [sampled, self._rating(cmd.sampled_on, cmd.moderated_to, RatingSource.MODERATION)]

    def _rating(self, on: date, rating: RAG, source: RatingSource) -> e.RiskRatingAssigned:
        return e.RiskRatingAssigned(
            rated_on=on,
            rating=rating,
            previous=self.rating,
            visiting_frequency_days=VISITING_FREQUENCY_DAYS[rating],
            source=source,
        )

    # -- by rule ----------------------------------------------------------------------------

    def raise_ewo(
        self, missed_by_day: Mapping[date, int], day: date, window_weeks: int, threshold: int
    ) -> list[DomainEvent]:
        """Raised when a window holding the register's `day` has `threshold` sessions missed
        (`ewo_breach`), counting none before the last escalation's closure."""
        if self.ewo_open_since is not None:
            return []  # one open EWO escalation at a time
        breach = ewo_breach(missed_by_day, day, window_weeks, threshold, self.ewo_closed_on)
        if breach is None:
            return []
        return [
            e.EWOAttendanceEscalationRaised(
                raised_on=breach.end,
                sessions_missed=breach.missed,
                window_start=breach.start,
                threshold=threshold,
            )
        ]

    def close_ewo(self, cmd: c.CloseEWOEscalation, d: Decision) -> list[DomainEvent]:
        if self.ewo_open_since is None:
            raise DomainRuleViolation("closed_on", "no EWO escalation is open")
        not_in_future("closed_on", cmd.closed_on, d)
        not_before("closed_on", cmd.closed_on, self.ewo_open_since, "the escalation")
        return [e.EWOAttendanceEscalationClosed(**cmd.model_dump())]

    def raise_drift(
        self, on: date, rule: DriftRule, subject_id: str, since: date, due: date
    ) -> list[DomainEvent]:
        if (rule, subject_id) in self.open_alerts:
            return []
        return [
            e.DriftAlertRaised(raised_on=on, rule=rule, subject_id=subject_id, since=since, due=due)
        ]

    def clear_drift(self, on: date, rule: DriftRule, subject_id: str) -> list[DomainEvent]:
        if (rule, subject_id) not in self.open_alerts:
            return []
        return [e.DriftAlertCleared(cleared_on=on, rule=rule, subject_id=subject_id)]

    def when(self, event: DomainEvent) -> None:
        match event:
            case e.RiskRatingAssigned():
                self.rating, self.rated_on = event.rating, event.rated_on
            case e.EWOAttendanceEscalationRaised():
                self.ewo_open_since = event.raised_on
            case e.EWOAttendanceEscalationClosed():
                self.ewo_open_since, self.ewo_closed_on = None, event.closed_on
            case e.DriftAlertRaised():
                self.open_alerts.add((event.rule, event.subject_id))
            case e.DriftAlertCleared():
                self.open_alerts.discard((event.rule, event.subject_id))

"""The rules that raise escalations by themselves. Pure: the caller brings the facts and today.

- EWO: a child who missed `threshold` sessions or more within `window_weeks` school weeks
  (counted as calendar weeks back from the day of the register) gets an EWO escalation.
- Drift: what a case event starts or stops watching, and when each watch falls due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from contracts.case_events import events as ce
from contracts.case_events.codes import InTouch
from contracts.escalations.codes import DriftRule
from shared.calendar import add_months
from shared.envelope import DomainEvent


def ewo_window_start(attendance_date: date, window_weeks: int) -> date:
    return attendance_date - timedelta(weeks=window_weeks) + timedelta(days=1)


def ewo_due(missed_in_window: int, threshold: int) -> bool:
    return missed_in_window >= threshold


@dataclass(frozen=True)
class Watch:
    """Start (or restart) watching: alert when `due` has passed and the watch is still open."""

    rule: DriftRule
    subject_id: str
    since: date
    due: date


@dataclass(frozen=True)
class StopWatching:
    rule: DriftRule
    subject_id: str
    on: date


def drift_changes(event: DomainEvent, no_contact_days: int) -> list[Watch | StopWatching]:
    match event:
        case ce.ChildProtectionPlanStarted():
            return [
                Watch(
                    DriftRule.CP_PLAN_9_MONTHS,
                    event.plan_id,
                    event.start_date,
                    add_months(event.start_date, 9),
                )
            ]
        case ce.ChildProtectionPlanEnded():
            return [StopWatching(DriftRule.CP_PLAN_9_MONTHS, event.plan_id, event.end_date)]
        case ce.PreProceedingsEntered():
            return [
                Watch(
                    DriftRule.PRE_PROCEEDINGS_12_WEEKS,
                    "pre-proceedings",
                    event.entered_on,
                    event.entered_on + timedelta(weeks=12),
                )
            ]
        case ce.PreProceedingsConcluded():
            return [
                StopWatching(
                    DriftRule.PRE_PROCEEDINGS_12_WEEKS, "pre-proceedings", event.concluded_on
                )
            ]
        case ce.CareProceedingsIssued():
            return [
                Watch(
                    DriftRule.PROCEEDINGS_26_WEEKS,
                    event.proceedings_id,
                    event.issued_on,
                    event.statutory_deadline,
                )
            ]
        case ce.CareProceedingsConcluded():
            return [
                StopWatching(
                    DriftRule.PROCEEDINGS_26_WEEKS, event.proceedings_id, event.concluded_on
                )
            ]
        case ce.PathwayPlanCreated():
            return [
                Watch(
                    DriftRule.PATHWAY_PLAN_REVIEW_OVERDUE,
                    "pathway-plan",
                    event.created_on,
                    event.review_due,
                )
            ]
        case ce.PathwayPlanReviewed():
            return [
                StopWatching(
                    DriftRule.PATHWAY_PLAN_REVIEW_OVERDUE, "pathway-plan", event.review_date
                ),
                Watch(
                    DriftRule.PATHWAY_PLAN_REVIEW_OVERDUE,
                    "pathway-plan",
                    event.review_date,
                    event.next_review_due,
                ),
            ]
        case ce.CareLeaverStatusRecorded():
            return [
                Watch(
                    DriftRule.NO_CONTACT,
                    "contact",
                    event.recorded_on,
                    event.recorded_on + timedelta(days=no_contact_days),
                )
            ]
        case ce.ContactRecorded() if event.in_touch is InTouch.YES:
            return [
                StopWatching(DriftRule.NO_CONTACT, "contact", event.contact_date),
                Watch(
                    DriftRule.NO_CONTACT,
                    "contact",
                    event.contact_date,
                    event.contact_date + timedelta(days=no_contact_days),
                ),
            ]
    return []

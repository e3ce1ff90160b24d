"""The rules that raise escalations by themselves. Pure: the caller brings the facts and today.

- EWO: a child who missed `threshold` sessions or more within `window_weeks` school weeks
  (counted as calendar weeks back from the day of the register) gets an EWO escalation.
- Drift: what a case event starts or stops watching, and when each watch falls due.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate

from contracts.case_events import events as ce
from contracts.case_events.codes import InTouch
from contracts.escalations.codes import DriftRule
from shared.calendar import add_months
from shared.envelope import DomainEvent


def ewo_window_start(attendance_date: date, window_weeks: int) -> date:
    return attendance_date - timedelta(weeks=window_weeks) + timedelta(days=1)


def ewo_due(missed_in_window: int, threshold: int) -> bool:
    return missed_in_window >= threshold


def ewo_reach(window_weeks: int) -> timedelta:
    """How far from a register's day the windows that hold it reach, either way."""
    return timedelta(weeks=window_weeks) - timedelta(days=1)


@dataclass(frozen=True)
class EWOBreach:
    start: date
    end: date  # the day of the register that ends the window
    missed: int


def ewo_breach(
    missed_by_day: Mapping[date, int],
    day: date,
    window_weeks: int,
    threshold: int,
    counted_after: date | None = None,
) -> EWOBreach | None:
    """The first window holding `day` (a register just recorded) with `threshold` sessions
    missed or more, or None. Every window that holds it is looked at, each ending on a day
    with a register (`missed_by_day`, the child's sessions missed by day around it): a day
    recorded late, or days sent newest first, can complete a window that ends after it.
    Only days after `counted_after` count (the last escalation's closure: the absences it
    was closed on are not raised again)."""
    days = sorted(missed_by_day)
    # Sessions missed before each day (a running total): a window's sum is two look-ups.
    before = list(accumulate((missed_by_day[d] for d in days), initial=0))
    for i in range(bisect_left(days, day), bisect_right(days, day + ewo_reach(window_weeks))):
        end = days[i]
        start = ewo_window_start(end, window_weeks)
        if counted_after is not None:
            start = max(start, counted_after + timedelta(days=1))
        missed = before[i + 1] - before[bisect_left(days, start)]
        if ewo_due(missed, threshold):
            return EWOBreach(start, end, missed)
    return None


@dataclass(frozen=True)
class Watch:
    """Start (or restart) watching: alert when `due` (the last day still in time) has passed
    and the watch is still open. A watch open from a later day is not moved back (a contact
    or a review entered late); one that does not `restart` leaves an open watch as it stands
    (a care leaver's status recorded again is no contact)."""

    rule: DriftRule
    subject_id: str
    since: date
    due: date
    restart: bool = True


@dataclass(frozen=True)
class StopWatching:
    """Stop watching from `on`; a watch open from a later day is not stopped by it."""

    rule: DriftRule
    subject_id: str
    on: date


def moves(change: Watch | StopWatching, open_since: date | None) -> bool:
    """Whether `change` moves a watch that is open from `open_since` (None: none open)."""
    if open_since is None:
        return True
    if isinstance(change, Watch):
        return change.restart and change.since >= open_since
    return change.on >= open_since


# The council's leaving-care duties (a personal adviser keeping in touch, the pathway plan
# kept under review) end at 25 (Children and Social Work Act 2017, s.3: personal adviser
# support to 25): a watch of them falling due on or after the 25th birthday raises no alert.
LEAVING_CARE_ENDS_AT_YEARS = 25
LEAVING_CARE_RULES = frozenset({DriftRule.NO_CONTACT, DriftRule.PATHWAY_PLAN_REVIEW_OVERDUE})


def duty_ended(rule: DriftRule, born: date | None, due: date) -> bool:
    """Whether the duty a watch stands for had ended by the day it fell due: a care
    leaver's, at 25. A child whose date of birth is not known is watched as ever."""
    if rule not in LEAVING_CARE_RULES or born is None:
        return False
    return add_months(born, 12 * LEAVING_CARE_ENDS_AT_YEARS) <= due


# Care leavers the council no longer has to keep in touch with (SSDA903's in-touch codes):
# died, no longer requiring services, returned home to live with a parent.
NO_LONGER_IN_TOUCH = {InTouch.DIED, InTouch.NOT_REQUIRED, InTouch.RETURNED_HOME}


def drift_changes(event: DomainEvent, no_contact_days: int) -> list[Watch | StopWatching]:
    match event:
        case ce.ChildProtectionPlanStarted():
            # Open nine months "or more" drifts on the day it reaches nine months, as the
            # boards and the attention list count it: the day before is the last in time.
            return [
                Watch(
                    DriftRule.CP_PLAN_9_MONTHS,
                    event.plan_id,
                    event.start_date,
                    add_months(event.start_date, 9) - timedelta(days=1),
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
                    restart=False,
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
        case ce.ContactRecorded() if event.in_touch in NO_LONGER_IN_TOUCH:
            return [StopWatching(DriftRule.NO_CONTACT, "contact", event.contact_date)]
    return []

"""The escalations worker's rules on a real PostgreSQL, through its own subscriptions' read
models (services/escalations/policies.py): attendance kept a session of a school at a time,
and the drift watch kept by what a case event really changes.

- A school's morning and afternoon registers sent apart both count: the afternoon's marks
  do not overwrite the morning's absence; days sent newest first complete a window too.
- A care leaver's status recorded again does not restart the no-contact clock, and an alert
  raised before it is cleared by the next contact (it was left open for ever).
- A contact entered late, dated before the clock's day, does not move the clock back.
- A care leaver who has died, no longer requires services or has returned home is not
  watched for contact any more.
- A new pathway plan over an overdue one clears the overdue one's alert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from contracts.case_events import events as ce
from contracts.education import events as ee
from deploy.database import MIGRATIONS
from services.escalations.policies import AttendancePolicy, DriftWatch, check_drift
from shared.envelope import Actor, Agency, DomainEvent, new_event_id
from shared.eventstore import CommandContext, PostgresEventStore, make_envelopes
from shared.settings import Settings
from tests.conftest import fresh_database
from tests.infrastructure import Infrastructure

pytestmark = pytest.mark.integration

CHILD = "C-rules-1"
DAY = date(2026, 3, 2)  # a Monday
SCHOOL = "100001"
SETTINGS = Settings(service="escalations", ewo_sessions_threshold=5, ewo_window_weeks=2)
WORKER = CommandContext(
    actor=Actor(user_id="escalations-worker", agency=Agency.PLATFORM, role="worker"),
    correlation_id=new_event_id(),
)


@pytest.fixture
async def pool(infra: Infrastructure, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    async with fresh_database(infra, namespace, "escalations", *MIGRATIONS["escalations"]) as pool:
        yield pool


async def applied(pool: asyncpg.Pool, projection: Any, *events: DomainEvent) -> None:
    """Each event applied as the worker's subscription applies it, a transaction each."""
    for event in events:
        [envelope] = make_envelopes(CHILD, 0, [event], WORKER)
        async with pool.acquire() as conn, conn.transaction():
            await projection.apply(conn, envelope, event)


async def recorded(pool: asyncpg.Pool) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event_type, e.payload) for e in await PostgresEventStore(pool).read_stream(CHILD)]


def register(day: date, *marks: tuple[str, str]) -> ee.AttendanceRecorded:
    session_marks = [ee.SessionMark(session=s, code=c) for s, c in marks]
    return ee.AttendanceRecorded(
        attendance_date=day,
        school_urn=SCHOOL,
        marks=session_marks,
        sessions_attended=sum(c in ("/", "\\") for _, c in marks),
        sessions_missed=sum(c == "O" for _, c in marks),
    )


async def test_a_morning_missed_counts_when_the_afternoon_comes_in_a_feed_of_its_own(
    pool: asyncpg.Pool,
) -> None:
    policy = AttendancePolicy(SETTINGS)
    for n in range(5):  # every morning missed, every afternoon attended, in feeds apart
        day = DAY + timedelta(days=n)
        await applied(pool, policy, register(day, ("AM", "O")), register(day, ("PM", "\\")))
    missed = await pool.fetchval("SELECT sum(missed) FROM absence_days WHERE child_id = $1", CHILD)
    assert missed == 5
    [(kind, escalation)] = await recorded(pool)
    assert kind == "EWOAttendanceEscalationRaised"
    assert escalation["sessions_missed"] == 5


async def test_days_sent_newest_first_complete_the_window_of_the_newest(
    pool: asyncpg.Pool,
) -> None:
    policy = AttendancePolicy(SETTINGS)
    for n in (2, 1, 0):  # a school's system catching up, newest day first
        day = DAY + timedelta(days=n)
        await applied(pool, policy, register(day, ("AM", "O"), ("PM", "O")))
    [(kind, escalation)] = await recorded(pool)
    assert kind == "EWOAttendanceEscalationRaised"
    assert (escalation["raised_on"], escalation["sessions_missed"]) == (
        (DAY + timedelta(days=2)).isoformat(),
        6,
    )


async def test_a_status_recorded_again_leaves_the_clock_and_the_next_contact_clears_the_alert(
    pool: asyncpg.Pool,
) -> None:
    watch = DriftWatch(SETTINGS)
    await applied(pool, watch, ce.CareLeaverStatusRecorded(recorded_on=DAY, status="relevant"))
    assert await check_drift(pool, DAY + timedelta(days=57)) == 1
    later = DAY + timedelta(days=60)
    await applied(
        pool, watch, ce.CareLeaverStatusRecorded(recorded_on=later, status="former_relevant")
    )
    row = await pool.fetchrow("SELECT since, open, alerted FROM drift_watch")
    assert dict(row) == {"since": DAY, "open": True, "alerted": True}  # no contact made

    contact = later + timedelta(days=1)
    await applied(pool, watch, ce.ContactRecorded(contact_date=contact, in_touch="YES"))
    kinds = [kind for kind, _ in await recorded(pool)]
    assert kinds == ["DriftAlertRaised", "DriftAlertCleared"]
    row = await pool.fetchrow("SELECT since, open, alerted FROM drift_watch")
    assert dict(row) == {"since": contact, "open": True, "alerted": False}


async def test_a_contact_entered_late_does_not_move_the_clock_back(pool: asyncpg.Pool) -> None:
    watch = DriftWatch(SETTINGS)
    await applied(
        pool,
        watch,
        ce.ContactRecorded(contact_date=DAY + timedelta(days=28), in_touch="YES"),
        ce.ContactRecorded(contact_date=DAY, in_touch="YES"),  # an earlier one, entered late
    )
    row = await pool.fetchrow("SELECT since, open FROM drift_watch")
    assert dict(row) == {"since": DAY + timedelta(days=28), "open": True}
    assert await check_drift(pool, DAY + timedelta(days=60)) == 0  # 32 days since the last


@pytest.mark.parametrize("code", ["DIED", "NREQ", "RHOM"])
async def test_a_care_leaver_no_longer_kept_in_touch_with_is_not_watched(
    pool: asyncpg.Pool, code: str
) -> None:
    watch = DriftWatch(SETTINGS)
    await applied(
        pool,
        watch,
        ce.CareLeaverStatusRecorded(recorded_on=DAY, status="relevant"),
        ce.ContactRecorded(contact_date=DAY + timedelta(days=10), in_touch=code),
    )
    assert await check_drift(pool, DAY + timedelta(days=100)) == 0
    assert await recorded(pool) == []


async def test_a_new_pathway_plan_over_an_overdue_one_clears_its_alert(pool: asyncpg.Pool) -> None:
    watch = DriftWatch(SETTINGS)
    review_due = DAY + timedelta(days=180)
    await applied(pool, watch, ce.PathwayPlanCreated(created_on=DAY, review_due=review_due))
    assert await check_drift(pool, review_due + timedelta(days=1)) == 1
    again = review_due + timedelta(days=5)
    await applied(
        pool,
        watch,
        ce.PathwayPlanCreated(created_on=again, review_due=again + timedelta(days=180)),
    )
    assert [kind for kind, _ in await recorded(pool)] == ["DriftAlertRaised", "DriftAlertCleared"]
    assert await check_drift(pool, again + timedelta(days=1)) == 0

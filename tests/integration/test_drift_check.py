"""The escalations worker's drift check (services/escalations/policies.py `check_drift`) on a
real PostgreSQL, against the drift watch its subscription keeps (`DriftWatch`): an alert is
raised for a watch as it was read, never for one a contact has moved on meanwhile."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from contracts.case_events import events as ce
from deploy.database import MIGRATIONS
from services.escalations.policies import DriftWatch, check_drift
from shared.envelope import Actor, Agency, new_event_id
from shared.eventstore import CommandContext, PostgresEventStore, make_envelopes
from shared.migrations import scripts_in
from shared.settings import Settings
from tests.conftest import fresh_database
from tests.infrastructure import Infrastructure

pytestmark = pytest.mark.integration

TODAY = date(2026, 5, 1)
CHILD = "C-drift-1"
WORKER = CommandContext(
    actor=Actor(user_id="escalations-worker", agency=Agency.PLATFORM, role="worker"),
    correlation_id=new_event_id(),
)


class ContactAppliedAfterTheRead:
    """The pool, but the care leaver's contact is applied by the subscription (`DriftWatch`,
    in a transaction of its own) just after the check has read the overdue watches: the
    interleaving of the check's loop and the worker's subscription."""

    def __init__(self, pool: asyncpg.Pool, contact_on: date) -> None:
        self.pool, self.contact_on = pool, contact_on

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows = await self.pool.fetch(query, *args)
        contact = ce.ContactRecorded(contact_date=self.contact_on, in_touch="YES")
        [envelope] = make_envelopes(CHILD, 1, [contact], WORKER)
        async with self.pool.acquire() as conn, conn.transaction():
            await DriftWatch(Settings(service="escalations")).apply(conn, envelope, contact)
        return rows

    def acquire(self) -> Any:
        return self.pool.acquire()


async def test_no_alert_for_a_watch_a_contact_moved_on_after_the_check_read_it(
    infra: Infrastructure, namespace: str
) -> None:
    async with fresh_database(infra, namespace, "escalations", *MIGRATIONS["escalations"]) as pool:
        since = TODAY - timedelta(days=70)  # no contact for 70 days: overdue at 56
        await pool.execute(
            "INSERT INTO drift_watch (child_id, rule, subject_id, since, due, open)"
            " VALUES ($1, 'no_contact', 'contact', $2, $3, true)",
            CHILD,
            since,
            since + timedelta(days=56),
        )
        raced = ContactAppliedAfterTheRead(pool, contact_on=TODAY - timedelta(days=1))
        assert await check_drift(raced, TODAY) == 0
        assert await PostgresEventStore(pool).read_stream(CHILD) == []
        watch = await pool.fetchrow("SELECT since, due, open, alerted FROM drift_watch")
        assert dict(watch) == {
            "since": TODAY - timedelta(days=1),
            "due": TODAY + timedelta(days=55),
            "open": True,
            "alerted": False,
        }
        # A watch still as it was read is alerted, with its own dates.
        assert await check_drift(pool, TODAY + timedelta(days=56)) == 1
        [alert] = await PostgresEventStore(pool).read_stream(CHILD)
        assert alert.event_type == "DriftAlertRaised"
        assert (alert.payload["since"], alert.payload["due"]) == (
            (TODAY - timedelta(days=1)).isoformat(),
            (TODAY + timedelta(days=55)).isoformat(),
        )


async def test_no_alert_once_leaving_care_duties_have_ended_at_25(
    infra: Infrastructure, namespace: str
) -> None:
    """Watches of a care leaver (no contact, the pathway plan's review) were alerted on however
    old the young person was: the council's duties end at 25. Ended, not alerted, when they
    fell due on or after the 25th birthday; a child whose birth is not known is alerted on as
    before, as is every other rule."""
    due = TODAY - timedelta(days=1)
    born = {
        "C-25-on-the-day": date(due.year - 25, due.month, due.day),
        "C-24": date(due.year - 25, due.month, due.day) + timedelta(days=1),
    }
    async with fresh_database(infra, namespace, "escalations", *MIGRATIONS["escalations"]) as pool:
        await pool.executemany(
            "INSERT INTO known_children (child_id, date_of_birth, locality) VALUES ($1, $2, 'X')",
            list(born.items()),
        )
        watches = [
            ("C-25-on-the-day", "no_contact", "contact"),
            ("C-25-on-the-day", "pathway_plan_review_overdue", "pathway-plan"),
            ("C-24", "no_contact", "contact"),
            ("C-unknown-birth", "no_contact", "contact"),
            ("C-25-on-the-day", "proceedings_26_weeks", "P-1"),
        ]
        await pool.executemany(
            "INSERT INTO drift_watch (child_id, rule, subject_id, since, due, open)"
            " VALUES ($1, $2, $3, $4, $5, true)",
            [(*w, due - timedelta(days=56), due) for w in watches],
        )
        assert await check_drift(pool, TODAY) == 3
        rows = await pool.fetch("SELECT child_id, rule, open, alerted FROM drift_watch")
        state = {(r["child_id"], r["rule"]): (r["open"], r["alerted"]) for r in rows}
        assert state == {
            ("C-25-on-the-day", "no_contact"): (False, False),
            ("C-25-on-the-day", "pathway_plan_review_overdue"): (False, False),
            ("C-24", "no_contact"): (True, True),
            ("C-unknown-birth", "no_contact"): (True, True),
            ("C-25-on-the-day", "proceedings_26_weeks"): (True, True),
        }
        store = PostgresEventStore(pool)
        assert [e.payload["rule"] for e in await store.read_stream("C-25-on-the-day")] == [
            "proceedings_26_weeks"
        ]
        assert await check_drift(pool, TODAY + timedelta(days=1)) == 0  # nothing again


async def test_a_late_contact_from_before_an_ended_watch_does_not_open_it_again(
    infra: Infrastructure, namespace: str
) -> None:
    """A contact entered after the check ended a care leaver's watch at 25, dated before the
    contact the watch counted from, opened it again from that older day: due before 25, it
    was alerted, about a lapse the later contact had answered. Now an ended watch moves on
    only as an open one does: from a later day, and then the duty's end closes it again."""
    due = TODAY - timedelta(days=1)
    since = due - timedelta(days=56)
    child = "C-25-late-contact"
    async with fresh_database(infra, namespace, "escalations", *MIGRATIONS["escalations"]) as pool:
        await pool.execute(
            "INSERT INTO known_children (child_id, date_of_birth, locality) VALUES ($1, $2, 'X')",
            child,
            date(due.year - 25, due.month, due.day),
        )
        await pool.execute(
            "INSERT INTO drift_watch (child_id, rule, subject_id, since, due, open)"
            " VALUES ($1, 'no_contact', 'contact', $2, $3, true)",
            child,
            since,
            due,
        )
        assert await check_drift(pool, TODAY) == 0  # ended at 25

        async def contact(on: date) -> None:
            event = ce.ContactRecorded(contact_date=on, in_touch="YES")
            [envelope] = make_envelopes(child, 1, [event], WORKER)
            async with pool.acquire() as conn, conn.transaction():
                await DriftWatch(Settings(service="escalations")).apply(conn, envelope, event)

        async def watch() -> dict[str, Any]:
            row = await pool.fetchrow("SELECT since, open, alerted, ended FROM drift_watch")
            return dict(row)

        await contact(since - timedelta(days=20))  # older than the watch's own contact
        assert await watch() == {"since": since, "open": False, "alerted": False, "ended": True}
        assert await check_drift(pool, TODAY + timedelta(days=60)) == 0

        later = since + timedelta(days=30)  # a later contact watches again, due after 25
        await contact(later)
        assert await watch() == {"since": later, "open": True, "alerted": False, "ended": False}
        assert await check_drift(pool, TODAY + timedelta(days=60)) == 0
        assert (await watch())["ended"]
        assert await PostgresEventStore(pool).read_stream(child) == []


async def test_cp_plan_watches_kept_before_are_moved_to_the_day_before_nine_months(
    infra: Infrastructure, namespace: str
) -> None:
    """sql/004_*.sql: a CP plan's watch kept when it fell due on the nine months' day falls
    due the day before, as a new one does (`drift_changes`); the check alerts on that day."""
    escalations = MIGRATIONS["escalations"]
    before = [p for p in scripts_in(*escalations) if not p.name.startswith("004_cp_plan")]
    started = date(2025, 5, 31)  # nine months: 28 February 2026
    async with fresh_database(infra, namespace, "escalations", *before) as pool:
        await pool.execute(
            "INSERT INTO drift_watch (child_id, rule, subject_id, since, due, open)"
            " VALUES ('C-cp', 'cp_plan_9_months', 'CPP-1', $1, $2, true),"
            "        ('C-cp', 'proceedings_26_weeks', 'P-1', $1, $3, true)",
            started,
            date(2026, 2, 28),
            date(2026, 6, 1),
        )
    async with fresh_database(infra, namespace, "escalations", *escalations) as pool:
        rows = await pool.fetch("SELECT rule, due FROM drift_watch ORDER BY rule")
        assert [(r["rule"], r["due"]) for r in rows] == [
            ("cp_plan_9_months", date(2026, 2, 27)),
            ("proceedings_26_weeks", date(2026, 6, 1)),  # as it was
        ]
        assert await check_drift(pool, date(2026, 2, 27)) == 0
        assert await check_drift(pool, date(2026, 2, 28)) == 1


async def test_watches_ended_at_25_before_the_mark_are_marked(
    infra: Infrastructure, namespace: str
) -> None:
    """sql/003_*.sql: a leaving-care watch the check had closed at 25 before watches were
    marked is marked, so a late older contact does not open it again; a watch closed
    otherwise (the young person no longer in touch, before 25) is not."""
    escalations = MIGRATIONS["escalations"]
    *shared, own = escalations  # the service's own scripts last
    before = [*scripts_in(*shared), *(p for p in scripts_in(own) if p.name < "003")]
    due = date(2026, 3, 1)
    async with fresh_database(infra, namespace, "escalations", *before) as pool:
        await pool.executemany(
            "INSERT INTO known_children (child_id, date_of_birth, locality) VALUES ($1, $2, 'X')",
            [("C-25", date(2001, 2, 28)), ("C-24", date(2001, 3, 2))],
        )
        await pool.executemany(
            "INSERT INTO drift_watch (child_id, rule, subject_id, since, due, open)"
            " VALUES ($1, 'no_contact', 'contact', $2, $3, false)",
            [("C-25", due - timedelta(days=56), due), ("C-24", due - timedelta(days=56), due)],
        )
    async with fresh_database(infra, namespace, "escalations", *escalations) as pool:
        rows = await pool.fetch("SELECT child_id, ended FROM drift_watch ORDER BY child_id")
        assert [(r["child_id"], r["ended"]) for r in rows] == [("C-24", False), ("C-25", True)]

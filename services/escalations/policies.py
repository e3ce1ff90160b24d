"""The escalations raised by rule, run by the worker.

Each policy is a subscription: it updates what it watches and records any escalation in the
service's own event store, bound to the subscription's transaction, so the new events and the
consumed offsets commit together. A redelivered event changes nothing (the projection runner
drops duplicates, and the aggregate refuses a second open alert).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any

import asyncpg
from prometheus_client import Counter, Gauge

from contracts.case_events.events import ChildBorn, ChildRegistered, UnbornChildRegistered
from contracts.education.codes import MISSED
from contracts.education.events import AttendanceRecorded, education_event_types
from contracts.escalations.codes import DriftRule
from contracts.topics import CASE_EVENTS, EDUCATION_EVENTS, EVENTS
from services.escalations.domain.risk import ChildRisk
from services.escalations.domain.rules import (
    Watch,
    drift_changes,
    duty_ended,
    ewo_breach,
    ewo_reach,
    moves,
)
from shared.application import execute
from shared.clock import Clock
from shared.envelope import Actor, Agency, DomainEvent, Envelope, new_event_id
from shared.eventstore import CommandContext, ConcurrencyConflict, PostgresEventStore
from shared.known_children import known_children_subscription
from shared.logging import get_logger
from shared.projection import failure_cause
from shared.retry import keep_running
from shared.settings import Settings
from shared.worker import Subscription

log = get_logger(__name__)

# A drift check that keeps failing (its errors are retried, PostgreSQL's all among them) or
# hangs raises no alert for any child while the worker looks healthy: these say so
# (DriftChecksStopped).
DRIFT_CHECKED = Gauge(
    "csp_drift_checked_timestamp_seconds",
    "When the drift rules were last checked through (Unix time); the worker's start until then",
)
DRIFT_INTERVAL = Gauge(
    "csp_drift_check_interval_seconds",
    "How often the drift rules are checked (CSP_DRIFT_CHECK_INTERVAL_S): a check is late"
    " after three of these, ten minutes at least",
)
DRIFT_FAILURES = Counter(
    "csp_drift_check_failures_total",
    "Drift checks that failed and were tried again, by what failed (database, conflict, or a"
    " defect: any other error)",
    ["cause"],
)
# What a drift check is expected to fail on now and then. A conflict: a command appended to
# the child's risk record as the alert was decided; the next check decides again (an open
# alert is never raised twice).
DRIFT_CHECK_RETRIED = (ConcurrencyConflict, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
RULES = Actor(user_id="escalation-rules", agency=Agency.PLATFORM, role="rule")


def caused_by(envelope: Envelope | None) -> CommandContext:
    if envelope is None:
        return CommandContext(actor=RULES, correlation_id=new_event_id())
    return CommandContext(
        actor=RULES, correlation_id=envelope.correlation_id, causation_id=envelope.event_id
    )


class AttendancePolicy:
    """EWO attendance escalation: N sessions missed within M school weeks."""

    name = "ewo_attendance"

    def __init__(self, settings: Settings) -> None:
        self.threshold = settings.ewo_sessions_threshold
        self.window_weeks = settings.ewo_window_weeks

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        if not isinstance(event, AttendanceRecorded):
            return
        child_id = envelope.stream_id
        # A session of a school at a time: the day's other session, or another school's, may
        # come in a feed of its own, before or after this one.
        await conn.execute(
            "INSERT INTO absence_days (child_id, day, school_urn, session, missed)"
            " SELECT $1, $2, $3, s, m FROM unnest($4::text[], $5::int[]) AS x(s, m)"
            " ON CONFLICT (child_id, day, school_urn, session)"
            " DO UPDATE SET missed = EXCLUDED.missed",
            child_id,
            event.attendance_date,
            event.school_urn,
            [m.session.value for m in event.marks],
            [int(m.code.value in MISSED) for m in event.marks],
        )
        if event.sessions_missed == 0:
            return
        # The child's days around this one: every window holding it, not only the one it
        # ends (a day recorded late can complete a window that ends after it).
        day, reach = event.attendance_date, ewo_reach(self.window_weeks)
        rows = await conn.fetch(
            "SELECT day, sum(missed)::int AS missed FROM absence_days"
            " WHERE child_id = $1 AND day BETWEEN $2 AND $3 GROUP BY day",
            child_id,
            day - reach,
            day + reach,
        )
        missed_by_day = {r["day"]: r["missed"] for r in rows}
        if ewo_breach(missed_by_day, day, self.window_weeks, self.threshold) is None:
            return  # none even counting from before a closure: the record need not be read
        await execute(
            PostgresEventStore(conn),
            ChildRisk,
            child_id,
            lambda risk: risk.raise_ewo(missed_by_day, day, self.window_weeks, self.threshold),
            caused_by(envelope),
            must_exist=False,
        )


class DriftWatch:
    """Keeps what could drift; clears an alert when its subject ends or comes back in date."""

    name = "drift_watch"

    def __init__(self, settings: Settings) -> None:
        self.no_contact_days = settings.no_contact_days

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        child_id = envelope.stream_id
        for change in drift_changes(event, self.no_contact_days):
            key = (child_id, change.rule.value, change.subject_id)
            # Locked as the drift check's claim locks it: an alert raised meanwhile is seen.
            watched = await conn.fetchrow(
                "SELECT since, open, alerted, ended FROM drift_watch"
                " WHERE child_id = $1 AND rule = $2 AND subject_id = $3 FOR UPDATE",
                *key,
            )
            open_since = watched["since"] if watched is not None and watched["open"] else None
            # A watch the duty's end closed moves on only as an open one would (sql/003_*.sql).
            ended_since = watched["since"] if watched is not None and watched["ended"] else None
            if not moves(change, open_since or ended_since):
                continue
            if isinstance(change, Watch):
                await conn.execute(
                    "INSERT INTO drift_watch (child_id, rule, subject_id, since, due, open)"
                    " VALUES ($1, $2, $3, $4, $5, true) ON CONFLICT (child_id, rule, subject_id)"
                    " DO UPDATE SET since = EXCLUDED.since, due = EXCLUDED.due, open = true,"
                    " alerted = false, ended = false",
                    *key,
                    change.since,
                    change.due,
                )
                on = change.since
            else:
                await conn.execute(
                    "UPDATE drift_watch SET open = false"
                    " WHERE child_id = $1 AND rule = $2 AND subject_id = $3",
                    *key,
                )
                on = change.on
            # An open watch's alert ends with it, or as it starts again (a new plan).
            if open_since is not None and watched["alerted"]:
                clear = functools.partial(
                    ChildRisk.clear_drift, on=on, rule=change.rule, subject_id=change.subject_id
                )
                await execute(
                    PostgresEventStore(conn),
                    ChildRisk,
                    child_id,
                    clear,
                    caused_by(envelope),
                    must_exist=False,
                )


# A watch exactly as the drift check read it, still open and not alerted (a change since
# then is left to the next check), its row returned.
_AS_READ = (
    "WHERE child_id = $1 AND rule = $2 AND subject_id = $3 AND since = $4 AND due = $5"
    " AND open AND NOT alerted RETURNING 1"
)


async def check_drift(pool: asyncpg.Pool, today: date) -> int:
    """Raise a drift alert for every open watch past its due date; return how many."""
    raised = ended = 0
    rows = await pool.fetch(
        "SELECT w.child_id, w.rule, w.subject_id, w.since, w.due, k.date_of_birth"
        " FROM drift_watch w LEFT JOIN known_children k ON k.child_id = w.child_id"
        " WHERE w.open AND NOT w.alerted AND w.due < $1 ORDER BY w.due",
        today,
    )
    for row in rows:
        as_read = [row[k] for k in ("child_id", "rule", "subject_id", "since", "due")]
        if duty_ended(DriftRule(row["rule"]), row["date_of_birth"], row["due"]):
            # Closed as it was read (a contact since watches again, and is read again).
            closed = f"UPDATE drift_watch SET open = false, ended = true {_AS_READ}"
            if await pool.fetchval(closed, *as_read):
                ended += 1
            continue
        async with pool.acquire() as conn, conn.transaction():
            # Claimed only as it was read: a contact or a review applied since then watches
            # again from its own day (a new `since` and `due`, open and not alerted), and an
            # alert from the dates read would say the child had none. That watch is checked
            # on its own dates next time.
            claimed = await conn.fetchval(
                f"UPDATE drift_watch SET alerted = true {_AS_READ}", *as_read
            )
            if not claimed:
                continue  # another checker got there first, or the watch moved on
            alert = functools.partial(
                ChildRisk.raise_drift,
                on=today,
                rule=DriftRule(row["rule"]),
                subject_id=row["subject_id"],
                since=row["since"],
                due=row["due"],
            )
            result = await execute(
                PostgresEventStore(conn),
                ChildRisk,
                row["child_id"],
                alert,
                caused_by(None),
                must_exist=False,
            )
            raised += len(result.event_ids)
    if raised:
        log.info("drift alerts raised", count=raised, as_at=today.isoformat())
    if ended:
        log.info("drift watches ended: leaving-care duties end at 25", count=ended)
    return raised


def subscriptions(settings: Settings) -> list[Subscription]:
    return [
        known_children_subscription(
            CASE_EVENTS, EVENTS[CASE_EVENTS], (ChildRegistered, UnbornChildRegistered), ChildBorn
        ),
        Subscription(
            "attendance", [EDUCATION_EVENTS], education_event_types, [AttendancePolicy(settings)]
        ),
        Subscription("drift-watch", [CASE_EVENTS], EVENTS[CASE_EVENTS], [DriftWatch(settings)]),
    ]


def drift_loop(
    settings: Settings, clock: Clock
) -> Callable[[asyncpg.Pool, asyncio.Event], Coroutine[Any, Any, None]]:
    async def loop(pool: asyncpg.Pool, stop: asyncio.Event) -> None:
        DRIFT_INTERVAL.set(settings.drift_check_interval_s)
        DRIFT_CHECKED.set(time.time())  # a check that never succeeds is late from here

        async def check() -> float:
            await check_drift(pool, clock.today())
            DRIFT_CHECKED.set(time.time())
            return settings.drift_check_interval_s

        def failed(error: BaseException) -> None:
            known = isinstance(error, DRIFT_CHECK_RETRIED)
            DRIFT_FAILURES.labels(failure_cause(error) if known else "defect").inc()
            if not known:
                log.error("drift check failed on a defect", exc_info=error)

        # Every failure is tried again, a defect's too (a row the check cannot read): the
        # loop ending would end the worker, and with it the subscriptions beside it (EWO
        # escalations) at every start. A check that keeps failing raises DriftChecksStopped.
        await keep_running(
            check, stop, what="drift check", on_failure=failed, transient=(Exception,)
        )

    return loop

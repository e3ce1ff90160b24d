"""The drift checks survive a command appended to a child's risk record while an alert was
being decided (`make run` showed the worker's loop crash on it: 'stream is at version 2,
expected 1'); the next check decides again. A policy's conflict inside a subscription is
likewise retried from the stored offsets, never dead-lettered."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from services.escalations import policies
from shared import retry
from shared.clock import FixedClock
from shared.eventstore import ConcurrencyConflict
from shared.projection import TRANSIENT
from shared.settings import Settings


async def test_the_drift_loop_decides_again_after_a_conflict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stop = asyncio.Event()
    calls: list[date] = []

    async def check_drift(pool: Any, today: date) -> int:
        calls.append(today)
        if len(calls) == 1:
            raise ConcurrencyConflict("C-1", 1, 2)
        stop.set()
        return 0

    monkeypatch.setattr(policies, "check_drift", check_drift)
    loop = policies.drift_loop(
        Settings(service="escalations", drift_check_interval_s=3600),
        FixedClock(datetime(2024, 6, 1, 12, tzinfo=UTC)),
    )
    await asyncio.wait_for(loop(None, stop), timeout=10)
    assert calls == [date(2024, 6, 1), date(2024, 6, 1)]


def test_a_conflict_in_a_subscription_is_retried_not_dead_lettered() -> None:
    assert issubclass(ConcurrencyConflict, TRANSIENT)


async def test_a_drift_check_that_keeps_failing_shows_on_the_metrics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its failures were retried and logged only, so a check failing for good (any of
    PostgreSQL's errors is retried) raised no drift alert for any child, unseen: the
    failures are counted by cause, and the time of the last check through stands still
    (DriftChecksStopped)."""
    stop = asyncio.Event()
    calls = 0
    seen: list[float | None] = []  # the time of the last check through, as each check began

    async def check_drift(pool: Any, today: date) -> int:
        nonlocal calls
        calls += 1
        seen.append(checked())
        if calls <= 2:
            raise asyncpg.exceptions.UndefinedColumnError("column since does not exist")
        if calls == 3:
            raise ConcurrencyConflict("C-1", 1, 2)
        if calls == 4:  # a defect: tried again too, not the worker ended with it
            raise ValueError("'overdue' is not a valid DriftRule")
        stop.set()
        return 0

    def failures(cause: str) -> float:
        return REGISTRY.get_sample_value("csp_drift_check_failures_total", {"cause": cause}) or 0

    def checked() -> float | None:
        return REGISTRY.get_sample_value("csp_drift_checked_timestamp_seconds")

    monkeypatch.setattr(policies, "check_drift", check_drift)
    monkeypatch.setattr(retry, "FIRST_WAIT_S", 0.01)
    before = {cause: failures(cause) for cause in ("database", "conflict", "defect")}
    started = time.time()
    loop = policies.drift_loop(
        Settings(service="escalations", drift_check_interval_s=3600),
        FixedClock(datetime(2024, 6, 1, 12, tzinfo=UTC)),
    )
    await asyncio.wait_for(loop(None, stop), timeout=10)
    assert failures("database") - before["database"] == 2
    assert failures("conflict") - before["conflict"] == 1
    assert failures("defect") - before["defect"] == 1
    # Set as the loop started, not moved by the failures, moved by the check through.
    assert seen[0] is not None and seen[0] >= started
    assert seen == [seen[0]] * 5
    last = checked()
    assert last is not None and last > seen[0]

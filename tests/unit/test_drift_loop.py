"""The drift checks survive a command appended to a child's risk record while an alert was
being decided (`make run` showed the worker's loop crash on it: 'stream is at version 2,
expected 1'); the next check decides again. A policy's conflict inside a subscription is
likewise retried from the stored offsets, never dead-lettered."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.escalations import policies
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

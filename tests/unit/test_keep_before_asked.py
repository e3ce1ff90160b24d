"""The projections API's background keeper (services/projections/api.py `keep_before_asked`)
goes on after any failure: nothing awaits its task until the API stops, so a failure that
ended it would leave every later day's boards worked out from the facts, slowly, unexplained."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.projections import api
from services.projections.boards.memo import BoardMemo
from shared.clock import FixedClock
from shared.settings import Settings
from tests.infrastructure import eventually


async def test_the_keeper_tries_again_after_a_failure_of_any_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[date] = []

    async def keep(pool: Any, day: date, today: date, window: int) -> list[str] | None:
        asked.append(day)
        if len(asked) == 1:
            raise RuntimeError("a fault no one foresaw")
        return None  # no live build yet: asked again soon

    monkeypatch.setattr(api, "keep", keep)
    clock = FixedClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    keeper = asyncio.create_task(
        api.keep_before_asked(None, clock, Settings(service="projections"), BoardMemo())
    )
    try:
        await eventually(lambda: len(asked) >= 2, 10, 0.05, what="today asked for again")
    finally:
        keeper.cancel()
    assert asked[:2] == [date(2026, 12, 7)] * 2

"""The projections worker's watch for a rebuild's swap (services/projections/registry.py
`watch_for_swap`): a failed read of the live build is asked again, and whatever ends the
watch stops its runner, so the worker never goes on filling a build that is no longer live."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from services.projections.registry import watch_for_swap


def answers(*given: str | BaseException) -> tuple[list[int], Callable[[], Awaitable[str | None]]]:
    """A `live()` giving each answer in turn (an exception is raised), the last one after."""
    asked = [0]

    async def live() -> str | None:
        answer = given[min(asked[0], len(given) - 1)]
        asked[0] += 1
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return asked, live


async def test_a_failed_read_is_asked_again_and_the_swap_still_stops_the_runner() -> None:
    asked, live = answers(
        OSError("connection refused"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        "build_a",
        "build_b",
    )
    stop, swapped = asyncio.Event(), asyncio.Event()
    await asyncio.wait_for(watch_for_swap(live, "build_a", stop, swapped, every_s=0), 10)
    assert swapped.is_set()
    assert asked[0] == 4  # two failures, the same build, then the swap seen


async def test_a_watch_ended_by_anything_else_stops_the_runner_too() -> None:
    asked, live = answers(RuntimeError("a fault of the watch's own"))
    stop, swapped = asyncio.Event(), asyncio.Event()
    with pytest.raises(RuntimeError):
        await watch_for_swap(live, "build_a", stop, swapped, every_s=0)
    assert swapped.is_set() and asked[0] == 1


async def test_the_worker_stopping_ends_the_watch() -> None:
    asked, live = answers("build_a")
    stop, swapped = asyncio.Event(), asyncio.Event()
    stop.set()
    await watch_for_swap(live, "build_a", stop, swapped, every_s=0)
    assert swapped.is_set() and asked[0] == 0

"""Work a process may abandon when told to stop (the returns' check under way): `make stop`
found the projections worker still starting the DfE's validators after PostgreSQL had gone,
and killed 5 s later, because its stop waited for the check to finish."""

from __future__ import annotations

import asyncio

import pytest

from shared.retry import unless_stopped


async def test_the_result_when_the_work_ends_first() -> None:
    async def work() -> str:
        return "done"

    assert await unless_stopped(work(), asyncio.Event()) == "done"


async def test_stopping_cancels_the_work_and_waits_for_it() -> None:
    stop = asyncio.Event()
    started, cleaned_up = asyncio.Event(), asyncio.Event()

    async def work() -> str:
        started.set()
        try:
            await asyncio.Event().wait()  # never ends on its own
        finally:
            await asyncio.to_thread(lambda: None)  # its clean-up may await
            cleaned_up.set()
        return "never"

    async def stop_once_started() -> None:
        await started.wait()
        stop.set()

    stopper = asyncio.create_task(stop_once_started())
    result = await asyncio.wait_for(unless_stopped(work(), stop), 5)
    await stopper
    assert result is None
    assert cleaned_up.is_set()


async def test_a_failure_of_the_work_is_raised() -> None:
    async def work() -> None:
        raise ValueError("the work's own failure")

    with pytest.raises(ValueError, match="the work's own failure"):
        await unless_stopped(work(), asyncio.Event())


async def test_cancelling_the_caller_cancels_the_work() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    caller = asyncio.create_task(unless_stopped(work(), asyncio.Event()))
    await asyncio.wait_for(started.wait(), 5)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert cancelled.is_set()

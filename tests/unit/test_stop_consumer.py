"""Stopping a consumer never ends the caller's task: aiokafka's fetcher, closing, awaits each
fetch it cancels, and a fetch sleeping after a failure (its broker down) raises that
cancellation out of `stop`, where it would pass for the caller's own and end the runner for
good. No I/O: the consumer is a stand-in with aiokafka's stop raising so."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.kafka import stop_consumer


class Client:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class CancelledOutOfStop:
    _coordinator = None
    _fetcher = None

    def __init__(self) -> None:
        self._client = Client()
        self._closed = False

    async def stop(self) -> None:
        raise asyncio.CancelledError  # a cancelled fetch's, raised out of the fetcher's close


async def test_a_cancellation_raised_out_of_stop_does_not_end_the_caller() -> None:
    consumer: Any = CancelledOutOfStop()
    await stop_consumer(consumer)

    assert consumer._client.closed  # what stop would have closed, closed without it
    assert consumer._closed
    current = asyncio.current_task()
    assert current is not None and not current.cancelling()

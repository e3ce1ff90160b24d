"""The live feed: a server-sent event each time the boards change (for incident management
teams)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sse_starlette.sse import EventSourceResponse

from shared.access import Permission, requires

router = APIRouter(tags=["live"])


class Feed:
    """Fans NOTIFY boards_changed out to every client of the live feed."""

    def __init__(self) -> None:
        self.clients: set[asyncio.Queue[dict[str, str]]] = set()

    def notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        message = {"event_type": payload, "at": datetime.now(UTC).isoformat()}
        for queue in self.clients:
            queue.put_nowait(message)


async def feed_of(request: Request) -> Feed:
    feed: Feed = request.app.state.feed
    return feed


async def _changes(
    request: Request, feed: Feed, queue: asyncio.Queue[dict[str, str]]
) -> AsyncIterator[dict[str, str]]:
    try:
        yield {"event": "ready", "data": "{}"}
        while not await request.is_disconnected():
            try:
                message = await asyncio.wait_for(queue.get(), timeout=15)
            except TimeoutError:
                continue
            yield {"event": "changed", "data": json.dumps(message)}
    finally:
        feed.clients.discard(queue)


@router.get(
    "/boards/live",
    summary="Server-sent events: a message each time the boards change "
    "(for incident management teams)",
    dependencies=[requires(Permission.READ_BOARDS)],
)
async def live(request: Request, feed: Annotated[Feed, Depends(feed_of)]) -> EventSourceResponse:
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    feed.clients.add(queue)  # from the request on: no change is missed while the stream starts
    return EventSourceResponse(_changes(request, feed, queue), ping=15)

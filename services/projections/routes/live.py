"""The live feed: a server-sent event each time the boards change (`changed`, naming the event
type) or the attention queue does (`attention`), for incident management teams: the live page
follows it."""

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


# The changes one client may have waiting: a client that falls further behind (a stalled
# connection, a suspended tab) is told to reload and disconnected, so memory never grows
# without bound. Its page reconnects and fetches the figures afresh.
MAX_QUEUED = 100
RELOAD: dict[str, str] = {"event_type": "reload"}  # the last message a lagging client gets
# The channels notified in the projections' transactions (delivered at commit), each with the
# server-sent event it becomes.
CHANNELS = {"boards_changed": "changed", "attention_changed": "attention"}


class Feed:
    """Fans NOTIFY boards_changed and attention_changed out to every client of the live feed,
    each with a queue of at most `max_queued` changes."""

    def __init__(self, max_queued: int = MAX_QUEUED) -> None:
        self.max_queued = max_queued
        self.clients: set[asyncio.Queue[dict[str, str]]] = set()

    def join(self) -> asyncio.Queue[dict[str, str]]:
        # One place more than the changes kept: room for the reload marker.
        queue: asyncio.Queue[dict[str, str]] = asyncio.Queue(maxsize=self.max_queued + 1)
        self.clients.add(queue)
        return queue

    def missed(self) -> None:
        """Changes may have gone untold (the listening connection was lost, or is new): every
        client is told to reload and let go; its page reconnects and reads afresh."""
        at = datetime.now(UTC).isoformat()
        for queue in list(self.clients):
            self.clients.discard(queue)
            if queue.full():
                queue.get_nowait()  # room for the reload marker: the rest is read afresh
            queue.put_nowait({**RELOAD, "at": at})

    def notify(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        message = {
            "event": CHANNELS.get(channel, "changed"),
            "event_type": payload or channel,
            "at": datetime.now(UTC).isoformat(),
        }
        for queue in list(self.clients):
            if queue.qsize() < self.max_queued:
                queue.put_nowait(message)
            else:  # it cannot keep up: nothing more is queued for it
                self.clients.discard(queue)
                queue.put_nowait({**RELOAD, "at": message["at"]})


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
            if message["event_type"] == RELOAD["event_type"]:
                yield {"event": "reload", "data": json.dumps(message)}
                return  # disconnected: the page reconnects and reloads its figures
            yield {"event": message.get("event", "changed"), "data": json.dumps(message)}
    finally:
        feed.clients.discard(queue)


@router.get(
    "/boards/live",
    summary="Server-sent events: a message each time the boards (`changed`) or the "
    "attention queue (`attention`) change (for incident management teams)",
    dependencies=[requires(Permission.READ_BOARDS)],
)
async def live(request: Request, feed: Annotated[Feed, Depends(feed_of)]) -> EventSourceResponse:
    queue = feed.join()  # from the request on: no change is missed while the stream starts
    return EventSourceResponse(_changes(request, feed, queue), ping=15)

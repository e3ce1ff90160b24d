"""The live feed's per-client queues are bounded: a client that cannot keep up is told to
reload and disconnected, and memory never grows with the changes it has not read."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from services.projections.routes.live import MAX_QUEUED, Feed, _changes


class Connected:
    """A request whose client never goes away (the slow client: it reads when it reads)."""

    async def is_disconnected(self) -> bool:
        return False


def changed(feed: Feed, times: int) -> None:
    for _ in range(times):
        feed.notify(None, 0, "boards_changed", "PeriodOfCareStarted")


async def test_each_client_queue_is_bounded_by_default() -> None:
    feed = Feed()
    queue = feed.join()
    changed(feed, MAX_QUEUED * 50)
    assert queue.qsize() <= MAX_QUEUED + 1
    assert queue not in feed.clients  # nothing more is queued for it


async def test_a_slow_client_is_told_to_reload_and_disconnected_a_quick_one_keeps_up() -> None:
    feed = Feed(max_queued=3)
    slow, quick = feed.join(), feed.join()
    stream = _changes(Connected(), feed, slow)  # type: ignore[arg-type]
    assert (await anext(stream))["event"] == "ready"
    seen: list[dict[str, Any]] = []
    for _ in range(10):  # the quick client reads every change as it comes
        changed(feed, 1)
        seen.append(quick.get_nowait())
    assert len(seen) == 10 and quick in feed.clients
    assert slow.qsize() == 4 and slow not in feed.clients  # three changes and the marker
    events = [await asyncio.wait_for(anext(stream), 1) for _ in range(4)]
    assert [e["event"] for e in events] == ["changed", "changed", "changed", "reload"]
    assert json.loads(events[-1]["data"])["event_type"] == "reload"
    try:
        await asyncio.wait_for(anext(stream), 1)
        raise AssertionError("the slow client's stream should have ended")
    except StopAsyncIteration:
        pass  # disconnected: its page reconnects and fetches the figures afresh
    changed(feed, 5)
    assert slow.empty()  # no longer fed

"""One way to keep a loop going through failures: every long-running loop of the platform (the
relay, the projection runner, the drift checks, keeping today's board totals) runs its body
through `keep_running`, which backs off exponentially on the failures it is told are
transient and resets once the body succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from shared.logging import get_logger

log = get_logger(__name__)

FIRST_WAIT_S = 0.5
LONGEST_WAIT_S = 10.0

T = TypeVar("T")


class Doubling:
    """A wait that doubles each time it is taken, from `first` up to `most`, and starts from
    `first` again when reset: how long to wait before trying again what has not worked yet."""

    def __init__(self, first: float, most: float) -> None:
        self._first, self._most = first, most
        self._next = first

    def take(self) -> float:
        wait = self._next
        self._next = min(wait * 2, self._most)
        return wait

    def reset(self) -> None:
        self._next = self._first


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """`work`'s result; or, if `stop` is set first, None, `work` cancelled and waited for. For
    work that may be abandoned part way (it is done again on the next start), so that a
    process told to stop does not first finish it."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not task.done():
            task.cancel()
            # Waited for without raising its cancellation, so a cancellation of the caller
            # meanwhile is the caller's, and is raised.
            await asyncio.wait({task})
    return None if task.cancelled() else task.result()


async def keep_running(
    body: Callable[[], Awaitable[float | None]],
    stop: asyncio.Event,
    *,
    transient: tuple[type[BaseException], ...],
    what: str,
    on_failure: Callable[[BaseException], None] | None = None,
) -> None:
    """Run `body` until `stop` is set; it returns how long to wait before it runs again (None:
    at once). A `transient` failure is logged ("<what> failed; will retry") and retried after
    0.5 s, doubling up to 10 s while it keeps failing; anything else propagates."""
    waits = Doubling(FIRST_WAIT_S, LONGEST_WAIT_S)
    while not stop.is_set():
        try:
            again_in = await body()
        except transient as error:
            if on_failure is not None:
                on_failure(error)
            wait = waits.take()
            log.warning(f"{what} failed; will retry", error=repr(error), retry_in_s=wait)
            await pause(stop, wait)
            continue
        waits.reset()
        if again_in:
            await pause(stop, again_in)

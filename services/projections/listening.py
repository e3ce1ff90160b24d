"""The projections API's connection for NOTIFY, kept open: the live feed's channels and the
board memo's (`memo.py`).

Lost (PostgreSQL restarted, the connection cut), the memo forgets every answer and keeps none
(`BoardMemo.lost`) and every live page is told to reload: changes from then on are not told.
It is connected again (0.5 s, doubling to 10 s, while PostgreSQL is away), the channels
listened to again, and only then is the memo told that every day may have changed and let
keep answers again, and the live pages told to reload once more: a change committed before
the LISTEN was never told, and a page or an answer read before it may predate it.

A connection can also be lost without a word: cut by a device on the way (a firewall, a
NAT's table) with no reset sent, it would wait for notifications that never come, the memo
keeping answers no change is told for. So while nothing is heard it is asked a question
every `probe_every_s`, and one not answered in `probe_timeout_s` counts as lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg

from services.projections.boards.memo import CHANNEL, BoardMemo
from services.projections.routes.live import CHANNELS, Feed
from shared.logging import get_logger
from shared.retry import keep_running, unless_stopped

log = get_logger(__name__)

PROBE_EVERY_S = 30.0
PROBE_TIMEOUT_S = 10.0


class Listener:
    def __init__(
        self,
        connect: Callable[[], Any],
        feed: Feed,
        memo: BoardMemo,
        probe_every_s: float = PROBE_EVERY_S,
        probe_timeout_s: float = PROBE_TIMEOUT_S,
    ) -> None:
        self._connect = connect
        self.feed, self.memo = feed, memo
        self._probe_every_s, self._probe_timeout_s = probe_every_s, probe_timeout_s
        self.connection: asyncpg.Connection | None = None
        self._gone = asyncio.Event()
        self.connections = 0  # how many times it has connected

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until `stop` is set, connecting again whenever the connection is lost."""

        async def listen() -> float | None:
            self._gone.clear()
            connection: asyncpg.Connection = await self._connect()
            try:
                connection.add_termination_listener(self._lost)
                for channel in CHANNELS:
                    await connection.add_listener(channel, self.feed.notify)
                await connection.add_listener(CHANNEL, self.memo.notify)
            except BaseException:
                await connection.close()
                raise
            self.connection = connection
            self.connections += 1
            self.memo.changed(None)  # what was read before the LISTEN may predate a change
            self.memo.listen()
            self.feed.missed()
            if self.connections > 1:
                log.info("listening again for the boards' changes")
            await unless_stopped(self._answering(connection), stop)
            return None  # at once: connect again (keep_running ends once stop is set)

        await keep_running(
            listen,
            stop,
            what="listening for the boards' changes",
            transient=(OSError, asyncpg.PostgresError, asyncpg.InterfaceError),
        )

    async def _answering(self, connection: asyncpg.Connection) -> None:
        """Until the connection is lost: asked every `probe_every_s`, and ended, as lost, if
        it does not answer within `probe_timeout_s`."""
        while not self._gone.is_set():
            try:
                await asyncio.wait_for(self._gone.wait(), self._probe_every_s)
                return
            except TimeoutError:
                pass
            try:
                await connection.execute("SELECT 1", timeout=self._probe_timeout_s)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                # (TimeoutError is an OSError.)
                if self._gone.is_set():  # lost meanwhile, and told so by the connection
                    return
                log.warning("the listening connection does not answer", error=repr(error))
                connection.remove_termination_listener(self._lost)  # told once, here
                connection.terminate()
                self._lost()

    def _lost(self, _connection: object = None) -> None:
        log.warning("the connection listening for the boards' changes was lost")
        self.connection = None
        self.memo.lost()
        self.feed.missed()
        self._gone.set()

    async def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.remove_termination_listener(self._lost)
            # Ended outright if it does not answer: a silent one would hold the API's stop.
            await connection.close(timeout=self._probe_timeout_s)
        self.memo.lost()

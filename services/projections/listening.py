"""The projections API's connection for NOTIFY, kept open: the live feed's channels and the
board memo's (`memo.py`).

Lost (PostgreSQL restarted, the connection cut), the memo forgets every answer and keeps none
(`BoardMemo.lost`) and every live page is told to reload: changes from then on are not told.
It is connected again (0.5 s, doubling to 10 s, while PostgreSQL is away), the channels
listened to again, and only then is the memo told that every day may have changed and let
keep answers again, and the live pages told to reload once more: a change committed before
the LISTEN was never told, and a page or an answer read before it may predate it.
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


class Listener:
    def __init__(self, connect: Callable[[], Any], feed: Feed, memo: BoardMemo) -> None:
        self._connect = connect
        self.feed, self.memo = feed, memo
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
            await unless_stopped(self._gone.wait(), stop)
            return None  # at once: connect again (keep_running ends once stop is set)

        await keep_running(
            listen,
            stop,
            what="listening for the boards' changes",
            transient=(OSError, asyncpg.PostgresError, asyncpg.InterfaceError),
        )

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
            await connection.close()
        self.memo.lost()

"""The projections API's listening connection (services/projections/listening.py), on a real
PostgreSQL: cut (as a restart of PostgreSQL cuts it), it is made again and listens again; the
live pages are told to reload, and changes reach the memo and the live feed again. Before, a
cut connection was never made again: the memo kept nothing and the live pages heard of no
change until the API was restarted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import pytest

from services.projections.boards.memo import CHANNEL, BoardMemo
from services.projections.listening import Listener
from services.projections.routes.live import Feed
from tests.infrastructure import Infrastructure, eventually

pytestmark = pytest.mark.integration


async def test_a_cut_listening_connection_is_made_again_and_changes_are_told_again(
    infra: Infrastructure,
) -> None:
    dsn = infra.dsn("postgres")
    feed, memo = Feed(), BoardMemo()
    listener = Listener(lambda: asyncpg.connect(dsn), feed, memo)
    stop = asyncio.Event()
    running = asyncio.create_task(listener.run(stop))
    admin = await asyncpg.connect(dsn)

    def connected(times: int) -> Callable[[], bool]:
        return lambda: memo.listening and listener.connections == times

    try:
        await eventually(connected(1), 30, what="listening")
        assert listener.connection is not None
        cut = listener.connection.get_server_pid()
        page = feed.join()  # a live page open when the connection is cut
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", cut)

        await eventually(connected(2), 30, what="listening again")
        assert listener.connection is not None
        assert listener.connection.get_server_pid() != cut
        told = await asyncio.wait_for(page.get(), 5)
        assert told["event_type"] == "reload"  # it may have missed a change: read afresh
        assert page not in feed.clients

        generation = memo.generation
        await admin.execute("SELECT pg_notify($1, $2)", CHANNEL, "2024-01-01")

        await eventually(
            lambda: memo.generation > generation, 10, what="the memo told of the change"
        )
        again = feed.join()  # the page, reconnected
        await admin.execute("SELECT pg_notify('boards_changed', 'ChildRegistered')")
        message = await asyncio.wait_for(again.get(), 10)
        assert message["event"] == "changed" and message["event_type"] == "ChildRegistered"
    finally:
        stop.set()
        await running
        await listener.close()
        await admin.close()
    assert not memo.listening

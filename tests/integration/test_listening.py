"""The projections API's listening connection (services/projections/listening.py), on a real
PostgreSQL: cut (as a restart of PostgreSQL cuts it), it is made again and listens again; the
live pages are told to reload, and changes reach the memo and the live feed again. Before, a
cut connection was never made again: the memo kept nothing and the live pages heard of no
change until the API was restarted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

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


class Proxy:
    """A TCP relay to PostgreSQL that can go silent: the connections it holds then stay open
    and nothing more passes, as when a device on the way drops a connection without a reset.
    Connections made after that pass as usual."""

    def __init__(self, port: int) -> None:
        self.target, self.port = port, 0
        self.silenced: set[asyncio.StreamWriter] = set()
        self.open: set[asyncio.StreamWriter] = set()

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    def silence(self) -> None:
        self.silenced |= self.open

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.open.add(writer)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    if writer not in self.silenced:
                        sink.write(data)
                        await sink.drain()
            except OSError:
                return

        # Either side closing closes both: the silenced connection's, once the listener ends it.
        pumps = [
            asyncio.create_task(pump(reader, up_writer)),
            asyncio.create_task(pump(up_reader, writer)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            up_writer.close()
            writer.close()
            self.open.discard(writer)


async def test_a_listening_connection_gone_silent_is_found_out_and_made_again(
    infra: Infrastructure,
) -> None:
    """Cut without a word, the connection is asked a question it does not answer, and made
    again; the live pages are told to reload. Before, it waited for notifications for ever,
    and the memo kept answers no change was told for."""
    dsn = infra.dsn("postgres")
    proxy = Proxy(int(urlsplit(dsn).port or 5432))
    server = await proxy.start()
    feed, memo = Feed(), BoardMemo()
    listener = Listener(
        lambda: asyncpg.connect(dsn, host="127.0.0.1", port=proxy.port),
        feed,
        memo,
        probe_every_s=0.2,
        probe_timeout_s=1.0,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(listener.run(stop))
    try:
        await eventually(lambda: memo.listening and listener.connections == 1, 30, what="listening")
        page = feed.join()
        proxy.silence()
        await eventually(
            lambda: memo.listening and listener.connections == 2, 30, what="listening again"
        )
        told = await asyncio.wait_for(page.get(), 5)
        assert told["event_type"] == "reload"
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await asyncio.wait_for(listener.close(), 30)
        server.close()

"""HTTP API of the boards: each board now or as at any date, by locality, JSON or CSV; the
open child protection plans; a live feed of changes and the attention queue for incident
management teams; each child's chronology; and the dashboard that shows them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI
from starlette.datastructures import State
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.projections import dashboard
from services.projections.boards.kept import keep
from services.projections.boards.memo import BoardMemo
from services.projections.boards.queries import SHARED, SharedSnapshots
from services.projections.boards.totals import trend_month_ends
from services.projections.builds import BUILDS_SQL, live_build
from services.projections.dashboard import attention as attention_page
from services.projections.dashboard import chronology as chronology_page
from services.projections.dashboard import demo as demo_banner  # noqa: F401 (the banner)
from services.projections.dashboard import errors as error_pages
from services.projections.dashboard import packs as packs_page
from services.projections.dashboard import quality as quality_page
from services.projections.dashboard import returns as returns_page
from services.projections.listening import Listener
from services.projections.routes import attention, boards, chronology, live, quality, returns
from shared.api import service_app
from shared.clock import Clock
from shared.db import open_database
from shared.http import HealthCheck
from shared.logging import get_logger
from shared.retry import keep_running
from shared.settings import Settings

log = get_logger(__name__)


QUIET_S = 5.0
SETTLE_S = 1.0


async def keep_before_asked(
    pool: asyncpg.Pool, clock: Clock, settings: Settings, memo: BoardMemo, quiet_s: float = QUIET_S
) -> None:
    """Today's totalled boards are kept before anyone asks; then, once the projection has been
    quiet for `quiet_s` (no batch has changed a board), the month ends every trend reads, one
    at a time, the latest first, and again any a batch dropped (`kept.TotalsMover`). So the
    first person to open a page with a trend (or the index) does not wait for them: half a
    minute a day at 500,000 children, nearly five minutes for a trend. Not while batches
    come: a history being loaded (all backdated facts) would drop the day again at its next
    fact, and its snapshot would take the cores the batches need. Then the index's boards are
    worked out into the memo (`dashboard.work_out_the_index`). Checked each minute, so a new
    day, a new month end and a new build (a rebuild swapped in) are kept soon after they come."""
    last_change = (memo.generation, time.monotonic())

    async def check() -> float | None:
        nonlocal last_change
        today = clock.today()
        kept = await keep(pool, today, today, settings.board_days_kept)
        if kept is None:
            return 2  # no live build yet (the worker makes it): look again soon
        if kept:
            log.info("kept today's board totals", day=str(today), boards=kept)
        if memo.generation != last_change[0]:
            last_change = (memo.generation, time.monotonic())
        quiet_for = time.monotonic() - last_change[1]
        if not memo.listening:
            return quiet_s  # changes are not told: quiet cannot be known (nor the memo kept)
        if quiet_for < quiet_s:
            return quiet_s - quiet_for
        try:
            for day in trend_month_ends(today):
                kept = await keep(pool, day, today, settings.board_days_kept)
                if kept:
                    log.info("kept a trend's month end", day=str(day), boards=kept)
                    # The batches that waited for the days lock (while the keep began its
                    # snapshot) may not have told of their changes yet: the next month end
                    # waits for `SETTLE_S` of quiet after it.
                    last_change = (memo.generation, time.monotonic() - quiet_s + SETTLE_S)
                    return None  # today again first (a day may have begun), then the next
                if memo.generation != last_change[0]:
                    # Batches came during it (a load that dropped the day it kept, or the
                    # one another process kept): no more until it is quiet again.
                    return None
            await dashboard.work_out_the_index(pool, settings, today, memo)
        except Exception:  # a statement's timeout, a board that fails (its page fails too):
            log.exception("keeping the trend's month ends or the index failed")
        return 60  # not retried at once: a board that takes its minute would take every one

    # Any failure is logged and tried again, never the end of the keeping: nothing awaits this
    # task until the API stops, and without it the boards are still right, only slow (each
    # worked out from the facts), with nothing to say why.
    await keep_running(check, asyncio.Event(), what="keeping board totals", transient=(Exception,))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The read models' pool, the live feed (fed by NOTIFY boards_changed and
    attention_changed), the boards answered before (forgotten by NOTIFY board_days_changed),
    and the totals of today and of the trend's month ends kept in the background."""
    state: State = app.state
    state.pool = pool = await open_database(state.settings, BUILDS_SQL)
    state.feed = live.Feed()
    state.memo = memo = BoardMemo()
    state.listener = listener = Listener(
        lambda: asyncpg.connect(state.settings.dsn()), state.feed, memo
    )
    stop = asyncio.Event()
    listening = asyncio.create_task(listener.run(stop))
    warm = asyncio.create_task(keep_before_asked(pool, state.clock, state.settings, memo))
    try:
        yield
    finally:
        stop.set()
        warm.cancel()
        await asyncio.gather(listening, warm, return_exceptions=True)
        await listener.close()
        await pool.close()
        packs_page.let_go_of_the_fonts()


class ShareSnapshots:
    """Each request's boards share the snapshots of a day it reads (`SharedSnapshots`), on
    the memo's rule of what is still fresh."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        memo: BoardMemo | None = getattr(scope["app"].state, "memo", None)
        if scope["type"] != "http" or memo is None:
            await self.app(scope, receive, send)
            return
        shared = SharedSnapshots(lambda: memo.generation, memo.fresh)

        async def answer(message: Message) -> None:
            # The snapshots are let go as the answer starts, so freeing them (a second at
            # 50,000 children) is this request's time, not the next one's: after the answer
            # the event loop would free them while the next request waits. A stream (the live
            # feed) reads no more shared snapshots once it has started.
            if message["type"] == "http.response.start":
                shared.capacity = 0  # none held from now on
                shared.held.clear()
            await send(message)

        token = SHARED.set(shared)
        try:
            await self.app(scope, receive, answer)
        finally:
            SHARED.reset(token)
            shared.held.clear()  # an answer that never started (an error) keeps none either


def create_app(settings: Settings) -> FastAPI:
    checks: dict[str, HealthCheck] = {}
    app = service_app(
        "Boards",
        settings,
        "Oversight read models built from every domain topic: each board now or "
        "as at any date, by locality (definitions: docs/boards.md); and each child's "
        "chronology, every fact from every service in date order.",
        lifespan,
        checks,
        sign_in=True,  # the dashboard's sign-in cookie: honoured here only
    )
    error_pages.install(app)  # a person's browser gets a page, not the API's JSON
    app.add_middleware(ShareSnapshots)

    async def database_check() -> dict[str, Any]:
        return {"ok": True, "live_build": await live_build(app.state.pool)}

    checks["postgres"] = database_check

    async def listening_check() -> dict[str, Any]:
        # Lost, the live pages and the memo hear of no change until it is back (seconds).
        return {"ok": app.state.memo.listening, "connections": app.state.listener.connections}

    checks["notifications"] = listening_check
    app.include_router(returns_page.router)  # before the boards' /dashboard/{name}
    app.include_router(quality_page.router)  # likewise
    app.include_router(attention_page.router)  # the live page's queue and its form
    app.include_router(packs_page.router)  # the board packs, page and PDF
    app.include_router(dashboard.router)
    app.include_router(live.router)
    app.include_router(boards.router)
    app.include_router(chronology.router)
    app.include_router(attention.router)
    app.include_router(chronology_page.router)
    app.include_router(returns.router)
    app.include_router(quality.router)
    return app

"""The partner feeds' API: for the council's auditors, every message sent to a partner agency
(who received it, about which child, which fields, why and when) and every person-level read
on the platform (who, what, why, when); for each partner agency without Kafka, its own feed
over HTTPS (the messages its topic carries, paged, long-polled or as server-sent events).
Read-only: the worker writes everything it serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI
from starlette.datastructures import State

from services.partner_feeds.feed_store import CHANNEL, Wakeups
from services.partner_feeds.routes import feed, reads, shares
from shared.api import service_app
from shared.db import open_database
from shared.http import HealthCheck
from shared.migrations import HORIZON_SQL
from shared.settings import Settings

# Its own SQL, and the horizon its HTTP feed is read below (shared/sql/event_store/005_*.sql).
SHARES_SQL = Path(__file__).parent / "sql"
FEED_SQL = (HORIZON_SQL, SHARES_SQL)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The database, and a connection listening for the worker's NOTIFY partner_feed, which
    wakes the readers waiting on an agency's feed (they poll as well: a lost notification only
    delays)."""
    state: State = app.state
    state.pool = pool = await open_database(state.settings, *FEED_SQL)
    state.wakeups = wakeups = Wakeups()
    try:
        listener: asyncpg.Connection = await asyncpg.connect(state.settings.dsn())
        try:
            await listener.add_listener(CHANNEL, wakeups.notify)
            yield
        finally:
            await listener.close()
    finally:
        await pool.close()


def create_app(settings: Settings) -> FastAPI:
    checks: dict[str, HealthCheck] = {}
    app = service_app(
        "Partner feeds",
        settings,
        "What each partner agency receives (minimised: pseudonymous ids, coarsened dates, no "
        "free text; see docs/security.md): each agency's own feed over HTTPS, the same "
        "messages its Kafka topic carries (docs/partners.md); and the audit of every share.",
        lifespan,
        checks,
    )

    async def database_check() -> dict[str, Any]:
        await app.state.pool.fetchval("SELECT 1")
        return {"ok": True}

    checks["postgres"] = database_check
    app.include_router(feed.router)
    app.include_router(shares.router)
    app.include_router(reads.router)
    return app

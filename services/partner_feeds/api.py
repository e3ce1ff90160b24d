"""The audits, for the council's auditors: every message sent to a partner agency (who received
it, about which child, which fields, why and when), and every person-level read on the
platform (who, what, why, when). Read-only."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request

from shared.api import database_service_app
from shared.audit import query
from shared.envelope import Agency
from shared.settings import Settings

SHARES_SQL = Path(__file__).parent / "sql"


def create_app(settings: Settings) -> FastAPI:
    app, state = database_service_app(
        settings, "Partner feeds",
        "What each partner agency receives (minimised: pseudonymous ids, month-and-year dates "
        "of birth, no free text; see docs/security.md), and the audit of every share.",
        [SHARES_SQL])

    @app.get("/shares", summary="The share audit: who received what, about whom, why, when",
             tags=["audit"])
    async def shares(
        child_id: Annotated[str | None, Query(max_length=64)] = None,
        agency: Agency | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        rows = await state.pool.fetch(
            "SELECT message_id, agency, topic, subject, child_id, event_type, source_event_id,"
            " fields, purpose, shared_at FROM shares"
            " WHERE ($1::text IS NULL OR child_id = $1) AND ($2::text IS NULL OR agency = $2)"
            " AND ($3::timestamptz IS NULL OR shared_at >= $3)"
            " AND ($4::timestamptz IS NULL OR shared_at < $4)"
            " ORDER BY shared_at, message_id LIMIT $5",
            child_id, agency.value if agency else None, since, until, limit)
        return {"shares": [{**dict(r), "message_id": str(r["message_id"]),
                            "source_event_id": str(r["source_event_id"]),
                            "shared_at": r["shared_at"].isoformat()} for r in rows],
                "count": len(rows)}

    @app.get("/audit", tags=["audit"],
             summary="The access audit: every person-level read, who, what, why and when")
    async def audit(
        request: Request,
        child_id: Annotated[str | None, Query(max_length=64)] = None,
        user_id: Annotated[str | None, Query(max_length=128)] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        reads = await query(request.app.state.audit.pool, child_id, user_id, since, until,
                            limit)
        return {"reads": reads, "count": len(reads)}

    return app

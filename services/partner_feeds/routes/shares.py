"""The share audit: every message sent to a partner agency."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.partner_feeds.sharing import SUBJECT_MAX
from shared.access import Permission, audit_read, requires
from shared.api import Pool
from shared.envelope import Agency

router = APIRouter(tags=["audit"])


@router.get(
    "/shares",
    summary="The share audit: who received what, about whom, why, when (audited)",
    dependencies=[requires(Permission.AUDIT, lists_children=True)],
)
async def shares(
    request: Request,
    response: Response,
    pool: Pool,
    child_id: Annotated[
        str | None,
        Query(
            max_length=SUBJECT_MAX,
            description="A child's id, or `partnership-audit:<audit id>` for an audit's shares.",
        ),
    ] = None,
    agency: Agency | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    rows = await pool.fetch(
        "SELECT message_id, agency, topic, subject, child_id, event_type, source_event_id,"
        " fields, purpose, shared_at FROM shares"
        " WHERE ($1::text IS NULL OR child_id = $1) AND ($2::text IS NULL OR agency = $2)"
        " AND ($3::timestamptz IS NULL OR shared_at >= $3)"
        " AND ($4::timestamptz IS NULL OR shared_at < $4)"
        " ORDER BY shared_at, message_id LIMIT $5",
        child_id,
        agency.value if agency else None,
        since,
        until,
        limit,
    )
    # Each child's id beside every agency's pseudonym for it: a person-level read.
    await audit_read(request, response, [r["child_id"] for r in rows])
    return {
        "shares": [
            {
                **dict(r),
                "message_id": str(r["message_id"]),
                "source_event_id": str(r["source_event_id"]),
                "shared_at": r["shared_at"].isoformat(),
            }
            for r in rows
        ],
        "count": len(rows),
    }

"""The access audit: every person-level read on the platform (shared/audit.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.partner_feeds.sharing import SUBJECT_MAX
from shared.access import Permission, audit_read, requires
from shared.api import Audit
from shared.audit import query

router = APIRouter(tags=["audit"])


@router.get(
    "/audit",
    summary="The access audit: every person-level read, who, what, why and when (audited)",
    dependencies=[requires(Permission.AUDIT, lists_children=True)],
)
async def audit(
    request: Request,
    response: Response,
    log: Audit,
    child_id: Annotated[
        str | None,
        Query(
            max_length=SUBJECT_MAX,
            description="A child's id, or `partnership-audit:<audit id>` for the reads of an"
            " audit's messages on the HTTP feed.",
        ),
    ] = None,
    user_id: Annotated[str | None, Query(max_length=128)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    reads = await query(log.pool, child_id, user_id, since, until, limit)
    # Who read which child's record is itself about those children: recorded like a read.
    await audit_read(request, response, [c for r in reads for c in r["child_ids"]])
    return {"reads": reads, "count": len(reads)}

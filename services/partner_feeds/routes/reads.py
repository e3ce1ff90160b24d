"""The access audit: every person-level read on the platform (shared/audit.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from shared.access import Permission, requires
from shared.api import Audit
from shared.audit import query

router = APIRouter(tags=["audit"])


@router.get(
    "/audit",
    summary="The access audit: every person-level read, who, what, why and when",
    dependencies=[requires(Permission.AUDIT)],
)
async def audit(
    log: Audit,
    child_id: Annotated[str | None, Query(max_length=64)] = None,
    user_id: Annotated[str | None, Query(max_length=128)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    reads = await query(log.pool, child_id, user_id, since, until, limit)
    return {"reads": reads, "count": len(reads)}

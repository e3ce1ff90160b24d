"""For information governance: the subject access export and the retention report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.case_events.governance import retention_report, subject_access_export
from services.case_events.routes.commands import ChildId, locality_of
from services.case_events.routes.personal_data import Vault
from shared.access import Permission, audit_read, requires
from shared.api import Audit, Caller, Pool, ServiceClock, ServiceSettings
from shared.application import UnknownStream

router = APIRouter(tags=["personal data"])


@router.get(
    "/children/{child_id}/subject-access",
    summary="Subject access export: everything held about the child (audited)",
    dependencies=[requires(Permission.SUBJECT_ACCESS)],
)
async def subject_access(
    child_id: ChildId,
    caller: Caller,
    pool: Pool,
    vault: Vault,
    audit: Audit,
    settings: ServiceSettings,
) -> dict[str, Any]:
    if await locality_of(pool, child_id) is None:
        raise UnknownStream(child_id)
    return await subject_access_export(settings, vault, audit.pool, child_id, caller.user_id)


@router.get(
    "/retention",
    summary="Records past their retention date, not yet erased (audited)",
    dependencies=[requires(Permission.RETENTION, lists_children=True)],
)
async def retention(
    request: Request,
    response: Response,
    pool: Pool,
    clock: ServiceClock,
    as_at: Annotated[date | None, Query(description="Default: today")] = None,
) -> dict[str, Any]:
    day = as_at or clock.today()
    due = await retention_report(pool, day)
    # Each child's id with its 75th birthday (the date of birth): a person-level read.
    await audit_read(request, response, [r["child_id"] for r in due])
    return {"as_at": day.isoformat(), "count": len(due), "records": due}

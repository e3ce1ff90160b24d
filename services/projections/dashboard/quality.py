"""The data-quality page of the statutory returns: the live board of the DfE's rules this
year's returns break (services/projections/routes/quality.py answers the same as JSON), in the
partnership view (children counted by rule and locality, small numbers suppressed) or the
council view (each child, its locality and allocated worker, the read audited). Checked as
the API checks it; without the validators the page says why (503)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.projections.dashboard import templates
from services.projections.routes.boards import Locality
from services.projections.routes.quality import (
    QUALITY,
    View,
    council_view,
    found_in,
    partnership_view,
)
from shared.api import Pool, ServiceClock, ServiceSettings

router = APIRouter(include_in_schema=False)
TITLE = "Data quality of the statutory returns"


@router.get("/dashboard/data-quality", response_class=HTMLResponse, dependencies=QUALITY)
async def data_quality_page(
    request: Request,
    pool: Pool,
    clock: ServiceClock,
    settings: ServiceSettings,
    view: View = "partnership",
    locality: Locality = None,
) -> HTMLResponse:
    today = clock.today()
    found = await found_in(pool, today)
    if found.unavailable:
        return templates.TemplateResponse(
            request,
            "quality.html",
            {"title": TITLE, "unavailable": found.unavailable, "board": None},
            status_code=503,
        )
    audit_id = None
    if view == "council":
        board, audit_id = await council_view(request, None, found, locality)
    else:
        board = partnership_view(found, today, settings.small_number_threshold)
    localities = sorted({i.locality for i, _, _ in found.issues if i.locality})
    return templates.TemplateResponse(
        request,
        "quality.html",
        {"title": TITLE, "board": board, "localities": localities, "unavailable": None},
        headers={"X-Audit-Id": audit_id} if audit_id else None,
    )

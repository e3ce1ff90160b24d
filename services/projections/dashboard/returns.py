"""The statutory returns page: a manager chooses a collection year (or, for Annex A, a day)
and downloads the return; the download is the API's (services/projections/routes/returns.py),
audited there. Nobody else is shown the page (403, as the API would answer)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.projections.dashboard import templates
from services.projections.returns.facts import CollectionYear
from services.projections.routes.returns import EXPORT, FIRST_YEAR
from shared.access import Permission, allowed
from shared.api import ServiceClock
from shared.auth import Principal

router = APIRouter(include_in_schema=False)
YEARS_SHOWN = 6


def may_export_returns(principal: object) -> bool:
    """Whether the navigation offers the returns page (others would only be refused); on the
    sign-in page there is nobody yet."""
    return (
        isinstance(principal, Principal)
        and principal.localities is None
        and allowed(Permission.EXPORT_RETURNS, principal)
    )


templates.env.globals["may_export_returns"] = may_export_returns


@router.get("/dashboard/returns", response_class=HTMLResponse, dependencies=EXPORT)
async def returns_page(request: Request, clock: ServiceClock) -> HTMLResponse:
    today = clock.today()
    this = CollectionYear.of(today)
    years = [
        CollectionYear(y)
        for y in range(this.start_year, max(FIRST_YEAR, this.start_year - YEARS_SHOWN), -1)
    ]
    return templates.TemplateResponse(
        request,
        "returns.html",
        {"title": "Statutory returns", "years": years, "today": today},
    )

"""The chronology page of a child: the chronology's answer (services/projections/routes/
chronology.py) as a table a person reads, filters by kind and as-at date, and prints; linked
from wherever a page names a child (a board's rows). Audited and checked as the API is."""

from __future__ import annotations

from itertools import groupby
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.projections.chronology.entries import kind_name, words
from services.projections.dashboard import templates
from services.projections.routes.boards import AsAt
from services.projections.routes.chronology import (
    COUNCIL_CASEWORK,
    ChildId,
    Kinds,
    audited,
    chronology_of,
)
from shared.access import Permission, allowed
from shared.api import Pool, ServiceClock
from shared.auth import Principal

router = APIRouter(include_in_schema=False)


def may_read_chronology(principal: Principal | None) -> bool:
    """Whether a page links a child's id to its chronology (others would only be refused)."""
    return principal is not None and allowed(Permission.READ_CHILD, principal)


templates.env.globals["may_read_chronology"] = may_read_chronology


@router.get(
    "/dashboard/children/{child_id}/chronology",
    response_class=HTMLResponse,
    dependencies=COUNCIL_CASEWORK,
)
async def chronology_page(
    request: Request,
    response: Response,
    pool: Pool,
    clock: ServiceClock,
    child_id: ChildId,
    as_at: AsAt = None,
    kind: Kinds = None,
) -> HTMLResponse:
    today = clock.today()
    found = await chronology_of(request, pool, child_id, as_at, kind, today)
    query = urlencode([("as_at", found.as_at.isoformat()), *(("kind", k) for k in found.kinds)])
    groups = [
        (words(service), list(kinds))
        for service, kinds in groupby(found.available, key=lambda k: k.service)
    ]
    return templates.TemplateResponse(
        request,
        "chronology.html",
        {
            "title": f"Chronology of {child_id}",
            "chronology": found,
            "groups": groups,
            "asked": [kind_name(k) for k in found.kinds],
            "today": today,
            "csv_url": f"/children/{child_id}/chronology?{query}&format=csv",
        },
        headers=audited(response),
    )

"""A child's chronology: every fact from every service in date order, as at any date, with the
service, the event, who recorded it and when; filtered by kind; JSON or CSV (the printable
page is the dashboard's: services/projections/dashboard/chronology.py).

Council casework roles only (`Permission.READ_CHILD`: partners and the oversight roles get
403), each read audited as a person-level read of the child before it is answered (the
X-Audit-Id header names the record), and a child outside the caller's localities answered
as one that does not exist (404).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from contracts.ids import CHILD_ID_PATTERN
from services.projections.builds import reading
from services.projections.chronology.entries import kinds as known_kinds
from services.projections.chronology.queries import ChildChronology, locality_of, read, to_csv
from services.projections.routes.boards import AsAt, _as_at
from shared.access import Permission, check_locality, requires
from shared.api import ERRORS, Pool, ServiceClock
from shared.application import UnknownStream

ChildId = Annotated[str, Path(pattern=CHILD_ID_PATTERN, description="Pseudonymous child id")]
Kinds = Annotated[
    list[str] | None,
    Query(
        description="Only facts of these kinds: a service (case_events, accommodation, "
        "education, escalations) or an event type (e.g. StatutoryVisitRecorded); repeat for "
        "more. None: every kind."
    ),
]
COUNCIL_CASEWORK = [requires(Permission.READ_CHILD)]

router = APIRouter(tags=["chronology"])


def checked_kinds(asked: list[str] | None) -> list[str]:
    """The kinds asked for, each a service or an event type (else 422 naming the field)."""
    known = known_kinds()
    unknown = sorted({k for k in asked or () if k not in known})
    if unknown:
        services = sorted(set(known.values()))
        raise HTTPException(
            422,
            [
                {
                    "loc": ["query", "kind"],
                    "msg": f"unknown kind {', '.join(map(repr, unknown))}: a kind is a service "
                    f"({', '.join(services)}) or one of their event types",
                    "type": "value_error",
                }
            ],
        )
    return sorted(set(asked or ()))


async def chronology_of(
    request: Request,
    pool: asyncpg.Pool,
    child_id: str,
    as_at: date | None,
    kinds: list[str] | None,
    today: date,
) -> ChildChronology:
    day = _as_at(as_at, today)
    wanted = checked_kinds(kinds)
    async with reading(pool) as conn:
        locality = await locality_of(conn, child_id)
        if locality is None:
            raise UnknownStream(child_id)
        check_locality(request, locality, record=child_id)
        return await read(conn, child_id, day, wanted)


def audited(response: Response) -> dict[str, str]:
    """The audit record's id, for an answer the handler makes itself (the one the gate
    recorded it on is not sent then)."""
    return {"X-Audit-Id": response.headers["X-Audit-Id"]}


@router.get(
    "/children/{child_id}/chronology",
    response_model=ChildChronology,
    summary="A child's chronology: every fact from every service, in date order, as at a date "
    "(JSON, or CSV with format=csv)",
    responses={200: {"content": {"text/csv": {}}}, 404: ERRORS[404], 422: ERRORS[422]},
    dependencies=COUNCIL_CASEWORK,
)
async def chronology(
    request: Request,
    response: Response,
    pool: Pool,
    clock: ServiceClock,
    child_id: ChildId,
    as_at: AsAt = None,
    kind: Kinds = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> ChildChronology | Response:
    found = await chronology_of(request, pool, child_id, as_at, kind, clock.today())
    if format == "csv":
        return Response(
            to_csv(found),
            media_type="text/csv",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="chronology-{child_id}-{found.as_at}.csv"'
                ),
                **audited(response),
            },
        )
    return found

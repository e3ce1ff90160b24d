"""The statutory returns, as at any date: SSDA903 (a zip of the DfE's CSVs, this year's and
last year's), the CIN census (the DfE's XML) and Ofsted's Annex A (an .xlsx workbook), each
derived from the event log (services/projections/returns), and which events made each row.

Council-wide and person-level: `Permission.EXPORT_RETURNS` only (managers), a user limited to
some localities refused (a return is of the whole council), and every download audited with
every child it names. The UPNs come from case events, asked with the caller's own token.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from services.projections.builds import reading
from services.projections.returns import annex_a, cin_census, ssda903
from services.projections.returns.facts import ChildRecord, CollectionYear, Row
from services.projections.returns.identifiers import pupil_numbers
from services.projections.returns.queries import records
from services.projections.routes.boards import AsAt, _as_at
from shared.access import Permission, audit_read, requires, whole_council
from shared.api import ERRORS, Pool, ServiceClock, ServiceSettings
from shared.auth import bearer_token
from shared.settings import Settings

router = APIRouter(tags=["statutory returns"])
COUNCIL_WIDE = {"description": "Not a manager, or a manager of some localities only"}
# Managers, and only those of the whole council: a return is of every child the council has.
EXPORT = [requires(Permission.EXPORT_RETURNS, lists_children=True), Depends(whole_council)]
FIRST_YEAR = 2015  # the platform's facts do not reach further back

Year = Annotated[
    int | None,
    Query(
        ge=FIRST_YEAR,
        le=2100,
        description="The collection year by the year it starts: 2026 is 1 April 2026 to 31 "
        "March 2027. Default: the year `as_at` (or today) is in.",
    ),
]
ReturnName = Literal["ssda903", "cin-census", "annex-a"]


# Why a return is read, as the audit records it (the caller's own X-Purpose overrides it).
PURPOSES = {
    "ssda903": "statutory return to the DfE: SSDA903 (Children Act 1989 section 83)",
    "cin-census": "statutory return to the DfE: the children in need census (Children Act "
    "1989 section 83)",
    "annex-a": "Ofsted's inspection of children's services: the Annex A lists (Education and "
    "Inspections Act 2006 section 136)",
}
# A return reads every child of the county and is made in a thread (the event loop keeps
# answering the boards); one at a time per process, so two downloads cannot double the memory.
ONE_AT_A_TIME = asyncio.Semaphore(1)
T = TypeVar("T")


async def derived(make: Callable[[], T]) -> T:
    async with ONE_AT_A_TIME:
        return await anyio.to_thread.run_sync(make)


def purpose(request: Request, name: str) -> str:
    return request.headers.get("X-Purpose") or PURPOSES[name]


def collection_year(year: int | None, as_at: date | None, today: date) -> CollectionYear:
    chosen = CollectionYear(year) if year is not None else CollectionYear.of(as_at or today)
    if chosen.start > today:
        raise HTTPException(
            422,
            [{"loc": ["query", "year"], "msg": "has not begun yet", "type": "value_error"}],
        )
    return chosen


def year_as_at(year: CollectionYear, as_at: date | None, today: date) -> date:
    """The day a year's return is made as at: `as_at` if given (inside the year or after
    it), else today. What happened in the year counts if it had been recorded by then: a past
    year's return made today is the one that should have been sent, with what was recorded
    late; made as at its last day, the one that could have been sent then."""
    day = _as_at(as_at, today)
    if day < year.start:
        raise HTTPException(
            422,
            [{"loc": ["query", "as_at"], "msg": "is before the year began", "type": "value_error"}],
        )
    return day


def chosen(year: int | None, as_at: date | None, today: date) -> tuple[CollectionYear, date]:
    """The collection year asked for and the day its return is made as at (each 422 naming
    its field when it cannot be)."""
    this = collection_year(year, as_at, today)
    return this, year_as_at(this, as_at, today)


async def county(pool: Any, day: date, child: str | None = None) -> list[ChildRecord]:
    async with reading(pool) as conn:
        return await records(conn, day, None if child is None else [child])


def named(*tables: Iterable[Row], column: str = "CHILD") -> list[str]:
    return sorted({r.values[column] for rows in tables for r in rows if r.values.get(column)})


async def upns_of(request: Request, settings: Settings, child_ids: Sequence[str]) -> dict[str, str]:
    token = bearer_token(dict(request.scope), cookie=True)
    return await pupil_numbers(settings, f"Bearer {token}", child_ids) if child_ids else {}


async def ssda903_tables(
    request: Request,
    children: Sequence[ChildRecord],
    settings: Settings,
    years: Sequence[CollectionYear],
    day: date,
) -> list[dict[str, list[Row]]]:
    """Each year's tables, from the same facts, with the UPNs of every child they name."""
    tables = await derived(lambda: [ssda903.ssda903(children, y, {}, day) for y in years])
    upns = await upns_of(request, settings, named(*(t for f in tables for t in f.values())))
    return [ssda903.with_upns(t, upns) for t in tables]


def zipped(folders: dict[str, dict[str, str]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for folder, files in folders.items():
            for name, text in files.items():
                z.writestr(f"{folder}/{name}", text)
    return out.getvalue()


def download(body: bytes, media_type: str, filename: str, audit_id: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Audit-Id": audit_id,
        },
    )


@router.get(
    "/returns/ssda903",
    summary="SSDA903 for a collection year: a zip of the DfE's CSVs for the year and the one "
    "before (audited; council-wide)",
    responses={200: {"content": {"application/zip": {}}}, 403: COUNCIL_WIDE, 422: ERRORS[422]},
    dependencies=EXPORT,
)
async def ssda903_return(
    request: Request,
    pool: Pool,
    clock: ServiceClock,
    settings: ServiceSettings,
    year: Year = None,
    as_at: AsAt = None,
) -> Response:
    today = clock.today()
    this, day = chosen(year, as_at, today)
    last = this.previous
    current, previous = await ssda903_tables(
        request, await county(pool, day), settings, [this, last], day
    )
    audit_id = await audit_read(
        request,
        None,
        named(*current.values(), *previous.values()),
        purpose(request, "ssda903"),
    )
    body = zipped({this.label: ssda903.files(current), last.label: ssda903.files(previous)})
    return download(body, "application/zip", f"SSDA903_{this.label}.zip", audit_id)


@router.get(
    "/returns/cin-census",
    summary="The CIN census for a collection year: the DfE's XML message (audited; council-wide)",
    responses={200: {"content": {"application/xml": {}}}, 403: COUNCIL_WIDE, 422: ERRORS[422]},
    dependencies=EXPORT,
)
async def cin_census_return(
    request: Request,
    pool: Pool,
    clock: ServiceClock,
    settings: ServiceSettings,
    year: Year = None,
    as_at: AsAt = None,
) -> Response:
    today = clock.today()
    this, day = chosen(year, as_at, today)
    children = await county(pool, day)
    la = settings.local_authority
    first = await derived(lambda: cin_census.cin_census(children, this, {}, la))
    child_ids = named(first.rows, column=cin_census.CHILD)
    upns = await upns_of(request, settings, child_ids)
    census = await derived(lambda: cin_census.cin_census(children, this, upns, la))
    audit_id = await audit_read(request, None, child_ids, purpose(request, "cin-census"))
    return download(census.xml, "application/xml", f"CIN_census_{this.label}.xml", audit_id)


@router.get(
    "/returns/annex-a",
    summary="Ofsted's Annex A lists as at a date: an .xlsx workbook, a sheet per list "
    "(audited; council-wide)",
    responses={
        200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}},
        403: COUNCIL_WIDE,
        422: ERRORS[422],
    },
    dependencies=EXPORT,
)
async def annex_a_return(
    request: Request, pool: Pool, clock: ServiceClock, as_at: AsAt = None
) -> Response:
    day = _as_at(as_at, clock.today())
    # Annex A names each child by the council's own id: no UPN is asked for.
    children = await county(pool, day)
    lists = await derived(lambda: annex_a.annex_a(children, day, {}))
    audit_id = await audit_read(
        request, None, named(*lists.values(), column=annex_a.CHILD), purpose(request, "annex-a")
    )
    return download(
        await derived(lambda: annex_a.workbook(lists)),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"Annex_A_{day.isoformat()}.xlsx",
        audit_id,
    )


@router.get(
    "/returns/{name}/provenance",
    summary="Which events made each row of a return (the rows of one child, or all): the "
    "return's columns without the UPN, and the events' ids (audited; council-wide)",
    responses={403: COUNCIL_WIDE, 422: ERRORS[422]},
    dependencies=EXPORT,
)
async def provenance(
    name: ReturnName,
    request: Request,
    response: Response,
    pool: Pool,
    clock: ServiceClock,
    settings: ServiceSettings,
    year: Year = None,
    as_at: AsAt = None,
    child: Annotated[str | None, Query(description="Only this child's rows")] = None,
) -> dict[str, Any]:
    today = clock.today()
    if name == "annex-a":
        day = _as_at(as_at, today)
        children = await county(pool, day, child)
        tables = await derived(lambda: annex_a.annex_a(children, day, {}))
        column = annex_a.CHILD
    else:
        this, day = chosen(year, as_at, today)
        children = await county(pool, day, child)
        la = settings.local_authority
        if name == "ssda903":
            tables = await derived(lambda: ssda903.ssda903(children, this, {}, day))
        else:
            census = await derived(lambda: cin_census.cin_census(children, this, {}, la))
            tables = {"CINdetails": census.rows}
        column = "CHILD" if name == "ssda903" else cin_census.CHILD
    shown: dict[str, list[dict[str, Any]]] = {
        table: [
            {
                # never a UPN here (the derivation had none to write: an unknown one's code)
                "values": {k: v for k, v in r.values.items() if k != "UPN"},
                "events": [str(e) for e in r.events],
            }
            for r in rows
        ]
        for table, rows in tables.items()
    }
    await audit_read(
        request,
        response,
        sorted({row["values"][column] for rows in shown.values() for row in rows}),
        purpose(request, name),
    )
    return {"return": name, "as_at": day.isoformat(), "tables": shown}

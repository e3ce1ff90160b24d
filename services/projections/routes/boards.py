"""The boards: which there are, each now or as at any date, by locality, JSON or CSV; and the
open child protection plans."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from contracts.case_events.events import LOCALITY_PATTERN
from services.projections.boards.answering import board_on, partnership_sheet, year_before
from services.projections.boards.assurance.figures import comparison_before, whole_months
from services.projections.boards.assurance.records import Period
from services.projections.boards.declarations import BOARDS, PERSON_LEVEL
from services.projections.boards.model import Board
from services.projections.boards.queries import snapshot
from services.projections.builds import reading
from shared.access import Access, Permission, forbidden, principal_of, requires, visible_rows
from shared.api import Pool, ServiceClock, ServiceSettings
from shared.calendar import add_months, months_between

# `?view=council`: all figures and the rows naming children, for the council's casework roles;
# the handler audits the children it returns.
COUNCIL_VIEW = Access(
    Permission.READ_PERSON_LEVEL, query=(("view", "council"),), lists_children=True
)

Locality = Annotated[str | None, Query(pattern=LOCALITY_PATTERN, description="Filter by locality")]
AsAt = Annotated[date | None, Query(description="The date to answer for (default: today)")]
View = Annotated[
    Literal["partnership", "council"],
    Query(description="partnership: small numbers suppressed, no person-level rows; council: all"),
]
Since = Annotated[
    date | None, Query(description="Start of the trend period (default: twelve months to as_at)")
]
Compared = Annotated[
    date | None,
    Query(
        description="feedback: the period compared with, in whole months: from the first day "
        "of compare_since's month to the last of compare_until's (or as_at); neither after "
        "as_at (default: as many whole months as since to as_at, just before since's month)"
    ),
]
Dates = Annotated[
    str | None,
    Query(
        description="attendance: comma-separated days",
        pattern=r"^\d{4}-\d{2}-\d{2}(,\d{4}-\d{2}-\d{2})*$",
    ),
]

router = APIRouter(tags=["boards"])


def to_csv(board: Board) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "board",
            "as_at",
            "locality",
            "view",
            "key",
            "label",
            "period",
            "count",
            "denominator",
            "percentage",
            "suppressed",
            "definition",
            "target",
            "direction",
            "on_target",
        ]
    )
    for f in board.figures:
        writer.writerow(
            [
                board.board,
                board.as_at,
                board.locality or "",
                board.view,
                f.key,
                f.label,
                f.period or "",
                "" if f.count is None else f.count,
                "" if f.denominator is None else f.denominator,
                "" if f.percentage is None else f.percentage,
                f.suppressed,
                f.definition,
                "" if f.target is None else f.target,
                f.direction or "",
                "" if f.on_target is None else f.on_target,
            ]
        )
    return out.getvalue()


@router.get(
    "/boards",
    summary="The boards and where to read them",
    dependencies=[requires(Permission.READ_BOARDS)],
)
async def boards() -> list[dict[str, str]]:
    return [
        {
            "board": key,
            "title": title,
            "url": f"/boards/{key}",
            "definition": f"docs/boards.md#{key}",
        }
        for key, title in BOARDS.items()
    ]


@router.get(
    "/boards/child-protection/open-plans",
    summary="Children on a child protection plan now (person-level: council only)",
    dependencies=[requires(Permission.READ_PERSON_LEVEL, lists_children=True)],
)
async def open_plans(
    request: Request, response: Response, pool: Pool, clock: ServiceClock, locality: Locality = None
) -> dict[str, Any]:
    async with reading(pool) as conn:
        children = await snapshot(conn, clock.today(), locality)
    plans = sorted(
        (
            {
                "child_id": c.child_id,
                "plan_id": c.get("cp_plan"),
                "category": c.get("cp_category"),
                "start_date": c.get("cp_started"),
                "previous_plans": None
                if c.get("cp_repeat") is None
                else int(c.get("cp_repeat") == "1"),
                "locality": c.locality,
            }
            for c in children
            if c.get("cp_plan")
        ),
        key=lambda p: (p["start_date"] or "", p["child_id"]),
    )
    plans, _ = await visible_rows(request, response, plans)
    return {"count": len(plans), "locality": locality, "plans": plans}


def council_locality(request: Request, locality: str | None) -> str | None:
    """The council view's figures, like its rows, are of the user's own localities: a user
    limited to some (the token's `localities`) asks for one of theirs, or, with only one,
    for none and is answered for it; another locality, or the county, is 403."""
    mine = principal_of(request).localities
    if mine is None or (locality is not None and locality in mine):
        return locality
    if locality is None and len(mine) == 1:
        return next(iter(mine))
    asked = f"locality {locality!r}" if locality else "the whole county"
    raise forbidden(
        f"the council view of {asked} is outside your localities "
        f"({', '.join(sorted(mine)) or 'none'}): ask with locality= one of yours"
    )


def _as_at(as_at: date | None, today: date) -> date:
    day = as_at or today
    if day > today:
        raise HTTPException(
            422, [{"loc": ["query", "as_at"], "msg": "is in the future", "type": "value_error"}]
        )
    return day


def _invalid(parameter: str, message: str) -> HTTPException:
    return HTTPException(
        422, [{"loc": ["query", parameter], "msg": message, "type": "value_error"}]
    )


def compared_period(
    start: date | None, end: date | None, since: date, as_at: date
) -> Period | None:
    """The period the feedback board compares with, in whole months (from the first day of
    `compare_since`'s month to the last of `compare_until`'s, or to the day asked): as asked
    (a missing end is the last day before `since`'s month, a missing start as many months
    before the end as the period has), else None (its default). Neither may be after the
    day asked: the board as at a day counts nothing later."""
    if start is None and end is None:
        return None
    for parameter, day in (("compare_since", start), ("compare_until", end)):
        if day is not None and day > as_at:
            raise _invalid(parameter, f"is after as_at ({as_at.isoformat()})")
    end = end or comparison_before(since, as_at).end
    months = max(1, len(months_between(since, as_at)))
    start = start or add_months(end.replace(day=1), 1 - months)
    if start > end:
        raise _invalid("compare_until", "is before compare_since")
    return whole_months(start, end, as_at)


@router.get(
    "/boards/{board}",
    response_model=Board,
    summary="A board, as at a date, by locality (JSON, or CSV with format=csv)",
    responses={200: {"content": {"text/csv": {}}}, 404: {"description": "No such board"}},
    dependencies=[requires(Permission.READ_BOARDS, unless=COUNCIL_VIEW)],
)
async def board(
    request: Request,
    response: Response,
    pool: Pool,
    clock: ServiceClock,
    settings: ServiceSettings,
    board: Annotated[str, Path(description=", ".join(BOARDS))],
    as_at: AsAt = None,
    locality: Locality = None,
    view: View = "partnership",
    since: Since = None,
    dates: Dates = None,
    compare_since: Compared = None,
    compare_until: Compared = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Board | Response:
    if board not in BOARDS:
        raise HTTPException(404, f"no board {board!r}; boards: {', '.join(BOARDS)}")
    today = clock.today()
    day = _as_at(as_at, today)
    wanted = [date.fromisoformat(x) for x in dates.split(",")] if dates else None
    compare = compared_period(compare_since, compare_until, since or year_before(day), day)
    if view == "partnership":
        sheet = await partnership_sheet(
            pool,
            board,
            day,
            locality,
            since,
            wanted,
            today=today,
            window=settings.board_days_kept,
            threshold=settings.small_number_threshold,
            compare=compare,
            memo=request.app.state.memo,
        )
        result = sheet[locality]
    else:
        locality = council_locality(request, locality)
        result = await board_on(
            pool,
            board,
            day,
            locality,
            since,
            wanted,
            today=today,
            window=settings.board_days_kept,
            compare=compare,
            memo=request.app.state.memo,
        )
        if board not in PERSON_LEVEL:
            result = result.model_copy(update={"rows": None})
    audit_id = None
    if result.rows is not None:
        rows, audit_id = await visible_rows(request, response, result.rows)
        result = result.model_copy(update={"rows": rows})
    if format == "csv":
        return Response(
            to_csv(result),
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{board}-{day}.csv"',
                **({"X-Audit-Id": audit_id} if audit_id else {}),
            },
        )
    return result

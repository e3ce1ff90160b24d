"""HTTP API of the boards: each board now or as at any date, by locality, JSON or CSV; the
open child protection plans; and a live feed of changes for incident management teams."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sse_starlette.sse import EventSourceResponse

from contracts.case_events.events import LOCALITY_PATTERN
from services.projections.boards.catalogue import BOARDS, PERSON_LEVEL, board_on
from services.projections.boards.kept import keep
from services.projections.boards.model import Board, suppress
from services.projections.boards.queries import snapshot
from services.projections.builds import BUILDS_SQL, live_build, reading
from services.projections.dashboard import add_dashboard
from shared.access import visible_rows
from shared.api import service_app
from shared.clock import clock_from
from shared.db import open_database
from shared.logging import get_logger
from shared.retry import keep_running
from shared.settings import Settings

log = get_logger(__name__)

Locality = Annotated[str | None, Query(pattern=LOCALITY_PATTERN, description="Filter by locality")]
AsAt = Annotated[date | None, Query(description="The date to answer for (default: today)")]
View = Annotated[Literal["partnership", "council"], Query(
    description="partnership: small numbers suppressed, no person-level rows; council: all")]


class Feed:
    """Fans NOTIFY boards_changed out to every client of the live feed."""

    def __init__(self) -> None:
        self.clients: set[asyncio.Queue[dict[str, str]]] = set()

    def notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        message = {"event_type": payload, "at": datetime.now(UTC).isoformat()}
        for queue in self.clients:
            queue.put_nowait(message)


def to_csv(board: Board) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["board", "as_at", "locality", "view", "key", "label", "period", "count",
                     "denominator", "percentage", "suppressed", "definition"])
    for f in board.figures:
        writer.writerow([board.board, board.as_at, board.locality or "", board.view, f.key,
                         f.label, f.period or "", "" if f.count is None else f.count,
                         "" if f.denominator is None else f.denominator,
                         "" if f.percentage is None else f.percentage, f.suppressed,
                         f.definition])
    return out.getvalue()


def create_app(settings: Settings) -> FastAPI:
    clock = clock_from(settings)
    state: dict[str, Any] = {}
    feed = Feed()

    async def database_check() -> dict[str, Any]:
        return {"ok": True, "live_build": await live_build(state["pool"])}

    async def keep_today() -> None:
        """Today's totalled boards are kept before anyone asks: the first query of a day
        does not pay for the snapshot (checked each minute, so a new day is kept soon after
        midnight)."""
        async def check() -> float:
            today = clock.today()
            kept = await keep(state["pool"], today, today, settings.board_days_kept)
            if kept:
                log.info("keeping today's board totals", boards=kept)
            # No live build yet (the worker makes it): look again soon.
            return 60 if kept is not None else 2

        await keep_running(check, asyncio.Event(), what="keeping today's board totals",
                           transient=(OSError, asyncpg.PostgresError))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["pool"] = pool = await open_database(settings, BUILDS_SQL)
        listener: asyncpg.Connection = await asyncpg.connect(settings.dsn())
        await listener.add_listener("boards_changed", feed.notify)
        warm = asyncio.create_task(keep_today())
        try:
            yield
        finally:
            warm.cancel()
            await listener.close()
            await pool.close()

    app = service_app("Boards", settings,
                      "Oversight read models built from every domain topic: each board now or "
                      "as at any date, by locality. Definitions: docs/boards.md.",
                      lifespan, {"postgres": database_check})

    add_dashboard(app, lambda: state["pool"], settings, clock)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    @app.get("/boards", tags=["boards"], summary="The boards and where to read them")
    async def boards() -> list[dict[str, str]]:
        return [{"board": key, "title": title, "url": f"/boards/{key}",
                 "definition": f"docs/boards.md#{key}"} for key, title in BOARDS.items()]

    @app.get("/boards/live", tags=["live"], summary="Server-sent events: a message each time "
             "the boards change (for incident management teams)")
    async def live(request: Request) -> EventSourceResponse:
        queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        feed.clients.add(queue)

        async def events() -> AsyncIterator[dict[str, str]]:
            try:
                yield {"event": "ready", "data": "{}"}
                while not await request.is_disconnected():
                    try:
                        message = await asyncio.wait_for(queue.get(), timeout=15)
                    except TimeoutError:
                        continue
                    yield {"event": "changed", "data": json.dumps(message)}
            finally:
                feed.clients.discard(queue)

        return EventSourceResponse(events(), ping=15)

    @app.get("/boards/child-protection/open-plans", tags=["boards"],
             summary="Children on a child protection plan now (person-level: council only)")
    async def open_plans(request: Request, response: Response, locality: Locality = None
                         ) -> dict[str, Any]:
        async with reading(state["pool"]) as conn:
            children = await snapshot(conn, clock.today(), locality)
        plans = sorted(({"child_id": c.child_id, "plan_id": c.get("cp_plan"),
                         "category": c.get("cp_category"), "start_date": c.get("cp_started"),
                         "previous_plans": None if c.get("cp_repeat") is None
                         else int(c.get("cp_repeat") == "1"), "locality": c.locality}
                        for c in children if c.get("cp_plan")),
                       key=lambda p: (p["start_date"] or "", p["child_id"]))
        plans, _ = await visible_rows(request, response, plans)
        return {"count": len(plans), "locality": locality, "plans": plans}

    @app.get("/boards/{board}", tags=["boards"], response_model=Board,
             summary="A board, as at a date, by locality (JSON, or CSV with format=csv)",
             responses={200: {"content": {"text/csv": {}}}, 404: {"description": "No such board"}})
    async def board(
        request: Request, response: Response,
        board: Annotated[str, Path(description=", ".join(BOARDS))],
        as_at: AsAt = None, locality: Locality = None, view: View = "partnership",
        since: Annotated[date | None, Query(description="Start of the trend period "
                                            "(default: twelve months to as_at)")] = None,
        dates: Annotated[str | None, Query(description="attendance: comma-separated days",
                                           pattern=r"^\d{4}-\d{2}-\d{2}(,\d{4}-\d{2}-\d{2})*$")
                         ] = None,
        format: Annotated[Literal["json", "csv"], Query()] = "json",
    ) -> Board | Response:
        if board not in BOARDS:
            raise HTTPException(404, f"no board {board!r}; boards: {', '.join(BOARDS)}")
        today = clock.today()
        day = as_at or today
        if day > today:
            raise HTTPException(422, [{"loc": ["query", "as_at"], "msg": "is in the future",
                                       "type": "value_error"}])
        wanted = [date.fromisoformat(x) for x in dates.split(",")] if dates else None
        result = await board_on(state["pool"], board, day, locality, since, wanted,
                                today=today, window=settings.board_days_kept)
        if view == "partnership":
            result = suppress(result, settings.small_number_threshold)
        elif board not in PERSON_LEVEL:
            result = result.model_copy(update={"rows": None})
        audit_id = None
        if result.rows is not None:
            rows, audit_id = await visible_rows(request, response, result.rows)
            result = result.model_copy(update={"rows": rows})
        if format == "csv":
            return Response(to_csv(result), media_type="text/csv", headers={
                "Content-Disposition": f'attachment; filename="{board}-{day}.csv"',
                **({"X-Audit-Id": audit_id} if audit_id else {})})
        return result

    return app

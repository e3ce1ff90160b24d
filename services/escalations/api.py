"""HTTP command API of the escalations service."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response

from contracts.escalations.events import ID_PATTERN
from contracts.ids import CHILD_ID_PATTERN
from services.escalations.domain import commands as c
from services.escalations.domain.escalation import Escalation
from services.escalations.domain.risk import ChildRisk
from services.escalations.policies import check_drift
from shared.access import check_locality
from shared.aggregate import Decision
from shared.api import (
    ERRORS,
    Caller,
    CorrelationId,
    IdempotencyKey,
    Recorded,
    command_context,
    domain_service_app,
    recorded,
)
from shared.application import UnknownStream, execute
from shared.clock import Clock, clock_from
from shared.known_children import KNOWN_CHILDREN_SQL, known_child
from shared.routes import CommandRoute, StreamParam, add_command_routes, add_stream_read
from shared.settings import Settings

CHILD = StreamParam("child_id", CHILD_ID_PATTERN, "Pseudonymous child id")

RULES_SQL = Path(__file__).parent / "sql"
ESCALATION = StreamParam("escalation_id", ID_PATTERN, "The escalation's id")

CHILD_ROUTES = [
    CommandRoute("/risk-ratings", c.AssignRiskRating, ChildRisk.assign_rating,
                 "Assign or change the child's RAG rating", "risk"),
    CommandRoute("/dip-samples", c.RecordDipSample, ChildRisk.dip_sample,
                 "Record a manager's dip sample of the rating (agree or moderate)", "risk"),
    CommandRoute("/ewo-escalation-closures", c.CloseEWOEscalation, ChildRisk.close_ewo,
                 "Close the open EWO attendance escalation", "attendance"),
]
ESCALATION_ROUTES = [
    CommandRoute("/advancements", c.AdvanceEscalation, Escalation.advance,
                 "Advance the escalation to a later stage", "escalations"),
    CommandRoute("/responses", c.RecordEscalationResponse, Escalation.respond,
                 "Record the response to the escalation", "escalations"),
    CommandRoute("/resolutions", c.ResolveEscalation, Escalation.resolve,
                 "Resolve the escalation", "escalations"),
]


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or clock_from(settings)
    app, state = domain_service_app(
        settings, "Escalations",
        "Risk ratings and their moderation, IRO and CP-chair escalations, EWO attendance "
        "escalations and drift alerts (raised by rule), published on `escalation-events`.",
        [KNOWN_CHILDREN_SQL, RULES_SQL])

    @app.post("/escalations", status_code=201, response_model=Recorded, responses=ERRORS,
              summary="Raise an IRO or CP-chair escalation", tags=["escalations"])
    async def raise_escalation(
        command: c.RaiseEscalation, response: Response,
        request: Request, caller: Caller,
        idempotency_key: IdempotencyKey = None, correlation_id: CorrelationId = None,
    ) -> Recorded:
        ctx = command_context(command, idempotency_key, correlation_id, caller)
        child = await known_child(state.pool, command.child_id)
        if child is None:
            raise UnknownStream(command.child_id)
        check_locality(request, child.locality)
        decision = Decision(today=clock.today(), child=child)
        result = await execute(state.store, Escalation, command.escalation_id,
                               lambda esc: esc.raise_(command, decision), ctx, must_exist=False)
        return recorded(result, response)

    @app.post("/drift-checks", tags=["drift"],
              summary="Check the drift rules now (the worker also checks them periodically)")
    async def drift_check(
        as_at: Annotated[date | None, Query(description="Defaults to today")] = None,
    ) -> dict[str, object]:
        today = clock.today()
        day = min(as_at or today, today)  # alerts are facts: never raised for the future
        return {"as_at": day.isoformat(), "alerts_raised": await check_drift(state.pool, day)}

    add_command_routes(app, "/children", CHILD, CHILD_ROUTES, ChildRisk, lambda: state.store,
                       clock, known_child=lambda child_id: known_child(state.pool, child_id))
    async def child_of(escalation_id: str) -> str | None:
        return await state.pool.fetchval(  # type: ignore[no-any-return]
            "SELECT payload->>'child_id' FROM events WHERE stream_id = $1"
            " AND stream_version = 1", escalation_id)

    async def locality_of(escalation_id: str) -> str | None:
        child_id = await child_of(escalation_id)
        child = await known_child(state.pool, child_id) if child_id else None
        return child.locality if child else None

    add_command_routes(app, "/escalations", ESCALATION, ESCALATION_ROUTES, Escalation,
                       lambda: state.store, clock, locality_of=locality_of)
    add_stream_read(app, "/escalations", ESCALATION, Escalation, lambda: state.store,
                    locality_of=locality_of, child_of=child_of)
    add_stream_read(app, "/children", CHILD, ChildRisk, lambda: state.store,
                    known_child=lambda child_id: known_child(state.pool, child_id))
    return app

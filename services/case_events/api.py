"""HTTP command API of the case-events service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path, Response

from services.case_events.domain.child import Child, Family
from services.case_events.domain.commands import RecordTriageDiscussion, RegisterChild
from services.case_events.events import CHILD_ID_PATTERN, ID_PATTERN
from services.case_events.routes import CHILD_ROUTES
from shared.aggregate import Decision
from shared.api import (
    ERRORS,
    ActorAgency,
    ActorId,
    ActorRole,
    CorrelationId,
    IdempotencyKey,
    Recorded,
    command_context,
    domain_service_app,
    recorded,
)
from shared.application import UnknownStream, execute
from shared.clock import Clock, clock_from
from shared.routes import CommandRoute, StreamParam, add_command_routes
from shared.settings import Settings

CHILD = StreamParam("child_id", CHILD_ID_PATTERN, "Pseudonymous child id")
FAMILY = StreamParam("family_id", ID_PATTERN, "Pseudonymous family id")
ChildId = Annotated[str, Path(pattern=CHILD.pattern, description=CHILD.description)]


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or clock_from(settings)
    app, state = domain_service_app(
        settings, "Case events",
        "Records the child's statutory journey, from referral to leaving care, as events "
        "published on the `case-events` topic (see docs/events.md).")

    @app.post("/children", status_code=201, response_model=Recorded, responses=ERRORS,
              summary="Register a child", tags=["children"])
    async def register_child(
        command: RegisterChild, response: Response,
        actor_id: ActorId, actor_agency: ActorAgency, actor_role: ActorRole,
        idempotency_key: IdempotencyKey = None, correlation_id: CorrelationId = None,
    ) -> Recorded:
        ctx = command_context(command, idempotency_key, correlation_id,
                              actor_id, actor_agency, actor_role)
        decision = Decision(today=clock.today())
        result = await execute(state.store, Child, command.child_id,
                               lambda child: child.register(command, decision), ctx,
                               must_exist=False)
        return recorded(result, response)

    @app.get("/children/{child_id}", summary="The child's stream version and what is open",
             tags=["children"], responses={404: ERRORS[404]})
    async def child(child_id: ChildId, response: Response) -> dict[str, Any]:
        found = Child.from_history(child_id, await state.store.read_stream(child_id))
        if not found.exists:
            raise UnknownStream(child_id)
        response.headers["ETag"] = f'"{found.version}"'
        s = found.s
        return {
            "child_id": child_id,
            "stream_version": found.version,
            "locality": s.locality,
            "open_child_protection_plan": s.cp_plan.id if s.cp_plan else None,
            "in_care": s.care is not None,
            "care_leaver_status": s.care_leaver,
            "priority_cohort": s.priority_since is not None,
        }

    add_command_routes(app, "/children", CHILD, CHILD_ROUTES, Child,
                       lambda: state.store, clock)
    add_command_routes(
        app, "/families", FAMILY,
        [CommandRoute("/triage-discussions", RecordTriageDiscussion, Family.record_triage,
                      "Record a family discussed at early-help triage", "early help")],
        Family, lambda: state.store, clock, stream_may_be_new=True)
    return app

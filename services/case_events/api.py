"""HTTP command API of the case-events service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Path, Response

from services.case_events import handlers
from services.case_events.domain.child import Child, ChildAlreadyRegistered
from services.case_events.domain.commands import RegisterChild, StartChildProtectionPlan
from services.case_events.events import CHILD_ID_PATTERN
from shared.api import (
    ActorAgency,
    ActorId,
    ActorRole,
    AlreadyExists,
    CorrelationId,
    IdempotencyKey,
    IfMatch,
    Recorded,
    command_context,
    if_match_version,
    recorded,
    service_app,
)
from shared.application import UnknownStream
from shared.clock import Clock, SystemClock
from shared.db import open_database
from shared.eventstore import PostgresEventStore
from shared.migrations import EVENT_STORE_SQL
from shared.settings import Settings

ChildId = Annotated[str, Path(pattern=CHILD_ID_PATTERN, description="Pseudonymous child id")]

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No child with this id is recorded"},
    409: {"description": "Version conflict (If-Match or a concurrent writer), or already recorded"},
    422: {"description": "Invalid field, or a domain rule refused the command; names the field"},
}


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()
    state: dict[str, Any] = {}

    async def database_check() -> dict[str, Any]:
        await state["pool"].fetchval("SELECT 1")
        return {"ok": True}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await open_database(settings, EVENT_STORE_SQL)
        state["pool"] = pool
        state["store"] = PostgresEventStore(pool)
        try:
            yield
        finally:
            await pool.close()

    app = service_app(
        "Case events", settings.service,
        "Records the child's statutory journey as events (published on `case-events`).",
        lifespan, {"postgres": database_check},
    )

    @app.post("/children", status_code=201, response_model=Recorded, responses=ERRORS,
              summary="Register a child", tags=["children"])
    async def register_child(
        command: RegisterChild, response: Response,
        actor_id: ActorId, actor_agency: ActorAgency, actor_role: ActorRole,
        idempotency_key: IdempotencyKey = None, correlation_id: CorrelationId = None,
    ) -> Recorded:
        ctx = command_context(command, idempotency_key, correlation_id,
                              actor_id, actor_agency, actor_role)
        try:
            result = await handlers.register_child(command, ctx, state["store"], clock)
        except ChildAlreadyRegistered as error:
            raise AlreadyExists(str(error)) from None
        return recorded(result, response)

    @app.get("/children/{child_id}", summary="The child's stream version and open plan",
             tags=["children"], responses={404: ERRORS[404]})
    async def child(child_id: ChildId, response: Response) -> dict[str, Any]:
        found = Child.from_history(child_id, await state["store"].read_stream(child_id))
        if not found.exists:
            raise UnknownStream(child_id)
        response.headers["ETag"] = f'"{found.version}"'
        return {
            "child_id": child_id,
            "stream_version": found.version,
            "locality": found.locality,
            "open_child_protection_plan": found.open_plan.plan_id if found.open_plan else None,
        }

    @app.post("/children/{child_id}/child-protection-plans", status_code=201,
              response_model=Recorded, responses=ERRORS, tags=["child protection"],
              summary="Start a child protection plan")
    async def start_child_protection_plan(
        child_id: ChildId, command: StartChildProtectionPlan, response: Response,
        actor_id: ActorId, actor_agency: ActorAgency, actor_role: ActorRole,
        idempotency_key: IdempotencyKey = None, correlation_id: CorrelationId = None,
        if_match: IfMatch = None,
    ) -> Recorded:
        ctx = command_context(command, idempotency_key, correlation_id, actor_id, actor_agency,
                              actor_role, extra={"child_id": child_id})
        result = await handlers.start_child_protection_plan(
            child_id, command, ctx, state["store"], clock, if_match_version(if_match)
        )
        return recorded(result, response)

    return app

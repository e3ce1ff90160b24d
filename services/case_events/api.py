"""HTTP command API of the case-events service."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from contracts.case_events.events import CHILD_ID_PATTERN, ID_PATTERN
from services.case_events.domain.child import Child, Family
from services.case_events.domain.commands import (
    EraseChildPersonalData,
    RecordPersonalDetails,
    RecordTriageDiscussion,
    RegisterChild,
)
from services.case_events.governance import retention_report, subject_access_export
from services.case_events.personal import (
    KeyVault,
    PersonalDataErased,
    key_encryption_key,
    seal_details,
    unseal_details,
)
from services.case_events.routes import CHILD_ROUTES
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
from shared.routes import CommandRoute, StreamParam, add_command_routes
from shared.settings import Settings

CHILD = StreamParam("child_id", CHILD_ID_PATTERN, "Pseudonymous child id")
FAMILY = StreamParam("family_id", ID_PATTERN, "Pseudonymous family id")
ChildId = Annotated[str, Path(pattern=CHILD.pattern, description=CHILD.description)]
KEYS_SQL = FilePath(__file__).parent / "sql"


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or clock_from(settings)
    kek = key_encryption_key(settings)
    app, state = domain_service_app(
        settings, "Case events",
        "Records the child's statutory journey, from referral to leaving care, as events "
        "published on the `case-events` topic (see docs/events.md). Personal details are "
        "sealed with the child's own key (docs/security.md).", [KEYS_SQL])

    def vault() -> KeyVault:
        return KeyVault(state.pool, kek)

    async def locality_of(child_id: str) -> str | None:
        return await state.pool.fetchval(  # type: ignore[no-any-return]
            "SELECT payload->>'locality' FROM events WHERE stream_id = $1"
            " AND event_type = 'ChildRegistered'", child_id)

    @app.exception_handler(PersonalDataErased)
    async def erased(_: Request, error: PersonalDataErased) -> Response:
        return JSONResponse({"detail": str(error)}, status_code=409)

    @app.post("/children", status_code=201, response_model=Recorded, responses=ERRORS,
              summary="Register a child (optionally with personal details, sealed)",
              tags=["children"])
    async def register_child(
        command: RegisterChild, request: Request, response: Response, caller: Caller,
        idempotency_key: IdempotencyKey = None, correlation_id: CorrelationId = None,
    ) -> Recorded:
        check_locality(request, command.locality)
        ctx = command_context(command, idempotency_key, correlation_id, caller)
        decision = Decision(today=clock.today())
        sealed = None
        if command.personal is not None:
            key = await vault().key(command.child_id, create=True)
            assert key is not None
            sealed = seal_details(key, command.child_id, command.personal)
        result = await execute(state.store, Child, command.child_id,
                               lambda child: child.register(command, decision, sealed), ctx,
                               must_exist=False)
        return recorded(result, response)

    @app.get("/children/{child_id}", summary="The child's stream version and what is open",
             tags=["children"], responses={404: ERRORS[404]})
    async def child(child_id: ChildId, request: Request, response: Response) -> dict[str, Any]:
        found = Child.from_history(child_id, await state.store.read_stream(child_id))
        if not found.exists:
            raise UnknownStream(child_id)
        s = found.s
        check_locality(request, s.locality)
        response.headers["ETag"] = f'"{found.version}"'
        return {
            "child_id": child_id,
            "stream_version": found.version,
            "locality": s.locality,
            "open_child_protection_plan": s.cp_plan.id if s.cp_plan else None,
            "in_care": s.care is not None,
            "care_leaver_status": s.care_leaver,
            "priority_cohort": s.priority_since is not None,
            "personal_data_erased_on": s.erased_on,
        }

    @app.post("/children/{child_id}/personal-details", status_code=201, response_model=Recorded,
              responses={**ERRORS, 409: {"description": "The child's personal data was erased"}},
              summary="Record the child's name, address or notes (sealed with the child's key)",
              tags=["personal data"])
    async def record_personal_details(
        child_id: ChildId, command: RecordPersonalDetails, request: Request,
        response: Response, caller: Caller, idempotency_key: IdempotencyKey = None,
        correlation_id: CorrelationId = None,
    ) -> Recorded:
        locality = await locality_of(child_id)
        if locality is None:
            raise UnknownStream(child_id)
        check_locality(request, locality)
        ctx = command_context(command, idempotency_key, correlation_id, caller,
                              extra={"stream": child_id, "path": "/personal-details"})
        key = await vault().key(child_id, create=True)
        assert key is not None
        sealed = seal_details(key, child_id, command)
        decision = Decision(today=clock.today())
        result = await execute(state.store, Child, child_id,
                               lambda c: c.record_personal_details(sealed, decision), ctx)
        return recorded(result, response)

    @app.get("/children/{child_id}/personal-details", tags=["personal data"],
             summary="The child's personal details as last recorded (audited)",
             responses={404: ERRORS[404]})
    async def personal_details(child_id: ChildId, request: Request) -> dict[str, Any]:
        locality = await locality_of(child_id)
        if locality is None:
            raise UnknownStream(child_id)
        check_locality(request, locality)
        rows = await state.pool.fetch(
            "SELECT payload FROM events WHERE stream_id = $1"
            " AND event_type = 'PersonalDetailsRecorded' ORDER BY stream_version", child_id)
        key = await vault().key(child_id)
        details: dict[str, Any] = {}
        for row in rows:  # each recording updates the fields it names
            payload = json.loads(row["payload"])
            details.update({k: v for k, v in unseal_details(key, child_id, payload).items()
                            if v is not None})
        return {"child_id": child_id, **details}

    @app.post("/children/{child_id}/erasure", status_code=201, response_model=Recorded,
              responses=ERRORS, tags=["personal data"],
              summary="Erase the child's personal data: the child's key is destroyed")
    async def erase(
        child_id: ChildId, command: EraseChildPersonalData, response: Response, caller: Caller,
        idempotency_key: IdempotencyKey = None, correlation_id: CorrelationId = None,
    ) -> Recorded:
        ctx = command_context(command, idempotency_key, correlation_id, caller,
                              extra={"stream": child_id, "path": "/erasure"})
        if await locality_of(child_id) is None:
            raise UnknownStream(child_id)
        # The key first: if the event then fails, a retry finds the key already gone.
        await vault().erase(child_id, caller.user_id)
        decision = Decision(today=clock.today())
        result = await execute(state.store, Child, child_id,
                               lambda c: c.erase_personal_data(command, decision), ctx)
        return recorded(result, response)

    @app.get("/children/{child_id}/subject-access", tags=["personal data"],
             summary="Subject access export: everything held about the child (audited)")
    async def subject_access(child_id: ChildId, request: Request, caller: Caller
                             ) -> dict[str, Any]:
        if await locality_of(child_id) is None:
            raise UnknownStream(child_id)
        return await subject_access_export(settings, vault(), request.app.state.audit.pool,
                                           child_id, caller.user_id)

    @app.get("/retention", tags=["personal data"],
             summary="Records past their retention date, not yet erased")
    async def retention(
        as_at: Annotated[date | None, Query(description="Default: today")] = None,
    ) -> dict[str, Any]:
        day = as_at or clock.today()
        due = await retention_report(state.pool, day)
        return {"as_at": day.isoformat(), "count": len(due), "records": due}

    add_command_routes(app, "/children", CHILD, CHILD_ROUTES, Child,
                       lambda: state.store, clock, locality_of=locality_of)
    add_command_routes(
        app, "/families", FAMILY,
        [CommandRoute("/triage-discussions", RecordTriageDiscussion, Family.record_triage,
                      "Record a family discussed at early-help triage", "early help")],
        Family, lambda: state.store, clock, stream_may_be_new=True)
    return app

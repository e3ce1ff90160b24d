"""A child's personal details: recorded sealed with the child's own key, read back (audited),
and erased by destroying the key."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from services.case_events.domain.child import Child
from services.case_events.domain.commands import EraseChildPersonalData, RecordPersonalDetails
from services.case_events.personal import (
    seal_details,
    unseal_details,
)
from services.case_events.routes.commands import ChildId, locality_of
from shared.access import Permission, audit_read, check_locality, requires
from shared.aggregate import Decision
from shared.api import (
    ERRORS,
    Caller,
    CorrelationId,
    IdempotencyKey,
    Pool,
    Recorded,
    ServiceClock,
    Store,
    command_context,
    recorded,
)
from shared.application import UnknownStream, execute
from shared.sealing import Vault

router = APIRouter(tags=["personal data"])


async def erased(_: Request, error: Exception) -> Response:
    """PersonalDataErased: 409, nothing personal is recorded for the child again."""
    return JSONResponse({"detail": str(error)}, status_code=409)


async def registered_locality(request: Request, pool: Pool, child_id: str) -> str:
    """The child's locality, once the caller may act on it; 404 if never registered."""
    locality = await locality_of(pool, child_id)
    if locality is None:
        raise UnknownStream(child_id)
    check_locality(request, locality, record=child_id)
    return locality


@router.post(
    "/children/{child_id}/personal-details",
    status_code=201,
    response_model=Recorded,
    responses={**ERRORS, 409: {"description": "The child's personal data was erased"}},
    summary="Record the child's name, address or notes (sealed with the child's key)",
    dependencies=[requires(Permission.RECORD)],
)
async def record_personal_details(
    child_id: ChildId,
    command: RecordPersonalDetails,
    request: Request,
    response: Response,
    caller: Caller,
    store: Store,
    pool: Pool,
    vault: Vault,
    clock: ServiceClock,
    idempotency_key: IdempotencyKey = None,
    correlation_id: CorrelationId = None,
) -> Recorded:
    await registered_locality(request, pool, child_id)
    key = await vault.key(child_id, create=True)
    if key is None:  # create=True makes one or raises PersonalDataErased
        raise RuntimeError(f"no key could be made for {child_id!r}")
    ctx = command_context(
        command,
        idempotency_key,
        correlation_id,
        caller,
        extra={"stream": child_id, "path": "/personal-details"},
        personal_key=key,
    )
    sealed = seal_details(key, child_id, command)
    decision = Decision(today=clock.today())
    result = await execute(
        store, Child, child_id, lambda c: c.record_personal_details(sealed, decision), ctx
    )
    return recorded(result, response)


@router.get(
    "/children/{child_id}/personal-details",
    summary="The child's personal details as last recorded (audited)",
    responses={404: ERRORS[404]},
    dependencies=[requires(Permission.READ_PERSONAL)],
)
async def personal_details(
    child_id: ChildId, request: Request, pool: Pool, vault: Vault
) -> dict[str, Any]:
    await registered_locality(request, pool, child_id)
    rows = await pool.fetch(
        "SELECT payload FROM events WHERE stream_id = $1"
        " AND event_type = 'PersonalDetailsRecorded' ORDER BY stream_version",
        child_id,
    )
    key = await vault.key(child_id)
    details: dict[str, Any] = {}
    for row in rows:  # each recording updates the fields it names
        payload = json.loads(row["payload"])
        details.update(
            {k: v for k, v in unseal_details(key, child_id, payload).items() if v is not None}
        )
    return {"child_id": child_id, **details}


@router.post(
    "/children/{child_id}/erasure",
    status_code=201,
    response_model=Recorded,
    responses=ERRORS,
    summary="Erase the child's personal data: the child's key is destroyed (audited)",
    dependencies=[requires(Permission.ERASE, lists_children=True)],
)
async def erase(
    child_id: ChildId,
    command: EraseChildPersonalData,
    request: Request,
    response: Response,
    caller: Caller,
    store: Store,
    pool: Pool,
    vault: Vault,
    clock: ServiceClock,
    idempotency_key: IdempotencyKey = None,
    correlation_id: CorrelationId = None,
) -> Recorded:
    ctx = command_context(
        command,
        idempotency_key,
        correlation_id,
        caller,
        extra={"stream": child_id, "path": "/erasure"},
    )
    if await locality_of(pool, child_id) is None:
        raise UnknownStream(child_id)
    earlier = ctx.idempotency_key and await store.find_command(
        ctx.idempotency_key, ctx.request_hash
    )
    if earlier:  # the same erasure delivered again: already done
        return recorded(earlier, response)
    decision = Decision(today=clock.today())
    # Decided before anything is destroyed: a refused erasure (a date in the future, a child
    # already erased) leaves the key as it was. Then the key, then the event: if recording
    # fails, a retry finds the key gone and records the event.
    child = Child.from_history(child_id, await store.read_stream(child_id))
    child.erase_personal_data(command, decision)
    # In the access log before anything is destroyed: who, which child, why (no audit, no
    # erasure; a retry after a failure below is recorded again).
    why = f"erasure of personal data: {command.reason}"
    purpose = request.headers.get("X-Purpose")
    await audit_read(request, response, [child_id], f"{why}; {purpose}" if purpose else why)
    await vault.erase(child_id, caller.user_id)
    result = await execute(
        store, Child, child_id, lambda c: c.erase_personal_data(command, decision), ctx
    )
    return recorded(result, response)

"""Registering a child, and this service's record of the child."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from services.case_events.domain.child import Child
from services.case_events.domain.commands import RegisterChild
from services.case_events.personal import seal_details
from services.case_events.routes.commands import ChildId
from services.case_events.routes.personal_data import Vault
from shared.access import Permission, check_locality, requires
from shared.aggregate import Decision
from shared.api import (
    ERRORS,
    Caller,
    CorrelationId,
    IdempotencyKey,
    Recorded,
    ServiceClock,
    Store,
    command_context,
    recorded,
)
from shared.application import UnknownStream, execute

router = APIRouter(tags=["children"])


@router.post(
    "/children",
    status_code=201,
    response_model=Recorded,
    responses=ERRORS,
    summary="Register a child (optionally with personal details, sealed)",
    dependencies=[requires(Permission.RECORD)],
)
async def register_child(
    command: RegisterChild,
    request: Request,
    response: Response,
    caller: Caller,
    store: Store,
    vault: Vault,
    clock: ServiceClock,
    idempotency_key: IdempotencyKey = None,
    correlation_id: CorrelationId = None,
) -> Recorded:
    check_locality(request, command.locality)
    sealed, key = None, None
    if command.personal is not None:
        key = await vault.key(command.child_id, create=True)
        if key is None:  # create=True makes one or raises PersonalDataErased
            raise RuntimeError(f"no key could be made for {command.child_id!r}")
        sealed = seal_details(key, command.child_id, command.personal)
    ctx = command_context(command, idempotency_key, correlation_id, caller, personal_key=key)
    decision = Decision(today=clock.today())
    result = await execute(
        store,
        Child,
        command.child_id,
        lambda child: child.register(command, decision, sealed),
        ctx,
        must_exist=False,
    )
    return recorded(result, response)


@router.get(
    "/children/{child_id}",
    summary="The child's stream version and what is open",
    responses={404: ERRORS[404]},
    dependencies=[requires(Permission.READ_CHILD)],
)
async def child(
    child_id: ChildId, request: Request, response: Response, store: Store
) -> dict[str, Any]:
    found = Child.from_history(child_id, await store.read_stream(child_id))
    if not found.exists:
        raise UnknownStream(child_id)
    s = found.state
    check_locality(request, s.locality, record=child_id)
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

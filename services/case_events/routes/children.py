"""Registering a child, and this service's record of the child."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from contracts.case_events.events import SealedPersonalDetails
from services.case_events.domain.child import Child
from services.case_events.domain.commands import RegisterChild, RegisterUnbornChild
from services.case_events.personal import KeyVault, seal_details
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
from shared.auth import Principal
from shared.clock import Clock
from shared.envelope import DomainEvent
from shared.eventstore import EventStore
from shared.reference_data import check_references

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
    return await _register(
        command,
        Child.register,
        request,
        response,
        caller,
        store,
        vault,
        clock,
        idempotency_key,
        correlation_id,
    )


@router.post(
    "/unborn-children",
    status_code=201,
    response_model=Recorded,
    responses=ERRORS,
    summary="Register an unborn child (optionally with personal details, sealed)",
    dependencies=[requires(Permission.RECORD)],
)
async def register_unborn_child(
    command: RegisterUnbornChild,
    request: Request,
    response: Response,
    caller: Caller,
    store: Store,
    vault: Vault,
    clock: ServiceClock,
    idempotency_key: IdempotencyKey = None,
    correlation_id: CorrelationId = None,
) -> Recorded:
    return await _register(
        command,
        Child.register_unborn,
        request,
        response,
        caller,
        store,
        vault,
        clock,
        idempotency_key,
        correlation_id,
    )


Register = Callable[[Child, Any, Decision, SealedPersonalDetails | None], list[DomainEvent]]


async def _register(
    command: RegisterChild | RegisterUnbornChild,
    decide: Register,
    request: Request,
    response: Response,
    caller: Principal,
    store: EventStore,
    vault: KeyVault,
    clock: Clock,
    idempotency_key: str | None,
    correlation_id: UUID | None,
) -> Recorded:
    """A child's record, born or unborn, starts with its registration; its personal details
    are sealed with a key made for the child before anything is recorded."""
    check_locality(request, command.locality)
    await check_references(request, command)
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
        lambda child: decide(child, command, decision, sealed),
        ctx,
        must_exist=False,
        new_stream=True,  # a child is registered once: its empty stream is not read first
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
        "born": s.date_of_birth is not None,
        "allocated_social_worker": s.social_worker.worker_id if s.social_worker else None,
        "open_child_protection_plan": s.cp_plan.id if s.cp_plan else None,
        "in_care": s.care is not None,
        "care_leaver_status": s.care_leaver,
        "priority_cohort": s.priority_since is not None,
        "personal_data_erased_on": s.erased_on,
    }

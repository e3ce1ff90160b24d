"""IRO and CP-chair escalations: raised, advanced, answered, resolved; and the record of one
escalation (audited with the child it is about)."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Request, Response

from contracts.escalations.events import ID_PATTERN
from services.escalations.domain import commands as c
from services.escalations.domain.escalation import Escalation
from shared.access import Permission, check_locality, requires
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
from shared.known_children import known_child
from shared.routes import CommandRoute, Commands, StreamParam, command_router, stream_read_router

ESCALATION = StreamParam("escalation_id", ID_PATTERN, "The escalation's id")

COMMANDS = [
    CommandRoute(
        "/advancements",
        c.AdvanceEscalation,
        Escalation.advance,
        "Advance the escalation to a later stage",
        "escalations",
    ),
    CommandRoute(
        "/responses",
        c.RecordEscalationResponse,
        Escalation.respond,
        "Record the response to the escalation",
        "escalations",
    ),
    CommandRoute(
        "/resolutions",
        c.ResolveEscalation,
        Escalation.resolve,
        "Resolve the escalation",
        "escalations",
    ),
]


async def child_of(pool: asyncpg.Pool, escalation_id: str) -> str | None:
    """The child the escalation is about (named when it was raised)."""
    child_id: str | None = await pool.fetchval(
        "SELECT payload->>'child_id' FROM events WHERE stream_id = $1 AND stream_version = 1",
        escalation_id,
    )
    return child_id


async def locality_of(pool: asyncpg.Pool, escalation_id: str) -> str | None:
    child_id = await child_of(pool, escalation_id)
    child = await known_child(pool, child_id) if child_id else None
    return child.locality if child else None


ESCALATIONS = Commands("/escalations", ESCALATION, Escalation, locality_of=locality_of)
commands = command_router(ESCALATIONS, COMMANDS)
record = stream_read_router(ESCALATIONS, child_of=child_of)
router = APIRouter(tags=["escalations"])


# Written out, not a CommandRoute: every generated command takes its stream from the path and
# its child from that stream, while raising names both in the body (a new `escalation_id`
# about `child_id`). Generating it would take two body-addressing options used by this one
# route, and would change its request hash (so a retried raise sent with an Idempotency-Key
# used before the change would be refused as a reused key).
@router.post(
    "/escalations",
    status_code=201,
    response_model=Recorded,
    responses=ERRORS,
    summary="Raise an IRO or CP-chair escalation",
    dependencies=[requires(Permission.RECORD)],
)
async def raise_escalation(
    command: c.RaiseEscalation,
    response: Response,
    request: Request,
    caller: Caller,
    store: Store,
    pool: Pool,
    clock: ServiceClock,
    idempotency_key: IdempotencyKey = None,
    correlation_id: CorrelationId = None,
) -> Recorded:
    ctx = command_context(command, idempotency_key, correlation_id, caller)
    child = await known_child(pool, command.child_id)
    if child is None:
        raise UnknownStream(command.child_id)
    check_locality(request, child.locality, record=command.child_id)
    decision = Decision(today=clock.today(), child=child)
    result = await execute(
        store,
        Escalation,
        command.escalation_id,
        lambda esc: esc.raise_(command, decision),
        ctx,
        must_exist=False,
    )
    return recorded(result, response)

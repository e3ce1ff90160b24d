"""The attention queue's acknowledgements: someone of an incident management team saw an item
and assigned it to a worker. Recorded as an event (`AttentionAcknowledged`, on the item's own
stream) and audited with the child the item is about."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from contracts.escalations.codes import AttentionKind
from contracts.escalations.events import ITEM_ID_PATTERN
from services.escalations.domain import commands as c
from services.escalations.domain.attention import AttentionItem, stream_of
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
from shared.known_children import known_child

# Whoever may read the queue (it names children: the council's casework roles and the
# incident management teams) may acknowledge its items. RECORD would leave out the incident
# management teams, whose queue it is.
ACKNOWLEDGE = Permission.READ_PERSON_LEVEL

router = APIRouter(tags=["attention"])


@router.post(
    "/attention/{kind}/{item_id}/acknowledgements",
    status_code=201,
    response_model=Recorded,
    responses=ERRORS,
    summary="Acknowledge an item of the attention queue and assign it to a worker "
    "(again, to reassign it)",
    dependencies=[requires(ACKNOWLEDGE, lists_children=True)],
)
async def acknowledge(
    kind: AttentionKind,
    item_id: Annotated[
        str, Path(pattern=ITEM_ID_PATTERN, description="The id of the event that opened the item")
    ],
    command: c.AcknowledgeAttention,
    response: Response,
    request: Request,
    caller: Caller,
    store: Store,
    pool: Pool,
    clock: ServiceClock,
    idempotency_key: IdempotencyKey = None,
    correlation_id: CorrelationId = None,
) -> Recorded:
    child = await known_child(pool, command.child_id)
    if child is None:
        raise UnknownStream(command.child_id)
    check_locality(request, child.locality, record=command.child_id)
    # Audited before it is recorded, as a read is before it is answered: the acknowledgement
    # names the child, and the person who made it is accountable for it.
    await audit_read(request, response, [command.child_id])
    # The item is named by the path: a key used again for another item is another request.
    where = {"kind": kind.value, "item_id": item_id}
    ctx = command_context(command, idempotency_key, correlation_id, caller, extra=where)
    decision = Decision(today=clock.today(), child=child)
    result = await execute(
        store,
        AttentionItem,
        stream_of(item_id),
        lambda item: item.acknowledge(kind, item_id, command, decision),
        ctx,
        must_exist=False,
    )
    return recorded(result, response)

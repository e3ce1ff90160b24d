"""The incident management teams' attention queue over HTTP: the open items (person-level:
the council's casework roles and the incident management teams, each read audited with the
children it names, a user limited to some localities answered with theirs only), and how many
of each kind for everyone who reads boards (small numbers suppressed). Acknowledging an item is
a command to the escalations service (POST /attention/{kind}/{item_id}/acknowledgements there);
the live page forwards its form to it (services/projections/dashboard/attention.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from contracts.escalations.codes import AttentionKind
from services.projections.attention.queries import Item, counts, open_items, tallies
from services.projections.boards.model import Board
from services.projections.builds import reading
from services.projections.routes.boards import Locality
from shared.access import Permission, forbidden, principal_of, requires, visible_rows
from shared.api import Pool, ServiceClock, ServiceSettings

Kind = Annotated[AttentionKind | None, Query(description="Only items of this kind")]
# The queue names children: whoever reads person-level rows, each read audited by the handler.
QUEUE = [requires(Permission.READ_PERSON_LEVEL, lists_children=True)]

router = APIRouter(tags=["attention"])


async def queue(
    request: Request,
    response: Response | None,
    pool: Pool,
    today: date,
    locality: str | None,
    kind: AttentionKind | None,
    limit: int | None = None,
) -> tuple[list[Item], str]:
    """The open items this user may see (their localities' only; the `limit` longest waiting),
    the read audited (the children of the items answered): the items and the audit record's
    id."""
    principal = principal_of(request)
    if locality is not None and not principal.may_see_locality(locality):
        raise forbidden(f"locality {locality!r} is outside yours")
    async with reading(pool) as conn:
        items = await open_items(conn, today, locality, kind, principal.localities, limit)
    by_id = {i.item_id: i for i in items}
    rows, audit_id = await visible_rows(request, response, [i.row() for i in items])
    return [by_id[r["item_id"]] for r in rows], audit_id


async def localities(pool: Pool) -> list[str]:
    async with reading(pool) as conn:
        return [
            r["locality"]
            for r in await conn.fetch("SELECT DISTINCT locality FROM children ORDER BY locality")
        ]


@router.get(
    "/attention",
    summary="What needs a person now: the open items of the attention queue, longest "
    "waiting first (person-level: council only)",
    dependencies=QUEUE,
)
async def attention(
    request: Request,
    response: Response,
    pool: Pool,
    clock: ServiceClock,
    locality: Locality = None,
    kind: Kind = None,
    limit: Annotated[
        int, Query(ge=1, le=10_000, description="At most this many, the longest waiting")
    ] = 1000,
) -> dict[str, Any]:
    today = clock.today()
    items, _ = await queue(request, response, pool, today, locality, kind, limit)
    return {
        "as_at": today.isoformat(),
        "locality": locality,
        "kind": kind.value if kind else None,
        "count": len(items),
        "items": [i.row() for i in items],
    }


async def partnership_counts(pool: Pool, today: Any, threshold: int, locality: str | None) -> Board:
    async with reading(pool) as conn:
        tallied = await tallies(conn, today)
    return counts(tallied, today, await localities(pool), locality, threshold)


@router.get(
    "/attention/counts",
    response_model=Board,
    summary="How many items of each kind the attention queue holds (small numbers suppressed)",
    dependencies=[requires(Permission.READ_BOARDS)],
)
async def attention_counts(
    pool: Pool, clock: ServiceClock, settings: ServiceSettings, locality: Locality = None
) -> Board:
    return await partnership_counts(pool, clock.today(), settings.small_number_threshold, locality)

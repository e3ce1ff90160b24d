"""Partnership board packs: drafted (the boards, the day, the localities, the view), each
person's commentary on a section (sealed with the pack's key), the packs a user may read, and
one pack read back with its commentary unsealed and attributed (audited).

Drafting and commentary are commands like the service's others (Permission.RECORD: the
council's practitioners, managers and IROs; partners and board members read packs, they do
not write them). A pack in the council's view shows every number of its localities: like
the boards' council view (services/projections/routes/boards.py), it is only for those who
may read that view (Permission.READ_PERSON_LEVEL), of their own localities (a pack of the
whole county, of the whole council): others are refused it (403), to draft, comment or read.
A pack in the partnership view shows what the boards show every partner (small numbers
suppressed), so any reader of the boards may read it.

This module deliberately has no `from __future__ import annotations`: the endpoints' parameter
annotations must be the real classes when FastAPI inspects them.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel

from contracts.ids import ID_PATTERN
from contracts.quality.codes import PackView
from services.quality.domain import commands as c
from services.quality.domain.pack import BoardPack
from services.quality.routes.sealed import Record, SealedRoute, sealed_router, the_records
from shared.access import Permission, allowed, audit_read, forbidden, principal_of, requires
from shared.api import ERRORS, Pool, Store
from shared.application import UnknownStream
from shared.auth import Principal
from shared.routes import Commands, StreamParam
from shared.sealing import Vault, unseal

PACK = StreamParam("pack_id", ID_PATTERN, "The board pack's id")
PACKS = Commands("/board-packs", PACK, BoardPack)
SUBJECT = "board-pack"
TAG = "board packs"
# Why a pack's commentary is read, as the audit records it (the caller's X-Purpose overrides).
PURPOSE = "board pack"


def may_read(principal: Principal, view: str, localities: Sequence[str]) -> str | None:
    """Why the principal may not read (or draft, or comment on) a pack of this view and these
    localities (none: the county); None when they may."""
    if view != PackView.COUNCIL:
        return None
    if not allowed(Permission.READ_PERSON_LEVEL, principal):
        return "a pack in the council view is for the council's casework roles"
    if principal.localities is not None:
        if not localities:
            return "a council-view pack of the whole county is not for a user of some localities"
        outside = [name for name in localities if name not in principal.localities]
        if outside:
            return f"locality {outside[0]!r} is outside yours"
    return None


async def drafted(pool: asyncpg.Pool, pack_id: str) -> Mapping[str, Any] | None:
    """The pack's drafting (its view and localities), or None when the id holds no pack."""
    row = await pool.fetchrow(
        "SELECT payload FROM events WHERE stream_id = $1 AND stream_version = 1"
        " AND event_type = 'BoardPackDrafted'",
        pack_id,
    )
    return None if row is None else dict(json.loads(row["payload"]))


async def may_act(request: Request, pool: asyncpg.Pool, pack_id: str, command: BaseModel) -> None:
    """The drafter may read the pack they draft; a commentator the pack they comment on."""
    if isinstance(command, c.DraftBoardPack):
        view, localities = command.view, command.localities
    else:
        pack = await drafted(pool, pack_id)
        if pack is None:
            raise UnknownStream(pack_id)
        view, localities = pack["view"], pack["localities"]
    refused = may_read(principal_of(request), view, localities)
    if refused:
        raise forbidden(refused)


RECORD = Record(PACKS, "pack_id", the_records(SUBJECT), may_act=may_act)

sealed = sealed_router(
    RECORD,
    [
        SealedRoute(
            "",
            c.DraftBoardPack,
            BoardPack.draft,
            "Draft a board pack: its boards, the day, the localities and the view",
            TAG,
        ),
        SealedRoute(
            "/commentary",
            c.RecordBoardPackCommentary,
            BoardPack.comment,
            "Record a person's commentary on a section of the pack (sealed; attributed to the "
            "caller)",
            TAG,
            text="commentary",
        ),
    ],
)

record = APIRouter()
PackId = Annotated[str, Path(pattern=ID_PATTERN, description=PACK.description)]


def _written(envelope: Any) -> dict[str, Any]:
    """Who recorded an event of the pack, and when: the envelope's, from the caller's token."""
    return {
        "user_id": envelope.actor.user_id,
        "role": envelope.actor.role,
        "agency": envelope.actor.agency,
        "recorded_at": envelope.recorded_at,
    }


@record.get(
    "/board-packs",
    tags=[TAG],
    summary="The board packs you may read, newest first",
    dependencies=[requires(Permission.READ_BOARDS)],
)
async def packs(request: Request, pool: Pool) -> dict[str, Any]:
    rows = await pool.fetch(
        "SELECT stream_id, payload, actor, recorded_at FROM events"
        " WHERE event_type = 'BoardPackDrafted' ORDER BY position DESC LIMIT 500"
    )
    principal = principal_of(request)
    listed = []
    for row in rows:
        payload, actor = json.loads(row["payload"]), json.loads(row["actor"])
        if may_read(principal, payload["view"], payload["localities"]) is None:
            listed.append(
                {
                    **payload,
                    "drafted_by": actor["user_id"],
                    "drafted_at": row["recorded_at"],
                }
            )
    return {"packs": listed}


@record.get(
    "/board-packs/{pack_id}",
    tags=[TAG],
    responses={404: ERRORS[404], 403: {"description": "A council-view pack not for you"}},
    summary="The board pack, its commentary unsealed and attributed, in the order written "
    "(audited)",
    dependencies=[requires(Permission.READ_BOARDS)],
)
async def read_pack(
    pack_id: PackId, request: Request, response: Response, store: Store, vault: Vault
) -> dict[str, Any]:
    history = await store.read_stream(pack_id)
    pack = BoardPack.from_history(pack_id, history)
    if not pack.exists:
        raise UnknownStream(pack_id)
    refused = may_read(principal_of(request), pack.view, pack.localities)
    if refused:
        raise forbidden(refused)
    subject = f"{SUBJECT}/{pack_id}"
    key = await vault.key(subject)
    first, *rest = history
    commentary = [
        {
            "commentary_id": e.payload["commentary_id"],
            "section": e.payload["section"],
            "commentary": unseal(key, subject, "commentary", e.payload["commentary"]),
            **_written(e),
        }
        for e in rest
        if e.event_type == "BoardPackCommentaryRecorded"
    ]
    await audit_read(request, response, [], request.headers.get("X-Purpose") or PURPOSE)
    response.headers["ETag"] = f'"{pack.version}"'
    return {
        **first.payload,
        "drafted": _written(first),
        "stream_version": pack.version,
        "commentary": commentary,
    }

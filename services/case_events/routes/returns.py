"""The one personal field the statutory returns carry: each child's Unique Pupil Number.

SSDA903 and the CIN census identify a child to the DfE by UPN, which this service keeps sealed
with the child's own key (services/case_events/personal.py). The returns are assembled by the
projections service from the event log (services/projections/returns); it asks here, with the
caller's own token, for the UPNs of the children a return names. So the UPNs are unsealed only
for a person allowed to export a return, each request audited with every child it names, and
a child whose personal data was erased has none (the return then says the UPN is unknown).
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from contracts.ids import CHILD_ID_PATTERN
from services.case_events.personal import ERASED, unseal
from services.case_events.routes.personal_data import Vault
from shared.access import Permission, audit_read, requires, whole_council
from shared.api import ERRORS, Pool
from shared.security import BULK

router = APIRouter(tags=["statutory returns"])
COUNCIL_WIDE = {"description": "Not a manager, or a manager of some localities only"}

# A shire county's CIN census names about 15,000 children: a few requests at most.
MOST_CHILDREN = 20_000


class PupilNumbersAsked(BaseModel):
    child_ids: list[Annotated[str, Field(pattern=CHILD_ID_PATTERN)]] = Field(
        ..., max_length=MOST_CHILDREN, description="The children a return names."
    )


class PupilNumbers(BaseModel):
    upns: dict[str, str | None] = Field(
        ..., description="Each child asked for: its UPN as last recorded, or null if none."
    )


@router.post(
    "/returns/pupil-numbers",
    response_model=PupilNumbers,
    summary="The UPNs of the children a statutory return names (audited; council-wide)",
    responses={403: COUNCIL_WIDE, 422: ERRORS[422]},
    dependencies=[requires(Permission.EXPORT_RETURNS, lists_children=True), Depends(whole_council)],
    openapi_extra=BULK,  # a county's children: held to CSP_MAX_BULK_REQUEST_BYTES
)
async def pupil_numbers(
    asked: PupilNumbersAsked, request: Request, response: Response, pool: Pool, vault: Vault
) -> PupilNumbers:
    wanted = sorted(set(asked.child_ids))
    rows = await pool.fetch(
        "SELECT stream_id, payload FROM events WHERE stream_id = ANY($1::text[])"
        " AND event_type = 'PersonalDetailsRecorded' ORDER BY stream_id, stream_version",
        wanted,
    )
    sealed: dict[str, str] = {}
    for row in rows:  # each recording updates the fields it names: the last UPN stands
        upn = json.loads(row["payload"]).get("upn")
        if upn:
            sealed[row["stream_id"]] = upn
    upns: dict[str, str | None] = dict.fromkeys(wanted)
    for child_id, value in sealed.items():
        plain = unseal(await vault.key(child_id), child_id, "upn", value)
        upns[child_id] = None if plain == ERASED else plain
    await audit_read(
        request,
        response,
        wanted,
        request.headers.get("X-Purpose")
        or "statutory return to the DfE (Children Act 1989 section 83): the UPNs it names",
    )
    return PupilNumbers(upns=upns)

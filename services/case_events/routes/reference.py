"""The council's reference data, maintained through the API: for each kind (localities,
schools, teams, social workers) POST /reference/<kind> adds an item, POST
/reference/<kind>/{id}/retirements retires one from a day, GET /reference/<kind> lists them.

Managers keep the lists (Permission.MAINTAIN_REFERENCE_DATA); every council user may read
them. `ReferenceLists` is also this service's `ReferenceLookup` (shared/reference_data.py):
the commands that name a locality, a team or a social worker are checked against the event
store itself, so an item may be named the moment it is added.

This module deliberately has no `from __future__ import annotations`: the generated
endpoints' parameter annotations must be the real classes when FastAPI inspects them.
"""

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel

from contracts.reference.events import LOCALITY, SCHOOL, SOCIAL_WORKER, TEAM, stream_of
from services.case_events.domain import reference as ref
from shared.access import Permission, requires
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
from shared.application import execute
from shared.commands import referenced_fields
from shared.eventstore import PostgresEventStore

router = APIRouter(tags=["reference data"])


class ReferenceLists:
    """Each kind's list as this API last read it, caught up on every use with the events
    after it: an indexed read of (nearly always) no rows, where reading the whole stream and
    decoding every event took a sixth of the API's time at 400 registrations a second. Every
    use still sees every event committed before it, so an item retired a moment before is
    refused as it was. One per app (`app.state.reference_data`): it is of one database.

    It is also this service's `ReferenceLookup` (shared/reference_data.py)."""

    def __init__(self) -> None:
        self._lists: dict[str, ref.ReferenceList] = {}

    async def read(self, pool: asyncpg.Pool, kind: str) -> ref.ReferenceList:
        stream = stream_of(kind)
        kept = self._lists.setdefault(kind, ref.ReferenceList(stream))
        # A store on the pool only to read (it wakes the relay after appends; this appends none).
        newer = await PostgresEventStore(pool).read_stream(stream, after_version=kept.version)
        return kept.caught_up(newer)

    async def __call__(self, pool: asyncpg.Pool, kind: str) -> dict[str, date | None]:
        """Every item of the kind ever added, with the day it was retired (None while
        current)."""
        return (await self.read(pool, kind)).items()


async def reference_lists(request: Request) -> ReferenceLists:
    lists: ReferenceLists = request.app.state.reference_data
    return lists


Lists = Annotated[ReferenceLists, Depends(reference_lists)]


@dataclass(frozen=True)
class KindRoutes:
    kind: str  # as Referenced(kind) names it
    path: str  # under /reference
    command: type[BaseModel]
    what: str  # for the summaries

    @property
    def key(self) -> str:
        return ref.KINDS[self.kind].key

    @property
    def id_pattern(self) -> str:
        """The item id's pattern, as the command's field declares it: the path takes the same."""
        field = self.command.model_fields[self.key]
        found = [m.pattern for m in field.metadata if getattr(m, "pattern", None)]
        if not found:
            raise LookupError(f"{self.command.__name__}.{self.key} declares no pattern")
        return str(found[0])


KIND_ROUTES = [
    KindRoutes(LOCALITY, "localities", ref.AddLocality, "a locality"),
    KindRoutes(SCHOOL, "schools", ref.AddSchool, "a school (by its URN)"),
    KindRoutes(TEAM, "teams", ref.AddTeam, "a team of social workers, in a current locality"),
    KindRoutes(
        SOCIAL_WORKER, "social-workers", ref.AddSocialWorker, "a social worker, in a current team"
    ),
]


def _add_routes(kind: KindRoutes) -> None:
    command_model = kind.command
    described = kind.command.model_fields[kind.key].description
    item_param = Annotated[
        str, Path(alias=kind.key, pattern=kind.id_pattern, description=described)
    ]

    async def add(
        command: command_model,  # type: ignore[valid-type]
        response: Response,
        caller: Caller,
        store: Store,
        pool: Pool,
        lists: Lists,
        clock: ServiceClock,
        idempotency_key: IdempotencyKey = None,
        correlation_id: CorrelationId = None,
    ) -> Recorded:
        ctx = command_context(
            command, idempotency_key, correlation_id, caller, extra={"reference": kind.path}
        )
        # The other kinds the item names (a team's locality, a worker's team), to decide on.
        known = {
            other: await lists(pool, other)
            for other in set(referenced_fields(command_model).values())
        }
        decision = Decision(today=clock.today())
        result = await execute(
            store,
            ref.ReferenceList,
            stream_of(kind.kind),
            lambda items: items.add(command, decision, known),
            ctx,
            must_exist=False,
        )
        return recorded(result, response)

    async def retire(
        item: item_param,
        command: ref.RetireItem,
        response: Response,
        caller: Caller,
        store: Store,
        clock: ServiceClock,
        idempotency_key: IdempotencyKey = None,
        correlation_id: CorrelationId = None,
    ) -> Recorded:
        ctx = command_context(
            command,
            idempotency_key,
            correlation_id,
            caller,
            extra={"reference": kind.path, "item": item},
        )
        decision = Decision(today=clock.today())
        result = await execute(
            store,
            ref.ReferenceList,
            stream_of(kind.kind),
            lambda items: items.retire(item, command, decision),
            ctx,
            must_exist=False,
        )
        return recorded(result, response)

    async def listed(response: Response, pool: Pool, lists: Lists) -> dict[str, Any]:
        found = await lists.read(pool, kind.kind)
        response.headers["ETag"] = f'"{found.version}"'
        return {
            "kind": kind.kind,
            "stream_version": found.version,
            "items": [
                {**found.added[item].model_dump(mode="json"), "retired_on": retired_on}
                for item, retired_on in sorted(found.items().items())
            ],
        }

    name = kind.kind
    add.__name__, retire.__name__, listed.__name__ = f"add_{name}", f"retire_{name}", name
    maintain = [requires(Permission.MAINTAIN_REFERENCE_DATA)]
    router.post(
        f"/reference/{kind.path}",
        status_code=201,
        response_model=Recorded,
        responses=ERRORS,
        summary=f"Add {kind.what}",
        description="Refused (409) if it is current already; a retired one is current again.",
        operation_id=f"add_{name}",
        dependencies=maintain,
    )(add)
    router.post(
        f"/reference/{kind.path}/{{{kind.key}}}/retirements",
        status_code=201,
        response_model=Recorded,
        responses=ERRORS,
        summary=f"Retire {kind.what}: refused in new commands from now on",
        description="404 if it was never added, 409 if it is retired already.",
        operation_id=f"retire_{name}",
        dependencies=maintain,
    )(retire)
    router.get(
        f"/reference/{kind.path}",
        summary=f"Every {kind.kind.replace('_', ' ')} ever added, with the day it was retired",
        operation_id=f"list_{name}",
        dependencies=[requires(Permission.READ_REFERENCE_DATA)],
    )(listed)


for _kind in KIND_ROUTES:
    _add_routes(_kind)

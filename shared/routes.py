"""Command endpoints declared as data: a path, a command model, a decision.

Every command of every service is carried out the same way (shared.application.execute), so
its endpoint is generated rather than written out: the OpenAPI document still shows each
command's own body model, examples and errors.

This module deliberately has no `from __future__ import annotations`: the endpoint's
parameter annotations must be the real classes when FastAPI inspects them.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel

from shared.access import Permission, audit_read, check_locality, check_locality_of, requires
from shared.aggregate import Aggregate, Decision, KnownChild
from shared.api import (
    ERRORS,
    Caller,
    CorrelationId,
    IdempotencyKey,
    IfMatch,
    Pool,
    Recorded,
    ServiceClock,
    Store,
    command_context,
    if_match_version,
    recorded,
)
from shared.application import UnknownStream, execute
from shared.envelope import DomainEvent
from shared.reference_data import check_references

Decide = Callable[[Any, Any, Decision], Sequence[DomainEvent]]
# Looked up in the service's database by the stream's id: the child it is (or belongs to),
# or the child's locality.
ChildLookup = Callable[[asyncpg.Pool, str], Awaitable[KnownChild | None]]
TextLookup = Callable[[asyncpg.Pool, str], Awaitable[str | None]]


@dataclass(frozen=True)
class CommandRoute:
    path: str  # relative to the stream, e.g. "/child-protection-plans"
    command: type[BaseModel]
    decide: Decide  # (aggregate, command, decision) -> events
    summary: str
    tag: str
    description: str = ""


@dataclass(frozen=True)
class StreamParam:
    """How the stream appears in the URL, e.g. /children/{child_id}."""

    name: str
    pattern: str
    description: str


@dataclass(frozen=True)
class Commands:
    """Where a kind of stream takes its commands, and how its child is found.

    By default the stream must exist (the aggregate is the child itself). With `known_child`
    the child must be known to this service (from the case-events topic) and the stream may
    be new (its first placement, its first enrolment...); `stream_may_be_new` alone lets the
    first command create the stream (a family's first triage discussion).

    Object-level: the caller must be allowed the child's locality (from `known_child`, or
    `locality_of` the stream, or the command's own `locality`). A command naming the
    council's reference data (a field marked `Referenced`) must name a current item
    (shared/reference_data.py).
    """

    prefix: str  # e.g. "/children"
    stream: StreamParam
    aggregate_type: type[Aggregate]
    known_child: ChildLookup | None = None
    locality_of: TextLookup | None = None
    stream_may_be_new: bool = False

    @property
    def must_exist(self) -> bool:
        return self.known_child is None and not self.stream_may_be_new

    @property
    def path(self) -> str:
        return f"{self.prefix}/{{{self.stream.name}}}"

    async def child(
        self, request: Request, pool: asyncpg.Pool, stream_id: str
    ) -> KnownChild | None:
        """The child the command is about (404 if unknown), once the caller may act on it."""
        child = await self.known(request, pool, stream_id)
        await self.check_locality(request, pool, stream_id)
        return child

    async def known(
        self, request: Request, pool: asyncpg.Pool, stream_id: str
    ) -> KnownChild | None:
        if self.known_child is None:
            return None
        child = await self.known_child(pool, stream_id)
        if child is None:
            raise UnknownStream(stream_id)
        check_locality(request, child.locality, record=stream_id)
        return child

    async def check_locality(self, request: Request, pool: asyncpg.Pool, stream_id: str) -> None:
        locality_of = self.locality_of
        if locality_of is not None:
            await check_locality_of(request, lambda key: locality_of(pool, key), stream_id)


def command_router(
    commands: Commands, routes: Sequence[CommandRoute], permission: Permission = Permission.RECORD
) -> APIRouter:
    """Each route at `{prefix}/{stream}{route.path}` (POST, 201 Recorded)."""
    router = APIRouter()
    for route in routes:
        _add(router, commands, route, permission)
    return router


def _add(
    router: APIRouter, commands: Commands, route: CommandRoute, permission: Permission
) -> None:
    command_model = route.command
    stream = commands.stream
    stream_param = Annotated[
        str, Path(alias=stream.name, pattern=stream.pattern, description=stream.description)
    ]

    async def endpoint(
        stream_id: stream_param,
        command: command_model,  # type: ignore[valid-type]
        request: Request,
        response: Response,
        caller: Caller,
        store: Store,
        pool: Pool,
        clock: ServiceClock,
        idempotency_key: IdempotencyKey = None,
        correlation_id: CorrelationId = None,
        if_match: IfMatch = None,
    ) -> Recorded:
        ctx = command_context(
            command,
            idempotency_key,
            correlation_id,
            caller,
            extra={"stream": stream_id, "path": route.path},
        )
        child = await commands.child(request, pool, stream_id)
        check_locality(request, getattr(command, "locality", None))
        await check_references(request, command)
        decision = Decision(today=clock.today(), child=child)
        result = await execute(
            store,
            commands.aggregate_type,
            stream_id,
            lambda aggregate: route.decide(aggregate, command, decision),
            ctx,
            must_exist=commands.must_exist,
            if_match=if_match_version(if_match),
        )
        return recorded(result, response)

    endpoint.__name__ = route.command.__name__
    router.post(
        f"{commands.path}{route.path}",
        status_code=201,
        response_model=Recorded,
        responses=ERRORS,
        summary=route.summary,
        description=route.description,
        tags=[route.tag],
        operation_id=snake(route.command.__name__),
        dependencies=[requires(permission)],
    )(endpoint)


def snake(name: str) -> str:
    """A command's operation id in the OpenAPI document: RecordContact -> record_contact (a
    hand-written command route names its operation the same way)."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def stream_read_router(commands: Commands, child_of: TextLookup | None = None) -> APIRouter:
    """GET `{prefix}/{stream}`: the stream's version (ETag, for If-Match); 404 when the child
    is unknown to this service (or, without `known_child`, when the stream does not exist).
    Object-level checks as for commands; a stream that is not the child's own (an
    escalation) is audited here with the child it belongs to (`child_of`)."""
    stream = commands.stream
    stream_param = Annotated[
        str, Path(alias=stream.name, pattern=stream.pattern, description=stream.description)
    ]
    aggregate_type = commands.aggregate_type
    router = APIRouter()

    async def read(
        stream_id: stream_param, request: Request, response: Response, store: Store, pool: Pool
    ) -> dict[str, Any]:
        await commands.known(request, pool, stream_id)
        aggregate = aggregate_type.from_history(stream_id, await store.read_stream(stream_id))
        if commands.known_child is None and not aggregate.exists:
            raise UnknownStream(stream_id)
        await commands.check_locality(request, pool, stream_id)
        if child_of is not None:
            await audit_read(request, response, [c for c in [await child_of(pool, stream_id)] if c])
        response.headers["ETag"] = f'"{aggregate.version}"'
        return {stream.name: stream_id, "stream_version": aggregate.version}

    read.__name__ = f"read_{aggregate_type.__name__.lower()}"
    router.get(
        commands.path,
        tags=["streams"],
        responses={404: ERRORS[404]},
        summary=f"This service's record of the {stream.name.removesuffix('_id')}: "
        "its stream version",
        dependencies=[requires(Permission.READ_CHILD, lists_children=child_of is not None)],
    )(read)
    return router

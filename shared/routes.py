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

from fastapi import FastAPI, Path, Request, Response
from pydantic import BaseModel

from shared.access import audit_read, check_locality, check_locality_of
from shared.aggregate import Aggregate, Decision, KnownChild
from shared.api import (
    ERRORS,
    Caller,
    CorrelationId,
    IdempotencyKey,
    IfMatch,
    Recorded,
    command_context,
    if_match_version,
    recorded,
)
from shared.application import UnknownStream, execute
from shared.clock import Clock
from shared.envelope import DomainEvent
from shared.eventstore import EventStore

Decide = Callable[[Any, Any, Decision], Sequence[DomainEvent]]


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


def add_command_routes(
    app: FastAPI,
    prefix: str,
    stream: StreamParam,
    routes: Sequence[CommandRoute],
    aggregate_type: type[Aggregate],
    store: Callable[[], EventStore],
    clock: Clock,
    known_child: Callable[[str], Awaitable[KnownChild | None]] | None = None,
    stream_may_be_new: bool = False,
    locality_of: Callable[[str], Awaitable[str | None]] | None = None,
) -> None:
    """Register each route at `{prefix}/{stream}{route.path}` (POST, 201 Recorded).

    By default the stream must exist (the aggregate is the child itself). With `known_child`
    the child must be known to this service (from the case-events topic) and the stream may
    be new (its first placement, its first enrolment...); `stream_may_be_new` alone lets the
    first command create the stream (a family's first triage discussion).

    Object-level: the caller must be allowed the child's locality (from `known_child`, or
    `locality_of` the stream, or the command's own `locality`).
    """
    must_exist = known_child is None and not stream_may_be_new
    for route in routes:
        _add(app, prefix, stream, route, aggregate_type, store, clock, known_child, must_exist,
             locality_of)


def _add(app, prefix, stream, route, aggregate_type, store, clock, known_child,  # type: ignore[no-untyped-def]
         must_exist, locality_of):
    command_model = route.command
    stream_param = Annotated[str, Path(alias=stream.name, pattern=stream.pattern,
                                       description=stream.description)]

    async def endpoint(
        stream_id: stream_param,  # type: ignore[valid-type]
        command: command_model,  # type: ignore[valid-type]
        request: Request,
        response: Response,
        caller: Caller,
        idempotency_key: IdempotencyKey = None,
        correlation_id: CorrelationId = None,
        if_match: IfMatch = None,
    ) -> Recorded:
        ctx = command_context(command, idempotency_key, correlation_id, caller,
                              extra={"stream": stream_id, "path": route.path})
        child = None
        if known_child is not None:
            child = await known_child(stream_id)
            if child is None:
                raise UnknownStream(stream_id)
            check_locality(request, child.locality)
        if locality_of is not None:
            await check_locality_of(request, locality_of, stream_id)
        check_locality(request, getattr(command, "locality", None))
        decision = Decision(today=clock.today(), child=child)
        result = await execute(
            store(), aggregate_type, stream_id,
            lambda aggregate: route.decide(aggregate, command, decision),
            ctx, must_exist=must_exist, if_match=if_match_version(if_match),
        )
        return recorded(result, response)

    endpoint.__name__ = route.command.__name__
    app.post(f"{prefix}/{{{stream.name}}}{route.path}", status_code=201, response_model=Recorded,
             responses=ERRORS, summary=route.summary, description=route.description,
             tags=[route.tag], operation_id=_snake(route.command.__name__))(endpoint)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def add_stream_read(
    app: FastAPI,
    prefix: str,
    stream: StreamParam,
    aggregate_type: type[Aggregate],
    store: Callable[[], EventStore],
    known_child: Callable[[str], Awaitable[KnownChild | None]] | None = None,
    locality_of: Callable[[str], Awaitable[str | None]] | None = None,
    child_of: Callable[[str], Awaitable[str | None]] | None = None,
) -> None:
    """GET `{prefix}/{stream}`: the stream's version (ETag, for If-Match); 404 when the child
    is unknown to this service (or, without `known_child`, when the stream does not exist).
    Object-level checks as for commands; a stream that is not the child's own (an
    escalation) is audited here with the child it belongs to (`child_of`)."""
    stream_param = Annotated[str, Path(alias=stream.name, pattern=stream.pattern,
                                       description=stream.description)]

    async def read(stream_id: stream_param, request: Request,  # type: ignore[valid-type]
                   response: Response) -> dict[str, Any]:
        if known_child is not None:
            child = await known_child(stream_id)
            if child is None:
                raise UnknownStream(stream_id)
            check_locality(request, child.locality)
        aggregate = aggregate_type.from_history(stream_id, await store().read_stream(stream_id))
        if known_child is None and not aggregate.exists:
            raise UnknownStream(stream_id)
        if locality_of is not None:
            await check_locality_of(request, locality_of, stream_id)
        if child_of is not None:
            await audit_read(request, response, [c for c in [await child_of(stream_id)] if c])
        response.headers["ETag"] = f'"{aggregate.version}"'
        return {stream.name: stream_id, "stream_version": aggregate.version}

    read.__name__ = f"read_{aggregate_type.__name__.lower()}"
    app.get(f"{prefix}/{{{stream.name}}}", tags=["streams"], responses={404: ERRORS[404]},
            summary=f"This service's record of the {stream.name.removesuffix('_id')}: "
                    "its stream version")(read)

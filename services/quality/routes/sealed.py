"""The quality service's own command routes: those that seal free text, and those that start a
record named in their body; and the reading of one record, its free text unsealed.

The generic routes (shared/routes.py) take the stream from the path and carry the command as
it came. These also: seal the command's plain-text field with the subject's key before
anything is decided (the child's when the record names one, else the record's own:
`Record.subject`), and keep the plain text out of the idempotency record (an HMAC under the
same key, so erasing the key leaves nothing to confirm a text against). A record's child, when
its body names one, and each child an audit samples (`cases`), must be known to this service
(404) and in the caller's localities; a field naming the council's reference data must name a
current item (422), and an If-Match must be the stream's version (409), as for the generated
routes. A record of the whole council (a partnership audit) is not for a user of some
localities at all (`county_wide`).

This module deliberately has no `from __future__ import annotations`: the endpoints' parameter
annotations must be the real classes when FastAPI inspects them.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel

from contracts.quality.events import PracticeEvaluationRecorded
from shared.access import (
    Permission,
    audit_read,
    check_locality,
    principal_of,
    requires,
    whole_council,
)
from shared.aggregate import Decision, DomainRuleViolation
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
from shared.commands import PersonalFields, hashed_body
from shared.envelope import DomainEvent
from shared.known_children import known_child
from shared.reference_data import check_references
from shared.routes import Commands, snake
from shared.sealing import KeyVault, Vault, seal, unseal

# The free-text fields of the published events, sealed (contracts/quality/events.py).
SEALED_FIELDS = (
    "findings",
    "summary",
    "finding",
    "comment",
    "learning",
    "decisions",
    "commentary",
)
SEALED_MAX: int = next(
    m.max_length
    for m in PracticeEvaluationRecorded.model_fields["findings"].metadata
    if hasattr(m, "max_length")
)

Decide = Callable[..., Sequence[DomainEvent]]  # (aggregate, command, decision[, sealed text])
# Whose key seals a record's text: (stream id, the record's child or None, the command's or
# the event's fields) -> the subject's id.
Subject = Callable[[str, str | None, Mapping[str, Any]], str]
ChildOf = Callable[[asyncpg.Pool, str], Awaitable[str | None]]
# Whether the caller may act on the record, beyond the route's permission and localities:
# (request, pool, stream id, command) -> None, or 403/404 (a board pack in the council view).
MayAct = Callable[[Request, asyncpg.Pool, str, BaseModel], Awaitable[None]]


def first_event_field(field: str) -> Callable[[asyncpg.Pool, str], Awaitable[str | None]]:
    """A lookup of one field of a record's first event: the child a record about a child names
    (`child_of`), or the locality it was recorded in, the child's (`locality_of`)."""

    async def lookup(pool: asyncpg.Pool, stream_id: str) -> str | None:
        value: str | None = await pool.fetchval(
            "SELECT payload->>$2 FROM events WHERE stream_id = $1 AND stream_version = 1",
            stream_id,
            field,
        )
        return value

    return lookup


child_of = first_event_field("child_id")
locality_of = first_event_field("locality")


def the_childs(stream_id: str, child_id: str | None, fields: Mapping[str, Any]) -> str:
    """The subject of a record about a child: the child."""
    subject = child_id or fields.get("child_id")
    if not subject:
        raise UnknownStream(stream_id)
    return str(subject)


def the_records(kind: str) -> Subject:
    """The subject of a record about no child: the record itself, its id prefixed with its
    kind, so that it can never be a child's id (erasing a child erases no audit's text)."""

    def subject(stream_id: str, child_id: str | None, fields: Mapping[str, Any]) -> str:
        return f"{kind}/{stream_id}"

    return subject


@dataclass(frozen=True)
class Record:
    """A kind of quality record: where its commands go (`commands`), the body field naming a
    new one's id, whose key seals its text, and the child it is about."""

    commands: Commands
    id_field: str
    subject: Subject
    child_of: ChildOf | None = None
    may_act: MayAct | None = None


@dataclass(frozen=True)
class SealedRoute:
    path: str  # relative to the record, e.g. "/actions"; "" for the route that starts one
    command: type[BaseModel]
    decide: Decide
    summary: str
    tag: str
    text: str | None = None  # the plain-text field, sealed before deciding


class PlainText(PersonalFields):
    """A command's plain text as its idempotency record keeps it: the kernel's HMAC under the
    subject's key (shared.commands.hashed_body), so erasing the key leaves nothing to confirm
    a text against."""

    text: str | None = None


class UnknownCase(UnknownStream):
    """A child an audit samples that this service does not know of, or that is outside the
    caller's localities (answered alike, as for a record's own child: 404), by its place in
    `cases`."""

    def __init__(self, index: int, child_id: str) -> None:
        super().__init__(child_id)
        self.args = (f"cases[{index}]: no record of {child_id!r}",)


async def check_cases(request: Request, pool: asyncpg.Pool, cases: Sequence[str]) -> None:
    """Each child a record samples (a partnership audit's `cases`) is known to this service
    (from case-events) and in the caller's localities: else 404 naming the first that is not."""
    rows = await pool.fetch(
        "SELECT child_id, locality FROM known_children WHERE child_id = ANY($1::text[])",
        list(cases),
    )
    localities = {r["child_id"]: r["locality"] for r in rows}
    principal = principal_of(request)
    for i, child_id in enumerate(cases):
        if child_id not in localities or not principal.may_see_locality(localities[child_id]):
            raise UnknownCase(i, child_id)


def county_wide(router: APIRouter) -> APIRouter:
    """The routes of a record of the whole council (a partnership audit samples children of
    every locality, and has every agency's findings): a user limited to some localities is
    refused them (403), as the statutory returns are (shared/access.py `whole_council`)."""
    guarded = APIRouter(dependencies=[Depends(whole_council)])
    guarded.include_router(router)
    return guarded


async def _carry_out(
    record: Record,
    route: SealedRoute,
    stream_id: str,
    command: BaseModel,
    request: Request,
    caller: Any,
    store: Any,
    pool: asyncpg.Pool,
    vault: KeyVault,
    clock: Any,
    idempotency_key: str | None,
    correlation_id: Any,
    if_match: str | None = None,
) -> Any:
    expected_version = if_match_version(if_match)  # a malformed If-Match before any key is made
    starting = route.path == ""
    child = None
    child_id = getattr(command, "child_id", None)
    if child_id is not None:
        child = await known_child(pool, child_id)
        if child is None:
            raise UnknownStream(child_id)
        check_locality(request, child.locality, record=child_id)
    if not starting:
        # No key is made for a record that does not exist.
        if not await pool.fetchval("SELECT 1 FROM events WHERE stream_id = $1", stream_id):
            raise UnknownStream(stream_id)
        await record.commands.check_locality(request, pool, stream_id)
    check_locality(request, getattr(command, "locality", None))
    if record.may_act is not None:
        await record.may_act(request, pool, stream_id, command)
    cases = getattr(command, "cases", None)
    if cases:
        await check_cases(request, pool, cases)
    await check_references(request, command)
    text = getattr(command, route.text) if route.text else None
    sealed, key = None, None
    if route.text and text is not None:
        record_child = (
            None if starting or record.child_of is None else await record.child_of(pool, stream_id)
        )
        fields = command.model_dump(mode="json")
        subject = record.subject(stream_id, record_child, fields)
        key = await vault.key(subject, create=True)
        if key is None:  # create=True makes one or raises PersonalDataErased (409)
            raise RuntimeError(f"no key could be made for {subject!r}")
        sealed = seal(key, subject, route.text, text)
        if len(sealed) > SEALED_MAX:
            raise DomainRuleViolation(route.text, "is too long once sealed: shorten it")
    ctx = command_context(
        command.model_copy(update={route.text: None}) if route.text else command,
        idempotency_key,
        correlation_id,
        caller,
        extra={
            "stream": stream_id,
            "path": route.path,
            "text": hashed_body(PlainText(text=text), key),
        },
    )
    decision = Decision(today=clock.today(), child=child)

    def decide(aggregate: Any) -> Sequence[DomainEvent]:
        if route.text:
            return route.decide(aggregate, command, decision, sealed)
        return route.decide(aggregate, command, decision)

    return await execute(
        store,
        record.commands.aggregate_type,
        stream_id,
        decide,
        ctx,
        must_exist=not starting and record.commands.must_exist,
        if_match=expected_version,
    )


def sealed_router(record: Record, routes: Sequence[SealedRoute]) -> APIRouter:
    """Each route at `{prefix}/{stream}{route.path}`, or at `{prefix}` when it starts a record
    (its id in the body); POST, 201 Recorded."""
    router = APIRouter()
    for route in routes:
        _add(router, record, route)
    return router


def _add(router: APIRouter, record: Record, route: SealedRoute) -> None:
    command_model = route.command
    stream = record.commands.stream
    stream_param = Annotated[
        str, Path(alias=stream.name, pattern=stream.pattern, description=stream.description)
    ]

    async def on_stream(
        stream_id: stream_param,
        command: command_model,  # type: ignore[valid-type]
        request: Request,
        response: Response,
        caller: Caller,
        store: Store,
        pool: Pool,
        vault: Vault,
        clock: ServiceClock,
        idempotency_key: IdempotencyKey = None,
        correlation_id: CorrelationId = None,
        if_match: IfMatch = None,
    ) -> Recorded:
        result = await _carry_out(
            record,
            route,
            stream_id,
            command,
            request,
            caller,
            store,
            pool,
            vault,
            clock,
            idempotency_key,
            correlation_id,
            if_match,
        )
        return recorded(result, response)

    async def starting(
        command: command_model,  # type: ignore[valid-type]
        request: Request,
        response: Response,
        caller: Caller,
        store: Store,
        pool: Pool,
        vault: Vault,
        clock: ServiceClock,
        idempotency_key: IdempotencyKey = None,
        correlation_id: CorrelationId = None,
        if_match: IfMatch = None,
    ) -> Recorded:
        stream_id = getattr(command, record.id_field)
        result = await _carry_out(
            record,
            route,
            stream_id,
            command,
            request,
            caller,
            store,
            pool,
            vault,
            clock,
            idempotency_key,
            correlation_id,
            if_match,
        )
        return recorded(result, response)

    endpoint = starting if route.path == "" else on_stream
    endpoint.__name__ = route.command.__name__
    path = record.commands.prefix if route.path == "" else f"{record.commands.path}{route.path}"
    router.post(
        path,
        status_code=201,
        response_model=Recorded,
        responses={**ERRORS, 409: {"description": "Already recorded, or the subject erased"}},
        summary=route.summary,
        tags=[route.tag],
        operation_id=snake(route.command.__name__),
        dependencies=[requires(Permission.RECORD)],
    )(endpoint)


def record_router(record: Record) -> APIRouter:
    """GET `{prefix}/{stream}`: the record's events, their free text unsealed (or `[erased]`),
    and its stream version (ETag). Audited with the children it names; 404 for a record
    outside the caller's localities, and a response from another locality is left out."""
    commands = record.commands
    stream = commands.stream
    stream_param = Annotated[
        str, Path(alias=stream.name, pattern=stream.pattern, description=stream.description)
    ]
    router = APIRouter()

    async def read(
        stream_id: stream_param,
        request: Request,
        response: Response,
        store: Store,
        pool: Pool,
        vault: Vault,
    ) -> dict[str, Any]:
        history = await store.read_stream(stream_id)
        aggregate = commands.aggregate_type.from_history(stream_id, history)
        if not aggregate.exists:
            raise UnknownStream(stream_id)
        await commands.check_locality(request, pool, stream_id)
        principal = principal_of(request)
        record_child = await record.child_of(pool, stream_id) if record.child_of else None
        keys: dict[str, bytes | None] = {}
        events, children = [], {record_child} - {None}
        for envelope in history:
            payload = dict(envelope.payload)
            if not principal.may_see_locality(payload.get("locality")):
                continue
            if payload.get("child_id"):
                children.add(payload["child_id"])
            children.update(payload.get("cases") or ())  # a partnership audit's sample
            for field in SEALED_FIELDS:
                if payload.get(field):
                    subject = record.subject(stream_id, record_child, payload)
                    if subject not in keys:
                        keys[subject] = await vault.key(subject)
                    payload[field] = unseal(keys[subject], subject, field, payload[field])
            events.append(
                {
                    "stream_version": envelope.stream_version,
                    "event_type": envelope.event_type,
                    **payload,
                }
            )
        await audit_read(request, response, sorted(c for c in children if c))
        response.headers["ETag"] = f'"{aggregate.version}"'
        return {stream.name: stream_id, "stream_version": aggregate.version, "events": events}

    read.__name__ = f"read_{commands.aggregate_type.__name__.lower()}"
    router.get(
        commands.path,
        tags=["records"],
        responses={404: ERRORS[404]},
        summary=f"The {stream.name.removesuffix('_id').replace('_', ' ')}'s record, its free "
        "text unsealed (audited)",
        dependencies=[requires(Permission.READ_CHILD, lists_children=True)],
    )(read)
    return router

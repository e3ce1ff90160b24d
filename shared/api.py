"""What every API shares: the command context, error responses, the app factory, and the
resources its handlers are given (`Pool`, `Store`, `Audit`, `ServiceClock`,
`ServiceSettings`)."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.datastructures import State

from shared.access import principal_of
from shared.access_log import correlation_id_of
from shared.aggregate import AlreadyRecorded, DomainRuleViolation
from shared.application import UnknownStream
from shared.audit import AuditLog
from shared.auth import Principal
from shared.clock import Clock, clock_from
from shared.commands import hashed_body, hashed_content
from shared.db import open_database
from shared.envelope import new_event_id
from shared.eventstore import (
    AppendResult,
    CommandContext,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    PostgresEventStore,
    RequestHash,
)
from shared.eventstore import request_hash as hash_of
from shared.http import HealthCheck, instrument, log_requests, operational_router
from shared.migrations import EVENT_STORE_SQL
from shared.security import secured_app
from shared.settings import Settings

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such child (or subject) is known to this service"},
    409: {"description": "Version conflict (If-Match or a concurrent writer), or already recorded"},
    422: {"description": "Invalid field, or a domain rule refused the command; names the field"},
}


class Recorded(BaseModel):
    """The answer to an accepted command."""

    stream_id: str
    stream_version: int
    duplicate: bool
    event_ids: list[UUID]


class _ModelBodyRequest(Request):
    """A request whose JSON body is parsed and validated in one pass by pydantic-core, into
    `model`, when it is valid. FastAPI then takes the model as it is (an instance of the
    body's own type is not validated again). An invalid body is parsed as for any route, so
    FastAPI validates it and answers it exactly as before: the same 422, the same fields."""

    model: type[BaseModel]

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = self.model.model_validate_json(body)
            except ValidationError:
                self._json = json.loads(body)
        return self._json


class BulkBodyRoute(APIRoute):
    """A route whose body (a pydantic model) is validated straight from its bytes, not from
    the standard library's dicts first: 10 ms for a register feed of 10,000 marks, against
    27. The route's `body_field` names the model; a route with no model body is unchanged."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        model = self.body_field.field_info.annotation if self.body_field else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return handler
        request_type = type(f"{model.__name__}Request", (_ModelBodyRequest,), {"model": model})

        async def parsed_by_model(request: Request) -> Response:
            return await handler(request_type(request.scope, request.receive))

        return parsed_by_model


def recorded(result: AppendResult, response: Response) -> Recorded:
    response.headers["ETag"] = f'"{result.stream_version}"'
    if result.duplicate:
        response.status_code = 200  # the same command again: nothing new was recorded
    return Recorded(
        stream_id=result.stream_id,
        stream_version=result.stream_version,
        duplicate=result.duplicate,
        event_ids=list(result.event_ids),
    )


def if_match_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    try:
        return int(if_match.strip().strip('"'))
    except ValueError:
        raise DomainRuleViolation("If-Match", 'must be a stream version, e.g. "3"') from None


def command_context(
    body: BaseModel,
    idempotency_key: str | None,
    correlation_id: UUID | None,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    personal_key: bytes | None = None,
) -> CommandContext:
    """The context of a command: the actor is the token's user, agency and role; the
    correlation id is the request's (`CorrelationId`: a new one only outside a request). The
    request hash never sees personal fields in the clear (`shared.commands.hashed_body`):
    give the subject's key as `personal_key` when the body carries any."""
    return CommandContext(
        actor=principal.actor,
        correlation_id=correlation_id or new_event_id(),
        idempotency_key=idempotency_key,
        request_hash=RequestHash.of(
            {"body": hashed_content(body, personal_key), **(extra or {})},
            earlier=lambda: hash_of({"body": hashed_body(body, personal_key), **(extra or {})}),
        ),
    )


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeat a command with the same key and it is recorded once.",
    ),
]
# The request's correlation id, as the access log settled it (the caller's X-Correlation-Id
# when a UUID, else a new one): the one its log lines carry and its events record. FastAPI
# always fills it in (a handler's `= None` default is for a handler called directly, in a
# test: `command_context` then makes one).
CorrelationId = Annotated[UUID | None, Depends(correlation_id_of)]


async def caller_of(request: Request) -> Principal:
    """`principal_of` as a dependency: a coroutine, so FastAPI calls it on the event loop. A
    plain function would be sent to its thread pool on every request and back, a thread switch
    and a wait for the interpreter's lock each time."""
    return principal_of(request)


Caller = Annotated[Principal, Depends(caller_of)]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description="The stream version you last saw.")
]


def _problem(status: int, detail: Any, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def _writable(value: Any) -> Any:
    """`value` as JSON can carry it back: a number beyond a float as its text ("inf"), a lone
    surrogate as its escape."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_writable(k): _writable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_writable(v) for v in value]
    return value


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        """FastAPI's own 422; but a body the standard library parses and JSON cannot carry
        back (a number beyond a float, a lone surrogate escape) failed to be written, and was
        a 500: its field and reason are written with the input made writable."""
        try:
            return await request_validation_exception_handler(request, error)
        except ValueError:  # UnicodeEncodeError is one
            return _problem(422, _writable(jsonable_encoder(error.errors())))

    @app.exception_handler(DomainRuleViolation)
    async def rule(_: Request, error: DomainRuleViolation) -> JSONResponse:
        where = "header" if error.field[:1].isupper() else "body"
        return _problem(
            422, [{"loc": [where, error.field], "msg": error.reason, "type": "domain_rule"}]
        )

    @app.exception_handler(UnknownStream)
    async def unknown(_: Request, error: UnknownStream) -> JSONResponse:
        return _problem(404, str(error))

    @app.exception_handler(ConcurrencyConflict)
    async def conflict(_: Request, error: ConcurrencyConflict) -> JSONResponse:
        return _problem(
            409,
            str(error),
            expected_version=error.expected_version,
            actual_version=error.actual_version,
        )

    @app.exception_handler(AlreadyRecorded)
    async def exists(_: Request, error: AlreadyRecorded) -> JSONResponse:
        return _problem(409, str(error))

    @app.exception_handler(IdempotencyKeyReused)
    async def reused(_: Request, error: IdempotencyKeyReused) -> JSONResponse:
        return _problem(
            422,
            [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": str(error),
                    "type": "idempotency_key_reused",
                }
            ],
        )


# The database went away (a restart, a failover), or did not answer in time (`TimeoutError` is
# an `OSError`): a command may or may not have committed; a read changed nothing.
DATABASE_UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
)


COMMAND_UNAVAILABLE = (
    "the event store is unavailable for a moment: the command may or may not have been "
    "recorded. Send it again with the same Idempotency-Key."
)
READ_UNAVAILABLE = (
    "the database is unavailable for a moment, or did not answer in time: nothing was "
    "changed. Ask again in a moment."
)
READS = frozenset({"GET", "HEAD", "OPTIONS"})  # a request of these records nothing


def install_unavailable_handler(app: FastAPI) -> None:
    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        read = request.method in READS
        return JSONResponse(
            {
                "detail": READ_UNAVAILABLE if read else COMMAND_UNAVAILABLE,
                "error": type(error).__name__,
            },
            status_code=503,
            headers={"Retry-After": "1"},
        )

    for kind in DATABASE_UNAVAILABLE:
        app.add_exception_handler(kind, unavailable)


def service_app(
    title: str,
    settings: Settings,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    checks: dict[str, HealthCheck],
    clock: Clock | None = None,
    sign_in: bool = False,
) -> FastAPI:
    """An API: its own lifespan inside one that opens the access audit. The settings and the
    clock are on app.state from the start, the lifespan adds the rest (see the dependencies
    below). `sign_in`: the app serves the dashboard, and honours its sign-in cookie."""

    @asynccontextmanager
    async def audited(app: FastAPI) -> AsyncIterator[None]:
        app.state.audit = await AuditLog.open(settings)
        try:
            async with lifespan(app):
                yield
        finally:
            await app.state.audit.close()

    app = secured_app(
        settings,
        sign_in=sign_in,
        title=title,
        description=description,
        version="1",
        lifespan=audited,
    )
    app.state.settings = settings
    app.state.clock = clock or clock_from(settings)
    install_error_handlers(app)
    install_unavailable_handler(app)
    instrument(app)
    app.include_router(operational_router(settings.service, checks))
    log_requests(app)
    return app


def database_service_app(
    settings: Settings,
    title: str,
    description: str,
    migrations: Sequence[Path] = (),
    clock: Clock | None = None,
    resources: Callable[[State], None] | None = None,
    event_store: bool = False,
) -> FastAPI:
    """The app of a service with a database of its own: opened (and `migrations` applied) at
    start-up as app.state.pool, with `event_store` one store on it (it coalesces the relay's
    wake-ups across requests), then the service's own `resources`; health, metrics and error
    responses. The service includes its routers."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await open_database(settings, *migrations)
        if event_store:
            app.state.store = PostgresEventStore(app.state.pool)
        if resources is not None:
            resources(app.state)
        try:
            yield
        finally:
            await app.state.pool.close()

    checks: dict[str, HealthCheck] = {}
    app = service_app(title, settings, description, lifespan, checks, clock)

    async def database_check() -> dict[str, Any]:
        await app.state.pool.fetchval("SELECT 1")
        return {"ok": True}

    checks["postgres"] = database_check
    return app


def domain_service_app(
    settings: Settings,
    title: str,
    description: str,
    migrations: Sequence[Path] = (),
    clock: Clock | None = None,
    resources: Callable[[State], None] | None = None,
) -> FastAPI:
    """The app of a domain service: its event store (and `migrations`) in its database."""
    return database_service_app(
        settings,
        title,
        description,
        [EVENT_STORE_SQL, *migrations],
        clock,
        resources,
        event_store=True,
    )


# What handlers are given (FastAPI's Depends): the resources on app.state. Coroutines, so
# FastAPI calls them in the event loop, not in its thread pool.


async def pool_of(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def store_of(request: Request) -> PostgresEventStore:
    store: PostgresEventStore = request.app.state.store
    return store


async def clock_of(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def audit_of(request: Request) -> AuditLog:
    audit: AuditLog = request.app.state.audit
    return audit


Pool = Annotated[asyncpg.Pool, Depends(pool_of)]
Audit = Annotated[AuditLog, Depends(audit_of)]
Store = Annotated[PostgresEventStore, Depends(store_of)]
ServiceClock = Annotated[Clock, Depends(clock_of)]
ServiceSettings = Annotated[Settings, Depends(settings_of)]

"""What every command API shares: the command context, error responses, the app factory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.aggregate import AlreadyRecorded, DomainRuleViolation
from shared.application import UnknownStream
from shared.db import open_database
from shared.envelope import Actor, Agency, new_event_id
from shared.eventstore import (
    AppendResult,
    CommandContext,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    PostgresEventStore,
)
from shared.eventstore import request_hash as hash_of
from shared.http import HealthCheck, instrument, operational_router
from shared.migrations import EVENT_STORE_SQL
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


def recorded(result: AppendResult, response: Response) -> Recorded:
    response.headers["ETag"] = f'"{result.stream_version}"'
    if result.duplicate:
        response.status_code = 200  # the same command again: nothing new was recorded
    return Recorded(
        stream_id=result.stream_id,
        stream_version=result.stream_version,
        duplicate=result.duplicate,
        event_ids=[e.event_id for e in result.envelopes],
    )


def if_match_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    try:
        return int(if_match.strip().strip('"'))
    except ValueError:
        raise DomainRuleViolation("If-Match", "must be a stream version, e.g. \"3\"") from None


def command_context(
    body: BaseModel,
    idempotency_key: str | None,
    correlation_id: UUID | None,
    actor_id: str,
    actor_agency: Agency,
    actor_role: str,
    extra: dict[str, Any] | None = None,
) -> CommandContext:
    """The context of a command. The actor comes from headers until authentication lands."""
    return CommandContext(
        actor=Actor(user_id=actor_id, agency=actor_agency, role=actor_role),
        correlation_id=correlation_id or new_event_id(),
        idempotency_key=idempotency_key,
        request_hash=hash_of({"body": body.model_dump(mode="json"), **(extra or {})}),
    )


IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200,
           description="Repeat a command with the same key and it is recorded once."),
]
CorrelationId = Annotated[UUID | None, Header(alias="X-Correlation-Id")]
ActorId = Annotated[str, Header(alias="X-Actor-Id", min_length=1, max_length=128)]
ActorAgency = Annotated[Agency, Header(alias="X-Actor-Agency")]
ActorRole = Annotated[str, Header(alias="X-Actor-Role", min_length=1, max_length=64)]
IfMatch = Annotated[str | None, Header(alias="If-Match",
                                       description="The stream version you last saw.")]


def _problem(status: int, detail: Any, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainRuleViolation)
    async def rule(_: Request, error: DomainRuleViolation) -> JSONResponse:
        where = "header" if error.field[:1].isupper() else "body"
        return _problem(422, [{"loc": [where, error.field], "msg": error.reason,
                               "type": "domain_rule"}])

    @app.exception_handler(UnknownStream)
    async def unknown(_: Request, error: UnknownStream) -> JSONResponse:
        return _problem(404, str(error))

    @app.exception_handler(ConcurrencyConflict)
    async def conflict(_: Request, error: ConcurrencyConflict) -> JSONResponse:
        return _problem(409, str(error), expected_version=error.expected_version,
                        actual_version=error.actual_version)

    @app.exception_handler(AlreadyRecorded)
    async def exists(_: Request, error: AlreadyRecorded) -> JSONResponse:
        return _problem(409, str(error))

    @app.exception_handler(IdempotencyKeyReused)
    async def reused(_: Request, error: IdempotencyKeyReused) -> JSONResponse:
        return _problem(422, [{"loc": ["header", "Idempotency-Key"], "msg": str(error),
                               "type": "idempotency_key_reused"}])


# The database went away (a restart, a failover): the command may or may not have committed.
DATABASE_UNAVAILABLE = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                        asyncpg.exceptions.AdminShutdownError,
                        asyncpg.exceptions.CannotConnectNowError)


def install_unavailable_handler(app: FastAPI) -> None:
    async def unavailable(_: Request, error: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": "the event store is unavailable for a moment: the command may or may not "
                       "have been recorded. Send it again with the same Idempotency-Key.",
             "error": type(error).__name__},
            status_code=503, headers={"Retry-After": "1"})

    for kind in DATABASE_UNAVAILABLE:
        app.add_exception_handler(kind, unavailable)


class LimitRequestBody:
    """ASGI middleware: a request body over `limit` bytes is answered 413 before any of it is
    used: at once by its Content-Length, or for a chunked body as soon as it passes the limit
    (the app then sees the client gone, and whatever it answers is dropped)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._too_large(send)
            return
        seen = 0
        refused = started = False

        async def limited() -> Any:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit and not started:
                refused = True
                await self._too_large(send)
                return {"type": "http.disconnect"}
            return message

        async def guarded(message: Any) -> None:
            nonlocal started
            if refused:
                return
            started = True
            await send(message)

        await self.app(scope, limited, guarded)

    async def _too_large(self, send: Any) -> None:
        body = json.dumps({"detail": [{"loc": ["body"], "type": "too_large",
                                       "msg": f"request body over {self.limit:,} bytes"}]})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body.encode()})


# Sent with every response. The dashboard serves its own scripts and styles only (no inline
# script, no CDN), so the policy can forbid everything else; API docs pages (/docs) load
# Swagger UI from a CDN and get a policy of their own.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cache-Control": "no-store",
}
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
               "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: "
               "https://fastapi.tiangolo.com; frame-ancestors 'none'")
_SECURITY_HEADERS = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


class SecurityHeaders:
    """ASGI middleware adding SECURITY_HEADERS to every response (static assets may be
    cached: they carry no personal data)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                for name, value in _SECURITY_HEADERS:
                    if name in present:
                        continue
                    if name == b"content-security-policy" and path in ("/docs", "/redoc"):
                        value = DOCS_POLICY.encode()
                    if name == b"cache-control" and path.startswith(("/static/", "/assets/")):
                        continue
                    headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def service_app(
    title: str,
    service: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    checks: dict[str, HealthCheck],
    max_request_bytes: int = Settings.model_fields["max_request_bytes"].default,
) -> FastAPI:
    app = FastAPI(title=title, description=description, version="1", lifespan=lifespan)
    app.add_middleware(LimitRequestBody, limit=max_request_bytes)
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app)
    install_unavailable_handler(app)
    instrument(app)
    app.include_router(operational_router(service, checks))
    return app


class ServiceState:
    """What a service's endpoints use, available once the app has started."""

    pool: asyncpg.Pool

    @property
    def store(self) -> PostgresEventStore:
        return PostgresEventStore(self.pool)


def database_service_app(settings: Settings, title: str, description: str,
                         migrations: Sequence[Path] = ()) -> tuple[FastAPI, ServiceState]:
    """The app of a service with a database of its own: opened (and `migrations` applied) at
    start-up, health, metrics and error responses; the service adds its routes."""
    state = ServiceState()

    async def database_check() -> dict[str, Any]:
        await state.pool.fetchval("SELECT 1")
        return {"ok": True}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.pool = await open_database(settings, *migrations)
        try:
            yield
        finally:
            await state.pool.close()

    return service_app(title, settings.service, description, lifespan,
                       {"postgres": database_check}, settings.max_request_bytes), state


def domain_service_app(settings: Settings, title: str, description: str,
                       migrations: Sequence[Path] = ()) -> tuple[FastAPI, ServiceState]:
    """The app of a domain service: its event store (and `migrations`) in its database."""
    return database_service_app(settings, title, description, [EVENT_STORE_SQL, *migrations])

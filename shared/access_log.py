"""The access log and the correlation id of every HTTP request.

One JSON line per request (logger `http.access`, event `request`): the method, the route's
path TEMPLATE (`/children/{child_id}/placements`, never the path as sent: a child's id in a
log would be personal data kept wherever logs are kept, beyond the record's erasure), the
status, the duration in ms, the caller's role and agency from the verified token, and the
correlation id. Never the query string, a body, a token or an id from the path. /health and
/metrics are logged at debug only: scrapers and probes would flood the log.

The correlation id is settled here once for the whole request: the caller's
`X-Correlation-Id` when it is a UUID, else a new one. It is bound into structlog's context
(every log line of the request carries it), put on the request's state (`correlation_id_of`:
the commands record it on their events, so the events a request caused carry it), and
answered in the response's `X-Correlation-Id`.

When tracing is on (shared/tracing.py), each request but /health and /metrics is a server
span named by its method and template, continuing the caller's trace if it sent one, with the
correlation id, the caller's role and agency, and the status; the access log line carries its
`trace_id`, so a line leads to the trace and the trace to the line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import Header, Request
from fastapi.routing import RouteContext, iter_route_contexts
from starlette.routing import Match

from shared import tracing
from shared.envelope import new_event_id
from shared.logging import get_logger

HEADER = "X-Correlation-Id"
STATE = "correlation_id"  # the key in scope["state"] (request.state.correlation_id)
UNMATCHED = "unmatched"  # the template of a path no route of the app answers
QUIET = frozenset({"/health", "/metrics"})  # logged at debug only
LOGGER = "http.access"

_HEADER = HEADER.lower().encode("latin-1")
_LONGEST_UUID = len("urn:uuid:") + 36

log = get_logger(LOGGER)


def correlation_id_from(value: str | bytes | None) -> UUID:
    """The caller's correlation id when it is a UUID (any of the forms Python's `UUID` reads;
    answered in its canonical form), else a new one: a header that is not one is replaced,
    not refused (it is the caller's aid, not part of the command). The nil UUID is not taken:
    a client sending it on every request would tie all of them together."""
    if value:
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if len(text) <= _LONGEST_UUID:
            try:
                given = UUID(text)
            except ValueError:
                given = None
            if given is not None and given.int != 0:
                return given
    return new_event_id()


async def correlation_id_of(
    request: Request,
    header: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="A UUID tying this request to the events it records and to the "
            "log lines it causes; without one (or not a UUID) the platform makes one. "
            "Answered in the response's X-Correlation-Id.",
        ),
    ] = None,
) -> UUID:
    """The request's correlation id as `AccessLog` settled it (one source of truth for the
    log lines and the events). The header is declared here for the OpenAPI document; it is
    read again only in an app without the middleware."""
    settled = request.scope.get("state", {}).get(STATE)
    return settled if isinstance(settled, UUID) else correlation_id_from(header)


def routes_of(app: Any) -> list[RouteContext]:
    """The app's routes, those of its included routers too, each with its full path."""
    return list(iter_route_contexts(getattr(app, "routes", ())))


def path_template(scope: dict[str, Any], routes: Sequence[RouteContext] | None = None) -> str:
    """The path of the app's route that answers this request (`scope` as it was before
    routing), as declared: `/children/{child_id}`. A route whose path matches but not its
    method (405) counts; a mount is `{prefix}/{path}`; anything else is UNMATCHED. Worked
    out from the app's `routes` (by default `routes_of(scope["app"])`) rather than from what
    routing left in the scope, so a request refused before routing (401, 413, 429) is named
    by its route too."""
    partial: str | None = None
    for route in routes_of(scope.get("app")) if routes is None else routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route.path_format or UNMATCHED
        if match is Match.PARTIAL and partial is None:
            partial = route.path_format
    return partial or UNMATCHED


class AccessLog:
    """ASGI middleware: the correlation id settled, bound and answered, and the access log
    line written when the app has answered. Registered outermost of the app's own
    middleware (shared/http.py `log_requests`), so it sees every answer, the refusals of
    authentication, body and rate limits too; the caller is the principal authentication
    put in `scope["state"]`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        # The app's routes, read once, on the first request (when the app has them all):
        # flattening the included routers anew would cost every request.
        self._routes: list[RouteContext] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        before_routing = dict(scope)  # routing rewrites the scope (a mount's root path)
        given = next((v for k, v in scope.get("headers", ()) if k.lower() == _HEADER), None)
        correlation_id = correlation_id_from(given)
        scope.setdefault("state", {})[STATE] = correlation_id
        answered = str(correlation_id).encode("latin-1")
        status: int | None = None

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != _HEADER]
                message = {**message, "headers": [*headers, (_HEADER, answered)]}
            await send(message)

        started = time.perf_counter()
        error: str | None = None
        span = self.request_span(before_routing) if tracing.enabled() else None
        traced: AbstractContextManager[Any] = (
            nullcontext() if span is None else tracing.active(span)
        )
        with structlog.contextvars.bound_contextvars(correlation_id=str(correlation_id)), traced:
            try:
                await self.app(scope, receive, send_with_id)
            except BaseException as failure:
                error = type(failure).__name__
                raise
            finally:
                # An error before the answer began is answered 500 by Starlette's own
                # outermost middleware.
                written = status if status is not None else 500
                try:
                    self.write(before_routing, scope, written, started, error, span)
                except Exception:  # the answer is sent: a fault of the log's own is no 500
                    log.warning("access log line not written", exc_info=True)
                finally:
                    if span is not None:
                        span.end()

    def template(self, before_routing: dict[str, Any]) -> str:
        if self._routes is None:
            self._routes = routes_of(before_routing.get("app"))
        return path_template(before_routing, self._routes)

    def request_span(self, before_routing: dict[str, Any]) -> tracing.Span | None:
        """The request's server span, if traced (never /health or /metrics: scrapes)."""
        template = self.template(before_routing)
        if template in QUIET:
            return None
        method = str(before_routing.get("method"))
        return tracing.request_span(method, template, before_routing.get("headers", ()))

    def write(
        self,
        before_routing: dict[str, Any],
        scope: dict[str, Any],
        status: int,
        started: float,
        error: str | None,
        span: tracing.Span | None = None,
    ) -> None:
        template = self.template(before_routing)
        principal = scope.get("state", {}).get("principal")
        role = str(principal.role) if principal is not None else None
        agency = str(principal.agency) if principal is not None else None
        if span is not None:
            tracing.answered(
                span,
                status,
                error,
                {
                    "csp.correlation_id": str(scope.get("state", {}).get(STATE)),
                    "csp.role": role,
                    "csp.agency": agency,
                },
            )
        level = (
            logging.DEBUG
            if template in QUIET
            else logging.WARNING
            if status >= 500
            else logging.INFO
        )
        if not logging.getLogger(LOGGER).isEnabledFor(level):
            return
        fields: dict[str, Any] = {
            "method": scope.get("method"),
            "path": template,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "role": role,
            "agency": agency,
        }
        if error is not None:
            fields["error"] = error
        trace_id = tracing.trace_id(span)
        if trace_id is not None:
            fields["trace_id"] = trace_id
        log.log(level, "request", **fields)

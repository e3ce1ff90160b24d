"""What stands in front of every endpoint: authentication, authorisation, per-user rate
limits, request-body limits and security headers."""

from __future__ import annotations

import copy
import functools
import json
import math
import re
import time
from base64 import b64encode
from hashlib import sha256
from html.parser import HTMLParser
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from limits import parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter
from starlette.routing import compile_path

from shared.access import Permission, authorise, requires
from shared.auth import Authenticate, TokenVerifier
from shared.settings import Settings

BULK_BODY = "x-bulk-body"
# A route that takes bulk input (the register feed) declares it: `openapi_extra=BULK`.
BULK: dict[str, Any] = {BULK_BODY: True}


def bulk_routes(app: Any) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """The path pattern and methods of each of the app's routes (those of included routers
    too) declared bulk (`openapi_extra=BULK`)."""
    return [
        (compile_path(r.path or "")[0], frozenset(r.methods or ()))
        for r in iter_route_contexts(getattr(app, "routes", []))
        if isinstance(r.original_route, APIRoute)
        and (r.original_route.openapi_extra or {}).get(BULK_BODY)
    ]


class LimitRequestBody:
    """ASGI middleware: a request body over `limit` bytes is answered 413 before any of it is
    used: at once by its Content-Length, or for a chunked body as soon as it passes the limit
    (the app then sees the client gone, and whatever it answers is dropped). A route declared
    bulk (`openapi_extra=BULK`) is held to `bulk_limit` instead: the middleware runs before
    routing, so it reads the app's bulk routes (`scope["app"]`) on the first request."""

    def __init__(self, app: Any, limit: int, bulk_limit: int | None = None) -> None:
        self.app, self.limit, self.bulk_limit = app, limit, bulk_limit
        self._bulk: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    def limit_for(self, scope: Any) -> int:
        if self.bulk_limit is None:
            return self.limit
        if self._bulk is None:
            self._bulk = bulk_routes(scope.get("app"))
        path, method = scope.get("path", ""), scope.get("method")
        for pattern, methods in self._bulk:
            if method in methods and pattern.match(path):
                return max(self.limit, self.bulk_limit)
        return self.limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._too_large(send, limit)
            return
        seen = 0
        refused = started = False

        async def limited() -> Any:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit and not started:
                refused = True
                await self._too_large(send, limit)
                return {"type": "http.disconnect"}
            return message

        async def guarded(message: Any) -> None:
            nonlocal started
            if refused:
                return
            started = True
            await send(message)

        await self.app(scope, limited, guarded)

    async def _too_large(self, send: Any, limit: int) -> None:
        body = json.dumps(
            {
                "detail": [
                    {
                        "loc": ["body"],
                        "type": "too_large",
                        "msg": f"request body over {limit:,} bytes",
                    }
                ]
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


def content_security_policy(*inline_scripts: str) -> str:
    """The one policy every response carries: this origin's own scripts, styles, images and
    fonts, nothing from anywhere else. A page with inline scripts of its own (the API docs'
    pages: FastAPI writes Swagger UI's start-up inline) names each by its hash, so exactly
    those run and no injected one does: no 'unsafe-inline', no other origin."""
    hashes = "".join(
        f" 'sha256-{b64encode(sha256(s.encode()).digest()).decode()}'" for s in inline_scripts
    )
    return (
        f"default-src 'self'; script-src 'self'{hashes}; style-src 'self'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


# Sent with every response. The dashboard serves its own scripts and styles only (no inline
# script, no CDN), and so do the API docs (`add_api_docs`), so the policy forbids everything
# else.
SECURITY_HEADERS = {
    "Content-Security-Policy": content_security_policy(),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cache-Control": "no-store",
}
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
                    if name == b"cache-control" and path.startswith(("/static/", "/assets/")):
                        continue
                    headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class RateLimit:
    """ASGI middleware: each user's requests to this process, within `limits` (e.g.
    "300/second"); beyond them 429 with Retry-After. Runs after authentication, so the key is
    the token's user, not an address a proxy may share."""

    def __init__(self, app: Any, limits: str) -> None:
        self.app, self.items = app, parse_many(limits)
        self.limiter = FixedWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        principal = scope.get("state", {}).get("principal") if scope["type"] == "http" else None
        if principal is not None:
            for item in self.items:
                if not await self.limiter.hit(item, principal.user_id):
                    reset, _ = await self.limiter.get_window_stats(item, principal.user_id)
                    retry = max(1, math.ceil(reset - time.time()))
                    response = JSONResponse(
                        {
                            "detail": f"more than {item} requests from {principal.user_id}: "
                            f"try again in {retry} s"
                        },
                        status_code=429,
                        headers={"Retry-After": str(retry)},
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class _InlineScripts(HTMLParser):
    """The text of each inline `<script>` of a page: what its Content-Security-Policy hashes."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self._inside = False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not dict(attrs).get("src"):
            self._inside = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.scripts[-1] += data


def with_its_scripts_allowed(page: HTMLResponse) -> HTMLResponse:
    """The page, its policy allowing its own inline scripts (by hash) and nothing more."""
    scripts = _InlineScripts(bytes(page.body).decode()).scripts
    page.headers["Content-Security-Policy"] = content_security_policy(*scripts)
    return page


# Swagger UI's script, stylesheet and icon, as the package fastapi-offline ships them (it keeps
# them in step with the Swagger UI FastAPI's own pages load from a CDN): each service serves
# them itself, so its docs work on a council network without the internet.
DOCS_ASSETS = "/docs/assets"
_DOCS_ASSET_FILES = StaticFiles(packages=[("fastapi_offline", "static")])
# Swagger UI's defaults that would reach another origin: its spec validator's badge.
_OFFLINE_SWAGGER_UI = {"validatorUrl": None}


def add_api_docs(app: FastAPI) -> None:
    """FastAPI's docs (/openapi.json, /docs and its OAuth2 redirect, and Swagger UI's assets
    under /docs/assets) as routes of the app, each declaring `Permission.API_DOCS`: FastAPI's
    own are plain Starlette routes that no dependency runs on, so the permission table's gate
    (`authorise`) never saw them; a static mount would not see it either. Everything the page
    loads comes from the service itself (no CDN), so the policy stays strict. No ReDoc: its
    styling injects inline styles that a strict policy refuses, and Swagger UI shows the same
    document."""
    docs = [requires(Permission.API_DOCS)]
    title = app.title
    document = functools.cache(lambda: documented(app.openapi()))

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(document())

    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        assets = f"{root}{DOCS_ASSETS}"
        return with_its_scripts_allowed(
            get_swagger_ui_html(
                openapi_url=f"{root}/openapi.json",
                title=f"{title} - Swagger UI",
                swagger_js_url=f"{assets}/swagger-ui-bundle.js",
                swagger_css_url=f"{assets}/swagger-ui.css",
                swagger_favicon_url=f"{assets}/favicon.png",
                oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
                swagger_ui_parameters=_OFFLINE_SWAGGER_UI,
            )
        )

    async def oauth2_redirect() -> HTMLResponse:
        return with_its_scripts_allowed(get_swagger_ui_oauth2_redirect_html())

    async def asset(name: str, request: Request) -> Response:
        response = await _DOCS_ASSET_FILES.get_response(name, request.scope)
        # Kept by the browser, revalidated by its ETag (304) on each visit: a docs page does
        # not fetch 1.5 MB of script again, and a new version is picked up at once.
        response.headers["Cache-Control"] = "private, no-cache"
        return response

    for path, endpoint in (
        ("/openapi.json", openapi),
        ("/docs", swagger),
        ("/docs/oauth2-redirect", oauth2_redirect),
        (f"{DOCS_ASSETS}/{{name}}", asset),
    ):
        app.add_api_route(
            path, endpoint, methods=["GET"], include_in_schema=False, dependencies=docs
        )


BEARER = "bearer"
# What every operation may answer besides its own: the gate, the limits and the database.
EVERY_OPERATION: dict[str, str] = {
    "401": "No valid bearer token (missing, forged, expired, or not from the council's issuer)",
    "403": "The token's role or agency may not do this (the permission table, docs/security.md)",
    "429": "Too many requests from this user or address: send again after `Retry-After` seconds",
    "503": "A dependency (the database) is unavailable: send again after `Retry-After` seconds "
    "(a command with the same `Idempotency-Key`, which is always safe)",
}
WITH_A_BODY: dict[str, str] = {
    "413": "The body is larger than the service takes (`CSP_MAX_REQUEST_BYTES`; a bulk feed has "
    "its own limit)",
}


def documented(schema: dict[str, Any]) -> dict[str, Any]:
    """An API's OpenAPI document as a client needs it: the bearer-token scheme every operation
    requires (each service verifies the council identity provider's JWTs), and the answers
    every operation may give besides its own (401, 403, 429, 503; 413 where a body is sent),
    so a generated client handles them and a contract test expects them."""
    out = copy.deepcopy(schema)
    components = out.setdefault("components", {})
    components.setdefault("securitySchemes", {})[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token from the council's identity provider (docs/security.md); "
        "its role, agency and localities decide what the caller may do.",
    }
    out["security"] = [{BEARER: []}]
    for operations in out.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            answers = {**EVERY_OPERATION, **(WITH_A_BODY if method in BODIES else {})}
            for status, description in answers.items():
                operation["responses"].setdefault(status, {"description": description})
    return out


BODIES = frozenset({"post", "put", "patch"})


def secured_app(settings: Settings, sign_in: bool = False, **options: Any) -> FastAPI:
    """A FastAPI app with authentication (every request but /health carries a valid token;
    with `sign_in`, the app that serves the dashboard, the sign-in cookie is honoured too),
    failed authentications limited per client address, authorisation by each route's declared
    permission (shared/access.py; the API docs too), per-user rate limits, body limits and
    security headers. Middleware added last runs first."""
    app = FastAPI(
        dependencies=[Depends(authorise)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        **options,
    )
    add_api_docs(app)
    app.add_middleware(RateLimit, limits=settings.rate_limit)
    app.state.verifier = TokenVerifier(settings)
    app.add_middleware(
        Authenticate,
        verifier=app.state.verifier,
        cookie=sign_in,
        failures=settings.auth_failure_rate_limit,
    )
    app.add_middleware(
        LimitRequestBody,
        limit=settings.max_request_bytes,
        bulk_limit=settings.max_bulk_request_bytes,
    )
    app.add_middleware(SecurityHeaders)
    return app

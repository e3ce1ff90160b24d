"""What stands in front of every endpoint: authentication, authorisation, per-user rate
limits, request-body limits and security headers."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from shared.access import authorise
from shared.auth import Authenticate, TokenVerifier
from shared.settings import Settings


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
        body = json.dumps(
            {
                "detail": [
                    {
                        "loc": ["body"],
                        "type": "too_large",
                        "msg": f"request body over {self.limit:,} bytes",
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


# Sent with every response. The dashboard serves its own scripts and styles only (no inline
# script, no CDN), so the policy can forbid everything else; API docs pages (/docs) load
# Swagger UI from a CDN and get a policy of their own.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cache-Control": "no-store",
}
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: "
    "https://fastapi.tiangolo.com; frame-ancestors 'none'"
)
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
                if not self.limiter.hit(item, principal.user_id):
                    reset, _ = self.limiter.get_window_stats(item, principal.user_id)
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


def secured_app(settings: Settings, **options: Any) -> FastAPI:
    """A FastAPI app with authentication (every request but /health carries a valid token),
    authorisation by each route's declared permission (shared/access.py), per-user rate
    limits, body limits and security headers. Middleware added last runs first."""
    app = FastAPI(dependencies=[Depends(authorise)], **options)
    app.add_middleware(RateLimit, limits=settings.rate_limit)
    app.state.verifier = TokenVerifier(settings)
    app.add_middleware(Authenticate, verifier=app.state.verifier)
    app.add_middleware(LimitRequestBody, limit=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)
    return app

"""What every service app does before and after its routes: authentication (401), authorisation
(403), per-user rate limits (429), security headers, a request-body limit (413), and a lost
database connection answered 503 with Retry-After. In memory: the ASGI app driven by
Starlette's test client, no server, no database."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import jwt
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient

from shared.access import Access, Permission, requires
from shared.api import install_unavailable_handler
from shared.auth import LocalIssuer
from shared.http import operational_router
from shared.security import LimitRequestBody, secured_app
from shared.settings import Settings

ISSUER = LocalIssuer(Path(tempfile.mkdtemp(prefix="csp-unit-auth-")))
MANAGER = ISSUER.headers("m-1", "council", "manager")


def app(limit: int = 1000, rate: str = "1000/second", **settings: Any) -> TestClient:
    application = secured_app(
        Settings(
            service="t",
            auth_jwks=str(ISSUER.ensure().jwks_file),
            max_request_bytes=limit,
            rate_limit=rate,
            **settings,
        )
    )
    install_unavailable_handler(application)
    application.include_router(operational_router("t", {}))

    @application.post("/echo", dependencies=[requires(Permission.RECORD)])
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @application.post("/lost", dependencies=[requires(Permission.RECORD)])
    async def lost() -> None:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    return TestClient(application, headers=MANAGER)


def test_every_response_carries_the_security_headers() -> None:
    r = app().get("/health")
    assert r.status_code == 200
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"


def test_a_body_within_the_limit_is_read() -> None:
    assert app().post("/echo", content=b"x" * 1000).json() == {"bytes": 1000}


def test_a_declared_body_over_the_limit_is_413_with_the_reason() -> None:
    r = app().post("/echo", content=b"x" * 1001)
    assert r.status_code == 413
    assert r.json()["detail"][0]["loc"] == ["body"]
    assert "1,000 bytes" in r.json()["detail"][0]["msg"]


async def test_a_chunked_body_is_413_as_soon_as_it_passes_the_limit() -> None:
    """A body without Content-Length, in chunks: driven at the ASGI level."""
    read: list[bytes] = []
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": b"x" * 300, "more_body": True}] * 5

    async def inner(scope: Any, receive: Any, send: Any) -> None:  # the app: reads it all
        while (message := await receive())["type"] == "http.request":
            read.append(message["body"])
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await LimitRequestBody(inner, limit=1000)({"type": "http", "headers": []}, receive, send)
    assert sent[0]["status"] == 413  # the app's own 200 was dropped
    assert [m.get("status") for m in sent].count(200) == 0
    assert sum(map(len, read)) == 900  # the app never saw more than the limit


def test_a_lost_database_connection_is_503_with_retry_after() -> None:
    r = app().post("/lost")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert "Idempotency-Key" in r.json()["detail"]


# -- authentication and authorisation ------------------------------------------------------


def test_without_a_token_only_health_answers() -> None:
    anonymous = TestClient(app().app)
    assert anonymous.get("/health").status_code == 200
    refused = anonymous.post("/echo", content=b"x")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert "no bearer token" in refused.json()["detail"]
    assert anonymous.get("/metrics").status_code == 401


def _token(**claims: Any) -> dict[str, str]:
    key = ISSUER.key_file.read_bytes()
    now = int(time.time())
    body = {
        "iss": ISSUER.issuer,
        "aud": ISSUER.audience,
        "sub": "u",
        "agency": "council",
        "role": "manager",
        "iat": now,
        "exp": now + 60,
        **claims,
    }
    return {"Authorization": f"Bearer {jwt.encode(body, key, algorithm='RS256')}"}


def test_a_token_is_refused_when_expired_forged_misaddressed_or_impossible() -> None:
    client = TestClient(app().app)
    now = int(time.time())
    cases = {
        "expired": _token(iat=now - 7200, exp=now - 3600),
        "another audience": _token(aud="someone-else"),
        "another issuer": _token(iss="https://elsewhere.example"),
        "a partner agency with a council role": _token(agency="police", role="manager"),
        "an unknown role": _token(role="superuser"),
        "unsigned": {
            "Authorization": "Bearer "
            + jwt.encode(
                {"sub": "u", "agency": "council", "role": "manager"}, None, algorithm="none"
            )
        },
        "signed by another key": LocalIssuer(Path(tempfile.mkdtemp())).headers(
            "u", "council", "manager"
        ),
        "not a token at all": {"Authorization": "Bearer hello"},
    }
    for case, headers in cases.items():
        r = client.post("/echo", content=b"x", headers=headers)
        assert r.status_code == 401, (case, r.status_code, r.text)
    assert client.post("/echo", content=b"x", headers=_token()).status_code == 200


def test_a_valid_token_without_the_permission_is_403_naming_the_rule() -> None:
    client = app()
    partner = ISSUER.headers("p-1", "police", "partner")
    r = client.post("/echo", content=b"x", headers=partner)
    assert r.status_code == 403
    assert "police partners may not record a command" in r.json()["detail"]
    assert client.get("/metrics").status_code == 403  # a manager is not operations
    ops = ISSUER.headers("o-1", "council", "operations")
    assert client.get("/metrics", headers=ops).status_code == 200


def test_a_route_that_declares_no_permission_is_refused_to_everyone() -> None:
    client = app()
    application: Any = client.app

    @application.get("/forgotten")
    async def forgotten() -> dict[str, str]:
        return {"leaked": "yes"}

    for role in ("manager", "operations", "information_governance"):
        r = client.get("/forgotten", headers=ISSUER.headers("x", "council", role))
        assert r.status_code == 403 and "not open to anyone" in r.json()["detail"]


def test_a_router_route_without_a_declared_permission_is_403_and_one_with_it_is_not() -> None:
    """Default deny holds for routes of included routers too; a route's own declaration is
    the one enforced, whatever its neighbours declare."""
    client = app()
    router = APIRouter()

    @router.get("/undeclared/{child_id}")
    async def undeclared(child_id: str) -> dict[str, str]:
        return {"leaked": child_id}

    @router.get("/declared", dependencies=[requires(Permission.METRICS)])
    async def declared() -> dict[str, str]:
        return {"ok": "yes"}

    application: Any = client.app
    application.include_router(router)
    for role in ("manager", "operations", "information_governance", "practitioner"):
        headers = ISSUER.headers("x", "council", role)
        r = client.get("/undeclared/C-1", headers=headers)
        assert r.status_code == 403, (role, r.status_code)
        assert r.json()["detail"] == (
            "GET /undeclared/{child_id} is not open to anyone (docs/security.md)"
        )
        expected = 200 if role == "operations" else 403
        assert client.get("/declared", headers=headers).status_code == expected, role
    assert TestClient(application).get("/undeclared/C-1").status_code == 401  # no token


def test_a_query_can_ask_for_a_narrower_permission_declared_on_the_route() -> None:
    client = app()
    application: Any = client.app
    council_view = Access(Permission.METRICS, query=(("view", "council"),))

    @application.get("/board", dependencies=[requires(Permission.RECORD, unless=council_view)])
    async def board() -> dict[str, str]:
        return {"ok": "yes"}

    assert client.get("/board").status_code == 200  # a manager may record
    refused = client.get("/board", params={"view": "council"})
    assert refused.status_code == 403
    assert "may not read metrics (GET /board?view=council;" in refused.json()["detail"]
    ops = ISSUER.headers("o-1", "council", "operations")
    assert client.get("/board", params={"view": "council"}, headers=ops).status_code == 200


def test_each_user_is_held_to_the_rate_limit_with_retry_after() -> None:
    client = app(rate="3/minute")
    answers = [client.post("/echo", content=b"x").status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    r = client.post("/echo", content=b"x")
    assert int(r.headers["retry-after"]) >= 1 and "3 per 1 minute" in r.json()["detail"]
    other = ISSUER.headers("m-2", "council", "manager")  # another user has a limit of her own
    assert client.post("/echo", content=b"x", headers=other).status_code == 200

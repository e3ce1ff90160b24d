"""What every service app does before and after its routes: authentication (401), authorisation
(403), per-user rate limits (429), security headers, a request-body limit (413), and a lost
database connection answered 503 with Retry-After. In memory: the ASGI app driven by
Starlette's test client, no server, no database."""

from __future__ import annotations

import json
import time
from typing import Any

import asyncpg
import jwt
import pytest
from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from services.case_events.routes.returns import MOST_CHILDREN
from shared.access import GRANTS, Access, Permission, grant, requires
from shared.api import READ_UNAVAILABLE, install_unavailable_handler
from shared.auth import COOKIE, LocalIssuer
from shared.http import operational_router
from shared.security import BULK, LimitRequestBody, secured_app
from shared.settings import Settings
from tests import apps as tests_apps
from tests.infrastructure import TEST_ISSUER, another_issuer

ISSUER = another_issuer("csp-unit-auth-")
MANAGER = ISSUER.headers("m-1", "council", "manager")


def app(
    limit: int = 1000, rate: str = "1000/second", sign_in: bool = False, **settings: Any
) -> TestClient:
    application = secured_app(
        Settings(
            service="t",
            auth_jwks=str(ISSUER.ensure().jwks_file),
            max_request_bytes=limit,
            rate_limit=rate,
            **settings,
        ),
        sign_in=sign_in,
    )
    install_unavailable_handler(application)
    application.include_router(operational_router("t", {}))

    @application.post("/echo", dependencies=[requires(Permission.RECORD)])
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @application.post("/bulk", dependencies=[requires(Permission.RECORD)], openapi_extra=BULK)
    async def bulk(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @application.post("/lost", dependencies=[requires(Permission.RECORD)])
    async def lost() -> None:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    @application.get("/slow", dependencies=[requires(Permission.READ_BOARDS)])
    async def slow() -> None:
        raise TimeoutError  # as asyncpg raises it when a query passes its command_timeout

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


def test_a_read_that_timed_out_is_503_saying_nothing_was_changed() -> None:
    """Not a command's answer: a page or a board asked for records nothing."""
    r = app().get("/slow")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.json() == {"detail": READ_UNAVAILABLE, "error": "TimeoutError"}
    assert "nothing was changed" in r.json()["detail"]


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
            + jwt.encode({"sub": "u", "agency": "council", "role": "manager"}, "", algorithm="none")
        },
        "signed by another key": another_issuer().headers("u", "council", "manager"),
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


# -- the sign-in cookie: the dashboard's app only; signing out ------------------------------


def _cookie(role: str = "operations", issuer: LocalIssuer = ISSUER) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={issuer.token('o-1', 'council', role)}"}


def test_only_the_app_that_serves_the_dashboard_takes_the_sign_in_cookie() -> None:
    """Cookies are scoped by host, not port: every service on the host is sent the
    dashboard's cookie, and every one but the dashboard's takes bearer tokens only."""
    api = TestClient(app().app)
    refused = api.get("/metrics", headers=_cookie())
    assert refused.status_code == 401 and "no bearer token" in refused.json()["detail"]
    assert api.get("/dashboard", headers=_cookie()).status_code == 401  # no sign-in page here
    dashboard = TestClient(app(sign_in=True).app)
    assert dashboard.get("/metrics", headers=_cookie()).status_code == 200
    assert dashboard.post("/echo", content=b"x", headers=_cookie("manager")).status_code == 401
    assert dashboard.get("/dashboard", follow_redirects=False).headers["location"] == (
        "/login?next=/dashboard"
    )
    projections = TestClient(tests_apps.app("projections"))  # it serves the dashboard
    assert projections.get("/metrics", headers=_cookie(issuer=TEST_ISSUER)).status_code == 200
    for service in ("case_events", "education", "partner_feeds"):
        other = TestClient(tests_apps.app(service))
        refused = other.get("/metrics", headers=_cookie(issuer=TEST_ISSUER))
        assert refused.status_code == 401, service
        bearer = TEST_ISSUER.headers("o-1", "council", "operations")
        assert other.get("/metrics", headers=bearer).status_code == 200, service


def test_signing_out_clears_the_cookie_and_the_pages_offer_it() -> None:
    client = TestClient(tests_apps.app("projections"), follow_redirects=False)
    page = client.get("/definitions", headers=_cookie("manager", TEST_ISSUER))
    assert page.status_code == 200 and 'href="/logout">Sign out</a>' in page.text
    assert "Sign out" not in client.get("/login").text  # not signed in: nothing to sign out of
    for method in ("GET", "POST"):
        out = client.request(method, "/logout", headers=_cookie("manager", TEST_ISSUER))
        assert out.status_code == 303 and out.headers["location"] == "/login"
        cleared = out.headers["set-cookie"]
        assert cleared.startswith(f'{COOKIE}=""') and "Max-Age=0" in cleared, cleared
        assert "HttpOnly" in cleared and "SameSite=strict" in cleared


# -- the API docs: through the permission table's gate ----------------------------------------


def test_the_api_docs_are_served_through_the_permission_gate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = app()
    docs = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/docs/assets/swagger-ui.css")
    for path in docs:
        assert client.get(path).status_code == 200, path
        assert TestClient(client.app).get(path).status_code == 401, path
    assert "/echo" in client.get("/openapi.json").json()["paths"]
    swagger = client.get("/docs")
    assert "/openapi.json" in swagger.text and "swagger-ui" in swagger.text
    # Served by the service itself, no CDN: tests/unit/test_offline_docs.py.
    assert "http" not in swagger.headers["content-security-policy"]
    monkeypatch.setitem(GRANTS, Permission.API_DOCS, grant())  # granted to nobody
    for path in docs:
        r = client.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert "may not read the API's documentation" in r.json()["detail"]


# -- body limits: small for commands, larger for routes declared bulk ------------------------


def test_a_bulk_route_takes_up_to_the_bulk_limit_and_every_other_route_the_default() -> None:
    client = app(limit=1000, max_bulk_request_bytes=5000)
    assert client.post("/echo", content=b"x" * 1001).status_code == 413
    assert client.post("/bulk", content=b"x" * 5000).json() == {"bytes": 5000}
    r = client.post("/bulk", content=b"x" * 5001)
    assert r.status_code == 413 and "5,000 bytes" in r.json()["detail"][0]["msg"]
    lenient = TestClient(client.app, headers=MANAGER, raise_server_exceptions=False)
    chunked = lenient.post("/bulk", content=iter([b"x" * 1000] * 6))  # no Content-Length
    assert chunked.status_code == 413
    assert client.post("/bulk", content=iter([b"x" * 1000] * 4)).json() == {"bytes": 4000}


def test_commands_get_a_small_body_limit_and_only_the_bulk_inputs_a_bulk_one() -> None:
    """The register feed, and the UPNs of a return's children (case events)."""
    settings = Settings()
    assert settings.max_request_bytes <= 256 * 1024
    bulk = [
        (service, r.path)
        for service in tests_apps.APPS
        for r in tests_apps.api_routes(service)
        if isinstance(r.original_route, APIRoute)
        and (r.original_route.openapi_extra or {}).get("x-bulk-body")
    ]
    assert bulk == [
        ("case_events", "/returns/pupil-numbers"),
        ("education", "/attendance/register-feed"),
    ]
    # The most children a request for UPNs names, with the longest ids, fits the bulk limit.
    asked = json.dumps({"child_ids": ["C" * 64] * MOST_CHILDREN}).encode()
    assert len(asked) < settings.max_bulk_request_bytes
    # The largest feed (every mark with the longest child id) fits the bulk limit.
    mark = {"child_id": "C" * 64, "date": "2024-06-03", "session": "AM", "code": "/"}
    feed = {"school_urn": "113254", "marks": [mark] * settings.max_batch_marks}
    assert len(json.dumps(feed).encode()) <= settings.max_bulk_request_bytes


# -- failed authentications: limited per client address ---------------------------------------


def test_failed_authentications_from_one_address_are_limited_with_retry_after() -> None:
    client = app(auth_failure_rate_limit="3/minute")
    anonymous = TestClient(client.app)
    answers = [anonymous.post("/echo", content=b"x").status_code for _ in range(5)]
    assert answers == [401, 401, 401, 429, 429]
    forged = anonymous.get("/metrics", headers={"Authorization": "Bearer hello"})
    assert forged.status_code == 429 and int(forged.headers["retry-after"]) >= 1
    assert "failed authentications" in forged.json()["detail"]
    assert client.post("/echo", content=b"x").status_code == 200  # a valid token still passes
    assert anonymous.get("/health").status_code == 200


def test_the_default_failure_limit_leaves_room_for_the_test_suites() -> None:
    anonymous = TestClient(app().app)  # the default limit (50/second)
    assert Settings().auth_failure_rate_limit == "50/second"
    assert all(anonymous.get("/metrics").status_code == 401 for _ in range(20))

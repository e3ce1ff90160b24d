"""What every service app does before and after its routes: security headers, a request-body
limit (413), and a lost database connection answered 503 with Retry-After. In memory: the
ASGI app driven by Starlette's test client, no server, no database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from shared.api import LimitRequestBody, service_app


@asynccontextmanager
async def nothing(_: FastAPI) -> AsyncIterator[None]:
    yield


def app(limit: int = 1000) -> TestClient:
    application = service_app("t", "t", "t", nothing, {}, max_request_bytes=limit)

    @application.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @application.post("/lost")
    async def lost() -> None:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    return TestClient(application)


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

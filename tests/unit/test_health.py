"""/health answers without a token, so it names an error by its kind only: a repr can carry
host names, ports, paths or a database's name."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from shared.http import WorkerParts, public_check, worker_app
from shared.settings import Settings
from tests.infrastructure import another_issuer, poll_until


def test_an_errors_repr_is_reduced_to_its_kind() -> None:
    failed = {
        "ok": False,
        "error": "ConnectionRefusedError(111, \"Connect call failed ('10.0.4.7', 5433)\")",
        "lag": {"case-events": 0},
    }
    assert public_check(failed) == {
        "ok": False,
        "error": "ConnectionRefusedError",
        "lag": {"case-events": 0},
    }


def test_a_written_reason_and_a_healthy_check_are_shown_as_they_are() -> None:
    stalled = {"ok": False, "error": "relay stalled: events waiting longer than 10s"}
    assert public_check(stalled) == stalled
    assert public_check({"ok": True, "error": None}) == {"ok": True, "error": None}


def test_a_worker_whose_loop_died_is_degraded() -> None:
    """A worker's background loop that ended with an error answered /health "ok" (found when
    the escalations worker's drift loop crashed under `make run`)."""

    async def start(stop: asyncio.Event) -> WorkerParts:
        async def loop(stop: asyncio.Event) -> None:
            raise RuntimeError("the loop's own fault")

        async def close() -> None:
            return None

        return loop, {}, close

    settings = Settings(service="test", auth_jwks=str(another_issuer().ensure().jwks_file))
    with TestClient(worker_app("test worker", settings, start)) as client:

        def answer() -> dict[str, object] | None:
            body: dict[str, object] = client.get("/health").json()
            return body if body["status"] == "degraded" else None

        body = poll_until(answer, 10, 0.05, what="the worker to report its dead loop")
        assert body["checks"] == {"loop": {"ok": False, "error": "RuntimeError"}}

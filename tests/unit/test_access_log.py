"""The access log and the correlation id (shared/access_log.py), in memory: a service app as
`service_app` builds it, driven by Starlette's test client, its log lines read as the
platform writes them (shared/logging.py's JSON), a command recorded in an in-memory event
store. One line per request with the route's template, never a child's id; the caller's
X-Correlation-Id (or a new one) in every line of the request, in the response and on the
events the command recorded."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.accommodation.domain.accommodation import Accommodation
from services.accommodation.routes.children import CHILD, COMMANDS
from shared.access import Permission, requires
from shared.access_log import HEADER, LOGGER, UNMATCHED, correlation_id_from, path_template
from shared.aggregate import KnownChild
from shared.api import CorrelationId, clock_of, pool_of, service_app, store_of
from shared.clock import FixedClock
from shared.eventstore import InMemoryEventStore
from shared.logging import QUIETENED as LIBRARIES_QUIETENED
from shared.logging import configure_logging, get_logger
from shared.routes import Commands, command_router
from shared.settings import Settings
from tests.infrastructure import another_issuer

ISSUER = another_issuer("csp-unit-access-log-")
PRACTITIONER = ISSUER.headers("sw-17", "council", "practitioner")
OPERATIONS = ISSUER.headers("ops-1", "council", "operations")
CHILD_ID = "C-canary4711"  # must appear in no log line
REFERRAL = "/homelessness-prevention-referrals"
TEMPLATE = f"/children/{{child_id}}{REFERRAL}"
ACCESS_FIELDS = {
    "event",
    "method",
    "path",
    "status",
    "duration_ms",
    "role",
    "agency",
    "correlation_id",
    "service",
    "level",
    "logger",
    "timestamp",
}

QUIETENED = ("uvicorn.access", *LIBRARIES_QUIETENED)  # configure_logging sets their levels
Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def lines() -> Iterator[Lines]:
    """The platform's logging (shared/logging.py, JSON) written to a buffer: each call gives
    the lines written so far, parsed. The root logger is put back afterwards."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    quietened = {name: logging.getLogger(name).level for name in QUIETENED}
    configure_logging("access-log-test", "INFO", "json")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        root.handlers[:], root.level = handlers, level
        for name, before in quietened.items():
            logging.getLogger(name).setLevel(before)
        structlog.configure(**config)
        structlog.contextvars.unbind_contextvars("service")


def access(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in found if line.get("logger") == LOGGER]


async def known(pool: Any, child_id: str) -> KnownChild:
    return KnownChild(child_id, date(2010, 5, 1), "Exeter")


def platform_app() -> tuple[FastAPI, InMemoryEventStore]:
    """A service app as every service's is built (its lifespan, which opens the audit
    database, is not run), with one generated command route on an in-memory event store, a
    route of its own reading a child's path, and a route that fails."""

    @asynccontextmanager
    async def nothing(app: FastAPI) -> AsyncIterator[None]:
        yield

    settings = Settings(service="t", auth_jwks=str(ISSUER.ensure().jwks_file))
    app = service_app("t", settings, "", nothing, {})
    children = Commands("/children", CHILD, Accommodation, known_child=known)
    app.include_router(command_router(children, [r for r in COMMANDS if r.path == REFERRAL]))
    store = InMemoryEventStore()
    clock = FixedClock(datetime(2030, 9, 2, 12, tzinfo=UTC))

    async def the_store() -> InMemoryEventStore:
        return store

    async def no_pool() -> None:
        return None

    async def the_clock() -> FixedClock:
        return clock

    app.dependency_overrides.update({store_of: the_store, pool_of: no_pool, clock_of: the_clock})

    @app.get("/children/{child_id}/echo", dependencies=[requires(Permission.RECORD)])
    async def echo(child_id: str, correlation_id: CorrelationId) -> dict[str, str]:
        get_logger("t").info("inside the handler")
        return {"correlation_id": str(correlation_id)}

    @app.post("/failing", dependencies=[requires(Permission.RECORD)])
    async def failing() -> None:
        raise RuntimeError("an unexpected fault")

    return app, store


def client(app: FastAPI | None = None) -> TestClient:
    return TestClient(app or platform_app()[0], raise_server_exceptions=False)


def refer(http: TestClient, child_id: str = CHILD_ID, **headers: str) -> Any:
    return http.post(
        f"/children/{child_id}{REFERRAL}",
        json={"referred_on": "2030-09-02"},
        headers={**PRACTITIONER, **headers},
    )


def test_a_request_is_one_line_with_method_template_status_duration_caller_and_id(
    lines: Lines,
) -> None:
    given = str(uuid4())
    response = refer(client(), **{HEADER: given})
    assert response.status_code == 201, response.text
    [line] = access(lines())
    assert set(line) == ACCESS_FIELDS
    assert line["event"] == "request"
    assert line["level"] == "info"
    assert (line["method"], line["path"], line["status"]) == ("POST", TEMPLATE, 201)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert (line["role"], line["agency"]) == ("practitioner", "council")
    assert line["correlation_id"] == given


def test_no_line_holds_a_childs_id_a_query_a_body_or_a_token(lines: Lines) -> None:
    http = client()
    asked: list[tuple[str, str, int, str]] = []

    def send(method: str, path: str, expect: int, template: str, **options: Any) -> None:
        response = http.request(method, path, **{"headers": PRACTITIONER, **options})
        assert response.status_code == expect, (path, response.text)
        asked.append((method, template, expect, response.headers[HEADER]))

    base = f"/children/{CHILD_ID}"
    send(
        "POST",
        f"{base}{REFERRAL}?secret=query-canary",
        201,
        TEMPLATE,
        json={"referred_on": "2030-09-01"},
    )
    send("POST", f"{base}{REFERRAL}", 422, TEMPLATE, json={"referred_on": "body-canary"})
    send("POST", f"/children/{CHILD_ID}!{REFERRAL}", 422, TEMPLATE, json={})  # bad id pattern
    send("GET", f"{base}{REFERRAL}", 405, TEMPLATE)
    send("GET", f"{base}/echo", 200, "/children/{child_id}/echo")
    send("GET", f"{base}/nothing-here", 404, UNMATCHED)
    send("POST", f"{base}{REFERRAL}", 401, TEMPLATE, headers={})  # no token: before routing
    send("POST", f"{base}{REFERRAL}", 401, TEMPLATE, headers={"Authorization": "Bearer x.y.z"})
    send("GET", "/metrics", 403, "/metrics", headers=PRACTITIONER)  # quiet: debug only
    written = "\n".join(json.dumps(line) for line in lines())
    for secret in (
        CHILD_ID,
        "query-canary",
        "body-canary",
        "x.y.z",
        PRACTITIONER["Authorization"][7:],
    ):
        assert secret not in written
    logged = [(x["method"], x["path"], x["status"], x["correlation_id"]) for x in access(lines())]
    assert logged == [a for a in asked if a[1] != "/metrics"]
    unauthenticated = [x for x in access(lines()) if x["status"] == 401]
    assert [(x["role"], x["agency"]) for x in unauthenticated] == [(None, None)] * 2


def test_a_board_packs_drawing_steps_are_not_logged_its_warnings_are(lines: Lines) -> None:
    """weasyprint's progress (eight INFO lines a PDF) is noise in a service's log."""
    logging.getLogger("weasyprint.progress").info("Step 5 - Creating layout - Page 1")
    logging.getLogger("weasyprint").warning("Ignored `float: sideways` at 3:1")
    assert [(line["logger"], line["event"]) for line in lines()] == [
        ("weasyprint", "Ignored `float: sideways` at 3:1")
    ]


def test_every_line_of_the_request_carries_its_correlation_id(lines: Lines) -> None:
    given = str(uuid4())
    response = client().get(f"/children/{CHILD_ID}/echo", headers={**PRACTITIONER, HEADER: given})
    assert response.json() == {"correlation_id": given}
    inside = [x for x in lines() if x["event"] == "inside the handler"]
    assert [x["correlation_id"] for x in inside] == [given]
    assert [x["correlation_id"] for x in access(lines())] == [given]


def test_the_header_comes_back_as_sent_and_each_request_without_one_has_its_own() -> None:
    http = client()
    given = str(uuid4())
    assert refer(http, **{HEADER: given}).headers[HEADER] == given
    assert refer(http, **{HEADER: given.upper()}).headers[HEADER] == given  # canonical form
    first = UUID(refer(http).headers[HEADER])
    second = UUID(refer(http).headers[HEADER])
    assert first != second and first.version == second.version == 7


@pytest.mark.parametrize(
    "sent", ["not-a-uuid", "", "00000000-0000-0000-0000-000000000000", "1" * 5000, "1234"]
)
def test_a_header_that_is_not_a_uuid_is_replaced_not_refused(sent: str, lines: Lines) -> None:
    response = refer(client(), **{HEADER: sent})
    assert response.status_code == 201, response.text
    answered = response.headers[HEADER]
    assert answered != sent and UUID(answered).version == 7
    [line] = access(lines())
    assert line["correlation_id"] == answered


def test_the_recorded_events_carry_the_requests_correlation_id() -> None:
    app, store = platform_app()
    http = client(app)
    given = uuid4()
    assert refer(http, **{HEADER: str(given)}).status_code == 201
    [recorded] = asyncio.run(store.read_stream(CHILD_ID))
    assert recorded.correlation_id == given
    # Without a header, the id the platform made: the response's and the event's.
    made = refer(http, "C-other42")
    [other] = asyncio.run(store.read_stream("C-other42"))
    assert str(other.correlation_id) == made.headers[HEADER]


def test_health_and_metrics_are_not_in_the_log_at_info(lines: Lines) -> None:
    http = client()
    assert http.get("/health").status_code == 200
    assert http.get("/metrics", headers=OPERATIONS).status_code == 200
    assert access(lines()) == []


def test_health_and_metrics_are_logged_at_debug(lines: Lines) -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    http = client()
    http.get("/health")
    http.get("/metrics", headers=OPERATIONS)
    quiet = [(x["path"], x["status"], x["level"]) for x in access(lines())]
    assert quiet == [("/health", 200, "debug"), ("/metrics", 200, "debug")]
    metrics = access(lines())[1]
    assert (metrics["role"], metrics["agency"]) == ("operations", "council")


def test_an_unexpected_error_is_a_500_line_at_warning_with_its_kind(lines: Lines) -> None:
    response = client().post("/failing", headers=PRACTITIONER)
    assert response.status_code == 500
    [line] = access(lines())
    assert (line["path"], line["status"], line["level"]) == ("/failing", 500, "warning")
    assert line["error"] == "RuntimeError"
    assert "an unexpected fault" not in json.dumps(line)


def test_the_template_of_a_mount_and_of_nothing() -> None:
    app = FastAPI()
    app.mount("/static/app", FastAPI())
    scope = {"type": "http", "method": "GET", "path": "/static/app/site.css", "app": app}
    assert path_template(scope) == "/static/app/{path}"
    assert path_template({**scope, "path": "/elsewhere"}) == UNMATCHED
    assert path_template({"type": "http", "method": "GET", "path": "/"}) == UNMATCHED


def test_correlation_ids_as_read_from_a_header() -> None:
    given = uuid4()
    assert correlation_id_from(str(given)) == given
    assert correlation_id_from(str(given).encode()) == given
    assert correlation_id_from(f"urn:uuid:{given}") == given
    assert correlation_id_from(given.hex) == given
    for refused in (None, "", "nope", "0" * 32, f"{given}-and-more"):
        made = correlation_id_from(refused)
        assert made != given and made.version == 7

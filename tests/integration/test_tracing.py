"""One command, one trace: from the HTTP request through the event store, the relay, Kafka and
a projection's transaction to the boards, and through the partner feed's share, against the
real Kafka and PostgreSQL. The case-events API, its worker (the relay), the boards' worker
and the partner feeds' worker run in this test's process, each as its composition root builds
it, so one in-memory exporter sees every span they make; and the record the relay published
carries the command's correlation id and the CloudEvents headers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.case_events.__main__ import worker as case_events_worker
from services.case_events.api import create_app as case_events_api
from services.partner_feeds.__main__ import worker as partner_feeds_worker
from services.partner_feeds.sharing import agency_uuid
from services.projections.registry import worker as boards_worker
from shared.envelope import Agency
from shared.relay import rfc3339
from shared.settings import Settings
from tests.conftest import settings_for
from tests.infrastructure import TEST_PSEUDONYM_KEY, Infrastructure, auth, eventually, read_topic

pytestmark = pytest.mark.integration

CHILD = {"child_id": "C-TRACE1", "date_of_birth": "2015-03-04", "locality": "Exeter"}
AGENCIES = ("health", "careers")  # who receives ChildRegistered (services/partner_feeds)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """The app's lifespan, as uvicorn runs it: a worker's loop runs until the block ends."""
    async with app.router.lifespan_context(app):
        yield app


def in_trace(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]


def group(span: ReadableSpan) -> str:
    return str((span.attributes or {})["messaging.consumer.group.name"])


def last(spans: list[ReadableSpan]) -> ReadableSpan:
    assert spans, "no such span in the trace"
    return max(spans, key=lambda s: s.end_time or 0)


async def test_one_command_is_one_trace_from_the_request_to_the_boards_and_the_partner_feed(
    infra: Infrastructure, namespace: str, spans: InMemorySpanExporter
) -> None:
    def settings(service: str) -> Settings:
        return settings_for(
            infra,
            service,
            namespace,
            partner_pseudonym_key=TEST_PSEUDONYM_KEY,
            returns_check=False,
            relay_poll_interval_s=0.2,
        )

    api = case_events_api(settings("case_events"))
    correlation_id = str(uuid4())
    async with AsyncExitStack() as stack:
        for app in (
            api,
            case_events_worker(settings("case_events")),
            boards_worker(settings("projections")),
            partner_feeds_worker(settings("partner_feeds")),
        ):
            await stack.enter_async_context(running(app))
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://api")
        )
        added = await http.post(
            "/reference/localities", json={"name": "Exeter"}, headers=auth("manager")
        )
        assert added.status_code == 201, added.text
        response = await http.post(
            "/children",
            json=CHILD,
            headers={**auth("practitioner"), "X-Correlation-Id": correlation_id},
        )
        assert response.status_code == 201, response.text
        [event_id] = response.json()["event_ids"]

        [request] = [s for s in spans.get_finished_spans() if s.name == "POST /children"]
        trace_id = request.context.trace_id
        topic = settings("case_events").topic("case-events")
        health, careers = (settings("partner_feeds").topic(f"partner-{a}") for a in AGENCIES)

        async def whole() -> list[ReadableSpan]:
            """The trace once both consumers have applied the event and both shares are sent
            (a consumer's span ends at its commit, a share's at Kafka's acknowledgement)."""
            found = in_trace(spans, trace_id)
            names = [s.name for s in found]
            groups = {group(s) for s in found if s.name == f"process {topic}"}
            done = len(groups) == 2 and {
                f"send {health}",
                f"send {careers}",
            } <= set(names)
            return found if done else []

        found = await eventually(whole, 60, 0.05, "the trace to reach the boards and partners")

    def one(name: str) -> ReadableSpan:
        """The span of that name; the last one to end if a retry made two (a batch applied
        again after a transient error is a second span, the one that committed ends last)."""
        return last([s for s in found if s.name == name])

    def parent(span: ReadableSpan) -> int | None:
        return None if span.parent is None else span.parent.span_id

    append, relayed = one("append events"), one(f"send {topic}")
    processed = [s for s in found if s.name == f"process {topic}"]
    partner = last([s for s in processed if group(s).endswith("partner_feeds.shares")])
    boards = last([s for s in processed if not group(s).endswith("partner_feeds.shares")])
    shared_with_health, shared_with_careers = one(f"send {health}"), one(f"send {careers}")

    assert request.kind is SpanKind.SERVER and request.parent is None
    assert parent(append) == request.context.span_id
    assert parent(relayed) == append.context.span_id
    assert parent(boards) == relayed.context.span_id
    assert parent(partner) == relayed.context.span_id
    assert parent(shared_with_health) == partner.context.span_id
    assert parent(shared_with_careers) == partner.context.span_id
    assert group(boards).startswith(settings("projections").consumer_group)
    for span in (request, relayed, boards, partner):
        assert (span.attributes or {})["csp.correlation_id"] == correlation_id
    assert (relayed.attributes or {})["messaging.message.id"] == event_id
    # The boards' span ends when its transaction has committed: the board shows the child.
    assert await on_the_boards(settings("projections"), CHILD["child_id"])

    # The record the relay published: the correlation id, CloudEvents, and the trace.
    [record] = [
        r
        for r in await read_topic(infra.kafka_bootstrap, topic)
        if dict(r.headers).get("event_id") == event_id.encode()
    ]
    headers = {k: v.decode() for k, v in record.headers}
    envelope = json.loads(record.value)
    assert headers["correlation_id"] == correlation_id == envelope["correlation_id"]
    assert headers["ce_id"] == event_id
    assert headers["ce_source"] == "/csp/case-events"
    assert headers["ce_type"] == "csp.ChildRegistered.v1"
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_time"] == rfc3339(datetime.fromisoformat(envelope["recorded_at"]))
    assert headers["content-type"] == "application/json"
    assert headers["traceparent"].split("-")[1:3] == [
        f"{trace_id:032x}",
        f"{relayed.context.span_id:016x}",
    ]
    assert "trace" not in json.dumps(envelope)  # the trace context is never in the payload

    # A share derived from it: the agency's own correlation id, CloudEvents, no trace.
    [share] = await read_topic(infra.kafka_bootstrap, health)
    shared = {k: v.decode() for k, v in share.headers}
    message_id = json.loads(share.value)["message_id"]
    assert shared["correlation_id"] == str(
        agency_uuid(TEST_PSEUDONYM_KEY.encode(), Agency.HEALTH, UUID(correlation_id))
    )
    assert (shared["ce_id"], shared["ce_source"]) == (message_id, "/csp/partner-health")
    assert (shared["ce_type"], shared["ce_specversion"]) == (
        "csp.partner.ChildRegistered.v1",
        "1.0",
    )
    assert datetime.fromisoformat(shared["ce_time"]) >= datetime.fromisoformat(headers["ce_time"])
    assert "traceparent" not in shared


async def on_the_boards(settings: Settings, child_id: str) -> bool:
    conn = await asyncpg.connect(settings.dsn())
    try:
        live = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
        found = await conn.fetchval(
            f'SELECT 1 FROM "{live}".children WHERE child_id = $1', child_id
        )
        return found == 1
    finally:
        await conn.close()

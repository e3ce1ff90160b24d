"""Traces and record headers, in memory (shared/tracing.py, shared/relay.py): what tracing
reads from the environment, the headers every record carries (CloudEvents binary mode, the
correlation id), the spans the kernel makes and how they join up through a stored context and
a record's headers, a request's server span (never a child's id), and the AsyncAPI document
declaring the headers actually sent. The whole path through Kafka and PostgreSQL is
tests/integration/test_tracing.py."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from uuid import uuid4

import pytest
import yaml
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from contracts.case_events.events import ChildRegistered
from contracts.topics import EVENTS
from deploy.catalogue import asyncapi
from deploy.local.stack import ROOT
from services.partner_feeds.sharing import PARTNER_HEADERS, agency_uuid, shares_of
from shared import tracing
from shared.envelope import Actor, Agency, Envelope
from shared.eventstore import CommandContext, make_envelopes
from shared.relay import HEADERS, OPTIONAL_HEADERS, headers_of, record_headers, rfc3339
from tests.unit.test_access_log import CHILD_ID, TEMPLATE, client, refer

CTX = CommandContext(
    actor=Actor(user_id="sw-1", agency=Agency.COUNCIL, role="practitioner"),
    correlation_id=uuid4(),
)


def registered() -> Envelope:
    event = ChildRegistered(child_id="C-1", date_of_birth=date(2015, 3, 4), locality="Exeter")
    [envelope] = make_envelopes("C-1", 0, [event], CTX)
    return envelope


# -- configuration --------------------------------------------------------------------------


def test_tracing_is_off_unless_an_exporter_is_named() -> None:
    assert tracing.exporter_names({}) == []
    assert tracing.exporter_names({"OTEL_TRACES_EXPORTER": "none"}) == []
    assert tracing.exporter_names({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) == []
    assert tracing.exporter_names({"OTEL_TRACES_EXPORTER": "otlp, Console"}) == [
        "otlp",
        "console",
    ]
    disabled = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}
    assert tracing.exporter_names(disabled) == []
    assert not tracing.configure("case_events", {}) and not tracing.enabled()


def test_the_service_is_named_for_the_platform_unless_the_environment_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert tracing.resource_for("case_events").attributes["service.name"] == "csp-case-events"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "case-events-blue")
    assert tracing.resource_for("case_events").attributes["service.name"] == "case-events-blue"


def test_otlp_means_otlp_over_http_and_an_exporter_not_installed_is_refused() -> None:
    assert type(tracing._exporter("otlp")).__module__.startswith(
        "opentelemetry.exporter.otlp.proto.http"
    )
    assert type(tracing._exporter("console")).__name__ == "ConsoleSpanExporter"
    with pytest.raises(SystemExit, match="zipkin"):
        tracing._exporter("zipkin")


def test_the_collector_receives_what_the_services_send_and_forwards_every_trace() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "otel" / "collector.yaml").read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    [pipeline] = config["service"]["pipelines"].values()
    for kind in ("receivers", "processors", "exporters"):
        assert pipeline[kind] and set(pipeline[kind]) <= set(config[kind]), kind
    assert pipeline["processors"][0] == "memory_limiter"  # first, as the collector advises
    assert pipeline["processors"][-1] == "batch"


# -- the headers -------------------------------------------------------------------------------


def test_a_record_names_its_event_correlation_and_cloudevent() -> None:
    envelope = registered()
    sent = headers_of(record_headers(envelope, "/csp/case-events"))
    assert sent == {
        "event_id": str(envelope.event_id),
        "event_type": "ChildRegistered",
        "schema_version": "1",
        "correlation_id": str(CTX.correlation_id),
        "content-type": "application/json",
        "ce_id": str(envelope.event_id),
        "ce_source": "/csp/case-events",
        "ce_type": "csp.ChildRegistered.v1",
        "ce_specversion": "1.0",
        "ce_time": rfc3339(envelope.recorded_at),
    }
    assert datetime.fromisoformat(sent["ce_time"]) == envelope.recorded_at
    assert set(sent) == set(HEADERS) - OPTIONAL_HEADERS  # what the AsyncAPI document declares


def test_times_are_rfc_3339_in_utc() -> None:
    at = datetime(2026, 3, 2, 10, 11, 12, 345678, tzinfo=timezone(timedelta(hours=1)))
    assert rfc3339(at) == "2026-03-02T09:11:12.345678Z"
    assert rfc3339(datetime(2026, 3, 2, tzinfo=UTC)) == "2026-03-02T00:00:00Z"


def test_a_partner_record_names_its_message_and_the_agencys_own_correlation_id() -> None:
    envelope = registered()
    event = ChildRegistered.model_validate(envelope.payload)
    shares = {m.agency: m for m in shares_of(envelope, event, b"key")}
    assert set(shares) == {Agency.HEALTH, Agency.CAREERS}
    sent_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    health = headers_of(shares[Agency.HEALTH].headers(sent_at))
    careers = headers_of(shares[Agency.CAREERS].headers(sent_at))
    assert health == {
        "message_id": str(shares[Agency.HEALTH].message_id),
        "event_type": "ChildRegistered",
        "correlation_id": str(agency_uuid(b"key", Agency.HEALTH, CTX.correlation_id)),
        "content-type": "application/json",
        "ce_id": str(shares[Agency.HEALTH].message_id),
        "ce_source": "/csp/partner-health",
        "ce_type": "csp.partner.ChildRegistered.v1",
        "ce_specversion": "1.0",
        "ce_time": "2026-03-02T09:00:00Z",
    }
    assert set(health) == set(PARTNER_HEADERS)
    # Nothing two agencies receive for the same event is the same id: no join key.
    assert health["correlation_id"] != careers["correlation_id"] != str(CTX.correlation_id)
    assert health["ce_id"] != careers["ce_id"]
    assert "traceparent" not in health


def test_the_asyncapi_document_declares_the_headers_sent_and_the_correlation_ids_header() -> None:
    document = asyncapi(EVENTS)
    envelope = registered()
    sent = headers_of(record_headers(envelope, "/csp/case-events"))
    message = document["components"]["messages"]["case-events.Message"]
    declared = message["headers"]
    assert set(declared["properties"]) == set(HEADERS)
    assert set(declared["required"]) == set(sent)
    location = message["correlationId"]["location"]
    assert location.startswith("$message.header#/")
    assert sent[location.removeprefix("$message.header#/")] == str(CTX.correlation_id)
    fixed = declared["properties"]
    assert fixed["ce_source"]["const"] == sent["ce_source"]
    assert sent["ce_type"] in fixed["ce_type"]["enum"]
    assert fixed["ce_specversion"]["const"] == sent["ce_specversion"]


# -- the spans -----------------------------------------------------------------------------


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {s.name: s for s in exporter.get_finished_spans()}


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_an_append_stores_its_context_and_the_send_and_the_apply_are_its_children(
    spans: InMemorySpanExporter,
) -> None:
    with tracing.appending(["ChildRegistered"]):
        stored = tracing.stored_context()
    assert stored is not None and set(json.loads(stored)) == {"traceparent"}
    sends = tracing.BatchSpans()
    headers = sends.sending("case-events", stored, {"csp.event_type": "ChildRegistered"})
    assert [name for name, _ in headers] == ["traceparent"]
    sends.end()
    consumer = tracing.BatchSpans()
    with consumer.processing("case-events", headers, {}):
        shared_context = tracing.current_context()
    partner = tracing.BatchSpans()
    partner.sending("partner-health", shared_context, {})
    partner.end()
    consumer.end()

    found = by_name(spans)
    append, send = found["append events"], found["send case-events"]
    process, share = found["process case-events"], found["send partner-health"]
    assert {s.context.trace_id for s in found.values()} == {append.context.trace_id}
    assert parent_of(send) == append.context.span_id
    assert parent_of(process) == send.context.span_id
    assert parent_of(share) == process.context.span_id
    assert (append.kind, send.kind, process.kind) == (
        SpanKind.CLIENT,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
    )
    [(_, traceparent)] = headers  # version-trace id-the send's span id-flags (sampled)
    version, trace_id, span_id, flags = traceparent.decode().split("-")
    assert (version, trace_id, span_id) == (
        "00",
        f"{append.context.trace_id:032x}",
        f"{send.context.span_id:016x}",
    )
    assert int(flags, 16) & 1


def test_a_failure_marks_the_spans_with_its_type_never_its_message(
    spans: InMemorySpanExporter,
) -> None:
    with pytest.raises(ValueError), tracing.appending(["ChildRegistered"]):
        raise ValueError(f"stream {CHILD_ID!r} is at version 2")
    [span] = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "ValueError"
    assert CHILD_ID not in repr(span.to_json())


def test_no_trace_is_started_for_a_record_or_event_without_one(
    spans: InMemorySpanExporter,
) -> None:
    batch = tracing.BatchSpans()
    assert batch.sending("case-events", None, {}) == []
    with batch.processing("case-events", [("event_id", b"e1")], {}):
        assert not trace.get_current_span().get_span_context().is_valid
    batch.end()
    assert spans.get_finished_spans() == ()


def test_off_nothing_is_traced_and_a_stored_context_is_passed_on_as_it_is() -> None:
    assert not tracing.enabled()
    assert tracing.stored_context() is None and tracing.current_context() is None
    stored = json.dumps({"traceparent": f"00-{'a' * 32}-{'b' * 16}-01", "tracestate": "k=v"})
    batch = tracing.BatchSpans()
    # Passed on as it is, but never a tracestate (a caller's, if one was ever kept).
    assert sorted(batch.sending("case-events", stored, {})) == [
        ("traceparent", f"00-{'a' * 32}-{'b' * 16}-01".encode()),
    ]


def test_a_request_is_a_server_span_by_its_template_continuing_the_callers_trace(
    spans: InMemorySpanExporter,
) -> None:
    caller_trace, caller_span = uuid4().int >> 1, 0x1234
    traceparent = f"00-{caller_trace:032x}-{caller_span:016x}-01"
    correlation_id = str(uuid4())
    http = client()
    response = refer(http, **{"traceparent": traceparent, "X-Correlation-Id": correlation_id})
    assert response.status_code == 201, response.text
    assert http.get("/health").status_code in (200, 503)  # a scrape: no span
    [span] = spans.get_finished_spans()
    assert span.name == f"POST {TEMPLATE}" and span.kind is SpanKind.SERVER
    assert span.context.trace_id == caller_trace and parent_of(span) == caller_span
    assert span.attributes is not None
    assert dict(span.attributes) == {
        "http.request.method": "POST",
        "http.route": TEMPLATE,
        "http.response.status_code": 201,
        "csp.correlation_id": correlation_id,
        "csp.role": "practitioner",
        "csp.agency": "council",
    }
    assert CHILD_ID not in repr(span.to_json())

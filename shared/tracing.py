"""Traces from an HTTP command to the boards (OpenTelemetry), off unless asked for.

One command makes one trace, in four processes:

    POST /children/{child_id}/...           the API's request (shared/access_log.py)
      append events                         the event store's insert (shared/eventstore.py)
        send case-events                    the relay, later and in batches (shared/relay.py)
          process case-events               a consumer's apply and its commit (projection.py)
            send partner-police             the partner feed's share (services/partner_feeds)
            append events                   a policy's own events (escalations), and so on

The relay publishes long after the request has answered, so the append's trace context is
stored with each event (the events table's `trace_context` column: the W3C `traceparent`
alone, never a caller's `tracestate`, never the payload), and the relay's span is that span's
child. Each record on a domain topic carries its send span's context in the W3C
`traceparent` header, and the consumer continues the trace from it.

Configured by the variables the OpenTelemetry SDK reads itself (OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_ENDPOINT and the rest of OTEL_EXPORTER_OTLP_*,
OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*, OTEL_SDK_DISABLED), with one difference: tracing is off
until OTEL_TRACES_EXPORTER names an exporter (`otlp`: OTLP over HTTP/protobuf; `console`),
where the SDK's own default is `otlp`. Off, nothing is set up and the kernel's hot paths ask
`enabled()` (a global's lookup) before doing any tracing work at all.

No span carries a child's id, a path as sent, a query, or an error's message (which can
quote one): the route's template, event types and ids, the correlation id, the error's type.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.logging import get_logger

log = get_logger(__name__)

TRACER = "csp"
# The W3C headers a record carries (and the events table stores): exactly these, whatever
# OTEL_PROPAGATORS says, so a record's headers are a documented contract and no caller's
# baggage is ever kept with an event or published.
TRACEPARENT = "traceparent"
W3C = TraceContextTextMapPropagator()
# The exporters by the names OTEL_TRACES_EXPORTER takes; only OTLP over HTTP is installed
# (no gRPC runtime to ship), so `otlp` means it. Any other name is looked up among the
# installed exporter plugins (`opentelemetry_traces_exporter` entry points).
EXPORTER_ALIASES = {"otlp": "otlp_proto_http"}

_tracer: Tracer | None = None  # None: tracing is off
_SILENT: AbstractContextManager[None] = nullcontext()


def enabled() -> bool:
    return _tracer is not None


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters asked for: none unless OTEL_TRACES_EXPORTER names one (and the SDK is
    not disabled)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = (n.strip().lower() for n in environ.get("OTEL_TRACES_EXPORTER", "").split(","))
    return [n for n in names if n and n != "none"]


def configure(service: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Trace this process if the environment asks for it (see the module's doc); the service
    is named `csp-<service>` unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) names it.
    Spans are exported in batches from a thread of the SDK's, and flushed at exit."""
    names = exporter_names(environ)
    if not names:
        return False
    provider = TracerProvider(resource=resource_for(service))
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    trace.set_tracer_provider(provider)
    use(provider)
    log.info("tracing on", exporters=names, service_name=provider.resource.attributes[SERVICE_NAME])
    return True


def resource_for(service: str) -> Resource:
    detected = Resource.create()  # reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        return detected.merge(Resource({SERVICE_NAME: f"csp-{service.replace('_', '-')}"}))
    return detected


def _exporter(name: str) -> SpanExporter:
    wanted = EXPORTER_ALIASES.get(name, name)
    found = entry_points(group="opentelemetry_traces_exporter", name=wanted)
    for entry in found:
        exporter: SpanExporter = entry.load()()
        return exporter
    raise SystemExit(f"OTEL_TRACES_EXPORTER names {name!r}, which is not installed")


def use(provider: trace.TracerProvider | None) -> None:
    """Trace with this provider from now on (None: stop tracing). `configure` calls it; a test
    gives its own, with an in-memory exporter (the global provider can be set only once)."""
    global _tracer
    _tracer = None if provider is None else provider.get_tracer(TRACER)


# -- what a span may say -----------------------------------------------------------------------


def failed(span: Span, error: BaseException) -> None:
    """The span failed: its status and the error's type, never its message (a conflict's
    names the stream, a child's id)."""
    kind = type(error).__name__
    span.set_status(Status(StatusCode.ERROR, kind))
    span.set_attribute("error.type", kind)


@contextmanager
def active(span: Span) -> Iterator[Span]:
    """The span is the current one inside: what is done there is its child. The span is
    neither ended nor marked here."""
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield span
    finally:
        otel_context.detach(token)


@contextmanager
def current(span: Span) -> Iterator[Span]:
    """As `active`, and an error inside marks the span failed (and is raised on)."""
    with active(span):
        try:
            yield span
        except Exception as error:
            failed(span, error)
            raise


def current_context() -> Context | None:
    """The current context when tracing (to make a later span its child), else None."""
    return otel_context.get_current() if _tracer is not None else None


# -- HTTP requests (shared/access_log.py) -------------------------------------------------------


def request_span(method: str, route: str, headers: Sequence[tuple[bytes, bytes]]) -> Span | None:
    """A started server span for a request to `route` (the path's template), continuing the
    caller's trace if its headers carry one (OTEL_PROPAGATORS: W3C by default). None when off."""
    if _tracer is None:
        return None
    carrier = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
    return _tracer.start_span(
        f"{method} {route}",
        context=propagate.extract(carrier),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "http.route": route},
    )


def answered(span: Span, status: int, error: str | None, attributes: Mapping[str, Any]) -> None:
    """What the request came to: its status (a 5xx, or an `error` (its type) raised through
    the app, fails the span), and what the access log says of the caller."""
    span.set_attribute("http.response.status_code", status)
    for key, value in attributes.items():
        if value is not None:
            span.set_attribute(key, value)
    if status >= 500 or error is not None:
        span.set_status(Status(StatusCode.ERROR, error or str(status)))
        span.set_attribute("error.type", error or str(status))


def trace_id(span: Span | None) -> str | None:
    """The span's trace id as trace backends show it (for the access log), if it has one."""
    if span is None or not span.get_span_context().is_valid:
        return None
    return trace.format_trace_id(span.get_span_context().trace_id)


# -- the event store (shared/eventstore.py) -----------------------------------------------------


@contextmanager
def appending(event_types: Sequence[str]) -> Iterator[Span]:
    """The span of an append, current inside: the events it records store its context
    (`stored_context`). Call only when `enabled()`."""
    assert _tracer is not None
    span = _tracer.start_span(
        "append events",
        kind=SpanKind.CLIENT,
        attributes={
            "db.system.name": "postgresql",
            "db.collection.name": "events",
            "db.operation.name": "append",
            "csp.event_count": len(event_types),
            "csp.event_types": sorted(set(event_types)),
        },
    )
    try:
        with current(span):
            yield span
    finally:
        span.end()


def stored_context() -> str | None:
    """The current span's W3C context as the events table keeps it (JSON of `traceparent`),
    or None when off or outside any trace."""
    if _tracer is None:
        return None
    carrier = _traceparent()
    return json.dumps(carrier, separators=(",", ":")) if carrier else None


def _traceparent(context: Context | None = None) -> dict[str, str]:
    """The W3C `traceparent` of the context (the current one by default), alone: a caller's
    `tracestate` is theirs to say anything in, and what the platform keeps with an event (for
    ever: the events table is append-only) or publishes must be what it chose to."""
    carrier: dict[str, str] = {}
    W3C.inject(carrier, context)
    return {TRACEPARENT: carrier[TRACEPARENT]} if TRACEPARENT in carrier else {}


def _stored(value: str | Mapping[str, str] | None) -> Context | None:
    if not value:
        return None
    carrier = json.loads(value) if isinstance(value, str) else value
    return _traced(W3C.extract(carrier))


def _traced(context: Context) -> Context | None:
    """The context if it is inside a trace (a valid span), else None."""
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def _from_headers(headers: Sequence[tuple[str, bytes]] | None) -> Context | None:
    carrier = {k: v.decode("latin-1") for k, v in headers or () if k == TRACEPARENT}
    return _stored(carrier) if TRACEPARENT in carrier else None


# -- Kafka: the relay, consumers, the partner feed ---------------------------------------------


@dataclass
class _Group:
    """A span for the records of a batch that share a parent, and how many there are."""

    span: Span
    headers: list[tuple[str, bytes]]
    count: int = 1


class BatchSpans:
    """The spans of one batch of records, each a child of the trace that caused its record,
    all ended together when the batch is done (Kafka acknowledged the sends, the transaction
    committed): a span's length shows how long its records waited for that. The records of a
    batch with the same parent (one command's: a register feed's thousands of marks) share
    one span, which names the first and counts them (`messaging.batch.message_count`): a span
    per record would make such a trace tens of thousands of spans long, and cost the relay
    tens of microseconds a record. Made per batch whether tracing is on or not; off, every
    method returns at once."""

    def __init__(self) -> None:
        self._tracer = _tracer
        self._groups: dict[tuple[str, str, object], _Group] = {}

    @property
    def on(self) -> bool:
        return self._tracer is not None

    def sending(
        self,
        topic: str,
        parent: Context | str | None,
        attributes: Mapping[str, Any],
    ) -> list[tuple[str, bytes]]:
        """A producer span for a record sent to `topic`, the child of `parent` (a context, or
        one as stored with the event); the W3C headers to send with it. No parent, no span:
        an event recorded while tracing was off starts no trace of its own. A process not
        tracing passes a stored context on as it is, so the trace stays whole across it."""
        if parent is None:
            return []
        if self._tracer is None:
            return _passed_on(parent) if isinstance(parent, str) else []
        key = ("send", topic, parent if isinstance(parent, str) else _span_id(parent))
        group = self._groups.get(key)
        if group is not None:
            group.count += 1
            return group.headers
        context = _traced(parent) if isinstance(parent, Context) else _stored(parent)
        if context is None:
            return []
        span = self._tracer.start_span(
            f"send {topic}",
            context=context,
            kind=SpanKind.PRODUCER,
            attributes={**_messaging(topic, "send"), **attributes},
        )
        carrier = _traceparent(trace.set_span_in_context(span))
        headers = [(k, v.encode("latin-1")) for k, v in carrier.items()]
        self._groups[key] = _Group(span, headers)
        return headers

    def processing(
        self,
        topic: str,
        headers: Sequence[tuple[str, bytes]] | None,
        attributes: Mapping[str, Any],
    ) -> AbstractContextManager[Any]:
        """A consumer span for a record, continuing the trace in its headers, current inside
        (what the projections do for it is its child); none for a record without one."""
        if self._tracer is None:
            return _SILENT
        traceparent = next((v for k, v in headers or () if k == TRACEPARENT), None)
        if traceparent is None:
            return _SILENT
        key = ("process", topic, traceparent)
        group = self._groups.get(key)
        if group is not None:
            group.count += 1
            return current(group.span)
        context = _from_headers(headers)
        if context is None:
            return _SILENT
        span = self._tracer.start_span(
            f"process {topic}",
            context=context,
            kind=SpanKind.CONSUMER,
            attributes={**_messaging(topic, "process"), **attributes},
        )
        self._groups[key] = _Group(span, [])
        return current(span)

    def end(self, error: BaseException | None = None) -> None:
        groups, self._groups = self._groups, {}
        for group in groups.values():
            if group.count > 1:
                group.span.set_attribute("messaging.batch.message_count", group.count)
            if error is not None:
                failed(group.span, error)
            group.span.end()


def _span_id(context: Context) -> int:
    return trace.get_current_span(context).get_span_context().span_id


def _passed_on(stored: str) -> list[tuple[str, bytes]]:
    parent = json.loads(stored).get(TRACEPARENT)
    return [] if parent is None else [(TRACEPARENT, str(parent).encode("latin-1"))]


def _messaging(topic: str, operation: str) -> dict[str, Any]:
    return {
        "messaging.system": "kafka",
        "messaging.operation.type": operation,
        "messaging.destination.name": topic,
    }

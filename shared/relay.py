"""The relay: the event store is the outbox; this publishes what it committed.

Reads events after its checkpoint in commit order, sends each to the service's topic keyed
by stream id (one child's events stay in order on one partition) with its headers
(`record_headers`), waits until Kafka has acknowledged all of them (acks=all, idempotent
producer), and only then stores the checkpoint. A crash between the two re-publishes a batch
on restart: consumers drop duplicates by (stream, version). Nothing is ever skipped.

Each record's send is a span in the trace of the command that recorded the event, whose
context the event store kept with it (shared/tracing.py); the record carries the span's W3C
context in its headers, and a consumer continues the trace from there.

Wakes on LISTEN/NOTIFY from the event store's trigger; polls as a fallback.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge

from shared import tracing
from shared.eventstore import Cursor, PostgresEventStore, held_back_waits
from shared.logging import get_logger
from shared.retry import keep_running, pause

log = get_logger(__name__)

# Every metric the platform defines starts `csp_` (docs/operations.md, "Health and metrics";
# the alert rules in deploy/prometheus/rules.yml read these names).
PUBLISHED = Counter("csp_relay_events_published_total", "Events published by the relay", ["topic"])
LAST_POSITION = Gauge(
    "csp_relay_last_position", "Global position of the last published event", ["topic"]
)
TIME_LAG = Gauge(
    "csp_relay_time_lag_seconds",
    "Now minus the recorded-at time of the oldest event read and not yet acknowledged by "
    "Kafka (0 when every event is published): grows while the broker stalls",
    ["topic"],
)
RETRIES = Counter(
    "csp_relay_retries_total",
    "Failures the relay backed off from and retried, by what failed (database, broker)",
    ["topic", "cause"],
)


def failure_cause(error: BaseException) -> str:
    """What a worker's loop failed on, as its retries metric says it: the broker (any Kafka
    error, a timeout waiting for acknowledgements among them) or the database (PostgreSQL's
    errors, a connection refused or reset)."""
    return "broker" if isinstance(error, KafkaError) else "database"


# The CloudEvents Kafka protocol binding, binary mode (cloudevents/spec, kafka-protocol-
# binding.md): the record's value is the event's data as it is (the envelope, JSON), and its
# attributes are headers `ce_<name>`, so generic tooling (Knative, Argo Events, a CloudEvents
# SDK) reads a record without knowing this platform. `content-type` is the data's type.
CE_SPECVERSION = "1.0"
# The platform's namespace for event types: `csp.<EventType>.v<schema version>` (partner
# messages `csp.partner.<EventType>.v<n>`). Not a DNS name: a council wanting reverse-DNS
# types (`uk.gov.<council>.csp...`) changes this one constant.
CE_TYPE_PREFIX = "csp"
CONTENT_TYPE = b"application/json"
_NO_OFFSET = timedelta(0)

# Every header of a record on a domain topic and what it carries: the AsyncAPI document
# declares these (contracts/catalogue.py), so it says what is actually sent.
HEADERS: dict[str, str] = {
    "event_id": "The event's id (UUIDv7), as in the envelope.",
    "event_type": "The event's type, as in the envelope (e.g. ChildRegistered).",
    "schema_version": "The version of the event type's schema, as in the envelope.",
    "correlation_id": "The id of the request that recorded the event (its X-Correlation-Id)"
    ", as in the envelope: the same on every event that request caused.",
    "content-type": "application/json: the record's value is the envelope, as JSON.",
    "ce_id": "CloudEvents id: the event's id.",
    "ce_source": "CloudEvents source: /csp/<topic>, the topic's base name (whose owner "
    "recorded the event, contracts/topics.py).",
    "ce_type": f"CloudEvents type: {CE_TYPE_PREFIX}.<event type>.v<schema version>.",
    "ce_specversion": f"CloudEvents spec version: {CE_SPECVERSION}.",
    "ce_time": "CloudEvents time (RFC 3339, UTC): when the platform recorded the event "
    "(recorded_at; the envelope's occurred_at says when it happened in the world).",
    tracing.TRACEPARENT: "W3C Trace Context: the trace of the command that recorded the "
    "event, when it was traced (docs/operations.md, Traces).",
}
# The headers a record may lack: the trace context is there only when the command was traced.
OPTIONAL_HEADERS = frozenset({tracing.TRACEPARENT})


def cloudevents_source(topic: str) -> str:
    """The `ce_source` of records on a topic (its base name, without a namespace)."""
    return f"/csp/{topic}"


@functools.cache
def cloudevents_type(event_type: str, schema_version: int, kind: str = "") -> str:
    """`csp.<EventType>.v<n>` (`kind`: a sub-namespace, e.g. `partner`)."""
    return ".".join((CE_TYPE_PREFIX, *((kind,) if kind else ()), event_type, f"v{schema_version}"))


def rfc3339(moment: datetime) -> str:
    """An aware datetime in UTC, RFC 3339 with a `Z` (CloudEvents' `time`)."""
    text = (moment if moment.utcoffset() == _NO_OFFSET else moment.astimezone(UTC)).isoformat()
    return text.removesuffix("+00:00") + "Z"


def event_headers(
    envelope_event_id: str, event_type: str, schema_version: int
) -> list[tuple[str, bytes]]:
    """The headers that name the event (a consumer reads them before the value)."""
    return [
        ("event_id", envelope_event_id.encode()),
        ("event_type", event_type.encode()),
        ("schema_version", str(schema_version).encode()),
        ("content-type", CONTENT_TYPE),
    ]


class Named(Protocol):
    """What a record's headers name: an `Envelope`, or an event as the relay sends it
    (`shared.eventstore.Outgoing`)."""

    @property
    def event_id(self) -> UUID: ...
    @property
    def event_type(self) -> str: ...
    @property
    def schema_version(self) -> int: ...
    @property
    def correlation_id(self) -> UUID: ...
    @property
    def recorded_at(self) -> datetime: ...


def record_headers(event: Named, source: str) -> list[tuple[str, bytes]]:
    """Every header of the event's record but the trace context (`HEADERS`)."""
    event_id = str(event.event_id).encode()
    return [
        *_type_headers(event.event_type, event.schema_version),
        ("event_id", event_id),
        ("correlation_id", str(event.correlation_id).encode()),
        ("content-type", CONTENT_TYPE),
        ("ce_specversion", CE_SPECVERSION.encode()),
        ("ce_id", event_id),
        ("ce_source", source.encode()),
        ("ce_time", rfc3339(event.recorded_at).encode()),
    ]


@functools.cache
def _type_headers(event_type: str, schema_version: int) -> tuple[tuple[str, bytes], ...]:
    """Encoded once per event type: the relay sends tens of thousands of records a second."""
    return (
        ("event_type", event_type.encode()),
        ("schema_version", str(schema_version).encode()),
        ("ce_type", cloudevents_type(event_type, schema_version).encode()),
    )


def headers_of(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    """A record's headers by name, decoded (the last of a repeated name)."""
    return {name: value.decode("utf-8", "replace") for name, value in headers or ()}


class Relay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        topic: str,
        batch_size: int = 1000,
        poll_interval_s: float = 1.0,
        source: str | None = None,
    ) -> None:
        self._pool = pool
        self._store = PostgresEventStore(pool)
        self._producer = producer
        self._topic = topic
        # The records' ce_source: the worker gives the topic's base name (cloudevents_source).
        self._source = source or cloudevents_source(topic)
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self.healthy = False
        # The recorded-at time of the oldest event read and not yet acknowledged: the time
        # lag is measured from it when Prometheus asks, so a relay stuck on a broker that
        # stopped acknowledging shows a lag that grows (a value set after each batch would
        # stay at its last, healthy value while nothing is published).
        self._waiting_since: datetime | None = None
        PUBLISHED.labels(topic)  # 0 from the start, so the first events are an increase
        TIME_LAG.labels(topic).set_function(self.time_lag)

    def time_lag(self) -> float:
        """Seconds the oldest event read and not yet acknowledged has waited (0: none)."""
        since = self._waiting_since
        return 0.0 if since is None else max((datetime.now(UTC) - since).total_seconds(), 0.0)

    async def checkpoint(self) -> Cursor:
        row = await self._pool.fetchrow(
            "SELECT transaction_id::text::bigint AS txid, position FROM relay_checkpoints"
            " WHERE topic = $1",
            self._topic,
        )
        return Cursor(row["txid"], row["position"]) if row else Cursor()

    async def _save_checkpoint(self, cursor: Cursor) -> None:
        await self._pool.execute(
            "INSERT INTO relay_checkpoints (topic, transaction_id, position)"
            " VALUES ($1, $2::text::xid8, $3)"
            " ON CONFLICT (topic) DO UPDATE SET transaction_id = EXCLUDED.transaction_id,"
            " position = EXCLUDED.position, updated_at = now()",
            self._topic,
            str(cursor.transaction_id),
            cursor.position,
        )

    async def publish_once(self, cursor: Cursor) -> Cursor:
        """Publish one batch after ``cursor``; return the new cursor (unchanged if none)."""
        batch = await self._store.read_committed(cursor, self._batch_size)
        if not batch:
            return cursor
        if self._waiting_since is None:  # kept through a failure: the same events wait
            self._waiting_since = batch[0].recorded_at
        spans = tracing.BatchSpans()  # each send's span ends when Kafka has acknowledged it
        deliveries: list[asyncio.Future[object]] = []
        try:
            for event in batch:
                headers = record_headers(event, self._source)
                if event.trace_context is not None:
                    attributes = _send_attributes(event)
                    headers += spans.sending(self._topic, event.trace_context, attributes)
                deliveries.append(
                    await self._producer.send(
                        self._topic,
                        value=event.value,
                        key=event.stream_id.encode(),
                        headers=headers,
                    )
                )
            # Every event acknowledged before the checkpoint. Awaited in turn: most are done
            # by the time they are reached, and awaiting a done future costs nothing, where
            # gathering them put a callback on each (docs/performance.md, "Relay").
            for delivery in deliveries:
                await delivery
        except BaseException as error:
            for delivery in deliveries:  # as gather did: no "exception never retrieved"
                delivery.add_done_callback(_retrieved)
            spans.end(error)
            raise
        spans.end()
        last_cursor = batch[-1].cursor
        await self._save_checkpoint(last_cursor)
        self._waiting_since = None
        PUBLISHED.labels(self._topic).inc(len(batch))
        LAST_POSITION.labels(self._topic).set(last_cursor.position)
        return last_cursor

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set; on any failure back off and resume from the checkpoint."""

        async def publish_until_failure() -> None:
            await self._run_until_failure(stop)

        def failed(error: BaseException) -> None:
            self.healthy = False
            RETRIES.labels(self._topic, failure_cause(error)).inc()

        await keep_running(
            publish_until_failure,
            stop,
            on_failure=failed,
            what="relay (resuming from the checkpoint)",
            transient=(OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError),
        )

    async def _run_until_failure(self, stop: asyncio.Event) -> None:
        def wake(*_: object) -> None:
            self._wake.set()

        listener = await self._pool.acquire()
        try:
            await listener.add_listener("events_appended", wake)
            cursor = await self.checkpoint()
            log.info("relay running", topic=self._topic, checkpoint=str(cursor))
            soon = held_back_waits(self._poll_interval_s)
            while not stop.is_set():
                self._wake.clear()
                new_cursor = await self.publish_once(cursor)
                self.healthy = True
                if new_cursor != cursor:
                    cursor = new_cursor
                    soon.reset()
                    continue  # there may be more: read again at once
                if await self._store.held_back(cursor):
                    # Committed, but an older transaction still runs: again in a moment (it
                    # is usually a batch of milliseconds), not at the poll a second away.
                    await pause(self._wake, soon.take())
                    continue
                soon.reset()
                await pause(self._wake, self._poll_interval_s)  # a NOTIFY, or the poll
        finally:
            try:
                await listener.remove_listener("events_appended", wake)
            finally:
                await self._pool.release(listener)


def _send_attributes(event: Named) -> dict[str, str | float]:
    """What a send's span says: the event (never its stream: a child's id), and how long it
    waited in the store for the relay (the first place to look when a board is late)."""
    waited = (datetime.now(UTC) - event.recorded_at).total_seconds()
    return {
        "messaging.message.id": str(event.event_id),
        "csp.event_type": event.event_type,
        "csp.correlation_id": str(event.correlation_id),
        "csp.waited_in_store_s": round(max(waited, 0.0), 3),
    }


def _retrieved(delivery: asyncio.Future[object]) -> None:
    """A send's failure taken (the batch is sent again from the checkpoint)."""
    if not delivery.cancelled():
        delivery.exception()

"""The relay: the event store is the outbox; this publishes what it committed.

Reads events after its checkpoint in commit order, sends each to the service's topic keyed
by stream id (one child's events stay in order on one partition) with the event id in a
header, waits until Kafka has acknowledged all of them (acks=all, idempotent producer), and
only then stores the checkpoint. A crash between the two re-publishes a batch on restart:
consumers drop duplicates by (stream, version). Nothing is ever skipped.

Wakes on LISTEN/NOTIFY from the event store's trigger; polls as a fallback.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge

from shared.eventstore import Cursor, PostgresEventStore
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


def event_headers(
    envelope_event_id: str, event_type: str, schema_version: int
) -> list[tuple[str, bytes]]:
    return [
        ("event_id", envelope_event_id.encode()),
        ("event_type", event_type.encode()),
        ("schema_version", str(schema_version).encode()),
        ("content-type", b"application/json"),
    ]


class Relay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        topic: str,
        batch_size: int = 1000,
        poll_interval_s: float = 1.0,
    ) -> None:
        self._pool = pool
        self._store = PostgresEventStore(pool)
        self._producer = producer
        self._topic = topic
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
        batch = await self._store.read_all(cursor, self._batch_size)
        if not batch:
            return cursor
        if self._waiting_since is None:  # kept through a failure: the same events wait
            self._waiting_since = batch[0][1].recorded_at
        deliveries = []
        for _, envelope in batch:
            deliveries.append(
                await self._producer.send(
                    self._topic,
                    value=envelope.model_dump_json(exclude={"position"}).encode(),
                    key=envelope.stream_id.encode(),
                    headers=event_headers(
                        str(envelope.event_id), envelope.event_type, envelope.schema_version
                    ),
                )
            )
        await asyncio.gather(*deliveries)  # every event acknowledged before the checkpoint
        last_cursor, _ = batch[-1]
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
            while not stop.is_set():
                self._wake.clear()
                new_cursor = await self.publish_once(cursor)
                self.healthy = True
                if new_cursor != cursor:
                    cursor = new_cursor
                    continue  # there may be more: read again at once
                await pause(self._wake, self._poll_interval_s)  # a NOTIFY, or the poll
        finally:
            try:
                await listener.remove_listener("events_appended", wake)
            finally:
                await self._pool.release(listener)

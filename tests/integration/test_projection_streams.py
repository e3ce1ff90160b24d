"""A runner whose read models are made from some of a topic's streams (a service's copy of the
reference lists, on case-events) passes over the other streams' records unread: a batch of
nothing else moves the stored offset in one statement, without a transaction; what it keeps
is applied exactly once, in order, through restarts. Its fetches gather while records come
and wait for the next record once none do, on the real consumer's fetcher."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import asyncpg
import pytest

from contracts.case_events.events import ChildRegistered
from contracts.reference.events import LocalityAdded, is_reference_stream, stream_of
from contracts.topics import domain_events, named
from shared.db import open_database
from shared.envelope import DomainEvent
from shared.eventstore import make_envelopes
from shared.kafka import DEAD_LETTER_TOPIC, ensure_topics, new_producer
from shared.migrations import PROJECTION_SQL
from shared.projection import (
    FETCH_GATHER_BYTES,
    FETCH_IDLE,
    PASSED_BY,
    AppliedLedger,
    ProjectionRunner,
)
from shared.relay import event_headers
from tests.conftest import settings_for
from tests.infrastructure import Infrastructure, eventually
from tests.publisher import CTX

pytestmark = pytest.mark.integration

LOCALITIES = stream_of("locality")


async def test_other_streams_are_passed_over_and_the_lists_applied_once_in_order(
    infra: Infrastructure, namespace: str
) -> None:
    settings = settings_for(infra, "education", namespace)
    topic = settings.topic("case-events")
    await ensure_topics(settings, named("case-events", DEAD_LETTER_TOPIC))
    producer = new_producer(settings)
    await producer.start()
    versions: dict[str, int] = {}

    async def publish(stream: str, event: DomainEvent) -> None:
        [envelope] = make_envelopes(stream, versions.get(stream, 0), [event], CTX)
        versions[stream] = envelope.stream_version
        await producer.send(
            topic,
            envelope.model_dump_json(exclude={"position"}).encode(),
            key=stream.encode(),
            partition=0,  # one partition: the order below is the order read
            headers=event_headers(str(envelope.event_id), envelope.event_type, 1),
        )

    async def children(first: int, count: int) -> None:
        for i in range(first, first + count):
            child = f"C-{i:05d}"
            await publish(
                child,
                ChildRegistered(child_id=child, date_of_birth=date(2013, 1, 1), locality="Exeter"),
            )
        await producer.flush()

    async def locality(name: str) -> None:
        await publish(LOCALITIES, LocalityAdded(name=name))
        await producer.flush()

    pool = await open_database(settings, PROJECTION_SQL)
    consumer = f"{namespace}education.reference-data-test"
    transactions: list[int] = []  # the first offset of each batch applied in a transaction
    shapes: list[tuple[int, int] | None] = []  # the real fetcher's, at each transaction
    made_runners: list[ProjectionRunner] = []

    def runner() -> ProjectionRunner:
        made = ProjectionRunner(
            pool,
            domain_events(),
            [AppliedLedger(consumer)],
            [topic],
            kafka_options=settings.kafka_options(),
            consumer_name=consumer,
            dead_letters=producer,
            dead_letter_topic=settings.topic(DEAD_LETTER_TOPIC),
            batch_size=100,
            streams=is_reference_stream,
            fetch_wait_ms=50,  # as a service's subscriptions do
        )
        made_runners.append(made)
        apply_batch = made._apply_batch

        async def counted(parts: list[Any], dead_lettered: set[Any]) -> Any:
            transactions.append(parts[0].records[0].offset)
            shapes.append(_shape(made))  # as the next fetch will be asked, while this applies
            return await apply_batch(parts, dead_lettered)

        made._apply_batch = counted  # type: ignore[method-assign]
        return made

    passed = PASSED_BY.labels(consumer, topic)
    stop = asyncio.Event()
    task = asyncio.create_task(runner().run(stop))
    try:
        await locality("Exeter")
        await children(0, 3)
        await eventually(lambda: _stored(pool, consumer, topic, 4), 60, 0.05, "offset 4 stored")
        assert await _applied(pool, consumer) == [(LOCALITIES, 1)]
        through_transactions = len(transactions)
        # Its fetches gathered while the records came, and wait again now none do: the fields
        # of aiokafka's own fetcher that its fetch requests are made from.
        assert shapes and shapes[0] == (FETCH_GATHER_BYTES, 50), shapes
        [first] = made_runners
        await eventually(lambda: _shape(first) == FETCH_IDLE, 30, 0.05, "fetches waiting again")

        await children(3, 20)
        await eventually(lambda: _stored(pool, consumer, topic, 24), 60, 0.05, "offset 24 stored")
        # Twenty records of other streams only: no batch of them took a transaction.
        assert transactions[through_transactions:] == []
        # Counted once the runner has its answer, which may come after the test's read.
        await eventually(lambda: passed._value.get() == 23, 10, 0.01, "23 records passed over")
        assert await _applied(pool, consumer) == [(LOCALITIES, 1)]
        # No version is kept of a stream the read models are not made from.
        assert await pool.fetchval(
            "SELECT array_agg(stream_id) FROM projection_streams WHERE consumer = $1", consumer
        ) == [LOCALITIES]

        # The list's next version follows the one before it, not held back as out of order.
        await locality("Torbay")
        await eventually(lambda: _stored(pool, consumer, topic, 25), 60, 0.05, "offset 25 stored")
        assert await _applied(pool, consumer) == [(LOCALITIES, 1), (LOCALITIES, 2)]
    finally:
        stop.set()
        await task

    # A new runner of the same consumer reads on from the stored offset: nothing twice.
    stop = asyncio.Event()
    task = asyncio.create_task(runner().run(stop))
    try:
        await children(23, 5)
        await locality("Plymouth")
        await eventually(lambda: _stored(pool, consumer, topic, 31), 60, 0.05, "offset 31 stored")
        assert await _applied(pool, consumer) == [(LOCALITIES, v) for v in (1, 2, 3)]
    finally:
        stop.set()
        await task
        await producer.stop()
        await pool.close()


async def _stored(pool: asyncpg.Pool, consumer: str, topic: str, offset: int) -> bool:
    stored = await pool.fetchval(
        "SELECT next_offset FROM projection_offsets"
        " WHERE consumer = $1 AND topic = $2 AND partition = 0",
        consumer,
        topic,
    )
    return bool(stored == offset)


async def _applied(pool: asyncpg.Pool, consumer: str) -> list[tuple[str, int]]:
    rows = await pool.fetch(
        "SELECT stream_id, stream_version FROM projection_applied WHERE consumer = $1"
        " ORDER BY stream_version",
        consumer,
    )
    return [(r["stream_id"], r["stream_version"]) for r in rows]


def _shape(runner: ProjectionRunner) -> tuple[int, int] | None:
    """The fetch its consumer's next request asks for: (fetch.min.bytes, fetch.max.wait.ms)."""
    fetcher: Any = runner._consumer and runner._consumer._fetcher
    return (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms) if fetcher else None

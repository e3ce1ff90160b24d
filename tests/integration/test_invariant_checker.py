"""The chaos checker can fail: deliberately broken projection builds, run against the real
broker and database with one crash injected, make it report a loss or a duplicate; the real
runner under the same crash passes."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from chaos.invariants import check, gather
from chaos.workload import Ack, Outcome
from contracts.case_events.codes import InTouch
from contracts.case_events.events import ChildRegistered, ContactRecorded
from contracts.topics import domain_events, named
from services.projections.builds import BUILDS_SQL, ensure_live_build
from shared.db import open_database
from shared.envelope import Actor, Agency, DomainEvent, Envelope, new_event_id
from shared.eventstore import CommandContext, PostgresEventStore
from shared.kafka import DEAD_LETTER_TOPIC, ensure_topics, new_producer
from shared.projection import AppliedLedger, ProjectionRunner, _Applied, _flush
from shared.relay import Relay
from tests.conftest import fresh_event_store, settings_for
from tests.infrastructure import Infrastructure, eventually

pytestmark = pytest.mark.integration

CHILDREN = 60  # three events each, in batches of 25: several batches per partition

UPSERT_OFFSET = (
    "INSERT INTO projection_offsets (consumer, topic, partition, next_offset) VALUES"
    " ($1, $2, $3, $4) ON CONFLICT (consumer, topic, partition)"
    " DO UPDATE SET next_offset = EXCLUDED.next_offset"
)


class CrashOnce:
    """A projection that fails once, as a process would die, at its `at`-th event."""

    name = "crash-once"

    def __init__(self, at: int) -> None:
        self.at, self.seen, self.crashed = at, 0, False

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        self.seen += 1
        if self.seen == self.at and not self.crashed:
            self.crashed = True
            raise OSError("injected crash while applying")


async def _apply_in_own_transaction(runner: ProjectionRunner, batch: Any) -> None:
    """What both broken runners do: every event of the batch applied, no version check."""
    async with runner._pool.acquire() as conn, conn.transaction():
        await conn.execute(runner._search_path)
        for item in batch:
            for projection in runner._projections:
                await projection.apply(conn, item.envelope, item.event)
        await _flush(runner._projections, conn)


class OffsetsFirst(ProjectionRunner):
    """Broken on purpose: stores the offsets in their own transaction, then applies the batch
    in another (at-most-once). A crash between the two loses the batch.

    Like the real runner, it reads on from its stored offsets, not from wherever the consumer
    fetched: after a restart aiokafka may fetch from the group's committed offset before the
    rebalance listener seeks to the stored one, and a runner that applied those records would
    apply the lost batch after all (the checker then found nothing lost, once in CI)."""

    async def _apply_batch(self, parts: Any, dead_lettered: Any) -> _Applied:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(self._search_path)
            batch, ahead = await self._not_yet_applied(conn, parts)
            if not batch:
                return _Applied(ahead=ahead)
            await _store_offsets(self, conn, batch)
        await _apply_in_own_transaction(self, batch)
        return _Applied(batch, ahead)


class WritesThenOffsets(ProjectionRunner):
    """Broken on purpose: applies the batch, commits, then stores the offsets in another
    transaction, with no check of stream versions. A crash between the two applies the batch
    again after the restart."""

    crash_after_batch = 2

    async def _apply_batch(self, parts: Any, dead_lettered: Any) -> _Applied:
        batch = [item for part in parts for item in part.decoded]
        await _apply_in_own_transaction(self, batch)
        self.crash_after_batch -= 1
        if self.crash_after_batch == 0:
            raise OSError("injected crash between the writes and the offsets")
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(self._search_path)
            await _store_offsets(self, conn, batch)
        return _Applied(batch)


async def _store_offsets(runner: ProjectionRunner, conn: asyncpg.Connection, batch: Any) -> None:
    """Each partition's offset past its last record in the batch."""
    offsets = {(i.record.topic, i.record.partition): i.record.offset + 1 for i in batch}
    for (topic, partition), offset in offsets.items():
        await conn.execute(UPSERT_OFFSET, runner.consumer_name, topic, partition, offset)


def journey(i: int) -> list[DomainEvent]:
    child = f"C-{i:05d}"
    return [
        ChildRegistered(
            child_id=child, date_of_birth=date(2009, 1, 1) + timedelta(i), locality="Exeter"
        ),
        *(
            ContactRecorded(contact_date=date(2026, 1, 1) + timedelta(n), in_touch=InTouch.YES)
            for n in range(2)
        ),
    ]


async def run_build(
    infra: Infrastructure,
    namespace: str,
    runner_class: type[ProjectionRunner],
    crash_at: int | None,
) -> Any:
    settings = settings_for(infra, "projections", namespace)
    topic = settings.topic("case-events")
    outcome = Outcome()
    async with fresh_event_store(infra, namespace) as store_pool:
        store = PostgresEventStore(store_pool)
        for i in range(CHILDREN):
            for n, event in enumerate(journey(i)):
                ctx = CommandContext(
                    actor=Actor(user_id="t", agency=Agency.COUNCIL, role="t"),
                    correlation_id=new_event_id(),
                    idempotency_key=f"k-{i}-{n}",
                )
                result = await store.append(f"C-{i:05d}", n, [event], ctx)
                outcome.offered += 1
                outcome.acks.append(Ack(f"k-{i}-{n}", result.stream_id, result.stream_version, 0))
        await ensure_topics(settings, named("case-events", DEAD_LETTER_TOPIC))
        producer = new_producer(settings)
        await producer.start()
        try:
            relay = Relay(store_pool, producer, topic)
            cursor = await relay.checkpoint()

            async def all_published() -> bool:
                # Not done at the first empty read: committed events are held back while an
                # older transaction of their database is in flight (autovacuum's, for one).
                nonlocal cursor
                moved = await relay.publish_once(cursor)
                done = moved == cursor and not await store.held_back(cursor)
                cursor = moved
                return done

            await eventually(all_published, 60, 0.01, "every appended event to be published")
            pool = await open_database(settings, BUILDS_SQL)
            try:
                schema = await ensure_live_build(pool)
                consumer = f"{settings.consumer_group}.{schema}"
                projections: list[Any] = [AppliedLedger(consumer)]
                if crash_at is not None:
                    projections.insert(0, CrashOnce(crash_at))
                runner = runner_class(
                    pool,
                    domain_events(),
                    projections,
                    [topic],
                    kafka_options=settings.kafka_options(),
                    consumer_name=consumer,
                    dead_letters=producer,
                    dead_letter_topic=settings.topic(DEAD_LETTER_TOPIC),
                    batch_size=25,
                    schema=schema,
                )
                stop = asyncio.Event()
                task = asyncio.create_task(runner.run(stop))

                async def at_end() -> bool:
                    done = await pool.fetchval(
                        f'SELECT coalesce(sum(next_offset), 0) FROM "{schema}".projection_offsets'
                    )
                    return bool(done >= CHILDREN * 3)

                try:
                    await eventually(at_end, 120, 0.1, "the build to reach the topic's end")
                finally:
                    stop.set()
                    await task
            finally:
                await pool.close()
        finally:
            await producer.stop()
        evidence = await gather(
            outcome,
            settings,
            settings.dsn(settings_for(infra, "case_events", namespace).database),
            settings.dsn(),
        )
    return check(runner_class.__name__, outcome.offered, evidence)


async def test_the_real_runner_passes_the_checker_through_a_crash(
    infra: Infrastructure, namespace: str
) -> None:
    figures = await run_build(infra, namespace, ProjectionRunner, crash_at=40)
    assert (figures.stored, figures.applied) == (CHILDREN * 3, CHILDREN * 3)
    assert (figures.lost, figures.duplicates_applied) == (0, 0), figures.notes
    assert figures.holds


async def test_a_build_that_stores_offsets_before_its_writes_is_reported_losing_events(
    infra: Infrastructure, namespace: str
) -> None:
    figures = await run_build(infra, namespace, OffsetsFirst, crash_at=40)
    assert figures.lost > 0
    assert figures.applied < figures.stored
    assert not figures.holds
    assert any("published but never applied" in note for note in figures.notes)


async def test_a_build_that_applies_before_storing_offsets_is_reported_applying_twice(
    infra: Infrastructure, namespace: str
) -> None:
    figures = await run_build(infra, namespace, WritesThenOffsets, crash_at=None)
    assert figures.duplicates_applied > 0
    assert figures.lost == 0
    assert not figures.holds

"""The relay publishes every committed event, in stream order, even when it is killed."""

from __future__ import annotations

import asyncio
import collections
import json
from pathlib import Path

import asyncpg
import pytest

from contracts.topics import named, topic_of
from shared.envelope import Actor, Agency, DomainEvent, new_event_id
from shared.eventstore import CommandContext, Cursor, Outgoing, PostgresEventStore
from shared.kafka import ensure_topics, new_producer
from shared.relay import Relay
from tests.conftest import fresh_event_store, settings_for
from tests.infrastructure import Infrastructure, ServiceProcess, eventually, read_topic

pytestmark = pytest.mark.integration

STREAMS, PER_STREAM = 500, 20  # 10,000 events


class Step(DomainEvent):
    event_type = "Step"
    n: int


async def published(pool: asyncpg.Pool) -> int:
    """How many events are at or before the relay's checkpoint."""
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM events e, relay_checkpoints c"
            " WHERE (e.transaction_id, e.position) <= (c.transaction_id, c.position)"
        )
    )


async def test_killed_relay_resumes_and_every_event_reaches_the_topic_in_stream_order(
    infra: Infrastructure,
    namespace: str,
    log_dir: Path,
) -> None:
    settings = settings_for(infra, "case_events", namespace)
    topic = settings.topic(topic_of("case_events"))
    async with fresh_event_store(infra, namespace) as pool:
        store = PostgresEventStore(pool)
        actor = Actor(user_id="loader", agency=Agency.PLATFORM, role="test")
        for s in range(STREAMS):
            for first in range(0, PER_STREAM, 5):
                await store.append(
                    f"child-{s}",
                    first,
                    [Step(n=first + i) for i in range(5)],
                    CommandContext(actor=actor, correlation_id=new_event_id()),
                )
        total = STREAMS * PER_STREAM

        # Small batches, so that the kill lands while publishing is under way.
        env = infra.env(namespace, CSP_RELAY_BATCH_SIZE="50")
        relay = ServiceProcess("services.case_events", "worker", env, log_dir).start()
        await eventually(
            lambda: _progress_past(pool, total // 4),
            90,
            0.002,
            what="the relay to publish a quarter of the events",
        )
        relay.kill()
        at_kill = await published(pool)
        assert 0 < at_kill < total, f"the kill should land mid-publish (at {at_kill})"

        restarted = ServiceProcess("services.case_events", "worker", env, log_dir).start()
        try:
            await eventually(
                lambda: _published_all(pool, total),
                120,
                0.1,
                what="the restarted relay to publish everything",
            )
        finally:
            restarted.stop()
        stored = {str(e.event_id): e for _, e in await store.read_all(Cursor(), total + 1)}

    records = await read_topic(infra.kafka_bootstrap, topic)
    first_seen: dict[str, list[int]] = collections.defaultdict(list)
    seen_ids: set[str] = set()
    duplicates = 0
    for record in records:
        envelope = json.loads(record.value)
        # Sent from the stored row with no model between: byte for byte the model's JSON.
        model = stored[envelope["event_id"]]
        assert record.value == model.model_dump_json(exclude={"position"}).encode()
        headers = dict(record.headers)
        assert headers["event_id"].decode() == envelope["event_id"]
        assert record.key.decode() == envelope["stream_id"]
        if envelope["event_id"] in seen_ids:
            duplicates += 1
            continue
        seen_ids.add(envelope["event_id"])
        first_seen[envelope["stream_id"]].append(envelope["stream_version"])

    assert seen_ids == set(stored), f"{len(set(stored) - seen_ids)} events never reached Kafka"
    assert all(versions == list(range(1, PER_STREAM + 1)) for versions in first_seen.values())
    print(
        f"\nrelay kill: {total} events, killed at {at_kill}, "
        f"{duplicates} duplicates published (re-sent after the crash)"
    )


async def _progress_past(pool: asyncpg.Pool, count: int) -> bool:
    try:
        return await published(pool) > count
    except asyncpg.UndefinedTableError:
        return False


async def _published_all(pool: asyncpg.Pool, total: int) -> bool:
    return await published(pool) == total


async def test_an_event_is_held_back_by_its_own_databases_older_transaction_not_anothers(
    infra: Infrastructure, namespace: str
) -> None:
    """The relay reads only below the oldest running transaction of its own database
    (`events_horizon`, 004_*.sql), so it never skips an append that commits later. A
    transaction of another database (a projection's batch, a rebuild's of seconds: every
    service's database shares one PostgreSQL) holds nothing back. The NOTIFY that woke the
    relay can be spent on a read that cannot see the event yet: the relay then reads again in
    a moment, not at its next poll, and again every tenth of a second at most while the older
    transaction runs on. The poll here is ten minutes, so only the NOTIFY and the reads again
    can publish the events within the test's deadlines."""
    settings = settings_for(infra, "case_events", namespace)
    async with fresh_event_store(infra, namespace) as pool:
        await ensure_topics(settings, named("case-events"))
        producer = new_producer(settings)
        await producer.start()
        relay = Relay(pool, producer, settings.topic(topic_of("case_events")), poll_interval_s=600)
        empty_reads = 0
        read_committed = relay._store.read_committed

        async def counted(after: Cursor, limit: int) -> list[Outgoing]:
            nonlocal empty_reads
            batch = await read_committed(after, limit)
            empty_reads += not batch
            return batch

        async def append(stream: str) -> None:
            context = CommandContext(
                actor=Actor(user_id="t", agency=Agency.PLATFORM, role="test"),
                correlation_id=new_event_id(),
            )
            await PostgresEventStore(pool).append(stream, 0, [Step(n=1)], context)

        relay._store.read_committed = counted  # type: ignore[method-assign]
        stop = asyncio.Event()
        running = asyncio.create_task(relay.run(stop))
        elsewhere = await asyncpg.connect(settings.dsn("postgres"))  # another database
        here = await asyncpg.connect(settings.dsn())  # the store's own
        try:
            await eventually(lambda: relay.healthy, 30, what="the relay running")
            theirs = elsewhere.transaction()
            await theirs.start()
            await elsewhere.fetchval("SELECT pg_current_xact_id()")  # running, with an xid
            await append("child-1")
            await eventually(
                lambda: _published_all(pool, 1), 20, what="the event past another's transaction"
            )

            older = here.transaction()
            await older.start()
            await here.fetchval("SELECT pg_current_xact_id()")  # the store's, older, running
            before = empty_reads
            await append("child-2")
            await eventually(
                lambda: empty_reads > before, 30, what="the relay woken, seeing nothing"
            )
            assert await published(pool) == 1  # held back while the older transaction runs
            # However long it is held back, it reads again every HELD_BACK_LONGEST_S at most:
            # had the wait kept doubling (up to the ten-minute poll), twelve reads would take
            # 41 s, and the event would go out up to as long again after the hold ended.
            await eventually(
                lambda: empty_reads > before + 12, 10, what="the relay reading again while held"
            )
            assert await published(pool) == 1
            await older.rollback()
            await eventually(lambda: _published_all(pool, 2), 20, what="the event published")
            await theirs.rollback()
        finally:
            stop.set()
            running.cancel()  # it waits for a NOTIFY or its poll, as a worker's task does
            await asyncio.gather(running, return_exceptions=True)
            await elsewhere.close()
            await here.close()
            await producer.stop()

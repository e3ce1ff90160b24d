"""A partition's very first batch, which has no stored-offset row yet for a row lock to hold:
two members of a consumer that briefly share it (a member evicted from the group at that
moment while its batch is in flight) take turns, as they do on every later batch, or each
would apply the batch and the read model would hold every event twice; and it waits for a
replay of a dead letter in progress, and sees what the replay did. On PostgreSQL, the
runners' own transactions; the records are made in memory, as the consumer would hand them
over."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from prometheus_client import REGISTRY

from contracts.topics import domain_events
from services.projections.builds import BUILDS_SQL, ensure_live_build
from shared.db import open_database
from shared.eventstore import make_envelopes
from shared.projection import AppliedLedger, ProjectionRunner
from tests.conftest import settings_for
from tests.infrastructure import Infrastructure, eventually
from tests.publisher import CTX, registration
from tests.unit.test_fetch_transaction import Seeks

pytestmark = pytest.mark.integration

TP = TopicPartition("first-batch.case-events", 0)


def member(
    pool: asyncpg.Pool, schema: str, consumer: str, ledger: AppliedLedger
) -> ProjectionRunner:
    """A member of the consumer, on the build `schema`, applying to the ledger."""
    runner = ProjectionRunner(
        pool,
        domain_events(),
        [ledger],
        [TP.topic],
        kafka_options={},
        consumer_name=consumer,
        dead_letters=None,
        schema=schema,
    )
    runner._consumer = Seeks()
    return runner


async def blocked_by(pool: asyncpg.Pool, pid: int) -> bool:
    """Whether a session waits on a lock the backend `pid` holds."""
    return bool(
        await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid
        )
    )


class HeldLedger(AppliedLedger):
    """The ledger, whose flush (inside the batch's transaction, its locks held) waits until
    the test lets it go."""

    def __init__(self, consumer: str) -> None:
        super().__init__(consumer)
        self.holding = asyncio.Event()
        self.release = asyncio.Event()
        self.pid = 0  # the backend of the held transaction

    async def flush(self, conn: asyncpg.Connection) -> None:
        self.pid = conn.get_server_pid()
        self.holding.set()
        await self.release.wait()
        await super().flush(conn)


def records(count: int) -> dict[TopicPartition, list[Any]]:
    fetched = []
    for i in range(count):
        envelope, value = registration(i)
        key = envelope.stream_id.encode()
        fetched.append(ConsumerRecord(TP.topic, 0, i, 0, 0, key, value, None, -1, -1, ()))
    return {TP: fetched}


async def test_two_members_on_a_partitions_first_batch_apply_it_once(
    infra: Infrastructure, namespace: str
) -> None:
    settings = settings_for(infra, "projections", namespace)
    pool = await open_database(settings, BUILDS_SQL)
    schema = await ensure_live_build(pool)
    consumer = f"first-batch.{namespace}"
    held = HeldLedger(consumer)

    first = member(pool, schema, consumer, held)
    second = member(pool, schema, consumer, AppliedLedger(consumer))
    fetched = records(5)

    async def waiting_on_the_first() -> bool:
        return await blocked_by(pool, held.pid)

    try:
        one = asyncio.create_task(first._process(fetched))
        await eventually(held.holding.is_set, 30, what="the first member's batch in flight")
        two = asyncio.create_task(second._process(fetched))
        # The second member either waits its turn (as it must) or, as before, applies the
        # batch and commits at once: whichever it does, it does now.
        await eventually(
            lambda: two.done() or waiting_on_the_first(), 30, what="the second member's batch"
        )
        held.release.set()
        await asyncio.wait_for(asyncio.gather(one, two), 30)

        rows = await pool.fetch(
            f'SELECT stream_id FROM "{schema}".projection_applied WHERE consumer = $1', consumer
        )
        assert sorted(r["stream_id"] for r in rows) == [f"C-{i:05d}" for i in range(5)]
        stored = await pool.fetchval(
            f'SELECT next_offset FROM "{schema}".projection_offsets'
            " WHERE consumer = $1 AND topic = $2 AND partition = 0",
            consumer,
            TP.topic,
        )
        assert stored == 5
    finally:
        held.release.set()
        await pool.close()


@pytest.mark.parametrize("batches_before", [0, 2])
async def test_a_batch_during_a_replay_sees_a_dead_letter_the_replay_made_in_its_turn(
    infra: Infrastructure, namespace: str, batches_before: int
) -> None:
    """C-00001's v2 was dead-lettered on partition 0 and its v3 held behind it. Partitions
    were added since, and the child's v4 comes on partition 1 while a replay of v2 is in
    progress: the replay applies v2 and dead-letters v3 in its turn (it fails again). v4 must
    be held behind v3. The batch has no offsets row the replay locked: the partition's first
    batch, or a later one whose row the replay could not see when it locked the topic's (the
    first not yet committed then). It waited on v2's dead letter inside the statement that
    reads its streams' versions, whose snapshot was taken before the replay committed, found
    v2's letter replayed and not v3's, and applied v4 past v3."""
    settings = settings_for(infra, "projections", namespace)
    pool = await open_database(settings, BUILDS_SQL)
    schema = await ensure_live_build(pool)
    consumer = f"first-batch-held.{namespace}"
    child = "C-00001"
    registered = registration(1)[0]
    event = domain_events().decode_envelope(registered)
    [v4] = make_envelopes(child, 3, [event], CTX)
    tables = {t: f'"{schema}".{t}' for t in ("projection_dead_letters", "projection_held")}
    dead_letter = (
        f"INSERT INTO {tables['projection_dead_letters']} (consumer, topic, partition,"
        " message_offset, event_id, event_type, stream_id, stream_version, reason, holds_stream)"
        " VALUES ($1, $2, 0, $3, $4, 'ChildRegistered', $5, $6, 'apply failed', true)"
    )
    # As the live runner left it: v2 dead-lettered, v3 held, the stream moved on to v3.
    await pool.execute(dead_letter, consumer, TP.topic, 1, uuid4(), child, 2)
    await pool.execute(
        f"INSERT INTO {tables['projection_held']} (consumer, topic, partition, message_offset,"
        " stream_id, stream_version, event_id, event_type, message)"
        " VALUES ($1, $2, 0, 2, $3, 3, $4, 'ChildRegistered', '')",
        consumer,
        TP.topic,
        child,
        uuid4(),
    )
    await pool.execute(
        f'INSERT INTO "{schema}".projection_streams VALUES ($1, $2, $3, 3)',
        consumer,
        TP.topic,
        child,
    )
    ledger = AppliedLedger(consumer)
    runner = member(pool, schema, consumer, ledger)
    tp = TopicPartition(TP.topic, 1)
    for offset in range(batches_before):  # another child's, applied
        envelope, value = registration(2 + offset)
        key = envelope.stream_id.encode()
        before = ConsumerRecord(TP.topic, 1, offset, 0, 0, key, value, None, -1, -1, ())
        await runner._process({tp: [before]})
    value = v4.model_dump_json(exclude={"position"}).encode()
    record = ConsumerRecord(
        TP.topic, 1, batches_before, 0, 0, child.encode(), value, None, -1, -1, ()
    )
    replay = await pool.acquire()
    try:
        # The replay, as `ProjectionRunner.replay` does it: v2's dead letter locked and
        # marked replayed, v3 dead-lettered in its turn, in one transaction not yet committed
        # (the topic's offsets rows it locks first do not include partition 1's: none, or
        # not yet committed when it locked them).
        async with replay.transaction():
            await replay.execute(
                f"SELECT FROM {tables['projection_dead_letters']}"
                " WHERE consumer = $1 AND message_offset = 1 FOR UPDATE",
                consumer,
            )
            await replay.execute(
                f"UPDATE {tables['projection_dead_letters']} SET replayed_at = now(),"
                " replayed_by = 'ops' WHERE consumer = $1 AND message_offset = 1",
                consumer,
            )
            await replay.execute(dead_letter, consumer, TP.topic, 2, uuid4(), child, 3)
            batch = asyncio.create_task(runner._process({tp: [record]}))
            pid = replay.get_server_pid()
            await eventually(
                lambda: batch.done() or blocked_by(pool, pid), 30, what="the batch to wait"
            )
        await asyncio.wait_for(batch, 30)
        held = await pool.fetch(
            f"SELECT stream_version FROM {tables['projection_held']}"
            " WHERE consumer = $1 AND partition = 1",
            consumer,
        )
        applied = await pool.fetch(
            f'SELECT stream_version FROM "{schema}".projection_applied'
            " WHERE consumer = $1 AND stream_id = $2",
            consumer,
            child,
        )
        assert ([r["stream_version"] for r in held], applied) == ([4], [])
        read_again = REGISTRY.get_sample_value(
            "csp_projection_versions_read_again_total", {"consumer": consumer}
        )
        assert read_again == 1
    finally:
        await pool.release(replay)
        await pool.close()

"""Two members of a consumer that briefly share a partition on its very first batch (a member
evicted from the group at that moment while its batch is in flight) take turns, as they do
on every later batch: the partition has no stored-offset row yet for the row lock to hold,
so without a turn of their own each would apply the batch and the read model would hold
every event twice. On PostgreSQL, the runners' own transactions; the records are made in
memory, as the consumer would hand them over."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from contracts.topics import domain_events
from services.projections.builds import BUILDS_SQL, ensure_live_build
from shared.db import open_database
from shared.projection import AppliedLedger, ProjectionRunner
from tests.conftest import settings_for
from tests.infrastructure import Infrastructure, eventually
from tests.publisher import registration
from tests.unit.test_fetch_transaction import Seeks

pytestmark = pytest.mark.integration

TP = TopicPartition("first-batch.case-events", 0)


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

    def member(ledger: AppliedLedger) -> ProjectionRunner:
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

    first, second = member(held), member(AppliedLedger(consumer))
    fetched = records(5)

    async def waiting_on_the_first() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                held.pid,
            )
        )

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

"""When the database loses a projection's last commits (a crash with asynchronous commit, as
`make chaos` found with PostgreSQL's immediate shutdown), the runner reads those records again
from the stored offset instead of carrying on from where its consumer was."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from contracts.topics import domain_events, named
from services.projections.builds import BUILDS_SQL, ensure_live_build
from shared.db import open_database
from shared.kafka import DEAD_LETTER_TOPIC, ensure_topics, new_producer
from shared.projection import AppliedLedger, ProjectionRunner
from tests.conftest import settings_for
from tests.infrastructure import Infrastructure, eventually, read_topic
from tests.publisher import publish_registrations

pytestmark = pytest.mark.integration


async def test_records_whose_commit_the_database_lost_are_applied_again(
    infra: Infrastructure, namespace: str
) -> None:
    settings = settings_for(infra, "projections", namespace)
    topic = settings.topic("case-events")
    await ensure_topics(settings, named("case-events", DEAD_LETTER_TOPIC))
    producer = new_producer(settings)
    await producer.start()

    async def publish(first: int, count: int) -> None:
        await publish_registrations(producer, topic, first, count, partition=0)

    pool = await open_database(settings, BUILDS_SQL)
    schema = await ensure_live_build(pool)
    consumer = f"{settings.consumer_group}.{schema}"
    runner = ProjectionRunner(
        pool,
        domain_events(),
        [AppliedLedger(consumer)],
        [topic],
        kafka_options=settings.kafka_options(),
        consumer_name=consumer,
        dead_letters=producer,
        dead_letter_topic=settings.topic(DEAD_LETTER_TOPIC),
        batch_size=100,
        schema=schema,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))

    async def applied() -> tuple[int, int]:
        row = await pool.fetchrow(
            f"SELECT count(*) AS n, count(DISTINCT event_id) AS d"
            f' FROM "{schema}".projection_applied'
        )
        return int(row["n"]), int(row["d"])

    try:
        await publish(0, 40)
        await eventually(lambda: _equals(applied, (40, 40)), 60, 0.05, "40 events applied")

        # The database "loses" the commits of the last 5 records: their effects, their stream
        # versions and the offset go back together, as a crash with asynchronous commit does.
        records = [
            r for r in await read_topic(settings.kafka_bootstrap_servers, topic) if r.partition == 0
        ]
        lost = records[-5:]
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(f'SET LOCAL search_path TO "{schema}"')
            ids = [dict(r.headers)["event_id"].decode() for r in lost]
            await conn.execute(
                "DELETE FROM projection_applied WHERE event_id = ANY($1::uuid[])", ids
            )
            await conn.execute(
                "DELETE FROM projection_streams WHERE stream_id = ANY($1)",
                [r.key.decode() for r in lost],
            )
            await conn.execute(
                "UPDATE projection_offsets SET next_offset = $1 WHERE topic = $2 AND partition = 0",
                lost[0].offset,
                topic,
            )
        assert await applied() == (35, 35)

        await publish(40, 10)  # the consumer, still at the end, receives these next
        await eventually(
            lambda: _equals(applied, (50, 50)),
            60,
            0.05,
            "the lost records applied again, and the new ones, each once",
        )
    finally:
        stop.set()
        await task
        await producer.stop()
        await pool.close()


async def _equals(
    read: Callable[[], Awaitable[tuple[int, int]]], expected: tuple[int, int]
) -> bool:
    return bool(await read() == expected)

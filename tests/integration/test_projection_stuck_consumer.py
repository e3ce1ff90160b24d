"""A consumer whose group coordination is stuck is made again, not waited on: `make test`'s
chaos run once found the boards' consumer, after its only broker was killed and restarted,
waiting for minutes on an offsets commit whose coordinator lookup never ended, with no error
and nothing applied. Here a real consumer on a real broker is left in that state (its
coordinator lost, every lookup failing, the metadata update the lookup waits for never
ending; its fetcher goes on) and the runner must go on applying with a new one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import NodeNotReadyError
from prometheus_client import REGISTRY

from contracts.topics import domain_events, named
from services.projections.builds import BUILDS_SQL, ensure_live_build
from shared import projection
from shared.db import open_database
from shared.kafka import DEAD_LETTER_TOPIC, ensure_topics, new_producer, stop_consumer
from shared.projection import AppliedLedger, ProjectionRunner
from tests.conftest import settings_for
from tests.infrastructure import Infrastructure, eventually
from tests.publisher import publish_registrations

pytestmark = pytest.mark.integration


def wedge(consumer: AIOKafkaConsumer) -> None:
    """Leave `consumer` as the chaos run found the boards' one (aiokafka 0.14's internals)."""
    client, coordinator = consumer._client, consumer._coordinator
    never: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    async def lookup(*_: Any) -> int:
        raise NodeNotReadyError("the coordinator's broker, as the test has it")

    client.force_metadata_update = lambda: asyncio.shield(never)
    client.coordinator_lookup = lookup
    coordinator.coordinator_dead()


def tasks_of(consumer: AIOKafkaConsumer) -> set[asyncio.Future[Any]]:
    """What runs for the consumer (aiokafka 0.14): its coordinator's, its fetcher's, its
    client's metadata and connections' tasks."""
    coordinator, fetcher, client = consumer._coordinator, consumer._fetcher, consumer._client
    found = {
        coordinator._coordination_task,
        coordinator._heartbeat_task,
        coordinator._commit_refresh_task,
        fetcher._fetch_task,
        *fetcher._pending_tasks,
        client._sync_task,
        *(conn._read_task for conn in client._conns.values()),
    }
    return {t for t in found if t is not None}


@pytest.mark.parametrize("waiting_in", ["commit", "fetch"])
async def test_a_consumer_whose_coordination_is_stuck_is_made_again(
    infra: Infrastructure, namespace: str, monkeypatch: pytest.MonkeyPatch, waiting_in: str
) -> None:
    if waiting_in == "commit":  # every batch commits, and the commit is what waits
        monkeypatch.setattr(projection, "COMMIT_EVERY_S", 0.0)
        monkeypatch.setattr(projection, "COMMIT_WAIT_S", 2.0)  # 60 s in use
    else:  # no commit after the first batch's
        monkeypatch.setattr(projection, "COMMIT_EVERY_S", 3600.0)
    settings = settings_for(infra, "projections", namespace)
    topic = settings.topic("case-events")
    await ensure_topics(settings, named("case-events", DEAD_LETTER_TOPIC))
    producer = new_producer(settings)
    await producer.start()

    pool = await open_database(settings, BUILDS_SQL)
    schema = await ensure_live_build(pool)
    runner = ProjectionRunner(
        pool,
        domain_events(),
        [AppliedLedger(f"{settings.consumer_group}.{schema}")],
        [topic],
        kafka_options=settings.kafka_options(),
        consumer_name=f"{settings.consumer_group}.{schema}",
        dead_letters=producer,
        dead_letter_topic=settings.topic(DEAD_LETTER_TOPIC),
        schema=schema,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))

    async def applied() -> int:
        return int(await pool.fetchval(f'SELECT count(*) FROM "{schema}".projection_applied'))

    async def reached(n: int) -> bool:
        return await applied() == n

    try:
        await publish_registrations(producer, topic, 0, 20)
        await eventually(lambda: reached(20), 60, 0.05, "the first 20 events applied")
        # Started: its fetches from the next batch on in 2 s (starts keep their 120 s).
        monkeypatch.setattr(projection, "FETCH_WAIT_S", 2.0)  # 120 s in use
        await publish_registrations(producer, topic, 20, 1)
        await eventually(lambda: reached(21), 60, 0.05, "a batch after")
        stuck = runner._consumer
        assert stuck is not None
        wedge(stuck)
        running = tasks_of(stuck)
        if waiting_in == "fetch":
            # As after a heartbeat refused (the member unknown once the broker is back): a
            # rejoin begun, which the fetch waits for and the stuck coordinator never ends.
            stuck._subscription.begin_reassignment()

        # Its fetcher still brings these; the batch's commit, or the fetch, then waits.
        await publish_registrations(producer, topic, 21, 9)
        await eventually(
            lambda: runner._consumer not in (stuck, None),
            60,
            0.05,
            "a new consumer made in place of the stuck one",
        )
        monkeypatch.setattr(projection, "FETCH_WAIT_S", 120.0)  # the new one's, unhurried
        await publish_registrations(producer, topic, 30, 10)
        await eventually(lambda: reached(40), 120, 0.05, "every event applied, each once")
        retried = REGISTRY.get_sample_value(
            "csp_projection_retries_total", {"consumer": runner.consumer_name, "cause": "broker"}
        )
        assert retried is not None and retried >= 1  # the stuck consumer: its wait said so
        assert all(t.done() for t in running)  # closed without waiting for it to leave
    finally:
        stop.set()
        try:
            async with asyncio.timeout(60):  # a runner waiting on a stuck consumer never ends
                await task
        finally:
            await producer.stop()
            await pool.close()


async def test_a_consumer_that_cannot_stop_is_closed_without_leaving_a_task_behind(
    infra: Infrastructure, namespace: str
) -> None:
    settings = settings_for(infra, "projections", namespace)
    topic = settings.topic("case-events")
    await ensure_topics(settings, named("case-events"))
    consumer = AIOKafkaConsumer(
        topic, **settings.kafka_options(), group_id=f"{namespace}.stuck", enable_auto_commit=False
    )
    await consumer.start()
    await eventually(lambda: bool(consumer.assignment()), 60, 0.05, "partitions assigned")
    wedge(consumer)
    running = tasks_of(consumer)
    await eventually(
        lambda: consumer._coordinator._coordinator_lookup_lock.locked(),
        10,
        0.05,
        "the coordinator's task waiting on its lookup",
    )

    async with asyncio.timeout(30):  # aiokafka's own stop would wait for ever
        await stop_consumer(consumer, wait_s=1.0)

    assert running and all(t.done() for t in running)

"""A service's worker process: its relay, and its subscriptions to other services' topics.

A subscription is a projection runner into the service's own database: a read model (e.g.
the children it knows of, from `case-events`), or a policy that records new events in
reaction to others (escalations raises an EWO escalation from attendance events), in the
same transaction as the consumed offsets.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from shared.db import open_database
from shared.envelope import EventRegistry
from shared.http import HealthCheck, WorkerParts, worker_app
from shared.kafka import DEAD_LETTER_TOPIC, TopicDefinition, ensure_topics, new_producer
from shared.migrations import EVENT_STORE_SQL, PROJECTION_SQL
from shared.projection import Projection, ProjectionRunner
from shared.relay import Relay, cloudevents_source
from shared.settings import Settings


@dataclass(frozen=True)
class Subscription:
    name: str  # the consumer group is "<namespace><service>.<name>"
    topics: Sequence[str]  # base topic names (contracts.topics)
    registry: EventRegistry
    projections: Sequence[Projection]
    # The streams its read models are made from (a record's key), when not every stream: the
    # runner passes over the others' records without decoding them (ProjectionRunner).
    streams: Callable[[str], bool] | None = None
    # Whether a stream's later events wait behind its dead letter (ProjectionRunner's
    # `in_order`): off only where a later event must not wait on an earlier one's failure.
    in_order: bool = True


Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def service_worker_app(
    settings: Settings,
    topics: Sequence[TopicDefinition],
    subscriptions: Sequence[Subscription] = (),
    migrations: Sequence[Path] = (),
    *,
    relay: bool = True,
    consumer_name: str | None = None,
    loops: Sequence[Callable[[asyncpg.Pool, asyncio.Event], Coroutine[Any, Any, None]]] = (),
    publishes: Sequence[str] = (),
) -> FastAPI:
    """The worker: the relay to the topic the service owns in `topics` (the published topic
    map; if the service has an event store), each subscription, and any other `loops` (e.g. a
    periodic rule check), all on the service's own database. Topics in `publishes` (base
    names) are created if missing; a projection with `close()` is closed when the worker
    stops."""

    async def start(stop: asyncio.Event) -> WorkerParts:
        folders = [
            *([EVENT_STORE_SQL] if relay else []),
            *([PROJECTION_SQL] if subscriptions else []),
            *migrations,
        ]
        pool = await open_database(settings, *folders)
        own = _own_topic(settings, topics) if relay else None
        needed = {
            *([own] if own else []),
            DEAD_LETTER_TOPIC,
            *publishes,
            *(t for s in subscriptions for t in s.topics),
        }
        await ensure_topics(settings, [t for t in topics if t.name in needed])
        producer = new_producer(settings)
        await producer.start()
        runners: list[Loop] = []
        checks: dict[str, HealthCheck] = {}
        if own is not None:
            publisher = Relay(
                pool,
                producer,
                settings.topic(own),
                settings.relay_batch_size,
                settings.relay_poll_interval_s,
                source=cloudevents_source(own),
            )
            runners.append(publisher.run)
            checks["relay"] = _relay_check(settings, pool, publisher, settings.topic(own))
        for subscription in subscriptions:
            runner = _runner(settings, pool, producer, subscription, consumer_name)
            runners.append(runner.run)
            checks[subscription.name] = _runner_check(runner)
        runners.extend(functools.partial(loop, pool) for loop in loops)

        async def run_all(stop: asyncio.Event) -> None:
            # One ending on an error stops the others (each leaves its consumer group) before
            # `close` lets go of the producer and the pool, and the process ends (worker_app).
            async with asyncio.TaskGroup() as group:
                for run in runners:
                    group.create_task(run(stop))

        async def close() -> None:
            for projection in (p for s in subscriptions for p in s.projections):
                closing = getattr(projection, "close", None)
                if closing is not None:
                    await closing()
            await producer.stop()
            await pool.close()

        return run_all, checks, close

    return worker_app(f"{settings.service} worker", settings, start)


def _own_topic(settings: Settings, topics: Sequence[TopicDefinition]) -> str:
    for topic in topics:
        if topic.owner == settings.service:
            return topic.name
    raise LookupError(f"no topic is owned by {settings.service!r} in the topic map")


def _runner(
    settings: Settings,
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    subscription: Subscription,
    consumer_name: str | None,
) -> ProjectionRunner:
    return ProjectionRunner(
        pool,
        subscription.registry,
        subscription.projections,
        [settings.topic(t) for t in subscription.topics],
        kafka_options=settings.kafka_options(),
        consumer_name=consumer_name or settings.topic(f"{settings.service}.{subscription.name}"),
        dead_letters=producer,
        dead_letter_topic=settings.topic(DEAD_LETTER_TOPIC),
        batch_size=settings.projection_batch_size,
        streams=subscription.streams,
        in_order=subscription.in_order,
        fetch_wait_ms=settings.subscription_fetch_wait_ms,
    )


def _relay_check(
    settings: Settings, pool: asyncpg.Pool, publisher: Relay, topic: str
) -> HealthCheck:
    async def relay_check() -> dict[str, Any]:
        # Degraded when the relay failed, or when an event has waited longer than
        # relay_stalled_after_s (a paused broker raises no error, it just stops).
        behind = await pool.fetchrow(
            "SELECT count(*) AS n, extract(epoch FROM now() - min(e.recorded_at))"
            " AS oldest_s FROM events e WHERE (e.transaction_id, e.position) >"
            " coalesce((SELECT (c.transaction_id, c.position) FROM relay_checkpoints c"
            "  WHERE c.topic = $1), ('0'::xid8, 0))",
            topic,
        )
        oldest = float(behind["oldest_s"] or 0.0)
        stalled = oldest > settings.relay_stalled_after_s
        state: dict[str, Any] = {
            "ok": publisher.healthy and not stalled,
            "topic": topic,
            "events_behind": behind["n"],
            "oldest_unpublished_s": round(oldest, 1),
        }
        if stalled:
            limit = settings.relay_stalled_after_s
            state["error"] = f"relay stalled: events waiting longer than {limit:g}s"
        return state

    return relay_check


def _runner_check(runner: ProjectionRunner) -> HealthCheck:
    async def check() -> dict[str, Any]:
        return {"ok": runner.healthy, "error": runner.last_error, "lag": runner.lag()}

    return check

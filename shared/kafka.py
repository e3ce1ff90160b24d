"""Kafka clients configured once: the producer, the admin client, topic provisioning."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

# The kernel's one convention on names: where every consumer sends what it cannot apply.
DEAD_LETTER_TOPIC = "dead-letter"


@dataclass(frozen=True)
class TopicDefinition:
    name: str
    owner: str
    description: str
    config: dict[str, str] = field(default_factory=dict)


def new_producer(settings: Settings, **overrides: object) -> AIOKafkaProducer:
    """Durable by construction: acks from every in-sync replica, idempotence on.

    aiokafka's own defaults are weaker (acks=1, no idempotence), so they are set here
    explicitly; with idempotence the broker keeps each partition's order across retries.
    """
    options: dict[str, object] = {
        **settings.kafka_options(),
        "client_id": f"{settings.service}-{settings.environment}",
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 30_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def connected_admin(settings: Settings, timeout_s: float = 120.0) -> AIOKafkaAdminClient:
    """An admin client, once the broker answers (it may still be starting)."""
    deadline = time.monotonic() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(**settings.kafka_options())
        try:
            await admin.start()
            await admin.list_topics()
            return admin
        except KafkaError as error:
            await admin.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kafka not reachable: {error!r}") from error
            log.info("waiting for Kafka", error=repr(error))
            await asyncio.sleep(1.0)


async def ensure_topics(settings: Settings, wanted: Iterable[TopicDefinition]) -> None:
    """Create these topics where they do not exist yet (idempotent); waits for the broker.
    The definitions come from the published topic map (`contracts.topics`)."""
    wanted = list({t.name: t for t in wanted}.values())
    prefixed = {t.name: settings.topic(t.name) for t in wanted}
    admin = await connected_admin(settings)
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                prefixed[t.name],
                settings.topic_partitions,
                settings.topic_replication_factor,
                topic_configs={
                    **t.config,
                    "min.insync.replicas": str(settings.topic_min_insync_replicas),
                },
            )
            for t in wanted
            if prefixed[t.name] not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent starter made it
                await admin.create_topics(missing)
            log.info("topics created", topics=[t.name for t in missing])
    finally:
        await admin.close()

"""Kafka clients configured once: topic definitions, the producer and the admin client."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

TOPICS_FILE = Path(__file__).resolve().parent.parent / "deploy" / "kafka" / "topics.yaml"
DEAD_LETTER_TOPIC = "dead-letter"


@dataclass(frozen=True)
class TopicDefinition:
    name: str
    owner: str
    description: str
    config: dict[str, str] = field(default_factory=dict)


def topic_definitions() -> list[TopicDefinition]:
    raw = yaml.safe_load(TOPICS_FILE.read_text())
    return [
        TopicDefinition(t["name"], t["owner"], t["description"],
                        {k: str(v) for k, v in t.get("config", {}).items()})
        for t in raw["topics"]
    ]


def topic_of(service: str) -> str:
    for topic in topic_definitions():
        if topic.owner == service:
            return topic.name
    raise LookupError(f"no topic is owned by {service!r} in {TOPICS_FILE.name}")


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
        admin = AIOKafkaAdminClient(**settings.kafka_options())  # type: ignore[arg-type]
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


async def ensure_topics(settings: Settings, names: list[str] | None = None) -> None:
    """Create the platform's topics that do not exist yet (idempotent); waits for the broker."""
    wanted = [t for t in topic_definitions() if names is None or t.name in names]
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
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # a concurrent starter created it
            log.info("topics created", topics=[t.name for t in missing])
    finally:
        await admin.close()

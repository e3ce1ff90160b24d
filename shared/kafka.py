"""Kafka clients configured once: the producer, the admin client, topic provisioning, and the
start-up check that every topic has the settings it is configured with."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    KafkaError,
    LeaderNotAvailableError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
)
from prometheus_client import Gauge

from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

# The kernel's one convention on names: where every consumer sends what it cannot apply.
DEAD_LETTER_TOPIC = "dead-letter"

SETTINGS_MISMATCH = Gauge(
    "csp_topic_settings_mismatch",
    "Settings of a topic (partitions, replication factor, min.insync.replicas, its own "
    "configuration) that differ from the configured ones, as found at the process's start",
    ["topic"],
)


@dataclass(frozen=True)
class TopicDefinition:
    name: str
    owner: str
    description: str
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicCreation:
    """What a topic is created with: the deployment's settings, and the topic's own
    configuration from the topic map (which wins where both name a key)."""

    partitions: int
    replication_factor: int
    config: dict[str, str]

    def wanted(self) -> dict[str, str]:
        """Every setting the start-up check compares, by Kafka's names."""
        return {
            "partitions": str(self.partitions),
            "replication.factor": str(self.replication_factor),
            **self.config,
        }


def creation(settings: Settings, topic: TopicDefinition) -> TopicCreation:
    return TopicCreation(
        settings.topic_partitions,
        settings.topic_replication_factor,
        {"min.insync.replicas": str(settings.topic_min_insync_replicas), **topic.config},
    )


def differences(
    wanted: Mapping[str, str], actual: Mapping[str, str]
) -> dict[str, tuple[str, str | None]]:
    """Each wanted setting the topic has otherwise: (configured, actual; None if unknown)."""
    return {
        key: (value, actual.get(key)) for key, value in wanted.items() if actual.get(key) != value
    }


def described(topic: Mapping[str, Any], configs: Mapping[str, str]) -> dict[str, str]:
    """A topic's settings, from the broker's metadata of it (aiokafka's describe_topics) and
    its configuration entries. A topic whose partitions have unequal replica counts (a
    reassignment under way) reports the smallest: the weakest copy count is what it has."""
    partitions = topic.get("partitions") or []
    replicas = [len(p.get("replica_nodes", p.get("replicas", []))) for p in partitions]
    return {
        "partitions": str(len(partitions)),
        "replication.factor": str(min(replicas, default=0)),
        **configs,
    }


def config_entries(responses: Iterable[Any]) -> dict[str, dict[str, str]]:
    """{topic: {name: value}} from DescribeConfigs responses (a resource with an error, e.g.
    not authorised, is left out)."""
    found: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"]:
                continue
            found[resource["resource_name"]] = {
                entry.get("config_names", entry.get("config_name")): entry["config_value"]
                for entry in resource["config_entries"]
            }
    return found


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


# How long a consumer's `stop` may take (a LeaveGroup, a join under way) before what it holds is
# closed without it.
STOP_WAIT_S = 30.0


async def stop_consumer(consumer: AIOKafkaConsumer, wait_s: float = STOP_WAIT_S) -> None:
    """Stop a consumer, leaving its group, in `wait_s` at most, and never end the caller's task
    with it. aiokafka's `stop` waits for its coordinator's task, which can wait for ever on a
    stuck coordinator lookup (`ProjectionRunner`'s `ConsumerStuck`), and its fetcher's close
    awaits each fetch it cancels, which raises that cancellation when the fetch was sleeping
    after a failure (a broker down): in the caller's task it would pass for the caller's own
    and end it for good. So `stop` runs as a task of its own; if it has not ended well in
    `wait_s` (0 for a consumer already taken for stuck), it is cancelled and what it closes in
    aiokafka 0.14 (the coordinator's and the fetcher's tasks, the connections) is closed
    here, so nothing of the consumer is left running."""
    stopping = asyncio.ensure_future(consumer.stop())
    await asyncio.wait({stopping}, timeout=wait_s)
    if stopping.done() and not stopping.cancelled() and stopping.exception() is None:
        return
    if not stopping.done():
        stopping.cancel()
        await asyncio.wait({stopping}, timeout=STOP_WAIT_S)
    log.warning("a consumer did not stop well: closing what it holds without it")
    await _close_without_stop(consumer)


async def _close_without_stop(consumer: AIOKafkaConsumer) -> None:
    tasks: set[asyncio.Future[Any]] = set()
    coordinator, fetcher = consumer._coordinator, consumer._fetcher
    for holder, names in (
        (
            coordinator,
            (
                "_coordination_task",
                "_heartbeat_task",
                "_commit_refresh_task",
                "_reset_committed_task",  # a consumer without a group's
            ),
        ),
        (fetcher, ("_fetch_task",)),
    ):
        tasks.update(t for t in (getattr(holder, n, None) for n in names) if t is not None)
    if fetcher is not None:
        tasks.update(fetcher._pending_tasks)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_WAIT_S
    pending = set(tasks)
    while pending and loop.time() < deadline:
        # Again each turn: aiokafka's fetch loop swallows a cancellation that lands while it
        # waits for its fetches, and goes on.
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(1.0, deadline - loop.time()))
    closing = asyncio.ensure_future(consumer._client.close())  # once nothing opens more
    await asyncio.wait({closing}, timeout=max(deadline - loop.time(), 1.0))
    for task in {*tasks, closing}:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: each ended as it could, nothing more to do with it
    consumer._closed = True  # not to be stopped again, nor warned of as unclosed


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
    The definitions come from the published topic map (`contracts.topics`). Then reports any
    of them whose settings differ from the configured ones (`check_topics`)."""
    wanted = list({t.name: t for t in wanted}.values())
    made = {settings.topic(t.name): creation(settings, t) for t in wanted}
    admin = await connected_admin(settings)
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, c.partitions, c.replication_factor, topic_configs=c.config)
            for name, c in made.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent starter made it
                await admin.create_topics(missing)
            log.info("topics created", topics=[t.name for t in missing])
            await _until_described(admin, [t.name for t in missing])
        await check_topics(admin, settings, wanted)
    finally:
        await admin.close()


# What the broker answers for a topic created a moment ago, before its metadata has it.
_NOT_YET_DESCRIBED = {UnknownTopicOrPartitionError.errno, LeaderNotAvailableError.errno}


async def _until_described(
    admin: AIOKafkaAdminClient, names: list[str], timeout_s: float = 30.0
) -> None:
    """Until the broker describes each topic just created with its partitions: the controller
    has made it before the broker's metadata holds it, and `check_topics` passes over a topic
    it cannot describe (a test described one with no partitions, once in a run). Any other
    answer, or none within `timeout_s`, is left to `check_topics` to report."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            topics = await admin.describe_topics(names)
        except KafkaError as error:  # e.g. an ACL: not ours to wait out
            log.warning("cannot describe the topics created", error=repr(error))
            return
        waiting = [
            t["topic"]
            for t in topics
            if t.get("error_code") in _NOT_YET_DESCRIBED
            or (not t.get("error_code") and not t.get("partitions"))
        ]
        if not waiting:
            return
        if time.monotonic() > deadline:
            log.warning("topics created are not yet described by the broker", topics=waiting)
            return
        await asyncio.sleep(0.1)


async def check_topics(
    admin: AIOKafkaAdminClient, settings: Settings, wanted: Iterable[TopicDefinition]
) -> dict[str, dict[str, tuple[str, str | None]]]:
    """Report each topic whose settings differ from the configured ones: a warning naming
    the topic and every differing setting, and `csp_topic_settings_mismatch`. A topic made
    before CSP_TOPIC_REPLICATION_FACTOR was raised keeps its one copy until it is reassigned
    (docs/operations.md): nothing changes it silently, so this says so at every start.
    Reporting only: a running platform is not stopped for it. Returns what differs."""
    wants = {settings.topic(t.name): creation(settings, t).wanted() for t in wanted}
    try:
        topics = {t["topic"]: t for t in await admin.describe_topics(list(wants))}
        configs = config_entries(
            await admin.describe_configs(
                [
                    ConfigResource(
                        ConfigResourceType.TOPIC,
                        name,
                        {k: None for k in want if k not in ("partitions", "replication.factor")},
                    )
                    for name, want in wants.items()
                ]
            )
        )
    except KafkaError as error:  # e.g. an ACL set before describe_configs was granted
        log.warning("cannot check the topics' settings", error=repr(error))
        return {}
    found: dict[str, dict[str, tuple[str, str | None]]] = {}
    for name, want in wants.items():
        if name not in topics or topics[name].get("error_code"):
            continue
        if name not in configs:  # its configuration could not be read: compare the rest
            log.warning("cannot read a topic's configuration", topic=name)
            want = {k: want[k] for k in ("partitions", "replication.factor")}
        differ = differences(want, described(topics[name], configs.get(name, {})))
        SETTINGS_MISMATCH.labels(name).set(len(differ))
        if differ:
            found[name] = differ
            log.warning(
                "topic settings differ from the configured ones",
                topic=name,
                differences={k: {"configured": c, "actual": a} for k, (c, a) in differ.items()},
            )
    return found

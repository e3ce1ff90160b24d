"""The projection runner: crash-safe, duplicate-proof, and poison messages dead-lettered."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import pytest

from contracts.case_events.events import (
    ChildProtectionCategory,
    ChildProtectionPlanStarted,
    ChildRegistered,
)
from contracts.topics import named, topic_of
from shared.envelope import Actor, Agency, DomainEvent, new_event_id
from shared.eventstore import CommandContext, make_envelopes
from shared.kafka import DEAD_LETTER_TOPIC, ensure_topics, new_producer
from shared.relay import event_headers
from shared.settings import Settings
from tests.conftest import settings_for
from tests.infrastructure import Infrastructure, ServiceProcess, eventually, read_topic

pytestmark = pytest.mark.integration

CHILDREN = 5_000  # two events each: 10,000 events
CTX = CommandContext(
    actor=Actor(user_id="cm-integration", agency=Agency.COUNCIL, role="integration"),
    correlation_id=new_event_id(),
)


def journey(i: int) -> list[DomainEvent]:
    return [
        ChildRegistered(
            child_id=f"C-{i:05d}",
            date_of_birth=date(2010, 1, 1) + timedelta(i),
            locality=["Exeter", "North", "South", "East"][i % 4],
        ),
        ChildProtectionPlanStarted(
            child_id=f"C-{i:05d}",
            plan_id=f"P-{i}",
            category=list(ChildProtectionCategory)[i % 5],
            start_date=date(2024, 1, 1) + timedelta(i % 300),
            previous_plans=i % 3,
        ),
    ]


async def publish(
    settings: Settings,
    streams: dict[str, list[DomainEvent]],
    duplicate_every: int = 0,
    extra: Sequence[tuple[bytes, bytes | None]] = (),
) -> int:
    """Publish as the relay does (same key, value and headers); return the records sent."""
    await ensure_topics(settings, named(topic_of("case_events"), DEAD_LETTER_TOPIC))
    topic = settings.topic(topic_of("case_events"))
    producer = new_producer(settings)
    await producer.start()
    sent = 0
    try:
        for n, (stream_id, events) in enumerate(streams.items()):
            envelopes = make_envelopes(stream_id, 0, events, CTX)
            if duplicate_every and n % duplicate_every == 0:
                envelopes = envelopes + envelopes  # as after a relay crash
            for e in envelopes:
                await producer.send(
                    topic,
                    e.model_dump_json(exclude={"position"}).encode(),
                    key=stream_id.encode(),
                    headers=event_headers(str(e.event_id), e.event_type, 1),
                )
                sent += 1
        for key, value in extra:
            await producer.send(topic, value, key=key)
            sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def live(pool: asyncpg.Pool) -> str | None:
    try:
        return await pool.fetchval("SELECT schema_name FROM board_builds WHERE live")
    except asyncpg.UndefinedTableError:
        return None


async def consumed(pool: asyncpg.Pool) -> int:
    schema = await live(pool)
    if schema is None:
        return 0
    return int(
        await pool.fetchval(
            f'SELECT coalesce(sum(next_offset), 0) FROM "{schema}".projection_offsets'
        )
    )


async def rows(pool: asyncpg.Pool) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every read-model table of the live build."""
    schema = await live(pool)
    return {
        table: [
            tuple(r) for r in await pool.fetch(f'SELECT * FROM "{schema}".{table} ORDER BY {order}')
        ]
        for table, order in [
            ("children", "child_id"),
            ("child_facts", "attribute, child_id, valid_from, seq"),
            ("occurrences", "kind, subject_id, seq"),
        ]
    }


async def pool_on(infra: Infrastructure, database: str) -> asyncpg.Pool:
    admin = await asyncpg.connect(infra.dsn("postgres"))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    pool = await asyncpg.create_pool(infra.dsn(database), min_size=1, max_size=4)
    assert pool is not None
    return pool


async def test_a_killed_projection_resumes_and_equals_a_clean_build_from_offset_0(
    infra: Infrastructure,
    namespace: str,
    log_dir: Path,
) -> None:
    settings = settings_for(infra, "projections", namespace)
    sent = await publish(
        settings, {f"C-{i:05d}": journey(i) for i in range(CHILDREN)}, duplicate_every=10
    )
    live_pool = await pool_on(infra, settings.database)
    env = infra.env(namespace, CSP_PROJECTION_BATCH_SIZE="100")
    runner = ServiceProcess("services.projections", "worker", env, log_dir).start()
    await eventually(
        lambda: _past(live_pool, sent // 3),
        120,
        0.002,
        what="the projection to get a third of the way",
    )
    runner.kill()
    at_kill = await consumed(live_pool)
    assert 0 < at_kill < sent, f"the kill should land mid-way (at {at_kill} of {sent})"
    runner = ServiceProcess("services.projections", "worker", env, log_dir).start()
    try:
        await eventually(
            lambda: _past(live_pool, sent - 1), 120, 0.1, what="the restarted projection"
        )
    finally:
        runner.stop()

    clean_db = f"{namespace}projections_clean"
    clean = await pool_on(infra, clean_db)
    clean_runner = ServiceProcess(
        "services.projections",
        "worker",
        {**env, "CSP_POSTGRES_DATABASE": clean_db, "CSP_PROJECTION_GROUP_ID": "clean"},
        log_dir,
    ).start()
    try:
        await eventually(lambda: _past(clean, sent - 1), 120, 0.1, what="the clean build")
    finally:
        clean_runner.stop()

    after_crash, from_scratch = await rows(live_pool), await rows(clean)
    assert len(from_scratch["children"]) == CHILDREN
    assert sum(r[0] == "cp_plan" for r in from_scratch["child_facts"]) == CHILDREN
    assert after_crash == from_scratch
    print(
        f"\nprojection kill: {sent} records ({sent - 2 * CHILDREN} duplicates), "
        f"killed at {at_kill}; read model equals a clean build, row for row"
    )
    await live_pool.close()
    await clean.close()


async def test_poison_messages_are_dead_lettered_with_their_origin_and_the_partition_moves_on(
    infra: Infrastructure,
    namespace: str,
    log_dir: Path,
) -> None:
    settings = settings_for(infra, "projections", namespace)
    unknown_type = make_envelopes("C-00002", 0, journey(2)[:1], CTX)[0].model_dump(mode="json")
    unknown_type["event_type"] = "ChildTeleported"
    too_new = make_envelopes("C-00003", 0, journey(3)[:1], CTX)[0].model_dump(mode="json")
    too_new["schema_version"] = 99
    # Same key as the valid stream: the poison shares its partition and must not stall it.
    poison = [
        (b"C-00001", b"\x00\xffnot json"),
        (b"C-00001", json.dumps(unknown_type).encode()),
        (b"C-00001", json.dumps(too_new).encode()),
    ]
    sent = await publish(settings, {}, extra=poison)
    sent += await publish(settings, {"C-00001": journey(1)})
    live_pool = await pool_on(infra, settings.database)
    runner = ServiceProcess("services.projections", "worker", infra.env(namespace), log_dir).start()
    try:
        await eventually(lambda: _past(live_pool, sent - 1), 90, 0.05, what="the projection")
    finally:
        runner.stop()
    facts = (await rows(live_pool))["child_facts"]
    assert [r[1] for r in facts if r[0] == "cp_plan"] == ["C-00001"]

    dead = await read_topic(infra.kafka_bootstrap, settings.topic(DEAD_LETTER_TOPIC))
    reasons = sorted(dict(r.headers)["dlq_reason"].decode().split(":")[0] for r in dead)
    assert reasons == ["incompatible schema version", "undecodable", "unknown event type"]
    origin_topic = settings.topic(topic_of("case_events"))
    for record in dead:
        headers = dict(record.headers)
        assert headers["dlq_origin_topic"].decode() == origin_topic
        assert int(headers["dlq_origin_offset"]) in range(3)
        assert record.value in {value for _, value in poison}
    await live_pool.close()


async def _past(pool: asyncpg.Pool, count: int) -> bool:
    return await consumed(pool) > count

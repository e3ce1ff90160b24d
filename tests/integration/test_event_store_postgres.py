"""Guarantees only a real PostgreSQL can show: commit-ordered tailing, immutability."""

from __future__ import annotations

import asyncio
import json
import random

import asyncpg
import pytest

from shared.envelope import Actor, Agency, DomainEvent, new_event_id
from shared.eventstore import CommandContext, ConcurrencyConflict, Cursor, PostgresEventStore
from tests.conftest import settings_for
from tests.infrastructure import Infrastructure

pytestmark = pytest.mark.integration


class Tick(DomainEvent):
    event_type = "Tick"
    writer: int
    n: int


def ctx() -> CommandContext:
    return CommandContext(
        actor=Actor(user_id="u", agency=Agency.PLATFORM, role="test"), correlation_id=new_event_id()
    )


async def slow_append(pool: asyncpg.Pool, stream_id: str, hold_s: float) -> None:
    """An appender that takes its position, then holds its transaction open before committing:
    the case where a plain sequence lets a reader skip past an event that commits later."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version,"
            " occurred_at, recorded_at, actor, correlation_id, payload)"
            " VALUES ($1, $2, 1, 'Tick', 1, now(), now(), $3::jsonb, $4, $5::jsonb)",
            new_event_id(),
            stream_id,
            json.dumps({"user_id": "u", "agency": "platform", "role": "test"}),
            new_event_id(),
            json.dumps({"writer": -1, "n": 0}),
        )
        await asyncio.sleep(hold_s)  # the injected fault: a late commit


async def test_a_tailing_reader_never_misses_an_event_committed_behind_it(
    event_store_pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(event_store_pool)
    rng = random.Random(7)
    writers, appends_each = 8, 150
    done = asyncio.Event()

    async def writer(w: int) -> None:
        for n in range(appends_each):
            await store.append(f"w{w}-{n}", 0, [Tick(writer=w, n=n)], ctx())
            if n % 25 == 0:
                await slow_append(event_store_pool, f"slow-{w}-{n}", rng.uniform(0.01, 0.08))

    seen: list[tuple[Cursor, str]] = []

    async def tail() -> None:
        cursor = Cursor()
        while True:
            finished = done.is_set()  # read once more after the writers finish
            batch = await store.read_all(cursor, 100)
            for found, envelope in batch:
                assert found > cursor, "the commit order went backwards"
                cursor = found
                seen.append((found, str(envelope.event_id)))
            # Done once nothing is left after the cursor: an event held back by an older
            # transaction of this database still in flight (a slow append's) is waited for.
            if finished and not batch and not await store.held_back(cursor):
                return
            if not batch:
                await asyncio.sleep(0.005)  # poll interval of the tailing reader

    reader = asyncio.create_task(tail())
    await asyncio.gather(*(writer(w) for w in range(writers)))
    done.set()
    await asyncio.wait_for(reader, timeout=60)

    committed = {
        str(r["event_id"]) for r in await event_store_pool.fetch("SELECT event_id FROM events")
    }
    read = [event_id for _, event_id in seen]
    expected = writers * appends_each + writers * (appends_each // 25)
    assert len(committed) == expected
    assert len(read) == len(set(read)), "an event was read twice"
    assert set(read) == committed, f"{len(committed - set(read))} committed events were missed"


async def test_the_horizon_is_the_databases_own_and_under_repeatable_read_the_clusters(
    event_store_pool: asyncpg.Pool, infra: Infrastructure, namespace: str
) -> None:
    """`events_horizon` (004_*.sql). Under READ COMMITTED a transaction of another database
    in flight does not hold it back (the tailing test above shows this database's do). Under
    REPEATABLE READ the read would share the snapshot taken before the transactions in flight
    were looked for, so the horizon is the snapshot's own, the cluster's, as before."""
    horizon = "SELECT events_horizon()::text::bigint"
    elsewhere = await asyncpg.connect(settings_for(infra, "case_events", namespace).dsn("postgres"))
    try:
        async with elsewhere.transaction():
            theirs = await elsewhere.fetchval("SELECT pg_current_xact_id()::text::bigint")
            await PostgresEventStore(event_store_pool).append("s1", 0, [Tick(writer=0, n=0)], ctx())
            async with event_store_pool.acquire() as conn:
                assert await conn.fetchval(horizon) > theirs
                async with conn.transaction(isolation="repeatable_read"):
                    xmin = await conn.fetchval(
                        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
                    )
                    assert xmin <= theirs
                    assert await conn.fetchval(horizon) == xmin
    finally:
        await elsewhere.close()


async def test_events_cannot_be_updated_deleted_or_truncated(
    event_store_pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(event_store_pool)
    await store.append("s1", 0, [Tick(writer=0, n=0)], ctx())
    for statement in (
        "UPDATE events SET event_type = 'Edited'",
        "DELETE FROM events",
        "TRUNCATE events",
    ):
        with pytest.raises(asyncpg.RaiseError, match="events are immutable"):
            await event_store_pool.execute(statement)
    assert [e.event_type for e in await store.read_stream("s1")] == ["Tick"]


async def test_concurrent_duplicates_of_one_command_record_it_once(
    event_store_pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(event_store_pool)
    same = CommandContext(
        actor=Actor(user_id="u", agency=Agency.COUNCIL, role="sw"),
        correlation_id=new_event_id(),
        idempotency_key="retry-1",
        request_hash="h",
    )
    results = await asyncio.gather(
        *(store.append("s1", 0, [Tick(writer=0, n=0)], same) for _ in range(6)),
        return_exceptions=True,
    )
    recorded = [r for r in results if not isinstance(r, BaseException) and not r.duplicate]
    assert len(recorded) == 1
    assert len(await store.read_stream("s1")) == 1


@pytest.mark.parametrize("batch", [False, True], ids=["append", "append_batch"])
async def test_an_append_in_an_asynchronously_committed_transaction_commits_durably(
    event_store_pool: asyncpg.Pool, batch: bool
) -> None:
    """A worker's policy appends in its runner's batch, which turns synchronous commit off
    (shared/projection.py): the append turns it on again for that transaction, or the relay
    could publish an event a crash of the database then takes back."""
    async with event_store_pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL synchronous_commit TO off")  # as a runner's batch does
        store = PostgresEventStore(conn)
        if batch:
            await store.append_batch([("s1", [Tick(writer=0, n=0)])], ctx())
        else:
            await store.append("s1", 0, [Tick(writer=0, n=0)], ctx())
        assert await conn.fetchval("SHOW synchronous_commit") == "on"
    async with event_store_pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL synchronous_commit TO off")
        with pytest.raises(ConcurrencyConflict):  # refused: nothing to make durable
            await PostgresEventStore(conn).append("s1", 0, [Tick(writer=0, n=1)], ctx())
        assert await conn.fetchval("SHOW synchronous_commit") == "off"

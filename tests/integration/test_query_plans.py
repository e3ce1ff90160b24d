"""Statements the live path runs for every batch or every wake-up read what they need, on a
real PostgreSQL, whatever the planner knows of the table. A service's database is new when a
county is loaded or imported into it, and its statistics stay missing or behind for a while:
planned for an empty table, each of these statements read every row of its table, a cost that
grew with the history (docs/performance.md, 2026-12-05). Each test plans the statement as the
server may keep it for asyncpg's prepared statements (generic, for any parameters), on a
table never analysed and on one analysed, and counts the rows its scans examined."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from services.projections.boards.kept import STORED_RECORDS
from services.projections.builds import READ_MODEL_SQL
from shared.eventstore import HELD_BACK, Cursor, PostgresEventStore
from shared.migrations import EVENT_STORE_SQL, PROJECTION_SQL
from shared.projection import STREAM_VERSIONS
from tests.conftest import fresh_database
from tests.infrastructure import Infrastructure

pytestmark = pytest.mark.integration

ROWS = 20_000  # a county's children, or its events: enough for a whole-table read to show
ANALYSED = pytest.mark.parametrize("analysed", [False, True], ids=["never analysed", "analysed"])


def examined(plan: dict[str, Any], table: str) -> int:
    """Rows the plan's scans of `table` examined (returned, and removed by a filter), over
    all their loops. PostgreSQL rounds a loop's rows: four loops of 0.75 show as four."""
    rows = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
    own = rows * plan.get("Actual Loops", 1) if plan.get("Relation Name") == table else 0
    return own + sum(examined(p, table) for p in plan.get("Plans", []))


async def generic_plan(conn: asyncpg.Connection, statement: str, *args: object) -> dict[str, Any]:
    """The statement run as the server may keep it prepared: its generic plan, explained."""
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    explained = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", *args)
    plan: dict[str, Any] = json.loads(explained)[0]["Plan"]
    return plan


@ANALYSED
async def test_a_batch_reads_the_versions_of_its_own_streams_not_of_every_stream(
    infra: Infrastructure, namespace: str, analysed: bool
) -> None:
    """The runner's look-up of the last versions applied (shared.projection.STREAM_VERSIONS):
    a live batch of five streams' events examines at most five rows of 20,000. The plain
    join it replaced hashed every stream of the consumer and topic."""
    async with (
        fresh_database(infra, namespace, "projections", PROJECTION_SQL) as pool,
        pool.acquire() as conn,
    ):
        await conn.execute(
            "INSERT INTO projection_streams (consumer, topic, stream_id, stream_version)"
            " SELECT c, 'case-events', 'C-' || n, n % 7 + 1"
            " FROM generate_series(1, $1) AS n, unnest(ARRAY['live', 'a-rebuild']) AS c",
            ROWS,
        )
        if analysed:
            await conn.execute("ANALYZE projection_streams")
        wanted = ["C-7", "C-12000", "C-19999", "C-never-applied", "C-8"]
        # A fetch's streams, of the topics its partitions are of ("C-8" of another topic).
        topics = ["case-events"] * 4 + ["education"]
        plan = await generic_plan(conn, STREAM_VERSIONS, "live", topics, wanted)
        found = await conn.fetch(STREAM_VERSIONS, "live", topics, wanted)
    assert examined(plan, "projection_streams") <= len(wanted)
    assert {(r["topic"], r["stream_id"]): r["stream_version"] for r in found} == {
        ("case-events", "C-7"): 1,
        ("case-events", "C-12000"): 3,
        ("case-events", "C-19999"): 1,
    }


@ANALYSED
async def test_the_relay_asks_whether_an_event_is_held_back_without_reading_the_store(
    infra: Infrastructure, namespace: str, analysed: bool
) -> None:
    """The relay's question after an empty read (shared.eventstore.HELD_BACK), caught up at
    the end of 20,000 events: one index entry looked at, not every event. An EXISTS planned
    for an empty table read them all."""
    async with fresh_database(infra, namespace, "case_events", EVENT_STORE_SQL) as pool:
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO events (event_id, stream_id, stream_version, event_type,"
                " schema_version, occurred_at, recorded_at, actor, correlation_id, payload)"
                " SELECT gen_random_uuid(), 'S-' || n, 1, 'Planned', 1, now(), now(), '{}',"
                " gen_random_uuid(), '{}' FROM generate_series(1, $1) AS n",
                ROWS,
            )
            if analysed:
                await conn.execute("ANALYZE events")
            txid, last = await conn.fetchrow(
                "SELECT transaction_id::text::bigint, max(position) FROM events GROUP BY 1"
            )
            plan = await generic_plan(conn, HELD_BACK, str(txid), last)
        store = PostgresEventStore(pool)
        at_the_end, before_the_last = Cursor(txid, last), Cursor(txid, last - 1)
        answers = (await store.held_back(at_the_end), await store.held_back(before_the_last))
    assert examined(plan, "events") <= 1
    assert answers == (False, True)


@ANALYSED
async def test_a_batch_reads_what_is_stored_of_its_own_children_not_of_every_child(
    infra: Infrastructure, namespace: str, analysed: bool
) -> None:
    """The boards' look-up of a batch's children and their facts
    (services.projections.boards.kept.STORED_RECORDS): a live batch of four children examines
    their rows only, of 20,000 children with three facts each."""
    async with (
        fresh_database(infra, namespace, "projections", READ_MODEL_SQL) as pool,
        pool.acquire() as conn,
    ):
        await conn.execute(
            "INSERT INTO children (child_id, locality, date_of_birth)"
            " SELECT 'C-' || n, 'Exeter', date '2012-01-01' + n % 3000"
            " FROM generate_series(1, $1) AS n",
            ROWS,
        )
        await conn.execute(
            "INSERT INTO child_facts (attribute, child_id, valid_from, seq, value)"
            " SELECT a, 'C-' || n, date '2024-01-01' + n % 300, 1, 'x'"
            " FROM generate_series(1, $1) AS n, unnest(ARRAY['cin', 'cla', 'cpp']) AS a",
            ROWS,
        )
        if analysed:
            await conn.execute("ANALYZE children, child_facts")
        wanted = ["C-7", "C-12000", "C-19999", "C-not-registered"]
        plan = await generic_plan(conn, STORED_RECORDS, wanted)
        found = await conn.fetch(STORED_RECORDS, wanted)
    assert examined(plan, "children") <= len(wanted)
    assert examined(plan, "child_facts") <= 9
    assert sorted((r["child_id"], r["attribute"]) for r in found) == [
        ("C-12000", "cin"),
        ("C-12000", "cla"),
        ("C-12000", "cpp"),
        ("C-19999", "cin"),
        ("C-19999", "cla"),
        ("C-19999", "cpp"),
        ("C-7", "cin"),
        ("C-7", "cla"),
        ("C-7", "cpp"),
        ("C-not-registered", None),
    ]

"""Board builds: each a PostgreSQL schema holding the read models and their offsets.

The live build is named in `board_builds`. A rebuild creates a new schema from the current
DDL, fills it from offset 0 beside the live one, and swaps it in with one UPDATE; the worker
notices and carries on in the new schema from the offsets the rebuild stored. The previous
build is kept until the next swap (to compare or roll back), older ones are dropped.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from shared.logging import get_logger
from shared.migrations import PROJECTION_SQL, ROOT, scripts_in

log = get_logger(__name__)

HERE = Path(__file__).parent
BUILDS_SQL = HERE / "sql_public"
READ_MODEL_SQL = HERE / "sql"

# Builds made before each build recorded its migrations (in `build_migrations`) had every
# script there was then; the table each creates tells whether a build had it.
UNRECORDED = {
    "shared/sql/projection/001_tracking.sql": "projection_offsets",
    "shared/sql/projection/002_applied_ledger.sql": "projection_applied",
    "services/projections/sql/001_board_facts.sql": "child_facts",
    "services/projections/sql/002_board_totals.sql": "board_days",
}


async def create_build(pool: asyncpg.Pool) -> str:
    name = f"boards_{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(2)}"
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f'CREATE SCHEMA "{name}"')
        await conn.execute(f'SET LOCAL search_path TO "{name}"')
        await migrate_build(conn)
        await copy_skipped(conn, name)
        await conn.execute("INSERT INTO public.board_builds (schema_name) VALUES ($1)", name)
    return name


async def _skipping_live_build(conn: asyncpg.Connection) -> str | None:
    """The live build, if it records skipped dead letters (shared/sql/projection/004)."""
    live: str | None = await conn.fetchval("SELECT schema_name FROM public.board_builds WHERE live")
    if live is None or not await conn.fetchval(
        "SELECT to_regclass(format('%I.projection_held', $1::text)) IS NOT NULL", live
    ):
        return None
    return live


async def skipped_since(conn: asyncpg.Connection, name: str) -> list[asyncpg.Record]:
    """The dead letters skipped in the live build that the build `name` has dead-lettered
    again and not skipped (an operator skipped them while it was filled): where each is in
    `name`, and who skipped it under which audit record."""
    live = await _skipping_live_build(conn)
    if live is None or live == name:
        return []
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT n.topic, n.partition, n.message_offset, l.replayed_by, l.replay_audit_id"
        f' FROM "{live}".projection_dead_letters l'
        f' JOIN "{name}".projection_dead_letters n ON (n.event_id = l.event_id'
        " OR (n.topic, n.partition, n.message_offset) = (l.topic, l.partition, l.message_offset))"
        " WHERE l.skipped AND n.replayed_at IS NULL"
        " ORDER BY n.topic, n.partition, n.message_offset"
    )
    return rows


async def copy_skipped(conn: asyncpg.Connection, name: str) -> None:
    """The dead letters an operator skipped in the live build (never to be applied: bad data
    a later event corrected), recorded as skipped in the new build `name` under its consumer
    name. Its runner passes each over again without dead-lettering it or holding its stream
    (`ProjectionRunner._pass_over`): without them a rebuild would hold those children's later
    events again, and its swap take them off the boards."""
    live = await _skipping_live_build(conn)
    if live is None:
        return
    await conn.execute(
        f'INSERT INTO "{name}".projection_dead_letters (consumer, topic, partition,'
        " message_offset, event_id, event_type, stream_id, stream_version, reason,"
        " dead_lettered_at, replayed_at, replayed_by, replay_audit_id, holds_stream, skipped)"
        " SELECT left(consumer, -length($1::text)) || $2::text, topic, partition,"
        " message_offset, event_id, event_type, stream_id, stream_version, reason,"
        " dead_lettered_at, replayed_at, replayed_by, replay_audit_id, holds_stream, skipped"
        f' FROM "{live}".projection_dead_letters WHERE skipped',
        live,
        name,
    )


# Indexes a build can do without while it is filled: neither unique nor behind a constraint
# (those keep the projections' upserts and the exactly-once ledger honest), so nothing the
# rebuild writes depends on them, and building each once at the end is cheaper than keeping
# it up to date row by row.
SECONDARY_INDEXES = """
SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE n.nspname = $1 AND NOT x.indisunique AND NOT x.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
ORDER BY i.relname
"""


async def set_aside_indexes(pool: asyncpg.Pool, name: str) -> list[str]:
    """Drop the secondary indexes of a build about to be filled from offset 0; return their
    definitions, for `make_indexes` once it is full."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(SECONDARY_INDEXES, name)
        for row in rows:
            await conn.execute(f'DROP INDEX "{name}"."{row["name"]}"')
    return [row["definition"] for row in rows]


async def make_indexes(pool: asyncpg.Pool, name: str, definitions: list[str]) -> None:
    """Build the indexes `set_aside_indexes` took away (each in one sort of the full table),
    and gather the planner's statistics of every table of the build before it is swapped in."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for definition in definitions:
                await conn.execute(definition)  # schema-qualified by pg_get_indexdef
        tables = await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname",
            name,
        )
        for table in tables:
            await conn.execute(f'ANALYZE "{name}"."{table["relname"]}"')


async def migrate_build(conn: asyncpg.Connection) -> list[str]:
    """Apply to the build in the search path the read-model scripts it has not had; return
    their names. Call in a transaction: the scripts and their record commit together."""
    if await conn.fetchval("SELECT to_regclass('build_migrations') IS NULL"):
        await conn.execute(
            "CREATE TABLE build_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        had = [
            name
            for name, table in UNRECORDED.items()
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
        ]
        await conn.executemany(
            "INSERT INTO build_migrations (name) VALUES ($1)", [(name,) for name in had]
        )
    done = {r["name"] for r in await conn.fetch("SELECT name FROM build_migrations")}
    applied: list[str] = []
    for script in scripts_in(PROJECTION_SQL, READ_MODEL_SQL):
        name = script.resolve().relative_to(ROOT).as_posix()
        if name not in done:
            await conn.execute(script.read_text())
            await conn.execute("INSERT INTO build_migrations (name) VALUES ($1)", name)
            applied.append(name)
    return applied


async def _bring_up_to_date(conn: asyncpg.Connection, name: str) -> None:
    """A build made by an earlier release gets the read-model scripts added since, so the
    code reading it finds the columns it expects without waiting for a rebuild."""
    async with conn.transaction():
        await conn.execute(f'SET LOCAL search_path TO "{name}"')
        applied = await migrate_build(conn)
    if applied:
        log.info("build migrated", build=name, migrations=applied)


async def live_build(db: asyncpg.Pool | asyncpg.Connection) -> str | None:
    name: str | None = await db.fetchval("SELECT schema_name FROM board_builds WHERE live")
    return name


async def ensure_live_build(pool: asyncpg.Pool) -> str:
    """The live build, migrated to the current read-model scripts; the first worker to start
    creates it. Workers starting together take turns on an advisory lock, so exactly one
    creates (or migrates) it and the others find it."""
    async with pool.acquire() as conn, _builds_lock(conn):
        name = await live_build(conn)
        if name is None:
            name = await create_build(pool)
            await swap(pool, name)
        else:
            await _bring_up_to_date(conn, name)
        return name


@asynccontextmanager
async def _builds_lock(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """The builds' advisory lock, on `conn`'s session, let go of at the end. Where the end is
    an error or a cancellation (the wait for the lock timed out under the pool's command
    timeout, or the worker stopped, as the lock was granted), the session is ended instead,
    and the lock with it: the pool's connections are not reset (`shared/db.py`), and a lock
    left on one would hold every other worker's start."""
    done = False
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext('board_builds'))")
        yield
        await conn.execute("SELECT pg_advisory_unlock(hashtext('board_builds'))")
        done = True
    finally:
        if not done:
            conn.terminate()


# The partitions a build has read less of than another (`ahead`): its stored offset short of
# the other's, or none stored.
BEHIND = """
SELECT count(*) FROM (
    SELECT topic, partition, max(next_offset) AS next_offset
    FROM "{ahead}".projection_offsets GROUP BY topic, partition
) AS a
LEFT JOIN (
    SELECT topic, partition, max(next_offset) AS next_offset
    FROM "{build}".projection_offsets GROUP BY topic, partition
) AS b USING (topic, partition)
WHERE coalesce(b.next_offset, 0) < a.next_offset
"""


class NotCaughtUp(Exception):
    """The build has not yet read everything the live build has: not swapped in."""


class SkipsToCarry(NotCaughtUp):
    """Dead letters skipped in the live build are not yet skipped in the build (`carry_skips`):
    not swapped in, or its boards would lose the events the live build applied behind them."""


async def swap(pool: asyncpg.Pool, name: str, caught_up: bool = False) -> str | None:
    """Make `name` the live build; return the build it replaced (kept), drop older ones.
    `caught_up`: only if `name` has read at least every message the live build has, on every
    partition, and skipped every dead letter skipped in it (else NotCaughtUp, nothing
    changed): the boards then never go back in time at the swap. The live build's offsets
    are locked while they are compared and the builds swapped, so the live worker's next
    batch commits after the swap, into the build no longer live, and nothing the boards
    showed is missing from the new one."""
    async with pool.acquire() as conn, conn.transaction():
        previous = await live_build(conn)
        if caught_up and previous is not None:
            # In the order a batch locks its own (`LOCK_OFFSETS`): neither waits on the other.
            await conn.execute(
                f'SELECT 1 FROM "{previous}".projection_offsets'
                " ORDER BY consumer, topic, partition FOR UPDATE"
            )
            behind = await conn.fetchval(BEHIND.format(ahead=previous, build=name))
            if behind:
                raise NotCaughtUp(f"{name} is behind {previous} on {behind} partitions")
            # A skip in the live build locks its topic's offsets rows too: none can commit
            # unseen between this and the swap.
            to_carry = await skipped_since(conn, name)
            if to_carry:
                raise SkipsToCarry(
                    f"{len(to_carry)} dead letters skipped in {previous} are not yet in {name}"
                )
        await conn.execute("UPDATE board_builds SET live = false WHERE live")
        await conn.execute("UPDATE board_builds SET live = true WHERE schema_name = $1", name)
        stale = await conn.fetch(
            "SELECT schema_name FROM board_builds WHERE schema_name <> ALL($1::text[])"
            " AND NOT live",
            [n for n in (name, previous) if n],
        )
        for row in stale:
            await _drop(conn, row["schema_name"])
    return previous


async def drop_build(pool: asyncpg.Pool, name: str) -> None:
    """Drop a build that is not live (one made to compare with)."""
    async with pool.acquire() as conn, conn.transaction():
        if await live_build(conn) == name:
            raise ValueError(f"{name} is the live build")
        await _drop(conn, name)


async def _drop(conn: asyncpg.Connection, name: str) -> None:
    await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    await conn.execute("DELETE FROM board_builds WHERE schema_name = $1", name)


# What two builds of the same events need not share: the bookkeeping of how each was filled
# (offsets, streams' versions, the ledger, its migrations), the kept board totals (a cache of
# the days a page asked for, which a new build keeps only once asked: `kept.py`), the returns'
# queue of children to check (a rebuild's touches are swept by design, `Chronology`) and the
# checker's own state (written by the returns' checker, not from the events), and when a row
# was written.
NOT_COMPARED = (
    "board_days",
    "board_totals",
    "build_migrations",
    "projection_offsets",
    "projection_streams",
    "projection_applied",
    "projection_dead_letters",
    "projection_held",
    "returns_touched",
    "returns_issues",
    "returns_quality_state",
)
_COMPARED_COLUMNS = """
SELECT c.table_name AS name,
       array_agg(quote_ident(c.column_name::text) ORDER BY c.ordinal_position) AS columns
FROM information_schema.columns c
JOIN information_schema.tables t USING (table_schema, table_name)
WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'
  AND c.table_name <> ALL($2::text[])
  AND coalesce(c.column_default, '') NOT LIKE 'now()%'
GROUP BY c.table_name ORDER BY c.table_name
"""


async def differences(
    conn: asyncpg.Connection, one: str, other: str, leave_out: tuple[str, ...] = ()
) -> dict[str, int]:
    """Every read-model table of build `one` (but those in `leave_out`) against `other`'s:
    the rows of each that the other lacks, counted with `EXCEPT ALL` both ways (a row twice
    in one and once in the other differs once). Zero everywhere: the two builds hold the same
    read model."""
    tables = await conn.fetch(_COMPARED_COLUMNS, one, [*NOT_COMPARED, *leave_out])
    counts: dict[str, int] = {}
    for table in tables:
        columns = ", ".join(table["columns"])
        a, b = f'"{one}".{table["name"]}', f'"{other}".{table["name"]}'
        counts[table["name"]] = await conn.fetchval(
            f"SELECT count(*) FROM ((SELECT {columns} FROM {a} EXCEPT ALL"
            f" SELECT {columns} FROM {b}) UNION ALL (SELECT {columns} FROM {b}"
            f" EXCEPT ALL SELECT {columns} FROM {a})) AS d"
        )
    return counts


@asynccontextmanager
async def reading(
    pool: asyncpg.Pool, schema: str | None = None, one_snapshot: bool = False
) -> AsyncIterator[asyncpg.Connection]:
    """A read-only transaction in the live build (or the one named). `one_snapshot`: every
    statement sees the same snapshot (repeatable read), for a read of several statements that
    must agree (a board's county and each locality: a batch dropping a kept day between them,
    `kept.TotalsMover`, left a sheet without its localities). Not for every read: a read that
    waits for a change inside one transaction would never see it."""
    isolation = "repeatable_read" if one_snapshot else None
    async with pool.acquire() as conn, conn.transaction(isolation=isolation, readonly=True):
        name = schema or await live_build(conn)
        if name is None:
            raise LookupError("no board build yet: is the projections worker running?")
        await conn.execute(f'SET LOCAL search_path TO "{name}", public')
        yield conn

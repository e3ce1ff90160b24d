"""A bare read model for tests of its queries: a new database with one schema holding the
tables of the read-model scripts named, in the connection's search path (no worker, no build
in `board_builds`); or a new projections database with a live build, as the API reads it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from services.projections.builds import BUILDS_SQL, READ_MODEL_SQL, ensure_live_build
from shared.db import open_database
from shared.migrations import ensure_database
from tests.conftest import settings_for
from tests.infrastructure import Infrastructure


async def read_model(infra: Infrastructure, database: str, *scripts: str) -> asyncpg.Connection:
    """A connection to `database` (created), in a schema made by `scripts` (file names in
    services/projections/sql), with one child registered: C1, North, born 1 January 2015."""
    await ensure_database(infra.dsn("postgres"), database)
    conn = await asyncpg.connect(infra.dsn(database))
    await conn.execute('CREATE SCHEMA "boards_test"; SET search_path TO "boards_test"')
    for script in scripts:
        await conn.execute((READ_MODEL_SQL / script).read_text())
    await conn.execute("INSERT INTO children VALUES ('C1', 'North', '2015-01-01')")
    return conn


@asynccontextmanager
async def live_build(
    infra: Infrastructure, database: str
) -> AsyncIterator[tuple[asyncpg.Pool, str]]:
    """A pool on a new projections database with a live build (its schema named), with one
    child registered: C1, North, born 1 January 2015."""
    pool = await open_database(settings_for(infra, "projections", database), BUILDS_SQL)
    try:
        schema = await ensure_live_build(pool)
        await pool.execute(
            f"INSERT INTO \"{schema}\".children VALUES ('C1', 'North', '2015-01-01')"
        )
        yield pool, schema
    finally:
        await pool.close()

"""A bare read model for tests of its queries: a new database with one schema holding the
tables of the read-model scripts named, in the connection's search path (no worker, no build
in `board_builds`)."""

from __future__ import annotations

import asyncpg

from services.projections.builds import READ_MODEL_SQL
from shared.migrations import ensure_database
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

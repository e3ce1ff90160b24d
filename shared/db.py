"""Connecting to a service's database: wait for the server, create the database, migrate."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg

from shared.logging import get_logger
from shared.migrations import (
    PROVISION,
    DatabaseNotProvisionedError,
    ensure_database,
    migrate,
    scripts_in,
)
from shared.settings import Settings

log = get_logger(__name__)


async def wait_for_postgres(settings: Settings, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn = await asyncpg.connect(settings.dsn("postgres"), timeout=5)
            await conn.close()
            return
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL not reachable: {error!r}") from error
            log.info("waiting for PostgreSQL", error=repr(error))
            await asyncio.sleep(1.0)


async def _session_left_as_it_was(conn: asyncpg.Connection) -> None:
    """A connection goes back to the pool without asyncpg's reset query (advisory unlock
    all, CLOSE ALL, UNLISTEN *, RESET ALL): one round trip per release, which measured 38%
    of the rate of single-event appends (docs/performance.md). The platform keeps no session
    state on pooled connections: settings are SET LOCAL, and the advisory locks and listeners
    it takes are released where they are taken (`tests/unit/test_pooled_sessions.py` checks
    the code for anything else). asyncpg still rolls back a transaction left open."""


async def open_database(settings: Settings, *migration_folders: Path) -> asyncpg.Pool:
    """A pool on the service's own database, created and migrated if need be (a superuser's
    start, in the integration tests); as a service's runtime role, which may create nothing,
    DatabaseNotProvisionedError when the database or a migration is missing."""
    await wait_for_postgres(settings)
    await ensure_database(settings.dsn("postgres"), settings.database)
    try:
        pool = await asyncpg.create_pool(
            settings.dsn(),
            min_size=1,
            max_size=settings.postgres_pool_max,
            command_timeout=60,
            reset=_session_left_as_it_was,
        )
    except asyncpg.InsufficientPrivilegeError as error:  # no CONNECT on the database
        raise DatabaseNotProvisionedError(
            f"{settings.postgres_user} may not connect to {settings.database}: {PROVISION}"
        ) from error
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            await migrate(conn, scripts_in(*migration_folders))
    except BaseException:
        await pool.close()
        raise
    return pool

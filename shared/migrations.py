"""Apply a service's SQL migrations, in file-name order, once each.

Plain SQL files kept beside the code that needs them; each is applied in its own transaction
and recorded in `schema_migrations`. An advisory lock makes concurrent starters (a service's
API and its relay start together) take turns. Creating the database is included, so a
service can start against an empty PostgreSQL server as a superuser (the integration tests).

Deployed, a service connects as its runtime role, which may not create or alter anything
(deploy/database.py provisions the databases and applies the migrations as each service's
owner role): then nothing is pending and no DDL is attempted; if something is, the start
fails with DatabaseNotProvisionedError, which says what to run.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import asyncpg

from shared.logging import get_logger

log = get_logger(__name__)

ROOT = Path(__file__).resolve().parent.parent
EVENT_STORE_SQL = Path(__file__).parent / "sql" / "event_store"
PROJECTION_SQL = Path(__file__).parent / "sql" / "projection"
# The horizon a reader of commit order reads below (this database's oldest transaction in
# flight), for a database that reads its own table that way without an event store.
HORIZON_SQL = EVENT_STORE_SQL / "005_this_databases_horizon.sql"
_LOCK_ID = 7_240_001  # any constant: serialises migration runs in one database
PROVISION = "run `python -m deploy.database provision` with the administrator's credentials"


class DatabaseNotProvisionedError(RuntimeError):
    """The database, or a migration it needs, is missing and this role may not make it."""


async def ensure_database(admin_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{database}"')
                log.info("database created", database=database)
            except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                pass  # created by a concurrent starter
            except asyncpg.InsufficientPrivilegeError as error:
                raise DatabaseNotProvisionedError(
                    f"database {database} not provisioned: {PROVISION}"
                ) from error
    finally:
        await conn.close()


async def migrate(conn: asyncpg.Connection, scripts: Iterable[Path]) -> list[str]:
    """Apply each script not yet applied; return the names applied now. A role that may not
    create in the schema (a service's runtime role) gets DatabaseNotProvisionedError if anything
    is pending, before any DDL is tried."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
    try:
        pending = await _pending(conn, scripts)
        if pending and not await conn.fetchval(
            "SELECT has_schema_privilege(current_schema(), 'CREATE')"
        ):
            raise DatabaseNotProvisionedError(
                f"database {await conn.fetchval('SELECT current_database()')} not provisioned "
                f"({len(pending)} migration(s) pending, first {pending[0][1]}): {PROVISION}"
            )
        for script, name in pending:
            async with conn.transaction():
                await conn.execute(script.read_text())
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            applied_now.append(name)
            log.info("migration applied", migration=name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
    return applied_now


async def _pending(conn: asyncpg.Connection, scripts: Iterable[Path]) -> list[tuple[Path, str]]:
    """The scripts not recorded in schema_migrations, with their names. The table is created
    only if it is missing (to_regclass first: CREATE TABLE IF NOT EXISTS needs the CREATE
    privilege even when the table is there); without it every script is pending."""
    named = [(script, script.resolve().relative_to(ROOT).as_posix()) for script in scripts]
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        if not await conn.fetchval("SELECT has_schema_privilege(current_schema(), 'CREATE')"):
            return named
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
    done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
    return [(script, name) for script, name in named if name not in done]


def scripts_in(*places: Path) -> list[Path]:
    """The scripts of each folder in file-name order; a script named on its own, as it is."""
    return [
        path
        for place in places
        for path in ([place] if place.is_file() else sorted(place.glob("*.sql")))
    ]

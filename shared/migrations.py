"""Apply a service's SQL migrations, in file-name order, once each.

Plain SQL files kept beside the code that needs them; each is applied in its own transaction
and recorded in `schema_migrations`. An advisory lock makes concurrent starters (a service's
API and its relay start together) take turns. Creating the database is included, so a
service can start against an empty PostgreSQL server.
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
_LOCK_ID = 7_240_001  # any constant: serialises migration runs in one database


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
    finally:
        await conn.close()


async def migrate(conn: asyncpg.Connection, scripts: Iterable[Path]) -> list[str]:
    """Apply each script not yet applied; return the names applied now."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for script in scripts:
            name = script.resolve().relative_to(ROOT).as_posix()
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(script.read_text())
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            applied_now.append(name)
            log.info("migration applied", migration=name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
    return applied_now


def scripts_in(*folders: Path) -> list[Path]:
    return [path for folder in folders for path in sorted(folder.glob("*.sql"))]

"""The permission matrix, extended to the database: each service's runtime role, as
deploy/database.py provisions it, against every database of the platform.

Each runtime role is refused every other service's database (CONNECT, or, in the audit's
database it shares, every table but the access audit), UPDATE, DELETE and TRUNCATE on its own
append-only tables and on the audit, DISABLE TRIGGER on them, creating tables, and SET ROLE
to its owner; and it can still do its work (append, find nothing to migrate). The e2e tests,
which run every process as its runtime role, show the grants suffice for everything else.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from deploy.database import KEY_STORES, MIGRATIONS, SERVICES, SUBJECT_ACCESS, Roles, provision
from shared.db import open_database
from shared.migrations import EVENT_STORE_SQL, DatabaseNotProvisionedError
from shared.settings import Settings
from tests.infrastructure import Infrastructure

pytestmark = [pytest.mark.integration]

# And access_log, in the audit's database.
APPEND_ONLY = {"events", "commands", "shares", "partner_feed"}
REFUSED = asyncpg.InsufficientPrivilegeError


def admin_settings(infra: Infrastructure, namespace: str, **update: Any) -> Settings:
    return Settings(
        namespace=namespace,
        postgres_host=infra.postgres_host,
        postgres_port=infra.postgres_port,
        postgres_user=infra.postgres_user,
        postgres_password=infra.postgres_password,
        **update,
    )


@pytest.fixture(scope="module")
async def provisioned(infra: Infrastructure) -> AsyncIterator[tuple[Settings, dict[str, str]]]:
    namespace = f"r{secrets.token_hex(5)}_"
    passwords = {name: secrets.token_urlsafe(18) for name in [*SERVICES, SUBJECT_ACCESS]}
    admin = admin_settings(infra, namespace)
    await provision(admin, passwords)
    yield admin, passwords


def runtime(admin: Settings, passwords: dict[str, str], service: str) -> Settings:
    return admin.model_copy(
        update={
            "service": service,
            "postgres_user": Roles(admin.namespace).runtime(service),
            "postgres_password": SecretStr(passwords[service]),
        }
    )


async def refused(conn: asyncpg.Connection, sql: str) -> bool:
    try:
        async with conn.transaction():
            await conn.execute(sql)
    except REFUSED:
        return True
    return False


async def tables(conn: asyncpg.Connection) -> list[str]:
    return [
        r[0]
        for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]


async def test_a_second_run_changes_nothing(
    infra: Infrastructure, provisioned: tuple[Settings, dict[str, str]]
) -> None:
    admin, passwords = provisioned

    async def snapshot() -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        for service in SERVICES:
            conn = await asyncpg.connect(admin.dsn(f"{admin.namespace}{service}"))
            try:
                rows += [
                    (service, *r)
                    for r in await conn.fetch(
                        "SELECT c.relname, pg_get_userbyid(c.relowner), c.relacl::text"
                        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = 'public'"
                        " ORDER BY 1"
                    )
                ]
                rows += [
                    (service, *r)
                    for r in await conn.fetch(
                        "SELECT datname, pg_get_userbyid(datdba), datacl::text FROM pg_database"
                        " WHERE datname = current_database()"
                    )
                ]
            finally:
                await conn.close()
        return rows

    before = await snapshot()
    applied = await provision(admin, passwords)
    assert not any(applied.values()), applied
    assert await snapshot() == before


@pytest.mark.parametrize("service", SERVICES)
async def test_a_runtime_role_is_refused_every_other_database(
    service: str, provisioned: tuple[Settings, dict[str, str]]
) -> None:
    admin, passwords = provisioned
    me = runtime(admin, passwords, service)
    for other in SERVICES:
        database = f"{admin.namespace}{other}"
        if other == service:
            continue
        if database != admin.audit_db:
            with pytest.raises(REFUSED):
                await asyncpg.connect(me.dsn(database))
            continue
        conn = await asyncpg.connect(me.dsn(database))  # the audit is there: CONNECT it has
        try:
            for table in await tables(conn):
                if table not in ("access_log", "schema_migrations"):
                    assert await refused(conn, f"SELECT * FROM {table} LIMIT 1"), table
            assert await refused(conn, "SELECT * FROM access_log LIMIT 1")
        finally:
            await conn.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_a_runtime_role_cannot_rewrite_its_own_record_or_the_audit(
    service: str, provisioned: tuple[Settings, dict[str, str]]
) -> None:
    admin, passwords = provisioned
    me = runtime(admin, passwords, service)
    owner = Roles(admin.namespace).owner(service)
    for database in {me.database, admin.audit_db}:
        conn = await asyncpg.connect(me.dsn(database))
        try:
            present = set(await tables(conn))
            guarded = (APPEND_ONLY & present if database == me.database else set()) | (
                {"access_log"} if database == admin.audit_db else set()
            )
            for table in sorted(guarded):
                column = await first_column(conn, table)
                for sql in (
                    f"UPDATE {table} SET {column} = {column}",
                    f"DELETE FROM {table}",
                    f"TRUNCATE {table}",
                    f"ALTER TABLE {table} DISABLE TRIGGER ALL",
                    f"DROP TABLE {table}",
                ):
                    assert await refused(conn, sql), (service, sql)
            if database == me.database and "partner_feed_expired" in present:
                # Only retention's own function moves an agency's cut (a 410, never a gap).
                for sql in (
                    "UPDATE partner_feed_expired SET seq = 0",
                    "INSERT INTO partner_feed_expired (agency, transaction_id, seq)"
                    " VALUES ('police', '1', 0)",
                ):
                    assert await refused(conn, sql), (service, sql)
            assert await refused(conn, "CREATE TABLE planted (x int)")
            assert await refused(conn, f'SET ROLE "{owner}"')
            assert await refused(conn, f'SET ROLE "{Roles(admin.namespace).audit_owner}"')
        finally:
            await conn.close()


async def first_column(conn: asyncpg.Connection, table: str) -> str:
    name: str = await conn.fetchval(
        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0"
        " AND NOT attisdropped AND attidentity = '' ORDER BY attnum LIMIT 1",
        table,
    )
    return name


@pytest.mark.parametrize("service", SERVICES)
async def test_a_runtime_role_starts_without_ddl_and_does_its_work(
    service: str, provisioned: tuple[Settings, dict[str, str]]
) -> None:
    admin, passwords = provisioned
    me = runtime(admin, passwords, service)
    pool = await open_database(me, *MIGRATIONS[service])  # nothing pending, nothing created
    try:
        async with pool.acquire() as conn:
            if "events" in await tables(conn):  # a throwaway namespace: kept
                await conn.execute(
                    "INSERT INTO events (event_id, stream_id, stream_version, event_type,"
                    " schema_version, occurred_at, recorded_at, actor, correlation_id,"
                    " payload) VALUES (gen_random_uuid(), 'S-roles', 1, 'Checked', 1, now(),"
                    " now(), '{}', gen_random_uuid(), '{}')"
                )
                assert await conn.fetchval("SELECT count(*) FROM events") == 1
        audit = await asyncpg.connect(me.dsn(admin.audit_db))
        try:
            await audit.execute(
                "INSERT INTO access_log (audit_id, user_id, agency, role, service, action,"
                " request, child_ids, purpose) VALUES (gen_random_uuid(), 'roles-test',"
                " 'council', 'manager', $1, 'GET /x', '/x', ARRAY['C-roles'], 'test')",
                service,
            )
        finally:
            await audit.close()
    finally:
        await pool.close()


async def test_the_subject_access_reader_only_reads_events_keys_it_opens_and_the_audits(
    provisioned: tuple[Settings, dict[str, str]],
) -> None:
    admin, passwords = provisioned
    reader = admin.model_copy(
        update={
            "subject_access_user": Roles(admin.namespace).subject_access,
            "subject_access_password": SecretStr(passwords[SUBJECT_ACCESS]),
        }
    )
    for service in ("case_events", "accommodation", "education", "escalations", "quality"):
        conn = await asyncpg.connect(reader.subject_access_dsn(f"{admin.namespace}{service}"))
        try:
            await conn.fetch("SELECT * FROM events LIMIT 1")
            assert await refused(conn, "SELECT * FROM commands LIMIT 1")
            assert await refused(conn, "DELETE FROM events")
            if service == "case_events":  # the export's API has its own keys already
                assert await refused(conn, "SELECT * FROM child_keys LIMIT 1")
            elif service in KEY_STORES:  # another store's wrapped keys, to open its text
                await conn.fetch("SELECT * FROM child_keys LIMIT 1")
                assert await refused(conn, "DELETE FROM child_keys")
                assert await refused(conn, "UPDATE child_keys SET wrapped_key = NULL")
        finally:
            await conn.close()
    conn = await asyncpg.connect(reader.subject_access_dsn(admin.audit_db))
    try:
        await conn.fetch("SELECT * FROM access_log LIMIT 1")
        await conn.fetch("SELECT * FROM shares LIMIT 1")
        assert await refused(conn, "SELECT * FROM projection_offsets LIMIT 1")
    finally:
        await conn.close()
    with pytest.raises(REFUSED):
        await asyncpg.connect(reader.subject_access_dsn(f"{admin.namespace}projections"))


async def test_a_database_made_by_the_superuser_is_taken_over_keeping_its_migrations(
    infra: Infrastructure,
) -> None:
    namespace = f"r{secrets.token_hex(5)}_"
    admin = admin_settings(infra, namespace)
    old = await open_database(
        admin.model_copy(update={"service": "accommodation"}), *MIGRATIONS["accommodation"]
    )  # as before this change
    await old.close()
    passwords = {name: secrets.token_urlsafe(18) for name in [*SERVICES, SUBJECT_ACCESS]}
    applied = await provision(admin, passwords)
    assert applied[f"{namespace}accommodation"] == []
    conn = await asyncpg.connect(admin.dsn(f"{namespace}accommodation"))
    try:
        owners = {
            r[0]
            for r in await conn.fetch(
                "SELECT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
            )
        }
        assert owners == {Roles(namespace).owner("accommodation")}
        # A migration missing: the runtime role says what to run, and creates nothing.
        await conn.execute("DELETE FROM schema_migrations WHERE name LIKE '%known_children%'")
    finally:
        await conn.close()
    me = runtime(admin, passwords, "accommodation")
    with pytest.raises(DatabaseNotProvisionedError, match=r"deploy\.database provision"):
        await open_database(me, EVENT_STORE_SQL, *MIGRATIONS["accommodation"])

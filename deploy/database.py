"""PostgreSQL provisioning: one database, one owner role and one runtime role per service.

    python -m deploy.database provision   # as the administrator (CSP_POSTGRES_USER/PASSWORD)

Run with the administrator's credentials (the local stack's `csp` superuser, compose's
`postgres`), never by a service. For each service (names prefixed with CSP_NAMESPACE, as the
tests run many namespaces on one server):

- `csp_<service>_owner`, NOLOGIN: owns the database and every object in it; the migrations run
  as it (the administrator's session does SET ROLE to it). Nobody is a member of it.
- `csp_<service>`, LOGIN, with the password in CSP_POSTGRES_PASSWORD_<SERVICE>: what the
  service's processes connect as. Not a member of the owner, so it cannot ALTER, DISABLE
  TRIGGER, TRUNCATE or DROP anything; it has the DML its code runs, and on the append-only
  tables (events, commands, the share audit, the access audit) INSERT and SELECT only.
- the access audit (`access_log`, in Settings.audit_db) is owned by `csp_audit_owner`, which
  no service can become; every runtime role may INSERT there (and the partner feeds, which
  serve GET /audit, SELECT).
- `csp_subject_access`, LOGIN (CSP_POSTGRES_PASSWORD_SUBJECT_ACCESS), given to the case-events
  API only: SELECT on each domain store's `events` and on the two audits, for the subject
  access export; nothing else.

Idempotent: databases and roles are created when missing, ownership is re-assigned where it is
not as above (a database made before this step, owned by the superuser, keeps its recorded
migrations), pending migrations are applied, and each runtime role's table privileges are
replaced by exactly the ones below. Passwords are set on every run (re-run to rotate them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg

import services
from services.projections.builds import BUILDS_SQL
from shared.audit import AUDIT_SQL
from shared.db import wait_for_postgres
from shared.known_children import KNOWN_CHILDREN_SQL
from shared.migrations import EVENT_STORE_SQL, HORIZON_SQL, PROJECTION_SQL, migrate, scripts_in
from shared.reference_data import REFERENCE_DATA_SQL
from shared.settings import Settings

SERVICES_DIR = Path(services.__file__).parent
DOMAIN_STORES = ("case_events", "accommodation", "education", "escalations", "quality")
SERVICES = (*DOMAIN_STORES, "partner_feeds", "projections")
SUBJECT_ACCESS = "subject_access"
# The stores that keep subjects' keys in `child_keys` (shared/sealing.py).
KEY_STORES = ("case_events", "quality")

# The SQL folders each service's processes pass to open_database (API and worker together:
# shared/api.py domain_service_app, shared/worker.py service_worker_app, the composition roots).
MIGRATIONS: dict[str, list[Path]] = {
    "case_events": [EVENT_STORE_SQL, SERVICES_DIR / "case_events" / "sql"],
    "accommodation": [EVENT_STORE_SQL, PROJECTION_SQL, KNOWN_CHILDREN_SQL],
    "education": [
        EVENT_STORE_SQL,
        PROJECTION_SQL,
        KNOWN_CHILDREN_SQL,
        REFERENCE_DATA_SQL,
        SERVICES_DIR / "education" / "sql",
    ],
    "escalations": [
        EVENT_STORE_SQL,
        PROJECTION_SQL,
        KNOWN_CHILDREN_SQL,
        SERVICES_DIR / "escalations" / "sql",
    ],
    "quality": [
        EVENT_STORE_SQL,
        PROJECTION_SQL,
        KNOWN_CHILDREN_SQL,
        REFERENCE_DATA_SQL,
        SERVICES_DIR / "quality" / "sql",
    ],
    "partner_feeds": [PROJECTION_SQL, HORIZON_SQL, SERVICES_DIR / "partner_feeds" / "sql"],
    "projections": [BUILDS_SQL],
}
# Append-only: the event store, its idempotency keys and the two audits. INSERT and SELECT
# only, so their triggers are a second line, not the only one.
APPEND_ONLY = frozenset({"events", "commands", "shares", "partner_feed", "access_log"})
# The only table any code deletes from: swap() forgets the builds it drops.
DELETED_FROM = frozenset({"board_builds"})
# Objects of the audit migrations (shared/sql/audit): owned by the audit owner.
AUDIT_OBJECTS = frozenset({"access_log", "access_log_is_append_only"})
_LOCK_ID = 7_240_002  # serialises provisioning runs on one server (taken in `postgres`)


@dataclass(frozen=True)
class Roles:
    """The role names of one namespace."""

    namespace: str = ""

    def runtime(self, service: str) -> str:
        return f"{self.namespace}csp_{service}"

    def owner(self, service: str) -> str:
        return f"{self.namespace}csp_{service}_owner"

    @property
    def audit_owner(self) -> str:
        return f"{self.namespace}csp_audit_owner"

    @property
    def subject_access(self) -> str:
        return self.runtime(SUBJECT_ACCESS)


def password_variable(role: str) -> str:
    """The environment variable holding a login role's password (a service, subject_access)."""
    return f"CSP_POSTGRES_PASSWORD_{role.upper()}"


def passwords_from_environment() -> dict[str, str]:
    names = [*SERVICES, SUBJECT_ACCESS]
    missing = [password_variable(n) for n in names if not os.environ.get(password_variable(n))]
    if missing:
        raise SystemExit(f"set {', '.join(missing)} (one password per database role)")
    return {n: os.environ[password_variable(n)] for n in names}


async def _ddl(conn: asyncpg.Connection, template: str, *args: str) -> None:
    """Run a utility statement with identifiers and literals quoted by the server's format()
    (%I, %L, %s for text the server made): DDL takes no bind parameters."""
    params = "".join(f", ${i}::text" for i in range(2, len(args) + 2))
    await conn.execute(await conn.fetchval(f"SELECT format($1::text{params})", template, *args))


async def _ensure_role(conn: asyncpg.Connection, name: str, password: str | None) -> None:
    """A role with no powers beyond its grants: never superuser, CREATEDB, CREATEROLE,
    REPLICATION or BYPASSRLS, whatever it was before."""
    if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name):
        await _ddl(conn, "CREATE ROLE %I", name)
    attributes = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    if password is None:
        await _ddl(conn, f"ALTER ROLE %I {attributes} NOLOGIN PASSWORD NULL", name)
    else:
        await _ddl(conn, f"ALTER ROLE %I {attributes} LOGIN PASSWORD %L", name, password)


async def _ensure_database(conn: asyncpg.Connection, database: str, owner: str) -> None:
    """The database, owned by `owner` (in PostgreSQL 15 that makes it the owner of schema
    `public` too); no CONNECT or TEMP for PUBLIC: each role is granted CONNECT by name."""
    if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
        await _ddl(conn, "CREATE DATABASE %I OWNER %I", database, owner)
    await _ddl(conn, "ALTER DATABASE %I OWNER TO %I", database, owner)
    await _ddl(conn, "REVOKE ALL ON DATABASE %I FROM PUBLIC", database)


async def _take_ownership(
    conn: asyncpg.Connection, owner: str, audit_owner: str | None, builds_owner: str | None = None
) -> None:
    """Give every table, view and function of schema `public` to `owner` (the audit's to
    `audit_owner`), and every other schema of the database (the projections' board builds) to
    `builds_owner`. ALTER ... OWNER rather than REASSIGN OWNED: the local stack's superuser is
    the bootstrap role, whose objects REASSIGN refuses to move. Indexes and identity sequences
    follow their table."""
    await _ddl(conn, "ALTER SCHEMA public OWNER TO %I", owner)
    await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    if audit_owner:
        await _ddl(conn, "GRANT USAGE, CREATE ON SCHEMA public TO %I", audit_owner)
    rows = await conn.fetch(
        "SELECT n.nspname AS schema, c.relname AS name, 'TABLE' AS kind,"
        " pg_get_userbyid(c.relowner) AS current FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m')"
        " AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'"
        " UNION ALL SELECT n.nspname, p.oid::regprocedure::text, 'FUNCTION',"
        " pg_get_userbyid(p.proowner) FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'"
        " UNION ALL SELECT nspname, nspname, 'SCHEMA', pg_get_userbyid(nspowner)"
        " FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
        " AND nspname NOT IN ('information_schema', 'public')"
    )
    for row in rows:
        base = row["name"].split("(", 1)[0]
        if row["schema"] != "public":
            wanted = builds_owner or owner
        else:
            wanted = audit_owner if audit_owner and base in AUDIT_OBJECTS else owner
        if row["current"] != wanted:
            await _ddl(conn, *_ALTER_OWNER[row["kind"]](row["schema"], row["name"], wanted))


# ALTER ... OWNER TO, per kind of object: (format template, its arguments).
_ALTER_OWNER = {
    "TABLE": lambda schema, name, to: ("ALTER TABLE %I.%I OWNER TO %I", schema, name, to),
    "SCHEMA": lambda schema, name, to: ("ALTER SCHEMA %I OWNER TO %I", name, to),
    # regprocedure's text is the signature, quoted and qualified as needed: %s, not %I.
    "FUNCTION": lambda schema, name, to: ("ALTER FUNCTION %s OWNER TO %I", name, to),
}


async def _migrate_as(conn: asyncpg.Connection, role: str, folders: list[Path]) -> list[str]:
    """Apply the pending migrations as `role`: what they create is the role's."""
    await _ddl(conn, "SET ROLE %I", role)
    try:
        return await migrate(conn, scripts_in(*folders))
    finally:
        await conn.execute("RESET ROLE")


def _privileges(table: str) -> str:
    """What a service's runtime role may do to one table of its own database."""
    if table == "schema_migrations":
        return "SELECT"  # open_database checks that nothing is pending; the provisioner writes
    if table == "partner_feed_expired":
        # Where retention cut each agency's HTTP feed: written only by prune_partner_feed(),
        # which runs as the owner. A runtime role that lowered it would turn a cursor that
        # retention overtook into a silent gap instead of a 410.
        return "SELECT"
    if table in APPEND_ONLY:
        return "SELECT, INSERT"
    if table in DELETED_FROM:
        return "SELECT, INSERT, UPDATE, DELETE"
    # Read models, checkpoints, offsets, known_children, reference_data, child_keys (erasure
    # and key rotation update it), drift_watch...: upserts. Never DELETE, never TRUNCATE.
    return "SELECT, INSERT, UPDATE"


async def _table_grants(conn: asyncpg.Connection, runtime: str) -> None:
    """Replace the runtime role's privileges on each table of schema public by _privileges:
    REVOKE ALL then GRANT, so a second run leaves the same ACLs. The audit's table is granted
    separately (_audit_grants). USAGE on the sequences: nextval for identity columns."""
    await _ddl(conn, "GRANT USAGE ON SCHEMA public TO %I", runtime)
    for (table,) in await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    ):
        if table not in AUDIT_OBJECTS:
            await _set_table_privileges(conn, table, runtime, _privileges(table))
    await _ddl(conn, "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO %I", runtime)


async def _set_table_privileges(
    conn: asyncpg.Connection, table: str, role: str, privileges: str
) -> None:
    """Exactly `privileges` for `role` on the table: left alone when they are already the
    role's (a second run changes nothing, not even the ACL's order), else REVOKE ALL and
    GRANT (dropping anything granted by hand, TRUNCATE included)."""
    held = {
        r[0]
        for r in await conn.fetch(
            "SELECT a.privilege_type FROM pg_class c, aclexplode(c.relacl) a"
            " WHERE c.oid = $1::regclass AND a.grantee = $2::regrole",
            f"public.{table}",
            role,
        )
    }
    if held == set(privileges.split(", ")):
        return
    await _ddl(conn, "REVOKE ALL ON TABLE public.%I FROM %I", table, role)
    await _ddl(conn, "GRANT %s ON TABLE public.%I TO %I", privileges, table, role)


async def _service_extras(
    conn: asyncpg.Connection, service: str, database: str, runtime: str
) -> None:
    if service == "projections":
        # A rebuild creates a schema per build (services/projections/builds.py) and swap()
        # drops old ones: the runtime role may CREATE schemas in its own database, and owns
        # the builds it makes. Nothing there is append-only (every build is made again from
        # the topics); the pointer to the live build, in public, stays the owner's table.
        await _ddl(conn, "GRANT CREATE ON DATABASE %I TO %I", database, runtime)
    # Both keep subjects' keys (shared/sealing.py); the quality worker's erasure runs in its
    # subscription's transaction, without VACUUM (its own migration tunes autovacuum instead).
    if service in KEY_STORES and await conn.fetchval("SELECT to_regclass('child_keys')"):
        if int(await conn.fetchval("SHOW server_version_num")) >= 170000:
            # Erasure runs VACUUM child_keys so the destroyed key's old row version goes.
            await _ddl(conn, "GRANT MAINTAIN ON TABLE child_keys TO %I", runtime)
        else:
            # Before PostgreSQL 17 only the owner may VACUUM (the runtime role's VACUUM is
            # skipped with a warning): autovacuum then removes a single dead row within a
            # minute (autovacuum_naptime).
            await conn.execute(
                "ALTER TABLE child_keys SET (autovacuum_vacuum_threshold = 0,"
                " autovacuum_vacuum_scale_factor = 0)"
            )


async def _provision_service(admin: Settings, roles: Roles, service: str) -> list[str]:
    database, owner, runtime = (
        f"{admin.namespace}{service}",
        roles.owner(service),
        roles.runtime(service),
    )
    audit_owner = roles.audit_owner if database == admin.audit_db else None
    conn = await asyncpg.connect(admin.dsn(database))
    try:
        await _take_ownership(
            conn, owner, audit_owner, runtime if service == "projections" else None
        )
        applied = await _migrate_as(conn, owner, MIGRATIONS[service])
        await _ddl(conn, "GRANT CONNECT ON DATABASE %I TO %I", database, runtime)
        await _table_grants(conn, runtime)
        await _service_extras(conn, service, database, runtime)
    finally:
        await conn.close()
    return applied


async def _provision_audit(admin: Settings, roles: Roles) -> list[str]:
    """The access audit: migrated as its own owner; INSERT for every service (SELECT for the
    partner feeds, whose API serves GET /audit); nothing else of that database for them."""
    database = admin.audit_db
    conn = await asyncpg.connect(admin.dsn(database))
    try:
        if database not in {f"{admin.namespace}{s}" for s in SERVICES}:
            await _take_ownership(conn, roles.audit_owner, roles.audit_owner)
        elif await conn.fetchval("SELECT to_regclass('schema_migrations')"):
            await _ddl(conn, "GRANT SELECT, INSERT ON schema_migrations TO %I", roles.audit_owner)
        applied = await _migrate_as(conn, roles.audit_owner, [AUDIT_SQL])
        for service in SERVICES:
            runtime = roles.runtime(service)
            await _ddl(conn, "GRANT CONNECT ON DATABASE %I TO %I", database, runtime)
            await _ddl(conn, "GRANT USAGE ON SCHEMA public TO %I", runtime)
            await _ddl(conn, "GRANT SELECT ON schema_migrations TO %I", runtime)
            await _set_table_privileges(
                conn,
                "access_log",
                runtime,
                "SELECT, INSERT" if service == "partner_feeds" else "INSERT",
            )
    finally:
        await conn.close()
    return applied


async def _grant_subject_access(admin: Settings, roles: Roles) -> None:
    """The subject access export's reader: SELECT on each domain store's events and on the
    audits (shares, access_log), CONNECT to those databases; nothing else anywhere."""
    reader = roles.subject_access
    reads = {f"{admin.namespace}{s}": ["events"] for s in DOMAIN_STORES}
    reads.setdefault(admin.audit_db, []).append("access_log")
    reads.setdefault(f"{admin.namespace}partner_feeds", []).append("shares")
    # The other key stores' wrapped keys (never the key-encryption key, which only the
    # case-events API holds): the export opens the text those stores sealed with the child's key.
    for store in KEY_STORES:
        if store != "case_events":
            reads[f"{admin.namespace}{store}"].append("child_keys")
    for database, tables in reads.items():
        conn = await asyncpg.connect(admin.dsn(database))
        try:
            await _ddl(conn, "GRANT CONNECT ON DATABASE %I TO %I", database, reader)
            await _ddl(conn, "GRANT USAGE ON SCHEMA public TO %I", reader)
            for table in tables:
                await _ddl(conn, "GRANT SELECT ON TABLE public.%I TO %I", table, reader)
        finally:
            await conn.close()


async def provision(admin: Settings, passwords: Mapping[str, str]) -> dict[str, list[str]]:
    """Everything above, as the administrator in `admin` (its namespace and audit database);
    `passwords` has one per service and one for subject_access. Returns the migrations applied
    now, per database."""
    roles = Roles(admin.namespace)
    await wait_for_postgres(admin)
    conn = await asyncpg.connect(admin.dsn("postgres"))
    try:
        # One run at a time on a server (advisory locks are per database: all take it here).
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
        for service in SERVICES:
            await _ensure_role(conn, roles.owner(service), None)
            await _ensure_role(conn, roles.runtime(service), passwords[service])
        await _ensure_role(conn, roles.audit_owner, None)
        await _ensure_role(conn, roles.subject_access, passwords[SUBJECT_ACCESS])
        for service in SERVICES:
            await _ensure_database(conn, f"{admin.namespace}{service}", roles.owner(service))
        if admin.audit_db not in {f"{admin.namespace}{s}" for s in SERVICES}:
            await _ensure_database(conn, admin.audit_db, roles.audit_owner)
        applied = {
            f"{admin.namespace}{s}": await _provision_service(admin, roles, s) for s in SERVICES
        }
        applied[f"{admin.audit_db} (audit)"] = await _provision_audit(admin, roles)
        await _grant_subject_access(admin, roles)
    finally:
        try:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
        finally:
            await conn.close()
    return applied


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.database",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["provision"])
    parser.parse_args()
    admin = Settings()
    applied = asyncio.run(provision(admin, passwords_from_environment()))
    for database, names in applied.items():
        print(
            f"{database}: {len(names)} migration(s) applied{': ' if names else ''}"
            f"{', '.join(names)}"
        )


if __name__ == "__main__":
    main()

"""The access audit: every person-level read, written before the answer leaves the service.

Every API writes to one append-only table, `access_log`, in the audit database (by default
the partner feeds' database, where the share audit already is), so an auditor asks one
place: `GET /audit` of the partner feeds API. If the audit cannot be written the read is
refused (503): no audit, no answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from uuid6 import uuid7

from shared.auth import Principal, Role
from shared.db import open_database
from shared.settings import Settings

AUDIT_SQL = Path(__file__).parent / "sql" / "audit"
# Why, when the caller does not say (X-Purpose): the lawful purpose of the role.
DEFAULT_PURPOSE = {
    Role.INFORMATION_GOVERNANCE: "information governance (UK GDPR Articles 15 and 17)",
}
SAFEGUARDING = "safeguarding children (DPA 2018 Schedule 1 paragraph 18): {role}"


class AuditLog:
    def __init__(self, pool: asyncpg.Pool, service: str) -> None:
        self.pool, self.service = pool, service

    @classmethod
    async def open(cls, settings: Settings) -> AuditLog:
        audit_settings = settings.model_copy(
            update={"postgres_database": settings.audit_db, "postgres_pool_max": 4}
        )
        return cls(await open_database(audit_settings, AUDIT_SQL), settings.service)

    async def close(self) -> None:
        await self.pool.close()

    async def record(
        self,
        principal: Principal,
        action: str,
        request: str,
        child_ids: list[str],
        purpose: str | None = None,
    ) -> UUID:
        audit_id = uuid7()
        why = (
            purpose
            or DEFAULT_PURPOSE.get(principal.role)
            or SAFEGUARDING.format(role=principal.role)
        )[:500]
        await self.pool.execute(
            "INSERT INTO access_log (audit_id, user_id, agency, role, service, action, request,"
            " child_ids, purpose, token_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
            audit_id,
            principal.user_id,
            principal.agency.value,
            principal.role.value,
            self.service,
            action,
            request[:2000],
            sorted(set(child_ids)),
            why,
            principal.token_id,
        )
        return audit_id


async def query(
    pool: asyncpg.Pool,
    child_id: str | None,
    user_id: str | None,
    since: Any,
    until: Any,
    limit: int,
) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT audit_id, recorded_at, user_id, agency, role, service, action, request,"
        " child_ids, purpose FROM access_log"
        " WHERE ($1::text IS NULL OR child_ids @> ARRAY[$1::text])"
        " AND ($2::text IS NULL OR user_id = $2)"
        " AND ($3::timestamptz IS NULL OR recorded_at >= $3)"
        " AND ($4::timestamptz IS NULL OR recorded_at < $4)"
        " ORDER BY recorded_at, audit_id LIMIT $5",
        child_id,
        user_id,
        since,
        until,
        limit,
    )
    return [
        {**dict(r), "audit_id": str(r["audit_id"]), "recorded_at": r["recorded_at"].isoformat()}
        for r in rows
    ]

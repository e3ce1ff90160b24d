"""Information governance over the case-events record: the subject access export and the
retention report.

The export gathers everything the platform holds about one child: its events in each domain
service's store (personal fields unsealed, or shown as erased), what was shared with each
partner agency, and who read the child's record. The other services' stores are read
directly (the information-governance officer's export is the one place that reads them all),
in the same PostgreSQL cluster, as a role of their own: CSP_SUBJECT_ACCESS_USER
(csp_subject_access, deploy/database.py), which may SELECT the `events` of each domain store
and the two audits and nothing else, given to the case-events API only. Not through each
service's API: the export must hold everything, erased or not, and the APIs answer per
child and per purpose; a read-only role keeps one query per store and no new endpoint that
lists a child's whole record. Without that setting (a superuser's test run) the export reads
as the API's own role.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidTag

from services.case_events.domain.retention import retention
from services.case_events.personal import (
    FIRST_KEK_ID,
    PREFIX,
    KeyRing,
    KeyVault,
    unseal,
    unseal_details,
)
from shared.settings import Settings

DOMAIN_STORES = ("case_events", "accommodation", "education", "escalations", "quality")
# Stores that seal free text with a key of the child's own, kept in their own `child_keys`
# (wrapped with the key-encryption key this API holds): the export opens it.
OTHER_KEY_STORES = ("quality",)
NOT_THE_CHILDS = "[sealed with another subject's key]"
# Fields that may identify somebody other than the child: a reviewer decides before release.
THIRD_PARTY = {
    "actor": "the practitioner or partner who recorded it",
    "notes": "free text: may name family members, carers or professionals",
    "address": "may be a carer's or a family member's address",
    "quality text": "an audit's findings, an action's summary, a parent's comment, a review's "
    "learning: free text that may name family members, carers or professionals",
    "staff ids": "the auditor, moderator, practitioner or owner a quality record names",
}
# The fields of a quality record a reviewer decides on (THIRD_PARTY's last two).
QUALITY_REVIEW = (
    "findings",
    "summary",
    "comment",
    "learning",
    "auditor_id",
    "moderator_id",
    "practitioner_id",
    "owner_id",
)
# Stores whose streams are never a child's own (a record's id is not a child's id, even when
# it looks like one): only the events naming the child, and the streams they start, are its.
NO_CHILD_STREAMS = ("quality",)


def _jsonable(row: asyncpg.Record) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dict(row).items():
        if isinstance(value, str) and key in ("payload", "actor"):
            value = json.loads(value)
        elif isinstance(value, datetime | date):
            value = value.isoformat()
        elif value is not None and not isinstance(value, str | int | float | bool | list | dict):
            value = str(value)
        out[key] = value
    return out


async def _store_events(
    settings: Settings, service: str, child_id: str, ring: KeyRing | None = None
) -> list[dict[str, Any]]:
    database = f"{settings.namespace}{service}"
    try:
        conn = await asyncpg.connect(settings.subject_access_dsn(database))
    except asyncpg.InvalidCatalogNameError:
        return []  # that service has recorded nothing yet
    try:
        rows = await conn.fetch(
            "SELECT event_id, stream_id, stream_version, event_type, occurred_at, recorded_at,"
            " actor::text AS actor, payload::text AS payload FROM events"
            # The child's own streams, events naming it, streams whose first event names it
            # (an evaluation's actions), and the opening of each audit that sampled it.
            " WHERE ((stream_id = $1 AND $2) OR payload->>'child_id' = $1"
            " OR payload->'cases' ? $1"
            " OR stream_id IN (SELECT stream_id FROM events WHERE stream_version = 1"
            "   AND payload->>'child_id' = $1))"
            " ORDER BY recorded_at, stream_id, stream_version",
            child_id,
            service not in NO_CHILD_STREAMS,
        )
        wrapped = None
        if service in OTHER_KEY_STORES:
            wrapped = await conn.fetchrow(
                "SELECT wrapped_key, kek_id FROM child_keys WHERE child_id = $1", child_id
            )
    finally:
        await conn.close()
    events = [_sampled(_jsonable(r), child_id) for r in rows]
    if wrapped is not None and ring is not None:
        key = None
        if wrapped["wrapped_key"] is not None:
            key = ring.unwrap(wrapped["kek_id"] or FIRST_KEK_ID, child_id, wrapped["wrapped_key"])
        for event in events:
            event["payload"] = _opened(key, child_id, event["payload"])
    return events


def _opened(key: bytes | None, child_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Each field another store sealed with the child's key, opened (or ERASED); a field sealed
    with another subject's key is not opened, and says so."""
    opened = dict(payload)
    for field, value in payload.items():
        if isinstance(value, str) and value.startswith(PREFIX):
            try:
                opened[field] = unseal(key, child_id, field, value)
            except (InvalidTag, ValueError):
                opened[field] = NOT_THE_CHILDS
    return opened


def _sampled(event: dict[str, Any], child_id: str) -> dict[str, Any]:
    """An audit that sampled the child names only the child here: the other children it
    sampled are theirs, not this child's, to be given (how many there were stays)."""
    cases = event["payload"].get("cases")
    if not isinstance(cases, list):
        return event
    payload = {**event["payload"], "cases": [child_id], "other_cases_sampled": len(cases) - 1}
    return {**event, "payload": payload}


def _mark(service: str, event: dict[str, Any]) -> dict[str, Any]:
    review = ["actor"]
    if event["event_type"] == "PersonalDetailsRecorded":
        review += [f"payload.{f}" for f in ("notes", "address") if event["payload"].get(f)]
    if service == "quality":
        review += [f"payload.{f}" for f in QUALITY_REVIEW if event["payload"].get(f)]
    return {**event, "review": review}


async def _audits(
    settings: Settings, audit: asyncpg.Pool, child_id: str
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """The child's shares with partners and the reads of its record: as the subject access
    reader when there is one (the API's own role may only INSERT into the access audit),
    else on the API's audit pool."""
    reader: asyncpg.Connection | None = None
    if settings.subject_access_user:
        reader = await asyncpg.connect(settings.subject_access_dsn(settings.audit_db))
    db: asyncpg.Connection | asyncpg.Pool = reader or audit
    try:
        shares = await db.fetch(
            "SELECT agency, topic, subject, event_type, fields, purpose, shared_at FROM shares"
            " WHERE child_id = $1 ORDER BY shared_at",
            child_id,
        )
        reads = await db.fetch(
            "SELECT recorded_at, user_id, agency, role, service, action, purpose"
            " FROM access_log WHERE child_ids @> ARRAY[$1::text] ORDER BY recorded_at",
            child_id,
        )
    finally:
        if reader is not None:
            await reader.close()
    return shares, reads


async def subject_access_export(
    settings: Settings, vault: KeyVault, audit: asyncpg.Pool, child_id: str, requested_by: str
) -> dict[str, Any]:
    key = await vault.key(child_id)
    held: dict[str, list[dict[str, Any]]] = {}
    for service in DOMAIN_STORES:
        events = await _store_events(settings, service, child_id, vault.ring)
        for event in events:
            if event["event_type"] == "PersonalDetailsRecorded":
                event["payload"] = unseal_details(key, child_id, event["payload"])
        held[service] = [_mark(service, e) for e in events]
    shares, reads = await _audits(settings, audit, child_id)
    erased = await vault.pool.fetchval(
        "SELECT erased_at FROM child_keys WHERE child_id = $1 AND wrapped_key IS NULL", child_id
    )
    return {
        "child_id": child_id,
        "generated_at": datetime.now(UTC).isoformat(),
        "generated_by": requested_by,
        "personal_data_erased_at": erased.isoformat() if erased else None,
        "third_party_review": THIRD_PARTY,
        "held_by_service": held,
        "shared_with_partners": [_jsonable(r) for r in shares],
        "read_by": [{**_jsonable(r), "review": ["user_id"]} for r in reads],
    }


async def retention_report(pool: asyncpg.Pool, as_at: date) -> list[dict[str, Any]]:
    """Children whose record is past its retention date on `as_at` and not yet erased."""
    rows = await pool.fetch(
        "SELECT r.stream_id AS child_id, (r.payload->>'date_of_birth')::date AS dob,"
        " (SELECT min((a.payload->>'end_date')::date) FROM events a"
        "   WHERE a.stream_id = r.stream_id AND a.event_type = 'PeriodOfCareEnded'"
        "   AND a.payload->>'reason' IN ('E11', 'E12')) AS adopted_on,"
        " EXISTS (SELECT 1 FROM events x WHERE x.stream_id = r.stream_id"
        "   AND x.event_type = 'ChildPersonalDataErased') AS erased"
        # A child registered unborn has its date of birth from ChildBorn.
        " FROM events r WHERE r.event_type IN ('ChildRegistered', 'ChildBorn')"
    )
    due = []
    for row in rows:
        kept = retention(row["dob"], row["adopted_on"])
        if kept.keep_until <= as_at and not row["erased"]:
            due.append(
                {
                    "child_id": row["child_id"],
                    "keep_until": kept.keep_until.isoformat(),
                    "basis": kept.basis,
                }
            )
    return sorted(due, key=lambda r: (r["keep_until"], r["child_id"]))

"""The checker: what was acknowledged, stored, published and applied, compared after a run.

`check` is pure (evidence in, figures out) so it can be tested on its own; `gather` collects
the evidence from the real event store, the real topic and the projection's ledger
(`projection_applied`, written in the same transaction as the boards), and
`replay_differences` compares the live boards with a clean rebuild from offset 0.

An event is lost if it was acknowledged but is not in the store, or is in the store but never
reached the topic, or reached the topic but was never applied. An event applied twice leaves
two ledger rows: a duplicate applied.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from chaos.workload import Outcome
from services.projections.builds import differences
from services.projections.registry import rebuild
from shared.envelope import EventRegistry
from shared.settings import Settings
from tests.infrastructure import read_topic


@dataclass
class Evidence:
    acknowledged: list[tuple[str, str, int]]  # (idempotency key, stream id, stream version)
    commands: dict[str, tuple[str, int]]  # the store's idempotency table: key -> stream@version
    stored: dict[UUID, tuple[str, int]]  # event id -> (stream id, stream version)
    published: list[UUID]  # the event id of every record on the topic, duplicates included
    applied: list[UUID]  # the event id of every ledger row, duplicates included
    dead_lettered: int = 0
    poison_offered: int = 0


@dataclass
class Figures:
    scenario: str
    offered: int
    acknowledged: int
    stored: int
    published: int
    applied: int
    duplicates_published: int
    duplicates_applied: int
    lost: int
    dead_lettered: int
    recovery_s: float | None = None
    replay_differences: int | None = None  # rows that differ between the boards and a replay
    violations: int = 0  # other broken promises of the scenario (a 5xx, health not degraded)
    notes: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return (
            self.lost == 0
            and self.duplicates_applied == 0
            and not self.replay_differences
            and self.violations == 0
        )

    def line(self) -> str:
        recovery = "-" if self.recovery_s is None else f"{self.recovery_s:.1f}"
        replay = "-" if self.replay_differences is None else str(self.replay_differences)
        return (
            f"{self.scenario}: offered {self.offered}, acknowledged {self.acknowledged}, "
            f"stored {self.stored}, published {self.published}, applied {self.applied}, "
            f"duplicates published {self.duplicates_published}, duplicates applied "
            f"{self.duplicates_applied}, lost {self.lost}, dead-lettered "
            f"{self.dead_lettered}, recovery s {recovery}, replay differences {replay}, "
            f"other violations {self.violations}"
            f" -> {'OK' if self.holds else 'FAILED'}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "holds": self.holds}


def check(scenario: str, offered: int, evidence: Evidence) -> Figures:
    stored_versions = set(evidence.stored.values())
    published = Counter(evidence.published)
    applied = Counter(evidence.applied)
    notes: list[str] = []
    not_stored = [
        key
        for key, stream, version in evidence.acknowledged
        if (stream, version) not in stored_versions or key not in evidence.commands
    ]
    not_published = [e for e in evidence.stored if e not in published]
    not_applied = [e for e in evidence.stored if e in published and e not in applied]
    phantom = [e for e in applied if e not in evidence.stored]
    if not_stored:
        notes.append(f"acknowledged but not stored: {sorted(not_stored)[:5]}")
    if not_published:
        notes.append(f"stored but never published: {sorted(map(str, not_published))[:5]}")
    if not_applied:
        notes.append(f"published but never applied: {sorted(map(str, not_applied))[:5]}")
    if phantom:
        notes.append(f"applied but never stored: {sorted(map(str, phantom))[:5]}")
    if evidence.poison_offered and evidence.dead_lettered < evidence.poison_offered:
        notes.append(
            f"poison messages not dead-lettered: {evidence.poison_offered - evidence.dead_lettered}"
        )
    lost = (
        len(not_stored)
        + len(not_published)
        + len(not_applied)
        + max(0, evidence.poison_offered - evidence.dead_lettered)
    )
    return Figures(
        scenario=scenario,
        offered=offered,
        acknowledged=len(evidence.acknowledged),
        stored=len(evidence.stored),
        published=sum(1 for e in published if e in evidence.stored),
        applied=sum(1 for e in applied if e in evidence.stored),
        duplicates_published=sum(n - 1 for n in published.values()),
        duplicates_applied=sum(n - 1 for n in applied.values()) + len(phantom),
        lost=lost,
        dead_lettered=evidence.dead_lettered,
        notes=notes,
    )


# -- gathering the evidence from the real parts ------------------------------------------------


async def stored_events(dsn: str) -> tuple[dict[UUID, tuple[str, int]], dict[str, tuple[str, int]]]:
    conn = await asyncpg.connect(dsn)
    try:
        events = {
            r["event_id"]: (r["stream_id"], r["stream_version"])
            for r in await conn.fetch("SELECT event_id, stream_id, stream_version FROM events")
        }
        commands = {
            r["idempotency_key"]: (r["stream_id"], r["stream_version"])
            for r in await conn.fetch(
                "SELECT idempotency_key, stream_id, stream_version FROM commands"
            )
        }
    finally:
        await conn.close()
    return events, commands


async def published_events(bootstrap: str, topic: str) -> tuple[list[UUID], int]:
    """Event ids on the topic (records without a readable id header are counted apart)."""
    ids: list[UUID] = []
    unreadable = 0
    for record in await read_topic(bootstrap, topic, timeout_s=120):
        header = dict(record.headers or ()).get("event_id")
        try:
            ids.append(UUID(header.decode()))  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            unreadable += 1
    return ids, unreadable


async def dead_letters_from(
    bootstrap: str, dead_letter_topic: str, origin_topic: str
) -> list[dict[str, str]]:
    """The dead-lettered messages that came from `origin_topic`, with their origin headers."""
    found = []
    for record in await read_topic(bootstrap, dead_letter_topic, timeout_s=120):
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
        if headers.get("dlq_origin_topic") == origin_topic:
            found.append(headers)
    return found


async def applied_events(conn: asyncpg.Connection, schema: str) -> list[UUID]:
    return [
        r["event_id"]
        for r in await conn.fetch(f'SELECT event_id FROM "{schema}".projection_applied')
    ]


async def live_schema(conn: asyncpg.Connection) -> str:
    schema: str | None = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
    if schema is None:
        raise RuntimeError("no live board build")
    return schema


async def gather(
    outcome: Outcome,
    settings: Settings,
    case_events_dsn: str,
    projections_dsn: str,
    poison_offered: int = 0,
) -> Evidence:
    stored, commands = await stored_events(case_events_dsn)
    topic = settings.topic("case-events")
    published, _ = await published_events(settings.kafka_bootstrap_servers, topic)
    dead = await dead_letters_from(
        settings.kafka_bootstrap_servers, settings.topic("dead-letter"), topic
    )
    conn = await asyncpg.connect(projections_dsn)
    try:
        applied = await applied_events(conn, await live_schema(conn))
    finally:
        await conn.close()
    # A message dead-lettered twice (a crash between the dead-letter send and the offset
    # commit) is one message: count distinct origins.
    origins = {(d["dlq_origin_partition"], d["dlq_origin_offset"]) for d in dead}
    return Evidence(
        [(a.key, a.stream_id, a.stream_version) for a in outcome.acks],
        commands,
        stored,
        published,
        applied,
        len(origins),
        poison_offered,
    )


async def replay_differences(
    settings: Settings,
    projections_dsn: str,
    registry: EventRegistry | None = None,
    leave_out: tuple[str, ...] = (),
) -> tuple[dict[str, int], str]:
    """Rebuild the boards from offset 0 into a new schema (not swapped in) and count the rows
    that differ from the live build's, in each read-model table but those in `leave_out`
    (`differences`)."""
    replay = await rebuild(settings, swap_in=False, progress=False, registry=registry)
    conn = await asyncpg.connect(projections_dsn)
    try:
        counts = await differences(conn, await live_schema(conn), replay, leave_out)
    finally:
        await conn.close()
    return counts, replay

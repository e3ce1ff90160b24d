"""Reading what the returns are made from: every child's chronology as at a day."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date

import asyncpg

from services.projections.chronology.queries import end_of
from services.projections.returns.facts import ChildRecord, Fact


async def records(conn: asyncpg.Connection, as_at: date) -> list[ChildRecord]:
    """Every registered child's facts that had happened by the end of `as_at` and were
    recorded by then (as a chronology as at that day reads), oldest first; children in
    the order of their ids."""
    rows = await conn.fetch(
        "SELECT c.child_id, c.event_id, c.event_type, c.occurred_on, c.recorded_at, c.details"
        " FROM chronology c JOIN chronology_children k USING (child_id)"
        " WHERE c.occurred_on <= $1 AND c.recorded_at < $2"
        " ORDER BY c.child_id, c.occurred_on, c.recorded_at, c.stream_id, c.stream_version",
        as_at,
        end_of(as_at),
    )
    localities = dict(await conn.fetch("SELECT child_id, locality FROM chronology_children"))
    facts: dict[str, list[Fact]] = defaultdict(list)
    for r in rows:
        facts[r["child_id"]].append(
            Fact(
                event_id=r["event_id"],
                event_type=r["event_type"],
                occurred_on=r["occurred_on"],
                recorded_at=r["recorded_at"],
                details=json.loads(r["details"]),
            )
        )
    return [
        ChildRecord(child_id=child, locality=localities[child], facts=tuple(found))
        for child, found in sorted(facts.items())
        if child in localities
    ]

"""The projection that keeps the boards' read model: children, their facts, occurrences."""

from __future__ import annotations

import asyncpg

from services.case_events.events import ChildRegistered
from services.projections.boards.facts import Fact, board_changes
from shared.envelope import DomainEvent, Envelope


class BoardFacts:
    name = "board_facts"

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent
                    ) -> None:
        if isinstance(event, ChildRegistered):
            await conn.execute(
                "INSERT INTO children (child_id, locality, date_of_birth) VALUES ($1, $2, $3)"
                " ON CONFLICT (child_id) DO NOTHING",
                event.child_id, event.locality, event.date_of_birth)
        changes = board_changes(event)
        for change in changes:
            if isinstance(change, Fact):
                await conn.execute(
                    "INSERT INTO child_facts (attribute, child_id, valid_from, seq, value)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    change.attribute, envelope.stream_id, change.valid_from,
                    envelope.stream_version, change.value)
            else:
                await conn.execute(
                    "INSERT INTO occurrences (kind, subject_id, seq, day, a, b, n, m)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    change.kind, change.subject_id or envelope.stream_id,
                    envelope.stream_version, change.day, change.a, change.b, change.n,
                    change.m)
        if changes or isinstance(event, ChildRegistered):
            # Delivered at commit, once per distinct payload per transaction: the live feed.
            await conn.execute("SELECT pg_notify('boards_changed', $1)", envelope.event_type)

"""The projection that keeps the attention queue (sql/030_attention.sql): the items each event
opens, closes or makes due again (items.py), and the acknowledgements of them.

Like the boards' projection it buffers a batch's changes and writes them in `flush`, which the
runner calls in the batch's transaction before it stores the offsets: each event is applied
exactly once, in a live build and in a rebuild alike. The changes are written in the order the
events came (an item closed and opened again in one batch ends open), a run of one sort of
change in one statement. The same transaction notifies `attention_changed`, delivered at
commit: the live page's server-sent events (routes/live.py) follow it.
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from typing import Any
from uuid import UUID

import asyncpg

from contracts.escalations.codes import AttentionKind
from contracts.escalations.events import AttentionAcknowledged
from services.projections.attention.items import Change, Closed, Due, Opened, changes
from shared.clock import LONDON
from shared.envelope import DomainEvent, Envelope

CHANNEL = "attention_changed"

OPEN = (
    "INSERT INTO attention_items (item_id, kind, child_id, subject, detail, opened_on,"
    " opened_at, due_on)"
    " SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],"
    " $6::date[], $7::timestamptz[], $8::date[])"
    " ON CONFLICT (kind, child_id, subject) WHERE closed_at IS NULL DO NOTHING"
)
CLOSE = (
    "UPDATE attention_items i SET closed_on = u.closed_on, closed_at = u.closed_at"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::timestamptz[])"
    " AS u(kind, child_id, subject, closed_on, closed_at)"
    " WHERE i.kind = u.kind AND i.child_id = u.child_id"
    " AND (u.subject IS NULL OR i.subject = u.subject) AND i.closed_at IS NULL"
)
DUE = (
    "UPDATE attention_items i SET due_on = u.due_on"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::date[])"
    " AS u(kind, child_id, subject, due_on)"
    " WHERE i.kind = u.kind AND i.child_id = u.child_id AND i.subject = u.subject"
    " AND i.closed_at IS NULL"
)
ACKNOWLEDGE = (
    "INSERT INTO attention_acknowledgements AS a (item_id, seq, acknowledged_on,"
    " acknowledged_at, acknowledged_by, assigned_to)"
    " SELECT * FROM unnest($1::uuid[], $2::int[], $3::date[], $4::timestamptz[], $5::text[],"
    " $6::text[])"
    " ON CONFLICT (item_id) DO UPDATE SET seq = EXCLUDED.seq,"
    " acknowledged_on = EXCLUDED.acknowledged_on, acknowledged_at = EXCLUDED.acknowledged_at,"
    " acknowledged_by = EXCLUDED.acknowledged_by, assigned_to = EXCLUDED.assigned_to"
    " WHERE a.seq < EXCLUDED.seq"
)


class Attention:
    name = "attention"

    def __init__(self) -> None:
        # Each change with the event that made it: its id (an opened item's name) and time.
        self._changes: list[tuple[Change, UUID, datetime]] = []
        self._acknowledged: dict[UUID, tuple[Any, ...]] = {}

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        if isinstance(event, AttentionAcknowledged):
            item = UUID(event.item_id)
            earlier = self._acknowledged.get(item)
            if earlier is None or earlier[1] < envelope.stream_version:
                self._acknowledged[item] = (
                    item,
                    envelope.stream_version,
                    event.acknowledged_on,
                    envelope.recorded_at,
                    envelope.actor.user_id,
                    event.assigned_to,
                )
            return
        self._changes += [
            (change, envelope.event_id, envelope.recorded_at)
            for change in changes(envelope.stream_id, event)
        ]

    async def flush(self, conn: asyncpg.Connection) -> None:
        try:
            for sort, run in groupby(self._changes, key=lambda c: type(c[0])):
                await conn.execute(*_statement(sort, list(run)))
            if self._acknowledged:
                rows = list(self._acknowledged.values())
                await conn.execute(ACKNOWLEDGE, *(list(c) for c in zip(*rows, strict=True)))
            if self._acknowledged or any(_seen(c, at) for c, _, at in self._changes):
                await conn.execute("SELECT pg_notify($1, '')", CHANNEL)
        finally:
            self.discard()

    def discard(self) -> None:
        """Forget what was buffered (the batch's transaction is being rolled back)."""
        self._changes, self._acknowledged = [], {}


def _seen(change: Change, at: datetime) -> bool:
    """Whether the change may show on the queue now: not a CP plan starting (most plans),
    which is in the queue only from its ninth month. No page is asked to fetch the queue
    again for it. The day is London's, as the queue's (`at` is when it was recorded, UTC)."""
    return not (
        isinstance(change, Opened)
        and change.kind is AttentionKind.CP_PLAN_9_MONTHS
        and change.due_on is not None
        and change.due_on > at.astimezone(LONDON).date()
    )


def _statement(sort: type, run: list[tuple[Change, UUID, datetime]]) -> tuple[Any, ...]:
    """One statement for a run of one sort of change, with its columns."""
    rows: list[tuple[Any, ...]]
    if sort is Opened:
        rows = [
            (event_id, c.kind.value, c.child_id, c.subject, c.detail, c.opened_on, at, c.due_on)
            for c, event_id, at in run
            if isinstance(c, Opened)
        ]
        return (OPEN, *_columns(rows, 8))
    if sort is Closed:
        rows = [
            (c.kind.value, c.child_id, c.subject, c.closed_on, at)
            for c, _, at in run
            if isinstance(c, Closed)
        ]
        return (CLOSE, *_columns(rows, 5))
    rows = [
        (c.kind.value, c.child_id, c.subject, c.due_on) for c, _, _ in run if isinstance(c, Due)
    ]
    return (DUE, *_columns(rows, 4))


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]

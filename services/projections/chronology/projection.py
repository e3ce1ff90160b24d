"""The projection that keeps every child's chronology: a row per event (`chronology`), and
each child's locality (`chronology_children`) for the object-level check of its readers, and
which children a batch touched (`returns_touched`): the live data-quality board checks those
children's returns again (services/projections/returns/quality.py).

Like the boards' projection it buffers a batch's rows and writes them in `flush`, which the
runner calls in the batch's transaction before it stores the offsets: each event is applied
exactly once, in a live build and in a rebuild alike, and a child is marked touched in the
transaction that stores its facts (the checker never reads a touch before its facts).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import asyncpg

from services.projections.chronology.entries import (
    COLUMNS,
    entry,
    of_a_child,
    registered_locality,
)
from shared.envelope import DomainEvent, Envelope


class Chronology:
    name = "chronology"

    def __init__(self, swept: bool = False, touches: Collection[str] | None = None) -> None:
        # `touches`: the event types that mark their child for the returns' checker (the
        # registry gives those a return reads); None, every event.
        self._touches = None if touches is None else frozenset(touches)
        # A rebuild's touches are a sweep's: every child is touched again, and once the build
        # is swapped in, none of them should delay the children live events touch.
        self._swept = swept
        self._rows: list[tuple[Any, ...]] = []
        self._localities: dict[str, str] = {}
        self._touched: set[str] = set()

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        if not of_a_child(envelope, event):
            return  # a survey's, an audit's, the improvement plan's: no child's line
        line = entry(envelope, event)
        self._rows.append(line.record())
        if self._touches is None or line.event_type in self._touches:
            self._touched.add(line.child_id)
        locality = registered_locality(envelope, event)
        if locality is not None:
            # The last registration of the batch (an unborn child registered, then born).
            self._localities[envelope.stream_id] = locality

    async def flush(self, conn: asyncpg.Connection) -> None:
        try:
            if self._localities:
                # One statement for the batch; a child registered again takes the new one.
                await conn.execute(
                    "INSERT INTO chronology_children (child_id, locality)"
                    " SELECT * FROM unnest($1::text[], $2::text[])"
                    " ON CONFLICT (child_id) DO UPDATE SET locality = EXCLUDED.locality",
                    list(self._localities),
                    list(self._localities.values()),
                )
            if self._rows:
                await conn.copy_records_to_table(
                    "chronology", records=self._rows, columns=list(COLUMNS)
                )
            if self._touched:
                # In the order of the ids, as the checker locks them: two transactions
                # touching the same children never wait on each other in a cycle. A child
                # already waiting on an event keeps its place (touched_at); one the sweep
                # queued now waits on an event; either way with a new mark.
                await conn.execute(
                    "INSERT INTO returns_touched AS t (child_id, swept)"
                    " SELECT child_id, $2 FROM unnest($1::text[]) AS touched(child_id)"
                    " ON CONFLICT (child_id) DO UPDATE SET mark = EXCLUDED.mark,"
                    " swept = t.swept AND EXCLUDED.swept,"
                    " touched_at = CASE WHEN t.swept AND NOT EXCLUDED.swept"
                    " THEN EXCLUDED.touched_at ELSE t.touched_at END",
                    sorted(self._touched),
                    self._swept,
                )
        finally:
            self.discard()

    def discard(self) -> None:
        """Forget what was buffered (the batch's transaction is being rolled back)."""
        self._rows, self._localities, self._touched = [], {}, set()

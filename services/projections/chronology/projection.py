"""The projection that keeps every child's chronology: a row per event (`chronology`), and
each child's locality (`chronology_children`) for the object-level check of its readers.

Like the boards' projection it buffers a batch's rows and writes them in `flush`, which the
runner calls in the batch's transaction before it stores the offsets: each event is applied
exactly once, in a live build and in a rebuild alike.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from services.projections.chronology.entries import COLUMNS, entry, registered_locality
from shared.envelope import DomainEvent, Envelope


class Chronology:
    name = "chronology"

    def __init__(self) -> None:
        self._rows: list[tuple[Any, ...]] = []
        self._localities: dict[str, str] = {}

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        self._rows.append(entry(envelope, event).record())
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
        finally:
            self.discard()

    def discard(self) -> None:
        """Forget what was buffered (the batch's transaction is being rolled back)."""
        self._rows, self._localities = [], {}

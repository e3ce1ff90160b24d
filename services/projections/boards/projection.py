"""The projection that keeps the boards' read model: children, their facts, occurrences.

Rows are buffered while a batch is applied and written by `flush`, which the runner calls in
the same transaction before it stores the offsets: one round trip per table per batch instead
of one per fact. The same transaction moves the kept board totals (`kept.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import asyncpg

from contracts.case_events.events import ChildBorn, ChildRegistered, UnbornChildRegistered
from services.projections.boards.facts import (
    OCCURRENCE_DETAILS,
    Fact,
    board_changes,
    occurrence_details,
)
from services.projections.boards.kept import TotalsMover
from services.projections.boards.memo import CHANNEL, payload_of
from shared.envelope import DomainEvent, Envelope


class BoardFacts:
    name = "board_facts"

    def __init__(self, today: Callable[[], date], window: int) -> None:
        """`today` and `window`: the days before `today() - window` are the trends' month ends,
        which a batch drops rather than moves (`kept.TotalsMover`)."""
        self._children: list[tuple[Any, ...]] = []
        self._facts: list[tuple[Any, ...]] = []
        self._occurrences: list[tuple[Any, ...]] = []
        self._births: dict[str, date] = {}
        self._changed: set[str] = set()
        # The first day the batch changes (the boards as at it and after), or every day.
        self._first: date | None = date.max
        self._totals = TotalsMover(today, window)

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        self._register(envelope, event)
        for change in board_changes(event):
            self._changed.add(envelope.event_type)
            day = change.valid_from if isinstance(change, Fact) else change.day
            if self._first is not None:
                self._first = min(self._first, day)
            if isinstance(change, Fact):
                self._facts.append(
                    (
                        change.attribute,
                        envelope.stream_id,
                        change.valid_from,
                        envelope.stream_version,
                        change.value,
                    )
                )
            else:
                self._occurrences.append(
                    (
                        change.kind,
                        change.subject_id or envelope.stream_id,
                        envelope.stream_version,
                        change.day,
                        *occurrence_details(change),
                    )
                )

    def _register(self, envelope: Envelope, event: DomainEvent) -> None:
        """The population: a child registered (an unborn child with the expected date of
        birth), and the date of birth a birth sets (again if corrected)."""
        match event:
            case ChildRegistered():
                self._children.append((event.child_id, event.locality, event.date_of_birth))
            case UnbornChildRegistered():
                self._children.append(
                    (event.child_id, event.locality, event.expected_date_of_birth)
                )
            case ChildBorn():
                self._births[envelope.stream_id] = event.date_of_birth
            case _:
                return
        self._changed.add(envelope.event_type)
        self._first = None  # its age and locality count on every day

    async def flush(self, conn: asyncpg.Connection) -> None:
        try:
            # Before the rows are written: the totals move by each child's "after" (what is
            # stored, plus this batch) minus its "before" (what is stored).
            await self._totals.move(conn, self._children, self._facts, self._births)
            if self._children:
                # One statement for the batch (executemany would run one per child).
                await conn.execute(
                    "INSERT INTO children (child_id, locality, date_of_birth)"
                    " SELECT * FROM unnest($1::text[], $2::text[], $3::date[])"
                    " ON CONFLICT (child_id) DO NOTHING",
                    *(list(column) for column in zip(*self._children, strict=True)),
                )
            if self._births:
                # After the registrations: an unborn child registered in this batch is born.
                await conn.execute(
                    "UPDATE children c SET date_of_birth = b.born"
                    " FROM unnest($1::text[], $2::date[]) AS b(child_id, born)"
                    " WHERE c.child_id = b.child_id",
                    list(self._births),
                    list(self._births.values()),
                )
            if self._facts:
                await conn.copy_records_to_table(
                    "child_facts",
                    records=self._facts,
                    columns=["attribute", "child_id", "valid_from", "seq", "value"],
                )
            if self._occurrences:
                await conn.copy_records_to_table(
                    "occurrences",
                    records=self._occurrences,
                    columns=["kind", "subject_id", "seq", "day", *OCCURRENCE_DETAILS],
                )
            if self._changed:
                # Delivered at commit, in the order sent: the boards answered before from that
                # day on are forgotten (`memo.py`) before the live feed tells a page to ask
                # again, so its asking never meets an answer from before the change.
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload_of(self._first))
            for event_type in sorted(self._changed):
                await conn.execute("SELECT pg_notify('boards_changed', $1)", event_type)
        finally:
            self.discard()

    def discard(self) -> None:
        """Forget what was buffered (the batch's transaction is being rolled back)."""
        self._children, self._facts, self._occurrences = [], [], []
        self._births, self._changed = {}, set()
        self._first = date.max

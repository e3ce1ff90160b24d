"""Published with the contract: how another service keeps the children it may record about.

A service subscribes to `case-events` with `known_children_subscription()` in its worker, and
looks children up with `known_child()` in its API. The table lives in that service's own
database (`reference_sql/`).
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from services.case_events.events import ChildRegistered, case_event_types
from shared.aggregate import KnownChild
from shared.envelope import DomainEvent, Envelope
from shared.worker import Subscription

KNOWN_CHILDREN_SQL = Path(__file__).parent / "reference_sql"


class KnownChildren:
    name = "known_children"

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent
                    ) -> None:
        if isinstance(event, ChildRegistered):
            await conn.execute(
                "INSERT INTO known_children (child_id, date_of_birth, locality)"
                " VALUES ($1, $2, $3) ON CONFLICT (child_id) DO NOTHING",
                event.child_id, event.date_of_birth, event.locality)


def known_children_subscription() -> Subscription:
    return Subscription("known-children", ["case-events"], case_event_types, [KnownChildren()])


async def known_child(db: asyncpg.Pool | asyncpg.Connection, child_id: str) -> KnownChild | None:
    row = await db.fetchrow(
        "SELECT child_id, date_of_birth, locality FROM known_children WHERE child_id = $1",
        child_id)
    return KnownChild(**dict(row)) if row else None

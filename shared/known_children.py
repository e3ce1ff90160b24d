"""The children a service knows of: a read model every service but case events keeps in its
own database, from the child's registration on the case-events topic.

It lets a service answer 404 for a child it has never heard of and apply age rules, without
calling case events. The worker subscribes with `known_children_subscription()`; the API looks
a child up with `known_child()`. The registration events (a child's, an unborn child's), the
birth of a child registered unborn, and their topic are the published contract's, handed in by
the service's composition root: the kernel knows no service.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from pathlib import Path
from typing import Protocol

import asyncpg

from shared.aggregate import KnownChild
from shared.envelope import DomainEvent, Envelope, EventRegistry
from shared.worker import Subscription

KNOWN_CHILDREN_SQL = Path(__file__).parent / "sql" / "known_children"


class Registration(Protocol):
    child_id: str
    locality: str


def born_on(event: DomainEvent) -> date:
    """The registered child's date of birth; an unborn child's expected one until its birth is
    recorded, so that every age rule refuses what an unborn child cannot have (a placement, a
    school), and the child is known, in its locality, from its first pre-birth record."""
    born: date | None = getattr(event, "date_of_birth", None) or getattr(
        event, "expected_date_of_birth", None
    )
    if born is None:
        raise TypeError(f"{event.event_type} names no date of birth, expected or actual")
    return born


class KnownChildren:
    name = "known_children"

    def __init__(
        self, registered: Collection[type[DomainEvent]], born: type[DomainEvent] | None = None
    ) -> None:
        self.registered = tuple(registered)
        self.born = born

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        if isinstance(event, self.registered):
            child: Registration = event  # type: ignore[assignment]
            await conn.execute(
                "INSERT INTO known_children (child_id, date_of_birth, locality)"
                " VALUES ($1, $2, $3) ON CONFLICT (child_id) DO NOTHING",
                child.child_id,
                born_on(event),
                child.locality,
            )
        elif self.born is not None and isinstance(event, self.born):
            # The birth event belongs to the child's own stream: the stream is the child.
            await conn.execute(
                "UPDATE known_children SET date_of_birth = $2 WHERE child_id = $1",
                envelope.stream_id,
                born_on(event),
            )


def known_children_subscription(
    topic: str,
    registry: EventRegistry,
    registered: Collection[type[DomainEvent]],
    born: type[DomainEvent] | None = None,
) -> Subscription:
    return Subscription("known-children", [topic], registry, [KnownChildren(registered, born)])


async def known_child(db: asyncpg.Pool | asyncpg.Connection, child_id: str) -> KnownChild | None:
    row = await db.fetchrow(
        "SELECT child_id, date_of_birth, locality FROM known_children WHERE child_id = $1", child_id
    )
    return KnownChild(**dict(row)) if row else None

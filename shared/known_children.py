"""The children a service knows of: a read model every service but case events keeps in its
own database, from the child's registration on the case-events topic.

It lets a service answer 404 for a child it has never heard of and apply age rules, without
calling case events. The worker subscribes with `known_children_subscription()`; the API looks
a child up with `known_child()`. The registration event and its topic are the published
contract's, handed in by the service's composition root: the kernel knows no service.
"""

from __future__ import annotations

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
    date_of_birth: date
    locality: str


class KnownChildren:
    name = "known_children"

    def __init__(self, registered: type[DomainEvent]) -> None:
        self.registered = registered

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        if isinstance(event, self.registered):
            child: Registration = event  # type: ignore[assignment]
            await conn.execute(
                "INSERT INTO known_children (child_id, date_of_birth, locality)"
                " VALUES ($1, $2, $3) ON CONFLICT (child_id) DO NOTHING",
                child.child_id,
                child.date_of_birth,
                child.locality,
            )


def known_children_subscription(
    topic: str, registry: EventRegistry, registered: type[DomainEvent]
) -> Subscription:
    return Subscription("known-children", [topic], registry, [KnownChildren(registered)])


async def known_child(db: asyncpg.Pool | asyncpg.Connection, child_id: str) -> KnownChild | None:
    row = await db.fetchrow(
        "SELECT child_id, date_of_birth, locality FROM known_children WHERE child_id = $1", child_id
    )
    return KnownChild(**dict(row)) if row else None

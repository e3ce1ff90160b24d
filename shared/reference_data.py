"""The council's reference data as a service checks commands against it: a command field
marked `Referenced(kind)` (shared/commands.py) must name a current item of that kind, or the
command is refused with a 422 naming the field and listing the known ones, and nothing is
recorded.

The kernel's generated command endpoints (shared/routes.py) call `check_references` for
every command; a hand-written one calls it itself. How a service reads the data is its own
(`app.state.reference_data`, a `ReferenceLookup`): case events, which keeps it, reads its own
event store; another service keeps a copy from the case-events topic in `reference_data`
(`reference_data_subscription()` in its worker, `known_references` in its API), as it keeps
the children it knows of (shared/known_children.py). The change events are the published
contract's, handed in by the composition root: the kernel knows no contract.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Protocol

import asyncpg
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from shared.commands import referenced_fields, unknown_reference
from shared.envelope import DomainEvent, Envelope, EventRegistry
from shared.worker import Subscription

REFERENCE_DATA_SQL = Path(__file__).parent / "sql" / "reference_data"

# (the service's pool, a kind) -> every item of the kind ever added, with the day it was
# retired (None while current).
ReferenceLookup = Callable[[asyncpg.Pool, str], Awaitable[Mapping[str, date | None]]]


class ReferenceChange(Protocol):
    """An event that adds or retires an item: its kind, and the field that names the item;
    a retirement has `retired_on` too."""

    kind: ClassVar[str]
    key: ClassVar[str]


class ReferenceData:
    """The copy of the reference data, in the subscribing service's `reference_data` table.
    A retirement marks the item; adding it again makes it current again."""

    name = "reference_data"

    def __init__(self, change: type[DomainEvent]) -> None:
        self.change = change  # the base class of every change event

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        if isinstance(event, self.change):
            changed: ReferenceChange = event  # type: ignore[assignment]
            await conn.execute(
                "INSERT INTO reference_data (kind, item, retired_on) VALUES ($1, $2, $3)"
                " ON CONFLICT (kind, item) DO UPDATE SET retired_on = EXCLUDED.retired_on",
                changed.kind,
                str(getattr(event, changed.key)),
                getattr(event, "retired_on", None),
            )


def reference_data_subscription(
    topic: str,
    registry: EventRegistry,
    change: type[DomainEvent],
    streams: Callable[[str], bool],
) -> Subscription:
    """The worker's subscription that keeps the copy (its own consumer group: the copy can be
    rebuilt from offset 0 without touching the service's other read models). `streams` says
    which of the topic's streams are the lists' (the contract's): the children's records,
    nearly all of the topic, are passed over unread."""
    return Subscription("reference-data", [topic], registry, [ReferenceData(change)], streams)


async def known_references(
    db: asyncpg.Pool | asyncpg.Connection, kind: str
) -> dict[str, date | None]:
    """A `ReferenceLookup` on the copy."""
    rows = await db.fetch("SELECT item, retired_on FROM reference_data WHERE kind = $1", kind)
    return {r["item"]: r["retired_on"] for r in rows}


async def check_references(request: Request, command: BaseModel) -> None:
    """Refuse (422, every field at fault, nothing recorded) a command naming an item of the
    reference data that is not current: unknown, or retired. Each kind is read once."""
    fields = referenced_fields(type(command))
    if not fields:
        return
    lookup: ReferenceLookup | None = getattr(request.app.state, "reference_data", None)
    if lookup is None:  # a wiring fault, not bad input
        raise LookupError(
            f"{type(command).__name__} names reference data ({', '.join(fields.values())}),"
            " and this service reads none (set app.state.reference_data)"
        )
    known: dict[str, Mapping[str, date | None]] = {}
    errors: list[dict[str, Any]] = []
    for field, kind in fields.items():
        for where, item in _named(field, getattr(command, field)):
            if kind not in known:
                known[kind] = await lookup(request.app.state.pool, kind)
            if item not in known[kind] or known[kind][item] is not None:
                message = unknown_reference(kind, item, known[kind])
                errors.append(
                    {"loc": where, "msg": message, "type": "unknown_reference", "input": item}
                )
    if errors:
        raise RequestValidationError(errors)


def _named(field: str, value: Any) -> list[tuple[list[str | int], str]]:
    """Each item a field names, with where it is in the body (a list's by its index)."""
    if isinstance(value, list | tuple):
        return [(["body", field, i], v) for i, v in enumerate(value) if v is not None]
    return [(["body", field], value)] if value is not None else []

"""Reading the read model: children as at a date, and what happened in a period."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date

import asyncpg

from services.projections.boards.facts import OCCURRENCE_DETAILS
from services.projections.boards.model import Child, Happened

# An occurrence's own locality (a triage discussion's) is read into `Happened.locality`.
_DETAIL_NAMES = tuple(name for name in OCCURRENCE_DETAILS if name != "locality")
_DETAILS = ", ".join(f"o.{name}" for name in _DETAIL_NAMES)


@dataclass
class SharedSnapshots:
    """The snapshots one request has read, for the other boards it works out as at the same
    day (the index reads a dozen boards as at the same two days). One is given again only
    while no change to its day has been told since it began to be read (`fresh`, the board
    memo's own rule), so it is as fresh as one read now: a board kept by the memo from it
    holds to the memo's rule. It holds the last `capacity` read (a page of twelve month ends
    reads each once: holding them all would only hold their memory), and lets them go when
    the request's answer starts (`ShareSnapshots` in api.py)."""

    generation: Callable[[], int]  # how many changes have been told
    fresh: Callable[[int, date], bool]  # nothing changed to the day since that generation
    capacity: int = 3  # the index reads its boards as at two month ends and today
    held: dict[tuple[str, date, str | None], tuple[int, list[Child]]] = field(default_factory=dict)

    def keep(
        self, key: tuple[str, date, str | None], generation: int, children: list[Child]
    ) -> None:
        self.held.pop(key, None)
        self.held[key] = (generation, children)
        while len(self.held) > self.capacity:
            del self.held[next(iter(self.held))]  # the one read longest ago


SHARED: ContextVar[SharedSnapshots | None] = ContextVar("shared_snapshots", default=None)


async def snapshot(
    conn: asyncpg.Connection,
    as_at: date,
    locality: str | None,
    attributes: Sequence[str] | None = None,
    *,
    having: str | None = None,
    share: bool = True,
) -> list[Child]:
    """Every child with the value each attribute had on `as_at` (attributes that no longer
    applied then are left out). With `attributes`: those attributes alone, and only the
    children that had one of them then (a board counting a few children by one attribute
    reads them, not every child's every fact). With `having`: only the children that had
    that attribute then, with every attribute (a board of a cohort reads its members' whole
    records). Shared with the request's other boards where it has `SHARED` (not with
    `share=False`: a read that must be taken under a lock)."""
    if attributes is not None:
        return await _with_attributes(conn, as_at, locality, list(attributes))
    if having is not None:
        return await _having(conn, as_at, locality, having)
    shared = SHARED.get() if share else None
    if shared is None:
        return await _every_child(conn, as_at, locality)
    key = (await conn.fetchval("SELECT current_schema()"), as_at, locality)
    held = shared.held.get(key)
    if held is not None and shared.fresh(held[0], as_at):
        return list(held[1])  # the board's own list: what is shared is never changed
    generation = shared.generation()
    children = await _every_child(conn, as_at, locality)
    shared.keep(key, generation, children)
    return list(children)


async def localities(conn: asyncpg.Connection) -> list[str]:
    """The localities with children registered, in order: a walk of `children_by_locality`
    from each locality to the next (a probe a locality), not a read of every child."""
    rows = await conn.fetch(
        "WITH RECURSIVE walked AS ("
        " (SELECT locality FROM children ORDER BY locality LIMIT 1)"
        " UNION ALL"
        " SELECT (SELECT c.locality FROM children c WHERE c.locality > w.locality"
        "         ORDER BY c.locality LIMIT 1)"
        " FROM walked w WHERE w.locality IS NOT NULL)"
        " SELECT locality FROM walked WHERE locality IS NOT NULL"
    )
    return [r["locality"] for r in rows]


async def _every_child(conn: asyncpg.Connection, as_at: date, locality: str | None) -> list[Child]:
    children = await conn.fetch(
        "SELECT child_id, locality, date_of_birth FROM children"
        " WHERE ($1::text IS NULL OR locality = $1)",
        locality,
    )
    # Each child's latest row of each attribute, those that still applied (a NULL value: no
    # longer) left in the database.
    latest = await conn.fetch(
        "SELECT child_id, attribute, value FROM ("
        " SELECT DISTINCT ON (f.child_id, f.attribute) f.child_id, f.attribute, f.value"
        " FROM child_facts f JOIN children c USING (child_id)"
        " WHERE f.valid_from <= $1 AND ($2::text IS NULL OR c.locality = $2)"
        " ORDER BY f.child_id, f.attribute, f.valid_from DESC, f.seq DESC) latest"
        " WHERE value IS NOT NULL",
        as_at,
        locality,
    )

    def assembled() -> list[Child]:  # unpacked by position, the cheaper way to read a record
        facts: dict[str, dict[str, str]] = defaultdict(dict)
        for child_id, attribute, value in latest:
            facts[child_id][attribute] = value
        return [
            Child(child_id, place, born, facts.get(child_id, {}))
            for child_id, place, born in children
        ]

    return await asyncio.to_thread(assembled)  # a county's children: off the event loop


async def _having(
    conn: asyncpg.Connection, as_at: date, locality: str | None, attribute: str
) -> list[Child]:
    members = await conn.fetch(
        "SELECT c.child_id, c.locality, c.date_of_birth FROM ("
        " SELECT DISTINCT ON (f.child_id) f.child_id, f.value FROM child_facts f"
        " WHERE f.attribute = $1 AND f.valid_from <= $2"
        " ORDER BY f.child_id, f.valid_from DESC, f.seq DESC) latest"
        " JOIN children c USING (child_id)"
        " WHERE latest.value IS NOT NULL AND ($3::text IS NULL OR c.locality = $3)"
        " ORDER BY c.child_id",
        attribute,
        as_at,
        locality,
    )
    latest = await conn.fetch(
        "SELECT child_id, attribute, value FROM ("
        " SELECT DISTINCT ON (f.child_id, f.attribute) f.child_id, f.attribute, f.value"
        " FROM child_facts f WHERE f.child_id = ANY($2::text[]) AND f.valid_from <= $1"
        " ORDER BY f.child_id, f.attribute, f.valid_from DESC, f.seq DESC) latest"
        " WHERE value IS NOT NULL",
        as_at,
        [m["child_id"] for m in members],
    )
    facts: dict[str, dict[str, str]] = defaultdict(dict)
    for child_id, name, value in latest:
        facts[child_id][name] = value
    return [Child(c, place, born, facts.get(c, {})) for c, place, born in members]


async def _with_attributes(
    conn: asyncpg.Connection, as_at: date, locality: str | None, attributes: list[str]
) -> list[Child]:
    held: dict[str, Child] = {}
    for row in await conn.fetch(
        "SELECT DISTINCT ON (f.child_id, f.attribute) f.child_id, f.attribute, f.value,"
        " c.locality, c.date_of_birth"
        " FROM child_facts f JOIN children c USING (child_id)"
        " WHERE f.attribute = ANY($3::text[]) AND f.valid_from <= $1"
        " AND ($2::text IS NULL OR c.locality = $2)"
        " ORDER BY f.child_id, f.attribute, f.valid_from DESC, f.seq DESC",
        as_at,
        locality,
        attributes,
    ):
        if row["value"] is None:
            continue
        child = held.setdefault(
            row["child_id"],
            Child(row["child_id"], row["locality"], row["date_of_birth"], {}),
        )
        child.facts[row["attribute"]] = row["value"]
    return [held[c] for c in sorted(held)]


async def happened(
    conn: asyncpg.Connection, kinds: Sequence[str], since: date, until: date, locality: str | None
) -> list[Happened]:
    """Occurrences of `kinds` in [since, until], with the locality of the child they concern
    (for triage, the locality of the discussion; for escalations, of the child escalated)."""
    rows = await conn.fetch(
        f"SELECT o.kind, o.subject_id, o.day, {_DETAILS},"
        " CASE WHEN o.kind = 'triage' THEN o.locality ELSE c.locality END AS locality"
        " FROM occurrences o LEFT JOIN children c ON c.child_id ="
        "   CASE WHEN o.kind LIKE 'escalation%' THEN o.child_id ELSE o.subject_id END"
        " WHERE o.kind = ANY($1::text[]) AND o.day BETWEEN $2 AND $3"
        " ORDER BY o.day, o.subject_id, o.seq",
        list(kinds),
        since,
        until,
    )
    return [
        Happened(
            r["kind"],
            r["subject_id"],
            r["day"],
            r["locality"],
            **{name: r[name] for name in _DETAIL_NAMES},
        )
        for r in rows
        if locality is None or r["locality"] == locality
    ]

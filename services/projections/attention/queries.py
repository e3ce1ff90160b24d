"""The attention queue as read on a day: the open items, each with the child's locality and
age band, how long it has needed a person, whether it is past its response time, and who
acknowledged it; and, for the partnership view, how many of each kind (small numbers
suppressed as every partnership figure is: boards/disclosure.py)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from contracts.escalations.codes import AttentionKind
from services.projections.attention.items import (
    LABELS,
    age_band,
    needs_attention_since,
    past_response_time,
    shown,
)
from services.projections.boards.disclosure import protect
from services.projections.boards.model import Board, figure

# The open items of the children the boards know (an item whose child's registration has not
# been applied yet waits for it: its locality decides who sees it).
OPEN_ITEMS = (
    "SELECT i.item_id, i.kind, i.child_id, i.detail, i.opened_on, i.opened_at, i.due_on,"
    " c.locality, c.date_of_birth, a.acknowledged_by, a.acknowledged_at, a.assigned_to"
    " FROM attention_items i JOIN children c USING (child_id)"
    " LEFT JOIN attention_acknowledgements a USING (item_id)"
    " WHERE i.closed_at IS NULL AND ($1::text IS NULL OR c.locality = $1)"
    " AND ($2::text IS NULL OR i.kind = $2)"
    # A CP plan not yet nine months old is not in the queue (items.shown): most open plans.
    " AND (i.kind <> 'cp_plan_9_months' OR i.due_on <= $3)"
    " AND ($4::text[] IS NULL OR c.locality = ANY($4))"
)
# Longest waiting first: a CP plan since its ninth month, everything else since its day.
IN_ORDER = (
    " ORDER BY CASE WHEN i.kind = 'cp_plan_9_months' THEN i.due_on ELSE i.opened_on END,"
    " i.opened_at, i.item_id LIMIT $5"
)
# How many open items of each kind in each locality (the partnership view's counts).
TALLIES = (
    "SELECT i.kind, c.locality, count(*) AS n"
    " FROM attention_items i JOIN children c USING (child_id)"
    " WHERE i.closed_at IS NULL AND (i.kind <> 'cp_plan_9_months' OR i.due_on <= $1)"
    " GROUP BY i.kind, c.locality"
)


@dataclass(frozen=True)
class Item:
    item_id: str
    kind: AttentionKind
    child_id: str
    locality: str
    age_band: str
    detail: str
    since: date  # the day it has needed a person since
    days_open: int
    recorded_at: datetime
    due_on: date | None
    past_response_time: bool
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    assigned_to: str | None

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    @property
    def record(self) -> str:
        """The child's chronology page: every fact of every service about the child."""
        return f"/dashboard/children/{self.child_id}/chronology"

    def row(self) -> dict[str, Any]:
        """As the JSON API answers it (with `child_id` and `locality`, as audited rows are)."""
        return {
            "item_id": self.item_id,
            "kind": self.kind.value,
            "label": self.label,
            "child_id": self.child_id,
            "locality": self.locality,
            "age_band": self.age_band,
            "detail": self.detail,
            "since": self.since.isoformat(),
            "days_open": self.days_open,
            "recorded_at": self.recorded_at.isoformat(),
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "past_response_time": self.past_response_time,
            "acknowledged": None
            if self.acknowledged_by is None or self.acknowledged_at is None
            else {
                "by": self.acknowledged_by,
                "at": self.acknowledged_at.isoformat(),
                "assigned_to": self.assigned_to,
            },
            "record": self.record,
        }


def item_of(r: asyncpg.Record | dict[str, Any], today: date) -> Item:
    kind = AttentionKind(r["kind"])
    since = needs_attention_since(kind, r["opened_on"], r["due_on"])
    return Item(
        item_id=str(r["item_id"]),
        kind=kind,
        child_id=r["child_id"],
        locality=r["locality"],
        age_band=age_band(r["date_of_birth"], today),
        detail=r["detail"],
        since=since,
        days_open=max(0, (today - since).days),
        recorded_at=r["opened_at"],
        due_on=r["due_on"],
        past_response_time=past_response_time(kind, r["due_on"], today),
        acknowledged_by=r["acknowledged_by"],
        acknowledged_at=r["acknowledged_at"],
        assigned_to=r["assigned_to"],
    )


async def open_items(
    conn: asyncpg.Connection,
    today: date,
    locality: str | None = None,
    kind: AttentionKind | None = None,
    localities: Collection[str] | None = None,
    limit: int | None = None,
) -> list[Item]:
    """The queue, longest waiting first (then in the order recorded): of one locality, or of
    `localities` (None: every one); the first `limit` (None: all)."""
    rows = await conn.fetch(
        OPEN_ITEMS + IN_ORDER,
        locality,
        kind.value if kind else None,
        today,
        None if localities is None else sorted(localities),
        limit,
    )
    items = [item_of(r, today) for r in rows if shown(AttentionKind(r["kind"]), r["due_on"], today)]
    return sorted(items, key=lambda i: (i.since, i.recorded_at, i.item_id))


async def item(conn: asyncpg.Connection, item_id: str, today: date) -> Item | None:
    """One open item (None: no such item, or it has closed)."""
    rows = await conn.fetch(
        OPEN_ITEMS + " AND i.item_id = $5::uuid", None, None, today, None, item_id
    )
    found = [item_of(r, today) for r in rows if shown(AttentionKind(r["kind"]), r["due_on"], today)]
    return found[0] if found else None


async def tallies(conn: asyncpg.Connection, today: date) -> dict[tuple[AttentionKind, str], int]:
    """How many open items of each kind in each locality."""
    return {
        (AttentionKind(r["kind"]), r["locality"]): r["n"] for r in await conn.fetch(TALLIES, today)
    }


def counts(
    tallied: Mapping[tuple[AttentionKind, str], int],
    as_at: date,
    localities: list[str],
    locality: str | None,
    threshold: int,
) -> Board:
    """How many open items of each kind (`tallied`: by kind and locality), in the partnership
    view: the county's and every locality's counted together and protected together (the same
    numbers hide the same counts whichever locality is asked for), then the one asked for. No
    total is published: beside the kinds, it would give a hidden one away."""

    def board(loc: str | None) -> Board:
        return Board(
            board="attention",
            title="Attention queue: open items by kind",
            as_at=as_at,
            locality=loc,
            figures=[
                figure(
                    f"open.{kind.value}",
                    LABELS[kind],
                    sum(n for (k, at), n in tallied.items() if k is kind and loc in (None, at)),
                )
                for kind in AttentionKind
            ],
        )

    places = sorted({*localities, *(at for _, at in tallied), *([locality] if locality else [])})
    sheet = {loc: board(loc) for loc in (None, *places)}
    return protect(sheet, threshold)[locality]

"""Reading a child's chronology as at a day, in date order, filtered by kind."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from services.projections.chronology.entries import title, words
from shared.clock import LONDON


class RecordedBy(BaseModel):
    user_id: str
    agency: str
    role: str


class ChronologyEntry(BaseModel):
    occurred_on: date
    recorded_at: datetime
    service: str
    event_type: str
    event: str
    summary: str
    details: dict[str, Any]
    sealed: list[str]
    recorded_by: RecordedBy
    event_id: UUID
    stream_id: str
    stream_version: int


class Kind(BaseModel):
    """An event type in the child's chronology as at the day, and how many lines it has."""

    service: str
    event_type: str
    event: str
    count: int


class ChildChronology(BaseModel):
    child_id: str
    as_at: date
    kinds: list[str]  # the filter asked for (none: everything)
    count: int
    entries: list[ChronologyEntry]
    available: list[Kind]


def end_of(day: date) -> datetime:
    """The first moment after `day` ends, in London (the platform's days are London days)."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=LONDON)


async def locality_of(conn: asyncpg.Connection, child_id: str) -> str | None:
    """The child's locality; None when no child of that id was ever registered."""
    locality: str | None = await conn.fetchval(
        "SELECT locality FROM chronology_children WHERE child_id = $1", child_id
    )
    return locality


KNOWN_BY_THEN = "child_id = $1 AND occurred_on <= $2 AND recorded_at < $3"


async def read(
    conn: asyncpg.Connection, child_id: str, as_at: date, kinds: Sequence[str] = ()
) -> ChildChronology:
    """What had happened to the child by the end of `as_at` and was recorded by then, oldest
    first (two facts of a day in the order they were recorded); `kinds`: only these services
    or event types."""
    rows = await conn.fetch(
        "SELECT occurred_on, recorded_at, service, event_type, summary, details, sealed,"
        " user_id, agency, role, event_id, stream_id, stream_version"
        f" FROM chronology WHERE {KNOWN_BY_THEN}"
        " AND ($4::text[] IS NULL OR service = ANY($4) OR event_type = ANY($4))"
        " ORDER BY occurred_on, recorded_at, stream_id, stream_version",
        child_id,
        as_at,
        end_of(as_at),
        list(kinds) or None,
    )
    counts = await conn.fetch(
        "SELECT service, event_type, count(*) AS count"
        f" FROM chronology WHERE {KNOWN_BY_THEN}"
        " GROUP BY service, event_type ORDER BY service, event_type",
        child_id,
        as_at,
        end_of(as_at),
    )
    entries = [
        ChronologyEntry(
            occurred_on=r["occurred_on"],
            recorded_at=r["recorded_at"].astimezone(LONDON),  # as the platform's days are
            service=r["service"],
            event_type=r["event_type"],
            event=title(r["event_type"]),
            summary=r["summary"],
            details=json.loads(r["details"]),
            sealed=list(r["sealed"]),
            recorded_by=RecordedBy(user_id=r["user_id"], agency=r["agency"], role=r["role"]),
            event_id=r["event_id"],
            stream_id=r["stream_id"],
            stream_version=r["stream_version"],
        )
        for r in rows
    ]
    return ChildChronology(
        child_id=child_id,
        as_at=as_at,
        kinds=list(kinds),
        count=len(entries),
        entries=entries,
        available=[Kind(**dict(c), event=title(c["event_type"])) for c in counts],
    )


CSV_COLUMNS = [
    "child_id",
    "as_at",
    "occurred_on",
    "event",
    "service",
    "event_type",
    "summary",
    "recorded_by",
    "agency",
    "role",
    "recorded_at",
    "event_id",
]


def to_csv(chronology: ChildChronology) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in chronology.entries:
        writer.writerow(
            [
                chronology.child_id,
                chronology.as_at.isoformat(),
                e.occurred_on.isoformat(),
                e.event,
                words(e.service),
                e.event_type,
                e.summary,
                e.recorded_by.user_id,
                e.recorded_by.agency,
                e.recorded_by.role,
                e.recorded_at.isoformat(),
                e.event_id,
            ]
        )
    return out.getvalue()

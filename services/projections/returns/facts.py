"""What the statutory returns are made from: each child's facts as the event log has them.

The returns (SSDA903, the CIN census, Ofsted's Annex A) are derived, by pure functions, from
the rows of the child's chronology (sql/010_chronology.sql): every event of every service about
the child, with the day it happened, when it was recorded, and its constrained fields
(`details`: codes, days, numbers, ids). "As at D" is what had happened by the end of D and
was recorded by then, as for a chronology. Nothing here does I/O: `queries.py` reads the rows.

Each row of a return carries the ids of the events it was made from (`Row.events`): the
provenance a council asks for when a figure is questioned ("which events produced this
row?"), answered by the API and never written into the file itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class Fact:
    """One event about a child, as its chronology row holds it."""

    event_id: UUID
    event_type: str
    occurred_on: date
    recorded_at: datetime
    details: Mapping[str, Any]

    def day(self, name: str) -> date | None:
        """A date field of the event (`details` keeps days as ISO text), or None."""
        value = self.details.get(name)
        return date.fromisoformat(value) if isinstance(value, str) and value else None

    def get(self, name: str, default: Any = None) -> Any:
        return self.details.get(name, default)


@dataclass(frozen=True)
class ChildRecord:
    """A child's facts, oldest first (two of a day in the order they were recorded)."""

    child_id: str
    locality: str
    facts: tuple[Fact, ...]

    def of(self, *event_types: str) -> list[Fact]:
        """The child's facts of these types, oldest first."""
        return [f for f in self.facts if f.event_type in event_types]

    def last(self, *event_types: str) -> Fact | None:
        found = self.of(*event_types)
        return found[-1] if found else None

    def first(self, *event_types: str) -> Fact | None:
        found = self.of(*event_types)
        return found[0] if found else None


@dataclass(frozen=True)
class CollectionYear:
    """A DfE collection year: 1 April of `start_year` to 31 March of the next (inclusive).
    SSDA903 and the CIN census both cover it; "2026" is the year 2026-27."""

    start_year: int

    @property
    def start(self) -> date:
        return date(self.start_year, 4, 1)

    @property
    def end(self) -> date:
        return date(self.start_year + 1, 3, 31)

    @property
    def label(self) -> str:
        """As the DfE writes it: 2026-27."""
        return f"{self.start_year}-{(self.start_year + 1) % 100:02d}"

    @property
    def previous(self) -> CollectionYear:
        return CollectionYear(self.start_year - 1)

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, start: date, end: date | None) -> bool:
        """Whether a span (end None: still open) falls at least partly in the year."""
        return start <= self.end and (end is None or end >= self.start)

    @classmethod
    def of(cls, day: date) -> CollectionYear:
        """The collection year a day falls in."""
        return cls(day.year if day.month >= 4 else day.year - 1)


@dataclass(frozen=True)
class Row:
    """One row of a return: its values as the file has them (column -> text; "" is blank),
    and the events it was made from (for provenance, never in the file)."""

    values: Mapping[str, str]
    events: tuple[UUID, ...] = field(default=())

    def __getitem__(self, column: str) -> str:
        return self.values[column]


def events_of(facts: Iterable[Fact | None]) -> tuple[UUID, ...]:
    """The ids of the facts a row was made from, in order, each once (None ignored)."""
    seen: dict[UUID, None] = {}
    for f in facts:
        if f is not None:
            seen.setdefault(f.event_id, None)
    return tuple(seen)


def dfe_date(day: date | None) -> str:
    """A day as the DfE's CSVs write it (dd/mm/yyyy); blank when unknown."""
    return day.strftime("%d/%m/%Y") if day is not None else ""


def iso_date(day: date | None) -> str:
    """A day as the CIN census XML writes it (yyyy-mm-dd); blank when unknown."""
    return day.isoformat() if day is not None else ""


def age_on(born: date, day: date) -> int:
    """Whole years of age on `day`."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def by_child(records: Iterable[ChildRecord]) -> dict[str, ChildRecord]:
    return {r.child_id: r for r in records}


def sorted_rows(rows: Iterable[Row], *columns: str) -> list[Row]:
    """Rows sorted as the DfE sorts a table: by these columns, dates as dates."""

    def key(row: Row) -> tuple[Any, ...]:
        out: list[Any] = []
        for c in columns:
            v = row.values.get(c, "")
            if len(v) == 10 and v[2] == "/" and v[5] == "/":
                out.append((v[6:], v[3:5], v[:2]))
            else:
                out.append((v,))
        return tuple(out)

    return sorted(rows, key=key)


def facts_in_order(facts: Sequence[Fact]) -> Iterator[Fact]:
    """Facts oldest first by the day they happened, then when they were recorded."""
    yield from sorted(facts, key=lambda f: (f.occurred_on, f.recorded_at))


# A UPN the platform does not hold, for a child not yet of school age in the year: the DfE's
# UN1 ("not of school age"). A child of school age without one is a gap the data-quality board
# shows, not a code to pick: UN2 to UN5 each say something the facts do not.
NOT_OF_SCHOOL_AGE = "UN1"


def school_age(born: date | None, year: CollectionYear) -> bool:
    """Of school age for the year's returns: four by the 31 August before the year began
    (SSDA903 rule 209, the CIN census's 8770Q); an unborn child is not."""
    return born is not None and born <= date(year.start_year - 5, 8, 31)


def upn_or_unknown(upn: str | None, born: date | None, year: CollectionYear) -> str:
    """The UPN as recorded; else UN1 for a child not of school age; else blank."""
    if upn:
        return upn
    return "" if school_age(born, year) else NOT_OF_SCHOOL_AGE

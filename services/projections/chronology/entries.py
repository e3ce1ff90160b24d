"""How an event becomes a line of a child's chronology. Pure: no I/O.

Every event type is handled alike, from its envelope and its published contract's schema, so
an event type added tomorrow has its lines without a change here (there is no table of event
types to keep up):

- The child: the one the payload names (`child_id`: an escalation's stream is the escalation,
  not the child), else the stream's (every child-level stream is keyed by the child's id).
- When: the day it happened (`occurred_at`, a London day like the platform's "today"), and
  when it was recorded (`recorded_at`): "as at" a day shows what had happened by then and
  was known by then.
- Who: the envelope's actor (user, agency, role).
- What: the fields whose values the contract constrains: a national code, a date, a number,
  yes or no, an id with a pattern. A string the contract leaves open could be free text and
  is never shown. A sealed personal field is only named (which fields a recording changed):
  never its value, not even sealed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from pydantic_core import to_json

from contracts.topics import DOMAIN_TOPICS, EVENTS
from shared.clock import LONDON
from shared.envelope import DomainEvent, Envelope

# Where sealed personal values are declared: their pattern starts so (contracts' SEALED_PATTERN).
SEALED = "^sealed:"
# Constrained strings: a format the contract declares (a day, a time, an id).
FORMATS = frozenset({"date", "date-time", "uuid"})
OTHER_SERVICE = "other"  # an event type no domain topic declares (never in production)

# The columns of `chronology` (sql/010_chronology.sql), in the order `Entry.record` gives.
COLUMNS = (
    "event_id",
    "child_id",
    "occurred_on",
    "recorded_at",
    "service",
    "event_type",
    "stream_id",
    "stream_version",
    "user_id",
    "agency",
    "role",
    "summary",
    "details",
    "sealed",
)


@dataclass(frozen=True)
class Entry:
    """One line of a child's chronology."""

    event_id: UUID
    child_id: str
    occurred_on: date
    recorded_at: datetime
    service: str
    event_type: str
    stream_id: str
    stream_version: int
    user_id: str
    agency: str
    role: str
    summary: str
    details: dict[str, Any]
    sealed: tuple[str, ...]

    def record(self) -> tuple[Any, ...]:
        """The row as COPY takes it (jsonb as its text)."""
        return (
            self.event_id,
            self.child_id,
            self.occurred_on,
            self.recorded_at,
            self.service,
            self.event_type,
            self.stream_id,
            self.stream_version,
            self.user_id,
            self.agency,
            self.role,
            self.summary,
            to_json(self.details).decode(),
            list(self.sealed),
        )


@functools.cache
def services() -> dict[str, str]:
    """Event type -> the service whose topic carries it (contracts.topics: every domain
    topic's events, new ones included)."""
    owners = {t.name: t.owner for t in DOMAIN_TOPICS}
    return {
        event_type: owners[topic]
        for topic, registry in EVENTS.items()
        for event_type in registry.types()
    }


def service_of(event_type: str) -> str:
    return services().get(event_type, OTHER_SERVICE)


def kinds() -> dict[str, str]:
    """What a chronology can be filtered by: each service, and each event type (its service)."""
    owners = {t.owner: t.owner for t in DOMAIN_TOPICS}
    return {**owners, **services()}


def kind_name(kind: str) -> str:
    """A kind as a person reads it: a service's name, or an event type's sentence."""
    return words(kind) if kind in {t.owner for t in DOMAIN_TOPICS} else title(kind)


# The services none of whose streams is a child's (quality assurance's are evaluations, audits,
# surveys, incidents and the plan): an event of theirs is a line of a child's chronology only
# when its payload names the child (a practice evaluation, its moderation, a serious incident,
# feedback about the child); an audit's, a survey's or the plan's are no child's.
NO_CHILD_STREAMS = frozenset({"quality"})


def of_a_child(envelope: Envelope, event: DomainEvent) -> bool:
    named = event.__dict__.get("child_id")
    return (isinstance(named, str) and bool(named)) or (
        service_of(envelope.event_type) not in NO_CHILD_STREAMS
    )


def child_of(envelope: Envelope, event: DomainEvent) -> str:
    named = event.__dict__.get("child_id")
    return named if isinstance(named, str) and named else envelope.stream_id


def registered_locality(envelope: Envelope, event: DomainEvent) -> str | None:
    """The child's locality, from an event that registers a child (born or unborn) on its own
    stream: its payload names the child, which is its stream, and a locality. A family's
    triage names no child; an escalation names a child that is not its stream."""
    values = event.__dict__  # its fields (a frozen model), without a getattr each
    locality = values.get("locality")
    if values.get("child_id") == envelope.stream_id and isinstance(locality, str):
        return locality
    return None


def entry(envelope: Envelope, event: DomainEvent) -> Entry:
    details: dict[str, Any] = {}
    lines: list[str] = []
    sealed: list[str] = []
    values = event.__dict__  # the fields' values, without a getattr each (a frozen model)
    for name, label, is_sealed in _fields(type(event)):
        value = values[name]
        if value is None:
            continue  # not recorded
        if is_sealed:
            sealed.append(name)
            continue
        shown = _SHOWN.get(type(value)) or _learn_how_shown(type(value))
        as_json, as_read = shown(value)
        details[name] = as_json
        lines.append(f"{label}: {as_read}")
    if sealed:
        lines.append(f"recorded (sealed, not shown): {', '.join(words(s) for s in sealed)}")
    actor = envelope.actor
    return Entry(
        event_id=envelope.event_id,
        child_id=child_of(envelope, event),
        occurred_on=envelope.occurred_at.astimezone(LONDON).date(),
        recorded_at=envelope.recorded_at,
        service=service_of(envelope.event_type),
        event_type=envelope.event_type,
        stream_id=envelope.stream_id,
        stream_version=envelope.stream_version,
        user_id=actor.user_id,
        agency=actor.agency.value,
        role=actor.role,
        summary="; ".join(lines),
        details=details,
        sealed=tuple(sealed),
    )


@functools.cache
def _fields(cls: type[BaseModel]) -> tuple[tuple[str, str, bool], ...]:
    """`shown_fields` with each field's name as it reads, worked out once per event type."""
    return tuple((name, words(name), is_sealed) for name, is_sealed in shown_fields(cls))


def _shown_code(value: Enum) -> tuple[Any, str]:
    return value.value, display(value)


def _shown_day(value: date) -> tuple[Any, str]:
    day = value.isoformat()
    return day, day


def _shown_yes_no(value: bool) -> tuple[Any, str]:
    return value, "yes" if value else "no"


def _shown_as_is(value: Any) -> tuple[Any, str]:
    return value, str(value)


def _shown_plainly(value: Any) -> tuple[Any, str]:
    return plain(value), display(value)


Shown = Callable[[Any], tuple[Any, str]]
_SHOWN: dict[type, Shown] = {}  # how a value of each type met so far is shown


def _learn_how_shown(kind: type) -> Shown:
    """How a value of this type is shown, as JSON and as read (`plain` and `display` in one
    step): a code list's members worked out once each, the common scalars directly, anything
    else (a list, a nested fact) the plain way."""
    shown: Shown = _shown_plainly
    if issubclass(kind, Enum):
        shown = functools.cache(_shown_code)
    elif kind is date or kind is datetime:
        shown = _shown_day
    elif kind is bool:
        shown = _shown_yes_no
    elif kind in (str, int, float):
        shown = _shown_as_is
    _SHOWN[kind] = shown
    return shown


# -- which fields are shown: from the contract's JSON schema, once per event type -----------


@functools.cache
def shown_fields(cls: type[BaseModel]) -> tuple[tuple[str, bool], ...]:
    """(field, sealed) for each field a chronology names, in the contract's order: the sealed
    ones (named only) and the constrained ones (shown). The child's id is the line's own."""
    schema = cls.model_json_schema()
    defs = schema.get("$defs", {})
    shown: list[tuple[str, bool]] = []
    for name, prop in schema.get("properties", {}).items():
        if name == "child_id":
            continue
        if _sealed(prop, defs):
            shown.append((name, True))
        elif _constrained(prop, defs):
            shown.append((name, False))
    return tuple(shown)


def _branches(prop: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas a value may take (an optional field's `anyOf`, a `$ref` resolved), null
    aside."""
    if "$ref" in prop:
        return _branches(defs[prop["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in prop:
        return [b for p in prop["anyOf"] for b in _branches(p, defs)]
    return [] if prop.get("type") == "null" else [prop]


def _sealed(prop: dict[str, Any], defs: dict[str, Any]) -> bool:
    return any(str(b.get("pattern", "")).startswith(SEALED) for b in _branches(prop, defs))


def _constrained(prop: dict[str, Any], defs: dict[str, Any]) -> bool:
    branches = _branches(prop, defs)
    return bool(branches) and all(_one_constrained(b, defs) for b in branches)


def _one_constrained(schema: dict[str, Any], defs: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if "enum" in schema or "const" in schema or kind in ("boolean", "integer", "number"):
        return True
    if kind == "string":
        return "pattern" in schema or schema.get("format") in FORMATS
    if kind == "array":
        return _constrained(schema.get("items", {}), defs)
    if kind == "object":  # a nested fact (a register's session marks): all of it, or nothing
        properties = schema.get("properties", {})
        return bool(properties) and all(_constrained(p, defs) for p in properties.values())
    return False


# -- how a value reads -----------------------------------------------------------------------


def plain(value: Any) -> Any:
    """The value as JSON has it (a code's value, a day's ISO form)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):  # a datetime too
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, BaseModel):
        return {k: plain(getattr(value, k)) for k in type(value).model_fields}
    return value


def display(value: Any) -> str:
    """The value as a person reads it: a code with its meaning, yes or no, a day."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        meaning = value.name.lower().replace("_", " ")
        code = str(value.value)
        return meaning if code.lower().replace("_", " ") == meaning else f"{meaning} ({code})"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(display(v) for v in value) or "none"
    if isinstance(value, BaseModel):
        return " ".join(display(getattr(value, k)) for k in type(value).model_fields)
    return str(value)


def words(name: str) -> str:
    return name.replace("_", " ")


_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


@functools.cache
def title(event_type: str) -> str:
    """An event type as a sentence: "ChildProtectionPlanStarted" is "Child protection plan
    started", "EWOAttendanceEscalationRaised" "EWO attendance escalation raised"."""
    found = _WORD.findall(event_type) or [event_type]
    parts = [w if w.isupper() or w.isdigit() else w.lower() for w in found]
    sentence = " ".join(parts)
    return sentence[:1].upper() + sentence[1:]

"""Aggregates: rebuilt from their stream, they take commands and return new events. No I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import ClassVar, Self

from shared.calendar import age_on
from shared.envelope import DomainEvent, Envelope, EventRegistry


class DomainRuleViolation(ValueError):
    """A command the domain refuses (HTTP 422), naming the field at fault and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class AlreadyRecorded(Exception):
    """The subject or fact is already recorded (HTTP 409)."""


class UnknownStream(LookupError):
    """The command names a child (or other subject) the service has no record of (HTTP 404).
    A domain error, not an assertion: a request can name any id."""

    def __init__(self, stream_id: str) -> None:
        super().__init__(f"no record of {stream_id!r}")
        self.stream_id = stream_id


@dataclass(frozen=True)
class Decision:
    """What a decision may know besides the aggregate and the command: today's date (from an
    injected clock) and, in services whose streams follow a child registered elsewhere, what
    the service knows of that child."""

    today: date
    child: KnownChild | None = None


@dataclass(frozen=True)
class KnownChild:
    """A child as another service knows it (from the case-events topic)."""

    child_id: str
    date_of_birth: date
    locality: str

    def age_on(self, day: date) -> int:
        return age_on(self.date_of_birth, day)


def known(decision: Decision) -> KnownChild:
    """The child a decision needs (services whose streams follow a child registered with case
    events); the route looks it up first, so a missing one is a wiring fault, not bad input."""
    if decision.child is None:
        raise LookupError("this decision needs the known child, and none was looked up")
    return decision.child


def not_in_future(field: str, day: date, decision: Decision) -> None:
    if day > decision.today:
        raise DomainRuleViolation(field, "is in the future")


def not_before(field: str, day: date, earlier: date | None, what: str) -> None:
    if earlier is not None and day < earlier:
        raise DomainRuleViolation(field, f"is before {what} ({earlier.isoformat()})")


def check_day(
    field: str,
    day: date,
    decision: Decision,
    born: date | None,
    after: date | None = None,
    what: str = "",
) -> None:
    """The rule every dated fact about a child keeps: not in the future, not before the child
    was born, and not before the record it follows (`after`, described as `what`)."""
    not_in_future(field, day, decision)
    not_before(field, day, born, "the child's date of birth")
    not_before(field, day, after, what)


class Aggregate:
    """Subclasses set ``registry`` and implement ``when`` to fold one event into their state."""

    registry: ClassVar[EventRegistry]

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id
        self.version = 0

    @classmethod
    def from_history(cls, stream_id: str, history: Iterable[Envelope]) -> Self:
        return cls(stream_id).caught_up(history)

    def caught_up(self, history: Iterable[Envelope]) -> Self:
        """Fold in the events after this version, in order; any it has folded already are
        passed over (two readers catching up one kept aggregate at once)."""
        for envelope in history:
            if envelope.stream_version > self.version:
                self.when(self.registry.decode_envelope(envelope))
                self.version = envelope.stream_version
        return self

    @property
    def exists(self) -> bool:
        return self.version > 0

    def when(self, event: DomainEvent) -> None:
        raise NotImplementedError

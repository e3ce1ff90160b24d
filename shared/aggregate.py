"""Aggregates: rebuilt from their stream, they take commands and return new events. No I/O."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Self

from shared.envelope import DomainEvent, Envelope, EventRegistry


class DomainRuleViolation(ValueError):
    """A command the domain refuses (HTTP 422), naming the field at fault and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Aggregate:
    """Subclasses set ``registry`` and implement ``when`` to fold one event into their state."""

    registry: ClassVar[EventRegistry]

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id
        self.version = 0

    @classmethod
    def from_history(cls, stream_id: str, history: Iterable[Envelope]) -> Self:
        aggregate = cls(stream_id)
        for envelope in history:
            aggregate.when(cls.registry.decode_envelope(envelope))
            aggregate.version = envelope.stream_version
        return aggregate

    @property
    def exists(self) -> bool:
        return self.version > 0

    def when(self, event: DomainEvent) -> None:
        raise NotImplementedError

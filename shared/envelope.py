"""The one envelope every event travels in, and the registry of event types and versions.

Domain events are pydantic models named as facts in the past tense. The envelope carries
who recorded the fact, when it happened in the world (``occurred_at``) and when the platform
learned it (``recorded_at``), and which command caused it. Old versions of an event stay
readable forever: the registry upcasts a stored payload, one version at a time, to the
version the code now declares.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, NamedTuple, TypeVar, Union
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
)
from uuid6 import uuid7


class Agency(StrEnum):
    COUNCIL = "council"
    POLICE = "police"
    HEALTH = "health"
    SCHOOLS = "schools"
    HOUSING = "housing"
    CAREERS = "careers"
    PROBATION = "probation"
    PLATFORM = "platform"


class Actor(BaseModel):
    """Who recorded the fact."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str = Field(min_length=1, max_length=128)
    agency: Agency
    role: str = Field(min_length=1, max_length=64)


class DomainEvent(BaseModel):
    """Base of every event payload. Subclasses set ``event_type`` and ``schema_version``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    def occurred_at(self) -> datetime | None:
        """When the fact happened in the world, if the payload says; else the command's time."""
        return None


EARLIEST_DAY = date(1900, 1, 1)

# Every day a fact names: nothing in a child's record is dated before 1900, and a year typed as
# 0001 is a mistake, not history (PostgreSQL's earliest timestamp also reads back as asyncpg's
# "-infinity", which broke reading the stream: found by the fuzzed-input chaos scenario).
Day = Annotated[date, Field(ge=EARLIEST_DAY)]


def at_start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class Facts(BaseModel):
    """The fields of a fact, declared once: its event and its command both use them."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DatedEvent(DomainEvent):
    """An event that happened in the world on its first date field."""

    def occurred_at(self) -> datetime | None:
        name = _first_date_field(type(self))
        return at_start_of(getattr(self, name)) if name else None


@functools.cache
def _first_date_field(cls: type[BaseModel]) -> str | None:
    """Looked up once per event class: occurred_at runs for every event appended."""
    return next((n for n, f in cls.model_fields.items() if f.annotation is date), None)


class WireEvent(NamedTuple):
    """An event made straight in its wire form, without its model: for the few paths that
    record thousands of one kind at once (the register feed), where a model per event was
    most of the cost. Its maker is held by a property test to give exactly the payload the
    event's model dumps (`model_dump(mode="json")`), and one the model validates."""

    event_type: str
    schema_version: int
    occurred_at: datetime
    payload: dict[str, Any]


class Envelope(BaseModel):
    """An event as stored and as published. ``payload`` is the versioned wire form."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    event_type: str = Field(min_length=1, max_length=128)
    schema_version: int = Field(ge=1)
    stream_id: str = Field(min_length=1, max_length=128)
    stream_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: Actor
    correlation_id: UUID
    causation_id: UUID | None = None
    payload: dict[str, Any]
    position: int | None = Field(
        None, description="Global position in the source event store (informational)."
    )


def _or_none(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """The field as its type reads it, or None if it cannot."""
    try:
        return handler(value)
    except ValidationError:
        return None


class _Place(BaseModel):
    """Where a message stands in its stream, read from an envelope this release cannot read
    whole (a field it does not know, one it refuses): its event, stream and version must be
    read; the type and the correlation id are kept where they can be; the rest is not looked
    at."""

    model_config = ConfigDict(extra="ignore")

    event_id: UUID
    stream_id: str = Field(min_length=1, max_length=128)
    stream_version: int = Field(ge=1)
    event_type: Annotated[str | None, WrapValidator(_or_none)] = None
    correlation_id: Annotated[UUID | None, WrapValidator(_or_none)] = None


UNREADABLE_TYPE = "(unreadable)"


def place_of(value: bytes | str) -> Envelope | None:
    """The place in its stream of a message whose envelope cannot be read, as an envelope of
    those fields only (the others unset; an event type it lacks is `UNREADABLE_TYPE`), or
    None if it has none. A consumer passes such a message over in its stream's order and
    holds the stream's later events behind it, as for an event it cannot apply
    (shared/projection.py); it is never applied as it is."""
    try:
        place = _Place.model_validate_json(value)
    except ValidationError:
        return None
    return Envelope.model_construct(
        **dict(place, event_type=(place.event_type or UNREADABLE_TYPE)[:128])
    )


def new_event_id() -> UUID:
    """UUIDv7: time-ordered, so ids sort roughly in the order events were recorded."""
    return UUID(int=uuid7().int)  # a plain uuid.UUID (uuid6 returns its own subclass)


# A UUIDv7's random part, 74 bits: rand_a (12) above the variant's 2 bits, rand_b (62) below.
_RAND_B_BITS = 62
_RAND_B = (1 << _RAND_B_BITS) - 1
_RANDOM_BITS = 12 + _RAND_B_BITS
_VARIANT = 0b10 << _RAND_B_BITS


def new_event_ids(n: int) -> list[UUID]:
    """`n` UUIDv7s for one batch (a register feed's thousands), in order. The first is made
    as `new_event_id`'s; the rest share its millisecond and count on from its random part
    (RFC 9562, 6.2, method 2: the random part as a counter), so they sort after it and before
    any id made later (uuid7 moves each later id's millisecond on). One `uuid7` each cost a
    tenth of a feed's work in the route, and moved the millisecond on for every id."""
    if n <= 0:
        return []
    first = uuid7().int
    counter = ((first >> 64) & 0xFFF) << _RAND_B_BITS | first & _RAND_B
    if counter + n > 1 << _RANDOM_BITS:  # it would wrap to the bottom: one id each
        return [UUID(int=first)] + [new_event_id() for _ in range(n - 1)]
    high = first >> 76 << 76  # the millisecond and the version
    return [
        UUID(int=high | (c >> _RAND_B_BITS) << 64 | _VARIANT | c & _RAND_B)
        for c in range(counter, counter + n)
    ]


class UnknownEventType(LookupError):
    pass


class IncompatibleSchemaVersion(ValueError):
    pass


E = TypeVar("E", bound=type[DomainEvent])
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class EventRegistry:
    """Event types by name; upcasters from each old version to the next."""

    def __init__(self) -> None:
        self._types: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._one_pass: TypeAdapter[_EnvelopeOf] | None = None

    def event(self, cls: E) -> E:
        """Class decorator: register an event type under its ``event_type``."""
        name = cls.event_type
        if name in self._types and self._types[name] is not cls:
            raise ValueError(f"event type {name!r} is registered twice")
        self._types[name] = cls
        self._one_pass = None  # made again, with this type, when next read with
        return cls

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: a function turning a payload of ``from_version`` into ``from_version + 1``."""

        def register(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return register

    def include(self, other: EventRegistry) -> None:
        for cls in other._types.values():
            self.event(cls)
        self._upcasters.update(other._upcasters)

    def upcast_steps(self) -> frozenset[tuple[str, int]]:
        """(event type, from version) of every upcaster: the versions a stored event can be
        raised from (the released contract's check, deploy/contracts.py)."""
        return frozenset(self._upcasters)

    def __contains__(self, event_type: str) -> bool:
        return event_type in self._types

    def types(self) -> dict[str, type[DomainEvent]]:
        return dict(self._types)

    def decode(self, event_type: str, schema_version: int, payload: dict[str, Any]) -> DomainEvent:
        cls = self._types.get(event_type)
        if cls is None:
            raise UnknownEventType(event_type)
        if schema_version > cls.schema_version:
            raise IncompatibleSchemaVersion(
                f"{event_type} v{schema_version} is newer than this code's v{cls.schema_version}"
            )
        version = schema_version
        while version < cls.schema_version:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise IncompatibleSchemaVersion(f"no upcaster for {event_type} v{version}")
            payload = step(payload)
            version += 1
        return cls.model_validate(payload)

    def decode_envelope(self, envelope: Envelope) -> DomainEvent:
        if isinstance(envelope, _EnvelopeOf) and type(envelope.event) is self._types.get(
            envelope.event_type
        ):
            return envelope.event  # read with its event, by this registry's model of it
        return self.decode(envelope.event_type, envelope.schema_version, envelope.payload)

    def read(self, value: bytes | str) -> Envelope:
        """A message read from a topic: its envelope, and with it, where it can be, its event
        (for `decode_envelope`), validated in one pass of pydantic-core.

        The plain way (`Envelope.model_validate_json`, then `decode_envelope`) parses the
        JSON into an envelope whose payload is a dict, then validates that dict again as the
        event's model. Here a message is validated once, by the envelope of its event type
        (a tagged union over this registry's types), which reads the payload as both. What
        that one pass does not take (an older version to upcast, an unknown type, anything
        invalid) is read the plain way, so the errors are the plain way's own, raised where
        they always were: a valid envelope with an event that is not is read, and refused by
        `decode_envelope`. A property test (tests/unit/test_envelope_decoder.py) holds the
        two ways to the same answers on every event type, valid messages and invalid.

        A batch's records are read one by one, not joined into one JSON array: a record's
        bytes are judged on their own, and joined, one record's could run into the next's."""
        if self._one_pass is None and self._types:
            self._one_pass = _one_pass(self._types.values())
        if self._one_pass is not None:
            try:
                return self._one_pass.validate_json(value)
            except ValidationError:
                pass  # the plain way says why, as it always has
        return Envelope.model_validate_json(value)


class _EnvelopeOf(Envelope):
    """An envelope read together with its event: the same fields as `Envelope` (the payload
    as the wire form too), and the event its payload validated as. `event` is neither dumped
    nor shown, so the envelope dumps as the plain one does. (Declared for the type checker
    only: each event type's envelope declares it as its own model, `_envelope_of`.)"""

    if TYPE_CHECKING:
        event: DomainEvent


def _only(value: object) -> Any:
    """The type of the one value `value` (a `Literal`, made at run time)."""
    return Literal[value]


def _envelope_of(cls: type[DomainEvent]) -> type[_EnvelopeOf]:
    """The envelope of one event type at the version the code declares: the event type and
    the version as literals (another version is not this model's to read), the payload
    validated as the event's model."""
    return create_model(
        f"{cls.__name__}Envelope",
        __base__=_EnvelopeOf,
        event_type=(_only(cls.event_type), ...),
        schema_version=(_only(cls.schema_version), ...),
        event=(cls, Field(validation_alias="payload", exclude=True, repr=False)),
    )


def _one_pass(types: Iterable[type[DomainEvent]]) -> TypeAdapter[_EnvelopeOf]:
    """The envelopes of the event types, told apart by their event type."""
    envelopes = tuple(_envelope_of(cls) for cls in types)
    if len(envelopes) == 1:
        return TypeAdapter(envelopes[0])
    tagged: Any = Annotated[Union[envelopes], Field(discriminator="event_type")]  # noqa: UP007
    return TypeAdapter(tagged)

"""A consumer's read of a message (`EventRegistry.read`: the envelope and its event validated
in one pass, then `decode_envelope`) gives the answers of the plain way it replaces
(`Envelope.model_validate_json`, then `decode_envelope`), on every event type of every
domain topic: the same envelope and the same event for a valid message, the same error, of
the same type and with the same text (the text a dead letter carries), for an invalid one.
Property-based; no I/O.

The messages are valid ones, drawn from each event type's JSON schema, and the same spoiled
one way each: a field dropped, added or retyped, the payload replaced, another version or
event type named, an envelope's field retyped, the bytes cut short or arbitrary."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.topics import domain_events
from shared.envelope import (
    Actor,
    Agency,
    DomainEvent,
    Envelope,
    EventRegistry,
)
from tests.payloads import payloads
from tests.unit.test_envelope import registry_with_v3_event

REGISTRY = domain_events()
EVENT_TYPES = sorted(REGISTRY.types().items())

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["2024-01-01", "1899-12-31", "1", "NEG", "2024-01-01T00:00:00Z"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
_moments = st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
SPOILS = [
    "none",
    "field dropped",
    "field added",
    "field retyped",
    "payload replaced",
    "another version",
    "another event type",
    "envelope field retyped",
    "envelope field added",
    "bytes cut short",
    "arbitrary bytes",
]


@st.composite
def messages(draw: st.DrawFn, cls: type[DomainEvent], registry: EventRegistry) -> tuple[str, bytes]:
    """A message of the event type, spoiled one way (or not): the way and its bytes."""
    payload: Any = draw(payloads(cls))
    message: dict[str, Any] = {
        "event_id": str(draw(st.uuids())),
        "event_type": cls.event_type,
        "schema_version": cls.schema_version,
        "stream_id": draw(st.text(min_size=1, max_size=20)),
        "stream_version": draw(st.integers(1, 2**31 - 1)),
        "occurred_at": draw(_moments).isoformat(),
        "recorded_at": draw(_moments).isoformat(),
        "actor": {
            "user_id": draw(st.text(min_size=1, max_size=20)),
            "agency": draw(st.sampled_from(list(Agency))).value,
            "role": "social_worker",
        },
        "correlation_id": str(draw(st.uuids())),
        "causation_id": draw(st.none() | st.uuids().map(str)),
        "payload": payload,
        "position": draw(st.none() | st.integers(1, 2**40)),
    }
    spoil = draw(st.sampled_from(SPOILS))
    if spoil == "field dropped" and payload:
        del payload[draw(st.sampled_from(sorted(payload)))]
    elif spoil == "field added":
        payload[draw(st.text(min_size=1, max_size=8))] = draw(_json)
    elif spoil == "field retyped" and payload:
        payload[draw(st.sampled_from(sorted(payload)))] = draw(_json)
    elif spoil == "payload replaced":
        message["payload"] = draw(_json)
    elif spoil == "another version":
        message["schema_version"] = draw(
            st.sampled_from([0, cls.schema_version + 1, str(cls.schema_version), 1.0])
        )
    elif spoil == "another event type":
        message["event_type"] = draw(
            st.sampled_from(sorted(registry.types())) | st.text(max_size=12) | _json
        )
    elif spoil == "envelope field retyped":
        message[draw(st.sampled_from(sorted(message)))] = draw(_json)
    elif spoil == "envelope field added":
        where = draw(st.sampled_from(["message", "actor"]))
        (message if where == "message" else message["actor"])[draw(st.text(max_size=8))] = draw(
            _json
        )
    value = json.dumps(message).encode()
    if spoil == "bytes cut short":
        value = value[: draw(st.integers(0, len(value) - 1))]
    elif spoil == "arbitrary bytes":
        value = draw(st.binary(max_size=64))
    return spoil, value


def outcome(read: Any, decode: Any, value: bytes) -> tuple[Any, ...]:
    """What a consumer makes of the message, step by step: the envelope (as its fields) or
    the error's type and text, then the event or the error's."""
    try:
        envelope = read(value)
    except Exception as error:
        return "refused", type(error), str(error)
    read_as = envelope.model_dump(), envelope.model_dump_json()
    try:
        event = decode(envelope)
    except Exception as error:
        return "read", *read_as, "refused", type(error), str(error)
    return "read", *read_as, "decoded", type(event), event


def one_pass(registry: EventRegistry, value: bytes) -> tuple[Any, ...]:
    return outcome(registry.read, registry.decode_envelope, value)


def the_plain_way(registry: EventRegistry, value: bytes) -> tuple[Any, ...]:
    return outcome(Envelope.model_validate_json, registry.decode_envelope, value)


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("event_type", "cls"), EVENT_TYPES, ids=[t for t, _ in EVENT_TYPES])
@SETTINGS
@given(data=st.data())
def test_every_event_type_decodes_as_the_plain_way_decodes_it_valid_or_not(
    event_type: str, cls: type[DomainEvent], data: st.DataObject
) -> None:
    spoil, value = data.draw(messages(cls, REGISTRY), label="message")
    assert one_pass(REGISTRY, value) == the_plain_way(REGISTRY, value)
    if spoil == "none":
        # Valid, and of the version the code declares: taken by the one pass, not the
        # plain way behind it (else it would be right but no quicker).
        envelope = REGISTRY.read(value)
        assert type(envelope) is not Envelope and isinstance(envelope, Envelope)
        event = REGISTRY.decode_envelope(envelope)
        assert type(event) is cls and event == cls.model_validate(json.loads(value)["payload"])


def wire(event_type: str, version: int, payload: dict[str, Any]) -> bytes:
    """A message as the relay publishes it."""
    return json.dumps(
        {
            "event_id": str(UUID(int=2)),
            "event_type": event_type,
            "schema_version": version,
            "stream_id": "YP-1",
            "stream_version": 1,
            "occurred_at": "2026-01-02T00:00:00Z",
            "recorded_at": "2026-01-02T00:00:01Z",
            "actor": Actor(user_id="u", agency=Agency.COUNCIL, role="pa").model_dump(mode="json"),
            "correlation_id": str(UUID(int=3)),
            "payload": payload,
        }
    ).encode()


def test_an_older_version_is_upcast_as_the_plain_way_upcasts_it() -> None:
    registry, current = registry_with_v3_event()
    v1 = wire("ContactRecorded", 1, {"person": "YP-1", "in_touch": "yes"})
    got = one_pass(registry, v1)
    assert got == the_plain_way(registry, v1)
    assert type(registry.read(v1)) is Envelope  # an older version: read the plain way
    assert got[-1] == current.model_validate(
        {"young_person_id": "YP-1", "in_touch": "yes", "method": "unknown"}
    )
    v3 = wire("ContactRecorded", 3, {**got[-1].model_dump(), "method": "visit"})
    assert type(registry.read(v3)) is not Envelope  # the current version: the one pass
    assert one_pass(registry, v3) == the_plain_way(registry, v3)


def test_a_type_registered_after_the_one_pass_was_made_is_read_by_it() -> None:
    registry, _ = registry_with_v3_event()
    with pytest.raises(ValidationError):
        registry.read(b"{}")  # the one pass made, without the type below

    @registry.event
    class LateArrival(DomainEvent):
        event_type = "LateArrival"
        note: str

    envelope = registry.read(wire("LateArrival", 1, {"note": "n"}))
    assert type(envelope) is not Envelope
    assert registry.decode_envelope(envelope) == LateArrival(note="n")


def test_an_envelope_read_by_another_registry_is_decoded_by_this_one() -> None:
    """The chaos runs' schema evolution reads with new code what old code read: an event
    read with one registry's model of it is decoded again by another's."""
    old, _ = registry_with_v3_event()
    new, current = registry_with_v3_event()
    payload = {"young_person_id": "YP-2", "in_touch": "yes", "method": "visit"}
    event = new.decode_envelope(old.read(wire("ContactRecorded", 3, payload)))
    assert type(event) is current and event == current.model_validate(payload)

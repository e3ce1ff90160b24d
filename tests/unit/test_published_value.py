"""What the relay sends for a stored event (`_outgoing`, made from the row with no model in
between) is what the envelope's model would send: for any envelope, stored as the event store
stores it (the actor and the payload as jsonb, whose keys come back in an order of their own),
the record's value is byte for byte `model_dump_json(exclude={"position"})`, reads back as the
same envelope, and the record's key and headers name the same event. Property-based; no I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shared.envelope import Actor, Agency, Envelope
from shared.eventstore import Cursor, _envelope, _outgoing
from shared.relay import record_headers

_text = st.text(min_size=1, max_size=40)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
envelopes = st.builds(
    Envelope,
    event_id=st.uuids(),
    event_type=_text,
    schema_version=st.integers(1, 9),
    stream_id=_text,
    stream_version=st.integers(1, 2**31 - 1),
    occurred_at=_moments,
    recorded_at=_moments,
    actor=st.builds(Actor, user_id=_text, agency=st.sampled_from(list(Agency)), role=_text),
    correlation_id=st.uuids(),
    causation_id=st.none() | st.uuids(),
    payload=st.dictionaries(st.text(max_size=12), _json, max_size=6),
    position=st.integers(1, 2**40),
)


def _jsonb(value: Any) -> str:
    """As PostgreSQL gives a jsonb value back: its objects' keys shortest first, then by
    their bytes, and its own spacing."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{json.dumps(k)}: {_jsonb(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_jsonb(v) for v in value) + "]"
    return json.dumps(value)


def _stored(envelope: Envelope, trace_context: str | None) -> dict[str, Any]:
    """The row `read_committed` fetches for the envelope (its columns as asyncpg decodes them)."""
    return {
        "txid": 7,
        "position": envelope.position,
        "event_id": envelope.event_id,
        "stream_id": envelope.stream_id,
        "stream_version": envelope.stream_version,
        "event_type": envelope.event_type,
        "schema_version": envelope.schema_version,
        "occurred_at": envelope.occurred_at,
        "recorded_at": envelope.recorded_at,
        "actor": _jsonb(envelope.actor.model_dump(mode="json")),
        "correlation_id": envelope.correlation_id,
        "causation_id": envelope.causation_id,
        "payload": _jsonb(envelope.payload),
        "trace_context": trace_context,
    }


@given(envelopes, st.none() | st.just("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
def test_the_relays_record_is_the_envelopes(envelope: Envelope, trace_context: str | None) -> None:
    row = _stored(envelope, trace_context)
    sent = _outgoing(row)

    assert sent.value == _envelope(row).model_dump_json(exclude={"position"}).encode()
    assert Envelope.model_validate_json(sent.value) == envelope.model_copy(
        update={"position": None}
    )
    assert sent.cursor == Cursor(7, envelope.position or 0)
    assert sent.stream_id == envelope.stream_id  # the record's key
    assert sent.trace_context == trace_context
    assert record_headers(sent, "/csp/case-events") == record_headers(envelope, "/csp/case-events")

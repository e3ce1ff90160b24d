"""Payloads any event type's contract allows, drawn from its JSON schema (property tests of
code that must hold for every event type: the chronology's line, the consumers' decoder).
An open string is a marked free text and a sealed one a marked sealed value, so a test can
tell whether either was shown."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import strategies as st

from contracts.ids import CHILD_ID_PATTERN
from services.projections.chronology.entries import SEALED
from shared.envelope import DomainEvent

FREE_TEXT = "free text, never shown"
SEALED_VALUE = "sealed:v1:NEVERSHOWN"


SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "number": st.floats(-1000, 1000, allow_nan=False, allow_infinity=False),
}


def values(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values a field's JSON schema allows; an open string is free text, a sealed one sealed."""
    if "$ref" in schema:
        return values(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return st.one_of(*(values(s, defs) for s in schema["anyOf"]))
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind in SCALARS:
        return SCALARS[kind]
    if kind == "integer":
        return st.integers(schema.get("minimum", 0), schema.get("maximum", 1000))
    if kind == "array":
        return st.lists(
            values(schema["items"], defs), min_size=schema.get("minItems", 0), max_size=2
        )
    if kind == "object":
        return st.fixed_dictionaries({k: values(v, defs) for k, v in schema["properties"].items()})
    if schema.get("format") == "date":
        return st.dates(date(1990, 1, 1), date(2030, 12, 31)).map(date.isoformat)
    pattern = schema.get("pattern")
    if pattern is None:
        return st.just(FREE_TEXT)
    if pattern.startswith(SEALED):
        return st.just(SEALED_VALUE)
    return st.from_regex(pattern, fullmatch=True)


def payloads(cls: type[DomainEvent]) -> st.SearchStrategy[dict[str, Any]]:
    """Wire-form payloads (JSON's types) of the event type, each valid under its model."""
    schema = cls.model_json_schema()
    fields = {k: values(v, schema.get("$defs", {})) for k, v in schema["properties"].items()}
    if "child_id" in fields:  # a child's id, whether or not the contract says its pattern
        fields["child_id"] = st.from_regex(CHILD_ID_PATTERN, fullmatch=True)
    return st.fixed_dictionaries(fields)

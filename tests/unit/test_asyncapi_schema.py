"""docs/asyncapi.json is a valid AsyncAPI 3.0.0 document: the whole of it, against the
official schema (tests/unit/asyncapi/, vendored from `@asyncapi/specs`), every message and
every schema in it actually checked, and every reference in it leading somewhere.

The official schema checks a component only under a key it allows (`patternProperties`):
FastStream's `case-events:Message` is not one, and a message under it goes unchecked, so
a broken message would pass. deploy/catalogue.py renames such keys; these tests plant an error
in every message and every schema and see each one found."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, ValidationError
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from deploy.catalogue import COMPONENT_KEY, DOCS, SERVERS

OFFICIAL = Path(__file__).parent / "asyncapi" / "3.0.0.json"
Document = dict[str, Any]


@cache
def validator() -> Draft7Validator:
    schema = json.loads(OFFICIAL.read_text())
    assert schema["$id"] == "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
    assert validator_for(schema) is Draft7Validator
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def document() -> Document:
    loaded: Document = json.loads((DOCS / "asyncapi.json").read_text())
    return loaded


def leaves(errors: Iterator[ValidationError]) -> Iterator[ValidationError]:
    """Every error and the errors it was made of (a message is `oneOf` a reference or a
    message object: what is wrong inside it is in the error's context)."""
    for error in errors:
        yield error
        yield from leaves(iter(error.context or ()))


def found(doc: Document) -> set[tuple[str | int, ...]]:
    """Where the official schema finds something wrong: each error's path in the document."""
    return {tuple(e.absolute_path) for e in leaves(validator().iter_errors(doc))}


def test_the_whole_document_is_valid_against_the_official_asyncapi_3_schema() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    errors = sorted(validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert errors == [], [(list(e.absolute_path), e.message[:200]) for e in errors]


def test_every_component_has_a_key_the_schema_checks() -> None:
    components = document()["components"]
    assert set(components) >= {"messages", "schemas", "securitySchemes"}
    for section, named in components.items():
        refused = [key for key in named if not COMPONENT_KEY.match(key)]
        assert refused == [], (section, refused)


def test_the_schema_passes_over_a_message_whose_key_it_does_not_allow() -> None:
    """Why the keys are renamed: under FastStream's name, a broken message is not found."""
    doc = document()
    messages = doc["components"]["messages"]
    broken = messages.pop("case-events.Message")
    broken["headers"]["type"] = 42
    messages["case-events:Message"] = broken
    assert found(doc) == set()


def test_an_error_planted_in_any_message_is_found() -> None:
    doc = document()
    messages = doc["components"]["messages"]
    assert len(messages) == 12  # five domain topics, six partners, the dead letters
    for message in messages.values():
        message["headers"]["properties"]["ce_bogus"] = {"type": 42}
    where = found(doc)
    for key in messages:
        assert ("components", "messages", key, "headers", "properties", "ce_bogus", "type") in (
            where
        ), key


def test_an_error_planted_in_any_schema_is_found() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]
    for schema in schemas.values():
        schema["minLength"] = "long"
    where = found(doc)
    missed = [key for key in schemas if ("components", "schemas", key, "minLength") not in where]
    assert missed == []


def _wrong_location(doc: Document) -> None:
    doc["components"]["messages"]["partner-police.Message"]["correlationId"]["location"] = (
        "header.correlation_id"
    )


def _key_of_type_42(doc: Document) -> None:
    doc["components"]["messages"]["dead-letter.Message"]["bindings"]["kafka"]["key"]["type"] = 42


def _operation_without_channel(doc: Document) -> None:
    del doc["operations"]["partner-health"]["channel"]


def _unknown_security_scheme(doc: Document) -> None:
    doc["components"]["securitySchemes"]["scram"]["type"] = "scramSha999"


def _server_without_protocol(doc: Document) -> None:
    del doc["servers"]["partners"]["protocol"]


def _bad_retention(doc: Document) -> None:
    channel = doc["channels"]["partner-schools"]
    channel["bindings"]["kafka"]["topicConfiguration"]["retention.ms"] = "90 days"


PLANTED: dict[str, tuple[Callable[[Document], None], tuple[str, ...]]] = {
    "a correlation id's location not a runtime expression": (
        _wrong_location,
        ("components", "messages", "partner-police.Message", "correlationId", "location"),
    ),
    "a key whose schema has type 42": (
        _key_of_type_42,
        ("components", "messages", "dead-letter.Message", "bindings", "kafka", "key", "type"),
    ),
    "an operation without its channel": (
        _operation_without_channel,
        ("operations", "partner-health"),
    ),
    "a security scheme AsyncAPI does not define": (
        _unknown_security_scheme,
        ("components", "securitySchemes", "scram", "type"),
    ),
    "a server without its protocol": (_server_without_protocol, ("servers", "partners")),
    "a topic's retention not a number": (
        _bad_retention,
        (
            "channels",
            "partner-schools",
            "bindings",
            "kafka",
            "topicConfiguration",
            "retention.ms",
        ),
    ),
}


def test_every_planted_error_is_found_where_it_was_planted() -> None:
    doc = document()
    for plant, _ in PLANTED.values():
        plant(doc)
    where = found(doc)  # one validation for all: each error is reported on its own
    missed = [planted for planted, (_, path) in PLANTED.items() if path not in where]
    assert missed == []


# -- references ------------------------------------------------------------------------------
# The official schema checks that a reference is a URI, not that it leads anywhere.

BASE = "urn:csp:asyncapi"


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def dangling(doc: Document) -> list[str]:
    """Every reference in the document that names nothing in it."""
    resolver = (
        Registry().with_resource(BASE, Resource.from_contents(doc, DRAFT202012)).resolver(BASE)
    )
    out = []
    for ref in sorted(set(references(doc))):
        try:
            resolver.lookup(ref)
        except Unresolvable:
            out.append(ref)
    return out


def test_every_reference_leads_to_a_part_of_the_document() -> None:
    doc = document()
    refs = set(references(doc))
    assert all(ref.startswith("#/") for ref in refs)
    assert "#/components/securitySchemes/scram" in refs
    assert {f"#/servers/{name}" for name in SERVERS} <= refs
    assert dangling(doc) == []


def test_a_reference_to_a_channel_that_is_not_there_is_found() -> None:
    doc = document()
    operation = doc["operations"]["partner-police"]
    operation["channel"] = {"$ref": "#/channels/partner-polise"}
    assert found(doc) == set()  # a valid document: only the resolution finds it
    assert dangling(copy.deepcopy(doc)) == ["#/channels/partner-polise"]

"""The event catalogue is generated from the contracts and kept current."""

from __future__ import annotations

import json

from contracts.catalogue import DOCS, asyncapi, markdown
from contracts.topics import EVENTS


def test_the_catalogue_in_docs_is_generated_from_the_current_contracts() -> None:
    found = EVENTS
    assert (DOCS / "events.md").read_text() == markdown(found), (
        "docs/events.md is stale: run `make docs`"
    )
    assert json.loads((DOCS / "asyncapi.json").read_text()) == asyncapi(found), (
        "docs/asyncapi.json is stale: run `make docs`"
    )


def test_every_event_type_of_every_topic_is_in_the_asyncapi_document() -> None:
    spec = asyncapi(EVENTS)
    schemas = spec["components"]["schemas"]
    for topic, registry in EVENTS.items():
        assert topic in spec["channels"]
        for event_type, cls in registry.types().items():
            message = schemas[f"{event_type}Message"]
            assert message["properties"]["event_type"]["const"] == event_type
            payload = schemas[cls.__name__]
            assert set(payload["properties"]) == set(cls.model_fields)

"""The event catalogue: what each topic carries, generated from the pydantic contracts.

- `docs/asyncapi.json`: an AsyncAPI 3 document built by FastStream from the same models the
  services publish (a publisher per topic, its message a union of typed envelopes), with the
  record's key and headers as the relay sends them (shared/relay.py `HEADERS`: FastStream
  declares neither);
- `docs/events.md`: the same for people, a table per event with its fields and codes.

`python -m contracts.catalogue` writes both; a test fails when they are stale.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import create_model

from contracts.topics import EVENTS, TOPICS
from shared.envelope import DomainEvent, Envelope, EventRegistry
from shared.relay import (
    CE_SPECVERSION,
    CONTENT_TYPE,
    HEADERS,
    OPTIONAL_HEADERS,
    cloudevents_source,
    cloudevents_type,
)

DOCS = Path(__file__).resolve().parent.parent / "docs"


def typed_envelope(event: type[DomainEvent]) -> type[Envelope]:
    """The envelope of one event type, its payload that event's model."""
    fields: dict[str, Any] = {
        "event_type": (Literal[event.event_type], ...),
        "schema_version": (Literal[event.schema_version], ...),
        "payload": (event, ...),
    }
    return create_model(
        f"{event.event_type}Message",
        __base__=Envelope,
        __doc__=(event.__doc__ or event.event_type).strip(),
        **fields,
    )


def asyncapi(contracts: dict[str, EventRegistry]) -> dict[str, Any]:
    broker = KafkaBroker("kafka:9092", description="The platform's Kafka cluster")
    for topic in TOPICS:
        registry = contracts.get(topic.name)
        if registry is None:
            continue
        messages = [typed_envelope(cls) for cls in registry.types().values()]
        broker.publisher(
            topic.name,
            title=topic.name,
            description=topic.description,
            schema=Union[tuple(messages)],  # noqa: UP007
        )
    spec = AsyncAPI(
        broker,
        title="Children's services events",
        version="1",
        description="Every domain event of the platform, by topic. Key: the "
        "stream id (a child's pseudonymous id); headers: the event's id, type and schema "
        "version, the correlation id, CloudEvents (binary mode) and W3C trace context.",
    )
    document: dict[str, Any] = json.loads(spec.to_specification().to_json())
    for topic in TOPICS:
        registry = contracts.get(topic.name)
        message = document["components"]["messages"].get(f"{topic.name}:Message")
        if registry is not None and message is not None:
            message.update(record_of(topic.name, registry))
    return document


def record_of(topic: str, registry: EventRegistry) -> dict[str, Any]:
    """What AsyncAPI says of a record besides its payload: its headers (each as sent, the
    ones fixed for the topic as constants), the header that carries the correlation id, and
    the key (the Kafka binding)."""
    fixed: dict[str, dict[str, Any]] = {
        "event_id": {"format": "uuid"},
        "event_type": {"enum": sorted(registry.types())},
        "schema_version": {"pattern": "^[1-9][0-9]*$"},
        "correlation_id": {"format": "uuid"},
        "content-type": {"const": CONTENT_TYPE.decode()},
        "ce_id": {"format": "uuid"},
        "ce_source": {"const": cloudevents_source(topic)},
        "ce_type": {
            "enum": sorted(
                cloudevents_type(name, cls.schema_version) for name, cls in registry.types().items()
            )
        },
        "ce_specversion": {"const": CE_SPECVERSION},
        "ce_time": {"format": "date-time"},
    }
    return {
        "headers": {
            "type": "object",
            "properties": {
                name: {"type": "string", "description": description, **fixed.get(name, {})}
                for name, description in HEADERS.items()
            },
            "required": [name for name in HEADERS if name not in OPTIONAL_HEADERS],
        },
        "correlationId": {
            "description": "The request that recorded the event (X-Correlation-Id); also "
            "the envelope's correlation_id.",
            "location": "$message.header#/correlation_id",
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": "The stream id: one child's events stay in order on one "
                    "partition.",
                },
                "bindingVersion": "0.4.0",  # as FastStream declares the channels' bindings
            }
        },
    }


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return f"{annotation.__name__}: " + ", ".join(f"`{m.value}`" for m in annotation)
    origin = get_origin(annotation)
    if origin is Union or str(origin) == "types.UnionType":
        return " or ".join(_type_name(a) for a in get_args(annotation))
    if origin is list:
        return f"list of {_type_name(get_args(annotation)[0])}"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def markdown(contracts: dict[str, EventRegistry]) -> str:
    lines = [
        "# Event catalogue",
        "",
        "Generated by `python -m contracts.catalogue` from the published contracts "
        "(`contracts/*/events.py`); the machine-readable form is "
        "[asyncapi.json](asyncapi.json).",
        "",
        "Every message is an envelope: `event_id` (UUIDv7), `event_type`, "
        "`schema_version`, `stream_id` (the Kafka key), `stream_version`, `occurred_at`, "
        "`recorded_at`, `actor` (user, agency, role), `correlation_id`, `causation_id`, "
        "and the `payload` below.",
        "",
        "Every record carries these headers (CloudEvents' Kafka binding in binary mode: the "
        "value is the envelope, the `ce_` headers its attributes):",
        "",
        "| header | what it carries |",
        "|---|---|",
        *(
            f"| `{name}` | {description}"
            f"{' Only when present.' if name in OPTIONAL_HEADERS else ''} |"
            for name, description in HEADERS.items()
        ),
        "",
    ]
    for topic in TOPICS:
        registry = contracts.get(topic.name)
        if registry is None:
            continue
        lines += [f"## Topic `{topic.name}`", "", topic.description, ""]
        for name, cls in registry.types().items():
            doc = " ".join((cls.__doc__ or "").split())
            lines += [f"### {name} (v{cls.schema_version})", ""]
            if doc and not doc.startswith(("The fields of a fact", "An event that happened")):
                lines += [doc, ""]
            lines += ["| field | type | required | description |", "|---|---|---|---|"]
            for field_name, field in cls.model_fields.items():
                lines.append(
                    f"| `{field_name}` | {_type_name(field.annotation)} | "
                    f"{'yes' if field.is_required() else 'no'} | "
                    f"{field.description or ''} |"
                )
            lines.append("")
    return "\n".join(lines)


def write() -> None:
    found = EVENTS
    (DOCS / "asyncapi.json").write_text(
        json.dumps(asyncapi(found), indent=1, sort_keys=True) + "\n"
    )
    (DOCS / "events.md").write_text(markdown(found))


if __name__ == "__main__":
    write()

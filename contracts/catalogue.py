"""The domain topics' part of the event catalogue, from the pydantic contracts alone.

- `typed_envelope`: the envelope of one event type, its payload that event's model: what the
  AsyncAPI document (and the released contract, deploy/contracts.py) says a domain topic
  carries;
- `record_of`: what AsyncAPI says of a domain topic's record besides its value: the headers as
  the relay sends them (shared/relay.py `HEADERS`), the header holding the correlation id, the
  key (FastStream declares none of them);
- `markdown`: the domain topics for people, a table per event with its fields and codes.

The whole catalogue (every topic: the partners' and the dead-letter topic too, the servers and
their security) is put together by deploy/catalogue.py: the partner messages are derived from
the partner feed's tables, which this layer must not import. `make docs` writes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import create_model

from contracts.topics import TOPICS
from shared.envelope import DomainEvent, Envelope, EventRegistry
from shared.relay import (
    CE_SPECVERSION,
    CONTENT_TYPE,
    HEADERS,
    OPTIONAL_HEADERS,
    cloudevents_source,
    cloudevents_type,
)

# The kafka bindings' version: the one FastStream declares the channels' bindings with.
KAFKA_BINDING = "0.4.0"


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


def headers_schema(
    described: Mapping[str, str],
    required: Iterable[str],
    fixed: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON Schema of a record's headers: each a string with its description (and, where
    the topic fixes it, its constant, codes or format), the ones always sent required."""
    return {
        "type": "object",
        "properties": {
            name: {"type": "string", "description": description, **(fixed or {}).get(name, {})}
            for name, description in described.items()
        },
        "required": list(required),
    }


def record_headers_fixed(topic: str, ce_types: list[str]) -> dict[str, dict[str, Any]]:
    """The schemas of the headers every record of the platform carries the same way, domain
    and partner alike: the correlation id, the content type and the CloudEvents attributes
    (`ce_type` one of `ce_types`)."""
    return {
        "correlation_id": {"format": "uuid"},
        "content-type": {"const": CONTENT_TYPE.decode()},
        "ce_id": {"format": "uuid"},
        "ce_source": {"const": cloudevents_source(topic)},
        "ce_type": {"enum": sorted(ce_types)},
        "ce_specversion": {"const": CE_SPECVERSION},
        "ce_time": {"format": "date-time"},
    }


def record_of(topic: str, registry: EventRegistry) -> dict[str, Any]:
    """What AsyncAPI says of a record besides its payload: its headers (each as sent, the
    ones fixed for the topic as constants), the header that carries the correlation id, and
    the key (the Kafka binding)."""
    fixed: dict[str, dict[str, Any]] = {
        "event_id": {"format": "uuid"},
        "event_type": {"enum": sorted(registry.types())},
        "schema_version": {"pattern": "^[1-9][0-9]*$"},
        **record_headers_fixed(
            topic, [cloudevents_type(n, c.schema_version) for n, c in registry.types().items()]
        ),
    }
    return {
        "headers": headers_schema(
            HEADERS, [name for name in HEADERS if name not in OPTIONAL_HEADERS], fixed
        ),
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
                "bindingVersion": KAFKA_BINDING,
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


def markdown(contracts: Mapping[str, EventRegistry]) -> str:
    lines = [
        "# Event catalogue",
        "",
        "Generated by `make docs` (`python -m deploy.catalogue`) from the published contracts "
        "(`contracts/*/events.py`) and the partner feed's tables; the machine-readable form is "
        "[asyncapi.json](asyncapi.json) (AsyncAPI 3: every topic below, its key, headers and "
        "message schemas, the servers and their security).",
        "",
        "Every message on a domain topic is an envelope: `event_id` (UUIDv7), `event_type`, "
        "`schema_version`, `stream_id` (the Kafka key), `stream_version`, `occurred_at`, "
        "`recorded_at`, `actor` (user, agency, role), `correlation_id`, `causation_id`, "
        "and the `payload` below.",
        "",
        "Every record of a domain topic carries these headers (CloudEvents' Kafka binding in "
        "binary mode: the value is the envelope, the `ce_` headers its attributes):",
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

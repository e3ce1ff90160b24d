"""The event catalogue: what every topic carries, generated from the code that sends it.

    python -m deploy.catalogue      # `make docs`; tests/unit/test_catalogue.py fails when stale

- `docs/asyncapi.json`: an AsyncAPI 3 document built by FastStream from the pydantic models
  the platform sends (a publisher per topic, its message a union of the topic's message
  models), with what FastStream does not declare added from the code that sends the records:
  - the domain topics: the typed envelopes, their key and headers as the relay sends them
    (contracts/catalogue.py, shared/relay.py `HEADERS`);
  - each agency's `partner-<agency>` topic: the minimised messages of the released partner
    contract (deploy/contracts.py `partner_messages`, the models the partner kit's are
    generated from), keyed by the agency's pseudonym of the child, with the headers
    `PartnerMessage.headers()` sends (services/partner_feeds/sharing.py `PARTNER_HEADERS`);
  - the `dead-letter` topic: the record a consumer passed over, as it was received, with the
    headers shared/projection.py adds (`DEAD_LETTER_HEADERS` below);
  - the servers: the partners' listener and the platform's own (SASL_SSL, SCRAM-SHA-512, the
    council's CA) and the plaintext broker of local development;
- `docs/events.md`: the same for people.

FastStream names a topic's message `<topic>:Message`, which the official AsyncAPI 3.0.0 schema
does not allow as a component's key (`^[\\w\\d\\.\\-_]+$`): a validator then passes over the
message without checking it. `valid_keys` renames such keys and every reference to them, so
tests/unit/test_asyncapi_schema.py validates every part of the document.

It lives in deploy/ because the partner messages are derived from the partner feed's tables
(services/), which the contracts layer must not import.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel

from contracts.catalogue import (
    KAFKA_BINDING,
    headers_schema,
    record_headers_fixed,
    record_of,
    typed_envelope,
)
from contracts.catalogue import markdown as domain_markdown
from contracts.topics import (
    DEAD_LETTERS,
    DOMAIN_TOPICS,
    EVENTS,
    PARTNER_AGENCIES,
    PARTNER_TOPICS,
    TOPICS,
)
from deploy.contracts import RELEASED, PartnerMessageModel, partner_messages
from services.partner_feeds.sharing import PARTNER_HEADERS
from shared.envelope import EventRegistry
from shared.kafka import TopicDefinition
from shared.relay import cloudevents_type

DOCS = Path(__file__).resolve().parent.parent / "docs"
PartnerModels = Mapping[str, Mapping[str, type[PartnerMessageModel]]]

# What the official AsyncAPI 3.0.0 schema allows as the key of a component (its
# `patternProperties`): a component under any other key is not validated at all.
COMPONENT_KEY = re.compile(r"^[\w\d\.\-_]+$", re.ASCII)

# -- servers ---------------------------------------------------------------------------------

SCRAM = "scram"
SECURITY_SCHEMES = {
    SCRAM: {
        "type": "scramSha512",
        "description": "SASL/SCRAM-SHA-512 inside TLS (Kafka's SASL_SSL): a Kafka user and "
        "its password. A partner agency's user is `partner-<agency>`; the broker lets it read "
        "only its own topic, in consumer groups whose names start `partner-<agency>` "
        "(docs/partners.md). The council sends the password apart from the user name and "
        "rotates it.",
    }
}
PARTNERS, PLATFORM, LOCAL = "partners", "platform", "local"
SERVERS: dict[str, dict[str, Any]] = {
    PARTNERS: {
        "host": "{listener}",
        "protocol": "kafka-secure",
        "title": "The council's partner listener",
        "description": "Where a partner agency's consumer connects: SASL_SSL on a port of "
        "its own, SCRAM-SHA-512 with the agency's own user. TLS: verify the broker's "
        "certificate, host name included, against the CA certificate the council sends with "
        "the credentials (PEM; before a renewal, one file holding the old CA and the new). "
        "Nothing else of the broker is reachable there.",
        "variables": {
            "listener": {
                "description": "`host:port` of the council's partner listener, sent with "
                "the agency's credentials (port 9094 in the council's compose deployment, "
                "unless it sets another)."
            }
        },
        "security": [{"$ref": f"#/components/securitySchemes/{SCRAM}"}],
    },
    PLATFORM: {
        "host": "kafka:9092",
        "protocol": "kafka-secure",
        "title": "The platform's own listener",
        "description": "Where the council's services connect inside the deployment "
        "(docker-compose.yml; never published): SASL_SSL, SCRAM-SHA-512 with each service's "
        "own user, TLS verified against the deployment's CA (CSP_KAFKA_SSL_CAFILE).",
        "security": [{"$ref": f"#/components/securitySchemes/{SCRAM}"}],
    },
    LOCAL: {
        "host": "127.0.0.1:9092",
        "protocol": "kafka",
        "title": "Local development only",
        "description": "`make run` on a developer's machine: plaintext, no authentication, "
        "never a deployment. (`CSP_KAFKA_SECURE=1 make run` serves the same address with "
        "SASL_SSL and SCRAM-SHA-512, as the platform's listener, and a partner listener on a "
        "port of its own.)",
    },
}
# Where each kind of topic is read: a partner's topic on the partners' listener too; the
# domain topics and the dead letters only by the council's processes and operators.
CHANNEL_SERVERS = {
    **{t.name: (PLATFORM, LOCAL) for t in (*DOMAIN_TOPICS, DEAD_LETTERS)},
    **{t.name: (PARTNERS, PLATFORM, LOCAL) for t in PARTNER_TOPICS},
}

# -- the partner topics ----------------------------------------------------------------------

# The headers on every record a partner's topic has ever carried; the others (the correlation
# id, content-type, CloudEvents) came later: a record from before them (kept 90 days) lacks
# them and is version 1 of its message (docs/partners.md; the partner kit reads it so).
PARTNER_HEADERS_ALWAYS = ("message_id", "event_type")


def partner_record(topic: str, models: Mapping[str, type[PartnerMessageModel]]) -> dict[str, Any]:
    """What AsyncAPI says of a partner's record besides its payload: the headers as
    `PartnerMessage.headers()` sends them, the per-agency correlation id, and the key."""
    fixed: dict[str, dict[str, Any]] = {
        "message_id": {"format": "uuid"},
        "event_type": {"enum": sorted(models)},
        **record_headers_fixed(
            topic,
            [cloudevents_type(n, m.schema_version, "partner") for n, m in models.items()],
        ),
    }
    subject = next(iter(models.values())).model_json_schema()["properties"]["subject"]
    return {
        "description": f"One message about one child, minimised and pseudonymised. Its "
        "version is the `ce_type` header's: every version ever released is in the released "
        f"contract (contracts/released/{topic}.json). The records' key, value and headers "
        "and what each field means: docs/partners.md.",
        "headers": headers_schema(PARTNER_HEADERS, PARTNER_HEADERS_ALWAYS, fixed),
        "correlationId": {
            "description": "The council's request that recorded the event, as this agency's "
            "own id: the same on every message one request sent the agency, unlike any other "
            "agency's. Quote it to the council.",
            "location": "$message.header#/correlation_id",
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "pattern": subject["pattern"],
                    "description": "The agency's pseudonym of the child (the message's "
                    "`subject`): every message about one child has it, so they stay in order "
                    "on one partition.",
                },
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


# -- the dead-letter topic -------------------------------------------------------------------

# The headers shared/projection.py (`ProjectionRunner._dead_letter`) adds to the record it
# passes over; tests/unit/test_catalogue.py checks they are the ones it sends.
DEAD_LETTER_HEADERS: dict[str, str] = {
    "dlq_reason": "Why the consumer passed the record over: `undecodable: ...` (not an "
    "event), `unknown event type: ...` or `incompatible schema version: ...` (a contract the "
    "consumer lacks), `apply failed: ...` (its handler failed). At most 1000 bytes.",
    "dlq_origin_topic": "The topic the record was read from (with CSP_NAMESPACE in front, if any).",
    "dlq_origin_partition": "Its partition there.",
    "dlq_origin_offset": "Its offset there: the original is still at this place.",
    "dlq_consumer": "The consumer that passed it over (`boards.<build>`, "
    "`partner_feeds.shares`...: docs/operations.md, Dead letters), the one a replay applies "
    "it into.",
    "dlq_failed_at": "When it was passed over (RFC 3339, UTC: 2026-03-02T09:00:00.123456+00:00).",
}
REASONS = ("undecodable", "unknown event type", "incompatible schema version", "apply failed")
_COUNT = {"pattern": "^(0|[1-9][0-9]*)$"}


def dead_letter_message(domain_payloads: list[str]) -> dict[str, Any]:
    """A dead letter: the record as the consumer received it (its key, value and headers
    unchanged) and the headers saying why, from where and by whom."""
    fixed = {
        "dlq_reason": {"pattern": f"^({'|'.join(REASONS)}): "},
        "dlq_origin_partition": _COUNT,
        "dlq_origin_offset": _COUNT,
        "dlq_failed_at": {"format": "date-time"},
    }
    headers = headers_schema(DEAD_LETTER_HEADERS, DEAD_LETTER_HEADERS, fixed)
    headers["additionalProperties"] = {
        "description": "The original record's own headers, as it was received: on a record "
        "of a domain topic, the ones its channel declares (event_id, event_type, "
        "correlation_id, ce_*...)."
    }
    return {
        "title": f"{DEAD_LETTERS.name}.Message",
        "description": "A record a consumer of the platform could not decode or apply, sent "
        "on as it was received with the reason and its origin in headers. Read by the "
        "council's operators only (python -m deploy.dead_letters: docs/operations.md, Dead "
        "letters); the services may write this topic, not read it, and no partner may.",
        "headers": headers,
        "payload": {
            "description": "The original record's value, byte for byte: a domain topic's "
            "message when the consumer could read it as one (an event of a type or version "
            "it does not know, or one its handler failed on), else the bytes it could not "
            "decode.",
            "anyOf": [
                *({"$ref": f"#/components/schemas/{name}"} for name in domain_payloads),
                {"description": "Any other bytes (`undecodable`)."},
            ],
        },
        "correlationId": {
            "description": "The original record's correlation id, when it had one (every "
            "record of a domain topic has): the request that recorded the event, also in "
            "the worker's log line `message dead-lettered`.",
            "location": "$message.header#/correlation_id",
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": ["string", "null"],
                    "description": "The original record's key, as it was received: a domain "
                    "record's stream id.",
                },
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


# -- the document ----------------------------------------------------------------------------


def asyncapi(
    events: Mapping[str, EventRegistry] = EVENTS, partners: PartnerModels | None = None
) -> dict[str, Any]:
    """The AsyncAPI 3 document of every topic (`events`, `partners`: a test's own)."""
    partners = partner_messages() if partners is None else partners
    broker = KafkaBroker(SERVERS[PLATFORM]["host"])  # its one server is replaced below
    for topic in TOPICS:
        carried = _models(topic, events, partners)
        if carried:
            broker.publisher(
                topic.name,
                title=topic.name,
                description=topic.description,
                schema=Union[tuple(carried)],  # noqa: UP007
            )
    spec = AsyncAPI(
        broker,
        title="Children's services events",
        version="1",
        description="What the platform sends to Kafka, by topic: the domain topics (the "
        "council's own services read them), each partner agency's topic `partner-<agency>` "
        "(the only one the agency may read) and the dead-letter topic (the council's "
        "operators). Every operation is the platform's: it sends on every channel, and a "
        "partner receives from its own. Topic names are as here, with CSP_NAMESPACE in front "
        "where one is set. Key: the stream id on a domain topic, the agency's pseudonym of "
        "the child on a partner's; headers: CloudEvents (binary mode), the ids of the "
        "message and of the request that caused it, and the rest each message declares.",
    )
    document: dict[str, Any] = json.loads(spec.to_specification().to_json())
    messages = document["components"]["messages"]
    for name, registry in events.items():
        messages[f"{name}:Message"].update(record_of(name, registry))
    for name, models in partners.items():
        messages[f"{name}:Message"].update(partner_record(name, models))
    _add_dead_letters(document, [f"{name}:Message:Payload" for name in sorted(events)])
    document["servers"] = copy.deepcopy(SERVERS)
    document["components"]["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    for topic in TOPICS:
        channel = document["channels"].get(topic.name)
        if channel is not None:
            channel["servers"] = [{"$ref": f"#/servers/{s}"} for s in CHANNEL_SERVERS[topic.name]]
            channel["bindings"]["kafka"]["topicConfiguration"] = _configuration(topic)
    return valid_keys(document)


def _models(
    topic: TopicDefinition, events: Mapping[str, EventRegistry], partners: PartnerModels
) -> list[type[BaseModel]]:
    """The message models a topic carries (none for the dead letters: see below)."""
    if topic.name in events:
        return [typed_envelope(cls) for cls in events[topic.name].types().values()]
    return list(partners.get(topic.name, {}).values())


def _add_dead_letters(document: dict[str, Any], domain_payloads: list[str]) -> None:
    """The dead-letter topic, as FastStream would declare it: it has no model of its own
    (its value is any other topic's, or bytes that are none)."""
    name = DEAD_LETTERS.name
    message = f"{name}:Message"
    document["channels"][name] = {
        "address": name,
        "description": DEAD_LETTERS.description,
        "messages": {"Message": {"$ref": f"#/components/messages/{message}"}},
        "bindings": {"kafka": {"topic": name, "bindingVersion": KAFKA_BINDING}},
    }
    document["operations"][name] = {
        "action": "send",
        "channel": {"$ref": f"#/channels/{name}"},
        "messages": [{"$ref": f"#/channels/{name}/messages/Message"}],
    }
    document["components"]["messages"][message] = dead_letter_message(domain_payloads)


def _configuration(topic: TopicDefinition) -> dict[str, Any]:
    """The topic's retention as the provisioning sets it (its partitions and replicas are
    the deployment's settings)."""
    return {
        "cleanup.policy": topic.config["cleanup.policy"].split(","),
        "retention.ms": int(topic.config["retention.ms"]),
    }


def valid_keys(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every component's key the schema allows (`COMPONENT_KEY`): each
    character it does not allow becomes a `.`, in the key, in every `$ref` naming it and in
    a title that repeats it."""
    renamed: dict[str, str] = {}
    for section, components in document.get("components", {}).items():
        for key in list(components):
            if COMPONENT_KEY.match(key):
                continue
            new = re.sub(r"[^\w.\-]", ".", key, flags=re.ASCII)
            if new in components:
                raise ValueError(f"components/{section}: {key!r} and {new!r} would be one")
            component = components.pop(key)
            if isinstance(component, dict) and component.get("title") == key:
                component["title"] = new
            components[new] = component
            renamed[f"#/components/{section}/{key}"] = f"#/components/{section}/{new}"
    done: dict[str, Any] = _renamed(document, renamed)
    return done


def _renamed(node: Any, renamed: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                renamed.get(value, value)
                if key == "$ref" and isinstance(value, str)
                else _renamed(value, renamed)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_renamed(item, renamed) for item in node]
    return node


# -- for people ------------------------------------------------------------------------------


def markdown(
    events: Mapping[str, EventRegistry] = EVENTS, partners: PartnerModels | None = None
) -> str:
    partners = partner_messages() if partners is None else partners
    lines = [
        domain_markdown(events),
        "## Partner topics",
        "",
        "Each agency's own topic carries what the agency is entitled to, pseudonymised and "
        "minimised (what, and why: [security.md](security.md#partner-event-streams)). A "
        "record's key is the agency's pseudonym of the child; its value is one message "
        "(`message_id`, `subject`, `event_type`, `facts`, `purpose`); its headers name the "
        "message, its type and version (CloudEvents, binary mode) and the request that "
        "caused it. Each header, and each field of each message: "
        "[partners.md](partners.md#the-records); every version of every message released: "
        f"`partner-<agency>.json` in [{RELEASED.parent.name}/{RELEASED.name}/]"
        f"(../{RELEASED.parent.name}/{RELEASED.name}/).",
        "",
        "| topic | for | messages (version) |",
        "|---|---|---|",
    ]
    for topic in PARTNER_TOPICS:
        models = partners.get(topic.name, {})
        if models:
            agency = PARTNER_AGENCIES[topic.name.removeprefix("partner-")]
            shown = ", ".join(f"{name} (v{m.schema_version})" for name, m in models.items())
            lines.append(f"| `{topic.name}` | {agency} | {shown} |")
    lines += [
        "",
        f"## Topic `{DEAD_LETTERS.name}`",
        "",
        DEAD_LETTERS.description,
        "",
        "A record here is the record a consumer passed over, its key, value and headers as it "
        "received them, with these headers added (read by the council's operators only: "
        "[operations.md](operations.md#dead-letters)):",
        "",
        "| header | what it carries |",
        "|---|---|",
        *(f"| `{name}` | {text} |" for name, text in DEAD_LETTER_HEADERS.items()),
        "",
    ]
    return "\n".join(lines)


def write() -> None:
    partners = partner_messages()
    document = asyncapi(EVENTS, partners)
    (DOCS / "asyncapi.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    (DOCS / "events.md").write_text(markdown(EVENTS, partners))


if __name__ == "__main__":
    write()

"""The event catalogue (docs/asyncapi.json, docs/events.md) is generated from the code and
kept current, and says what is sent: every message's schema is the one released for it, and
records made by the code that sends them (the relay's, the partner feed's, a consumer's dead
letter) are valid under what the document declares for their topic: key, headers, value."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiokafka import TopicPartition
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from contracts.case_events.events import ChildRegistered
from contracts.topics import DEAD_LETTERS, EVENTS, PARTNER_TOPICS, TOPICS
from deploy import contracts as release
from deploy.catalogue import DEAD_LETTER_HEADERS, DOCS, PARTNER_HEADERS_ALWAYS, asyncapi, markdown
from services.partner_feeds.sharing import PARTNER_HEADERS, partner_topic, shares_of
from shared.envelope import DomainEvent, Envelope
from shared.relay import HEADERS, cloudevents_source, record_headers
from tests.unit.test_dead_letters import Defective, FakeConnection, record, runner, wire
from tests.unit.test_sharing import KEY, WHOLE_RECORD, envelope

Document = dict[str, Any]


@pytest.fixture(scope="module")
def document() -> Document:
    return asyncapi()


def test_the_catalogue_in_docs_is_generated_from_the_current_code(document: Document) -> None:
    assert (DOCS / "events.md").read_text() == markdown(), (
        "docs/events.md is stale: run `make docs`"
    )
    assert json.loads((DOCS / "asyncapi.json").read_text()) == document, (
        "docs/asyncapi.json is stale: run `make docs`"
    )


def test_every_topic_is_a_channel_the_platform_sends_on(document: Document) -> None:
    names = {t.name for t in TOPICS}
    assert set(document["channels"]) == names == set(document["operations"])
    assert {o["action"] for o in document["operations"].values()} == {"send"}
    partners = {t.name for t in PARTNER_TOPICS}
    for name, channel in document["channels"].items():
        servers = {ref["$ref"].rsplit("/", 1)[1] for ref in channel["servers"]}
        # A partner reaches its topic on the partners' listener; nothing else is read there.
        assert ("partners" in servers) == (name in partners), name
    secure = {n for n, s in document["servers"].items() if s["protocol"] == "kafka-secure"}
    assert secure == {"partners", "platform"}
    for name in secure:
        [scheme] = document["servers"][name]["security"]
        assert scheme == {"$ref": "#/components/securitySchemes/scram"}
    assert document["components"]["securitySchemes"]["scram"]["type"] == "scramSha512"


def test_every_event_type_of_every_topic_is_in_the_asyncapi_document(document: Document) -> None:
    schemas = document["components"]["schemas"]
    for topic, registry in EVENTS.items():
        assert topic in document["channels"]
        for event_type, cls in registry.types().items():
            message = schemas[f"{event_type}Message"]
            assert message["properties"]["event_type"]["const"] == event_type
            payload = schemas[cls.__name__]
            assert set(payload["properties"]) == set(cls.model_fields)


def dereferenced(node: Any, root: Mapping[str, Any]) -> Any:
    """A schema with each `$ref` replaced by what it names (and `$defs` dropped): the
    document's and the released contract's, whatever their references, compare equal."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = root
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**dereferenced(target, root), **dereferenced(rest, root)}
        return {k: dereferenced(v, root) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [dereferenced(item, root) for item in node]
    return node


def test_every_message_is_described_by_its_contract_schema(document: Document) -> None:
    """The schema of each message of each topic is the one `make contracts` releases (and
    the partner kit's models are generated from): the same after dereferencing."""
    current = release.current()
    assert set(current) == {t.name for t in TOPICS} - {DEAD_LETTERS.name}
    for topic, messages in current.items():
        payload = dereferenced({"$ref": f"#/components/schemas/{topic}.Message.Payload"}, document)
        by_type = {m["properties"]["event_type"]["const"]: m for m in payload["anyOf"]}
        assert set(by_type) == set(messages), topic
        for event_type, (_, schema) in messages.items():
            assert by_type[event_type] == dereferenced(schema, schema), (topic, event_type)


# -- records as sent, validated against the document -----------------------------------------

BASE = "urn:csp:asyncapi"
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """RFC 3339 (jsonschema checks it only with a package this project does not need)."""
    return not isinstance(value, str) or (
        "T" in value.upper() and datetime.fromisoformat(value).tzinfo is not None
    )


def errors(document: Document, schema: Mapping[str, Any], instance: Any) -> list[str]:
    """What is wrong with `instance` under a schema of the document (its `$ref`s resolved)."""
    registry = Registry().with_resource(BASE, Resource.from_contents(document, DRAFT202012))
    wrapped = {"$id": f"{BASE}-check", "allOf": [_absolute(schema)]}
    validator = Draft202012Validator(wrapped, registry=registry, format_checker=FORMATS)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


def _absolute(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (BASE + v if k == "$ref" and v.startswith("#") else _absolute(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_absolute(item) for item in node]
    return node


def message(document: Document, topic: str) -> Document:
    found: Document = document["components"]["messages"][f"{topic}.Message"]
    return found


def check_record(
    document: Document, topic: str, key: bytes | None, value: bytes, headers: list[Any]
) -> None:
    declared = message(document, topic)
    sent = {name: raw.decode() for name, raw in headers}
    assert errors(document, declared["headers"], sent) == [], topic
    assert errors(document, declared["bindings"]["kafka"]["key"], key and key.decode()) == []
    assert errors(document, declared["payload"], json.loads(value)) == [], topic
    location = declared["correlationId"]["location"].removeprefix("$message.header#/")
    assert location in sent, topic


def topic_of(event: DomainEvent) -> str:
    return next(t for t, registry in EVENTS.items() if event.event_type in registry.types())


def relayed(
    event: DomainEvent, stream: str = "C-000123"
) -> tuple[str, Envelope, list[tuple[str, bytes]]]:
    """The event's record as the relay sends it: its topic, envelope and headers."""
    made = envelope(event, stream)
    topic = topic_of(event)
    traced = ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    return topic, made, [*record_headers(made, cloudevents_source(topic)), traced]


@pytest.mark.parametrize("event", [e for e, _ in WHOLE_RECORD], ids=lambda e: e.event_type)
def test_a_domain_record_and_its_shares_are_valid_under_the_document(
    document: Document, event: DomainEvent
) -> None:
    topic, made, headers = relayed(event)
    assert {name for name, _ in headers} == set(HEADERS)
    check_record(document, topic, made.stream_id.encode(), wire(made), headers)
    sent_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for share in shares_of(made, event, KEY):
        share_headers = share.headers(sent_at)
        assert {name for name, _ in share_headers} == set(PARTNER_HEADERS)
        body = json.dumps(share.body()).encode()
        check_record(
            document, partner_topic(share.agency), share.subject.encode(), body, share_headers
        )


def test_what_the_document_requires_of_a_partners_record_is_what_its_oldest_records_have(
    document: Document,
) -> None:
    for topic in PARTNER_TOPICS:
        headers = message(document, topic.name)["headers"]
        assert headers["required"] == list(PARTNER_HEADERS_ALWAYS)
        assert set(headers["properties"]) == set(PARTNER_HEADERS)


def test_a_record_the_document_does_not_describe_is_refused(document: Document) -> None:
    """The checks above can fail: another agency's key, another topic's source, no id."""
    event = ChildRegistered(child_id="C-000123", date_of_birth=date(2015, 3, 1), locality="Exeter")
    made = envelope(event)
    [health, _] = shares_of(made, event, KEY)
    headers = dict((k, v.decode()) for k, v in health.headers(datetime.now(UTC)))
    police = message(document, "partner-police")
    assert errors(document, police["bindings"]["kafka"]["key"], health.subject) != []
    assert errors(document, police["headers"], headers) != []  # ce_source, event_type
    own = message(document, "partner-health")["headers"]
    assert errors(document, own, headers) == []
    assert errors(document, own, headers | {"ce_time": "2 March 2026"}) != []
    assert errors(document, own, headers | {"correlation_id": "C-000123"}) != []
    del headers["message_id"]
    assert errors(document, own, headers) != []
    body = health.body() | {"subject": "POL-" + "0" * 20}
    assert errors(document, message(document, "partner-health")["payload"], body) != []


class Recording:
    """A dead-letter producer that keeps each record as sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]] = []

    async def send_and_wait(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.sent.append((topic, key, value, headers))


async def test_a_dead_letter_as_a_consumer_sends_it_is_valid_under_the_document(
    document: Document,
) -> None:
    made = [
        relayed(ChildRegistered(child_id=c, date_of_birth=date(2015, 3, 1), locality="Exeter"), c)
        for c in ("C-1", "C-2")
    ]
    unknown = json.loads(wire(made[0][1])) | {"event_type": "ChildTeleported"}
    records = [
        record(0, b"\x00\xffnot json"),
        record(1, json.dumps(unknown).encode(), made[0][2]),
        record(2, wire(made[1][1]), made[1][2]),
        record(3, wire(made[0][1]), made[0][2]),
    ]
    producer = Recording()
    consumer = runner(FakeConnection(), Defective({"C-2"}), producer)
    await consumer._process({TopicPartition("case-events", 0): records})

    assert [topic for topic, *_ in producer.sent] == [DEAD_LETTERS.name] * 3
    declared = message(document, DEAD_LETTERS.name)
    for _, key, _, headers in producer.sent:
        sent = {name: raw.decode(errors="replace") for name, raw in headers}
        assert {n for n in sent if n.startswith("dlq_")} == set(DEAD_LETTER_HEADERS)
        assert errors(document, declared["headers"], sent) == []
        assert errors(document, declared["bindings"]["kafka"]["key"], key and key.decode()) == []
    # The two that are events are valid under their topic's message; the third is bytes.
    for _, _, value, _ in producer.sent[1:]:
        assert errors(document, declared["payload"], json.loads(value)) == []
    wrong = {name: raw.decode() for name, raw in producer.sent[2][3]} | {"dlq_origin_offset": "x"}
    assert errors(document, declared["headers"], wrong) != []

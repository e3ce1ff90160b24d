"""The partner kit (deploy/partner_kit/), without a broker: its models are what the generator
makes of the released contract, they read what the council's feed sends and follow the
contract's rules for readers, a message is processed once, docs/partners.md says what the
contract says, and the kit imports nothing of the platform (it is copied out of the repo)."""

from __future__ import annotations

import ast
import json
import re
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import uuid4

import certifi
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from contracts.case_events.codes import MissingKind
from contracts.case_events.events import MissingEpisodeRecorded
from deploy.partner_kit import fields, generate
from deploy.partner_kit.consumer import Settings, app_for, models_of
from deploy.partner_kit.messages import read
from deploy.partner_kit.models import police
from deploy.partner_kit.store import Delivery, Store
from services.partner_feeds.sharing import shares_of
from shared.envelope import Actor, Agency
from shared.eventstore import CommandContext, make_envelopes

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "deploy" / "partner_kit"
RELEASED = sorted((ROOT / "contracts" / "released").glob("partner-*.json"))
PARTNERS_DOC = ROOT / "docs" / "partners.md"
V1 = {"ce_type": "csp.partner.MissingEpisodeRecorded.v1"}


def released(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.mark.parametrize("path", RELEASED, ids=lambda p: p.stem)
def test_the_committed_models_are_what_the_generator_makes_of_the_released_contract(
    path: Path, tmp_path: Path
) -> None:
    """Regenerating gives the same file, byte for byte: the models are never edited by hand,
    and a contract released without regenerating them fails here."""
    agency = generate.agency_of(released(path))
    fresh = generate.generate(path, tmp_path / f"{agency}.py")
    committed = KIT / "models" / f"{agency}.py"
    assert fresh.read_text() == committed.read_text(), (
        f"{committed.relative_to(ROOT)} is stale: run "
        f"`python -m deploy.partner_kit.generate {path.relative_to(ROOT)}`"
    )


def test_every_agency_with_a_released_contract_has_its_models() -> None:
    assert {p.stem.removeprefix("partner-") for p in RELEASED} == {
        p.stem for p in (KIT / "models").glob("*.py") if p.stem != "__init__"
    }
    assert len(RELEASED) == 6


def test_docs_partners_says_what_the_released_contract_says() -> None:
    page = PARTNERS_DOC.read_text()
    generated = page.partition(fields.START)[2].partition(fields.END)[0]
    assert generated == "\n" + fields.fields_markdown([released(p) for p in RELEASED]), (
        "docs/partners.md is stale: run `python -m deploy.partner_kit.fields docs/partners.md "
        "contracts/released/partner-*.json`"
    )
    for agency in ("police", "health", "schools", "housing", "careers", "probation"):
        assert f"### {agency}: `partner-{agency}`" in generated


def test_what_the_councils_feed_sends_is_read_into_the_generated_model() -> None:
    """The feed's own code (services/partner_feeds) makes the record; the kit reads it, the
    version from the record's ce_type header."""
    event = MissingEpisodeRecorded(
        started_on=date(2026, 2, 1), ended_on=None, kind=MissingKind.AWAY_WITHOUT_AUTHORISATION
    )
    context = CommandContext(Actor(user_id="sw", agency=Agency.COUNCIL, role="x"), uuid4())
    [envelope] = make_envelopes("C-000123", 0, [event], context)
    [message] = shares_of(envelope, event, b"key")
    headers = {k: v.decode() for k, v in message.headers(datetime.now(UTC))}
    got = read(police, json.dumps(message.body()).encode(), headers)
    assert isinstance(got.model, police.MissingEpisodeRecordedV1), got.reason
    assert (got.event_type, got.version) == ("MissingEpisodeRecorded", 1)
    assert got.model.subject == message.subject and got.model.message_id == message.message_id
    assert got.model.facts.started_on == date(2026, 2, 1)
    assert got.model.facts.kind == police.MissingKind.A


def test_every_header_the_feed_sends_is_documented() -> None:
    event = MissingEpisodeRecorded(started_on=date(2026, 2, 1), ended_on=None, kind="M")
    context = CommandContext(Actor(user_id="sw", agency=Agency.COUNCIL, role="x"), uuid4())
    [envelope] = make_envelopes("C-000123", 0, [event], context)
    [message] = shares_of(envelope, event, b"key")
    documented = set(re.findall(r"^\| `([a-z_-]+)` \|", PARTNERS_DOC.read_text(), re.M))
    sent = {name for name, _ in message.headers(datetime.now(UTC))}
    assert sent <= documented, sent - documented


def body(**changes: Any) -> dict[str, Any]:
    return {
        "message_id": str(uuid4()),
        "subject": "POL-" + "0a" * 10,
        "event_type": "MissingEpisodeRecorded",
        "facts": {"started_on": "2026-02-01", "ended_on": None, "kind": "M"},
        "purpose": "safeguarding: DPA 2018 Sch. 1 para 18",
        **changes,
    }


def test_a_reader_ignores_fields_it_does_not_know_and_keeps_codes_it_does_not_know() -> None:
    """docs/contracts.md: an added optional field or code must not fail a partner's reader."""
    value = body(
        added_later=True,
        facts={"started_on": "2026-02-01", "ended_on": None, "kind": "X", "found_by": "P"},
    )
    got = read(police, json.dumps(value).encode(), V1)
    assert isinstance(got.model, police.MissingEpisodeRecordedV1), got.reason
    assert got.model.facts.kind == "X"  # kept as its text, not dropped
    assert "added_later" not in got.model.model_dump()
    known = read(police, json.dumps(body()).encode(), V1).model
    assert isinstance(known, police.MissingEpisodeRecordedV1)
    assert known.facts.kind == police.MissingKind.M


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"not json", V1, "not JSON"),
        (b"[1]", V1, "not a JSON object"),
        (json.dumps(body()).encode(), {"ce_type": "csp.partner.MissingEpisodeRecorded.v2"}, "v2"),
        (json.dumps(body(event_type="Unheard")).encode(), {}, "no model of Unheard v1"),
        (json.dumps(body(subject="C-000123")).encode(), V1, "not a valid"),
    ],
)
def test_what_the_models_cannot_read_is_said_not_guessed(
    value: bytes, headers: dict[str, str], reason: str
) -> None:
    got = read(police, value, headers)
    assert got.model is None and reason in got.reason


def test_a_record_without_ce_type_is_version_1_of_its_event_type() -> None:
    got = read(police, json.dumps(body()).encode(), {"event_type": "MissingEpisodeRecorded"})
    assert isinstance(got.model, police.MissingEpisodeRecordedV1)


def test_the_schema_given_to_the_generator_is_open_and_names_each_version() -> None:
    """Two versions of one message, each with its own facts and a code list that changed:
    each keeps its own, under names the consumer finds; nothing forbids extra fields."""
    codes = {"enum": ["A", "B"], "title": "Kind", "type": "string"}

    def version(facts: dict[str, Any], kind: dict[str, Any]) -> dict[str, Any]:
        return {
            "$defs": {"XForPoliceFacts": facts, "Kind": kind},
            "additionalProperties": False,
            "properties": {"facts": {"$ref": "#/$defs/XForPoliceFacts"}},
            "type": "object",
        }

    facts = {
        "additionalProperties": False,
        "properties": {"kind": {"$ref": "#/$defs/Kind"}},
        "type": "object",
    }
    schema = generate.partner_schema(
        {
            "topic": "partner-police",
            "messages": {
                "X": {"1": version(facts, codes), "2": version(facts, {**codes, "enum": ["A"]})}
            },
        }
    )
    defs = schema["$defs"]
    assert set(defs) == {"XV1", "XV1Facts", "Kind", "XV2", "XV2Facts", "KindXV2"}
    assert defs["XV2Facts"]["properties"]["kind"] == {
        "anyOf": [{"$ref": "#/$defs/KindXV2"}, {"type": "string"}]
    }
    assert defs["XV1"]["properties"]["facts"] == {"$ref": "#/$defs/XV1Facts"}
    assert "additionalProperties" not in json.dumps(schema)
    assert all(d["title"] == name for name, d in defs.items())


def test_a_message_is_processed_once_and_a_replay_is_noted() -> None:
    store = Store(":memory:")
    where = Delivery("partner-police", 0, 7)
    args = ("id-1", "POL-x", "MissingEpisodeRecorded", 1, {"kind": "M"})
    assert store.process(*args, where) is True
    assert store.process(*args, Delivery("partner-police", 0, 9)) is False
    assert store.message_ids() == ["id-1"] and store.replayed() == ["id-1"]


def settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "agency": "police",
        "bootstrap_servers": "127.0.0.1:1",
        "username": "partner-police",
        "password": "unused",  # pragma: allowlist secret
        "ca_file": Path(certifi.where()),  # any CA file: nothing connects
        **changes,
    }
    return Settings(**values)


def test_settings_default_to_the_agencys_topic_and_group_prefix() -> None:
    s = settings()
    assert (s.topic, s.group) == ("partner-police", "partner-police.consumer")
    assert settings(topic="t1_partner-police").topic == "t1_partner-police"


async def test_the_consumer_processes_each_record_once_and_keeps_what_it_cannot_read() -> None:
    """The FastStream application itself, on FastStream's in-memory broker: the handler the
    partner runs, with no Kafka."""
    store = Store(":memory:")
    s = settings()
    app = app_for(s, store)
    [broker] = app.brokers
    assert isinstance(broker, KafkaBroker)
    first = json.dumps(body()).encode()
    async with TestKafkaBroker(broker) as test:
        for value, headers in [
            (first, V1),
            (first, V1),  # a replay: the same message id
            (json.dumps(body()).encode(), V1),
            (b"not json", V1),
        ]:
            await test.publish(value, s.topic, headers=headers)
    assert len(store.message_ids()) == 2
    assert store.replayed() == [json.loads(first)["message_id"]]
    assert [r[0] for r in store._db.execute("SELECT reason FROM not_understood")] == [
        "the value is not JSON"
    ]


def test_models_are_found_by_agency() -> None:
    assert models_of("police") is police
    assert isinstance(models_of("health"), ModuleType)


def kit_imports() -> set[str]:
    names = set()
    for path in KIT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_the_kit_imports_nothing_of_the_platform_and_needs_only_its_requirements() -> None:
    """It is copied out of the repository: only the standard library, its own modules
    (relative imports) and what requirements.txt installs."""
    third_party = kit_imports() - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party == {
        "aiokafka",
        "datamodel_code_generator",
        "faststream",
        "pydantic",
        "pydantic_settings",
    }
    assert not kit_imports() & {"contracts", "shared", "services", "deploy", "bench", "chaos"}
    required = {
        re.split(r"[\[=]", line)[0].replace("-", "_")
        for line in (KIT / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert third_party == required


def test_the_kits_requirements_are_the_versions_the_platform_tests_it_with() -> None:
    lock = (ROOT / "requirements-dev.lock").read_text()
    pins = dict(re.findall(r"^([a-z0-9-]+)==(\S+)", lock, re.M))
    for line in (KIT / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = re.sub(r"\[.*\]", "", line).split("==")
            assert pins.get(name.lower()) == version, f"{line}: the lock has {pins.get(name)}"

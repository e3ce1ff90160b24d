"""The released contract (contracts/released/) is what the code publishes, and a change that
could break a consumer or a partner is caught before it is released.

Breaking changes are planted on copies of the real contracts (a modified pydantic model made
with create_model, or the released JSON edited in memory), never on the committed files: the
release under test is a copy in tmp_path.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator, Mapping
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import Field, create_model

from contracts.case_events.codes import ReferralSource
from contracts.case_events.events import (
    ChildRegistered,
    HealthOutcomesRecorded,
    ReferralReceived,
)
from contracts.compatibility import Change, Current, released_after, schema_differences
from contracts.topics import CASE_EVENTS, EVENTS, domain_events
from deploy import contracts as release
from services.partner_feeds.sharing import (
    DATES,
    ENTITLEMENTS,
    Precision,
    coarsened,
    partner_topic,
    shares_of,
)
from shared.envelope import Agency, DomainEvent, EventRegistry
from tests.unit.test_sharing import KEY, WHOLE_RECORD, envelope

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def base() -> Current:
    """What the code publishes now (about a second to generate: once per session)."""
    return release.current()


@functools.cache
def committed() -> Mapping[str, Mapping[str, Mapping[int, Any]]]:
    return release.read()


@pytest.fixture
def released(tmp_path: Path) -> Path:
    """The current schemas released into a folder of the test's own: the copies the changes
    are planted against (so a stale committed contract fails one test, not every one)."""
    folder = tmp_path / "released"
    release.write(folder, released_after({}, base()))
    return folder


def planted(
    cls: type[DomainEvent], *, version: int | None = None, drop: str = "", **fields: Any
) -> type[DomainEvent]:
    """A copy of an event made with create_model: the same fields but `drop`, those in
    `fields` replaced or added, and optionally another schema_version."""
    kept = {n: (f.annotation, f) for n, f in cls.model_fields.items() if n != drop}
    base_class: type[DomainEvent] = type(
        f"{cls.__name__}Planted",
        (DomainEvent,),
        {
            "event_type": cls.event_type,
            "schema_version": cls.schema_version if version is None else version,
        },
    )
    return create_model(
        cls.__name__, __base__=base_class, __doc__=cls.__doc__, **{**kept, **fields}
    )


def publishing(*events: type[DomainEvent], without: str = "") -> Current:
    """The code's schemas with these events in place of the real ones on case-events."""
    messages = dict(base()[CASE_EVENTS])
    messages.pop(without, None)
    for cls in events:
        messages[cls.event_type] = (cls.schema_version, release.message_schema(cls))
    return {**base(), CASE_EVENTS: messages}


def breaking(changes: list[Change]) -> list[str]:
    return [str(c) for c in changes if c.breaking]


NO_UPCASTERS: dict[str, frozenset[tuple[str, int]]] = {}


# -- the committed contract ------------------------------------------------------------------


def test_the_committed_contract_is_what_the_code_publishes() -> None:
    changes = release.changes(now=base())
    assert changes == [], (
        "contracts/released is stale or broken: run `make contracts`\n"
        + "\n".join(map(str, changes))
    )


def test_every_topic_with_messages_has_a_released_file_and_the_dead_letter_topic_none() -> None:
    assert set(committed()) == set(base())
    assert set(EVENTS) | {partner_topic(a) for a in ENTITLEMENTS} == set(committed())
    assert "dead-letter" not in committed()


def test_a_copy_made_with_create_model_has_the_same_schema_so_the_plants_below_are_fair(
    released: Path,
) -> None:
    changes = release.changes(released, publishing(planted(ChildRegistered)), NO_UPCASTERS)
    assert changes == []


# -- planted breaking changes ----------------------------------------------------------------


def test_a_field_removed_is_breaking(released: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = publishing(planted(ChildRegistered, drop="locality"))
    assert breaking(release.changes(released, now, NO_UPCASTERS)) == [
        "case-events ChildRegistered v1 $.payload.locality: property removed"
    ]
    assert release.check(released, now, NO_UPCASTERS) == 1
    err = capsys.readouterr().err
    assert "BREAKING case-events ChildRegistered v1 $.payload.locality: property removed" in err


def test_an_optional_field_made_required_is_breaking(released: Path) -> None:
    description = HealthOutcomesRecorded.model_fields["sdq_score"].description
    required = Field(..., ge=0, le=40, description=description)
    now = publishing(planted(HealthOutcomesRecorded, sdq_score=(int | None, required)))
    found = breaking(release.changes(released, now, NO_UPCASTERS))
    assert (
        "case-events HealthOutcomesRecorded v1 $.payload.sdq_score: newly required (messages"
        " already written may lack it)" in found
    )


def test_a_field_retyped_from_str_to_int_is_breaking(released: Path) -> None:
    now = publishing(planted(ChildRegistered, child_id=(int, ...)))
    found = breaking(release.changes(released, now, NO_UPCASTERS))
    assert found, "a retyped field passed"
    assert all(c.startswith("case-events ChildRegistered v1 $.payload.child_id: ") for c in found)
    assert (
        "case-events ChildRegistered v1 $.payload.child_id: type changed from 'string' to"
        " 'integer'" in found
    )


def test_a_code_removed_from_a_national_code_list_is_breaking(released: Path) -> None:
    fewer = StrEnum(  # type: ignore[misc]
        "ReferralSource", [(m.name, m.value) for m in ReferralSource if m.value != "10"]
    )
    now = publishing(planted(ReferralReceived, source=(fewer, ...)))
    assert breaking(release.changes(released, now, NO_UPCASTERS)) == [
        "case-events ReferralReceived v1 $.payload.source: code(s) removed: 10"
    ]


def test_an_event_type_removed_from_its_topic_is_breaking(released: Path) -> None:
    now = publishing(without="ChildRegistered")
    assert breaking(release.changes(released, now, NO_UPCASTERS)) == [
        "case-events ChildRegistered: the message type was removed"
    ]


def test_a_version_raised_without_an_upcaster_is_breaking(released: Path) -> None:
    now = publishing(planted(ChildRegistered, version=2, drop="locality"))
    assert breaking(release.changes(released, now, NO_UPCASTERS)) == [
        "case-events ChildRegistered v1: v1 is released and the code is at v2, with no upcaster"
        " from v1 (stored v1 messages could not be read)"
    ]
    before = (released / "case-events.json").read_text()
    assert release.release(released, now, NO_UPCASTERS) == 1, "a breaking change was released"
    assert (released / "case-events.json").read_text() == before


def test_a_partner_message_losing_a_fact_or_its_precision_is_breaking(released: Path) -> None:
    police = dict(ENTITLEMENTS[Agency.POLICE])
    police["Section47EnquiryConcluded"] = ()
    fewer = release.partner_messages({**ENTITLEMENTS, Agency.POLICE: police})
    assert breaking(release.changes(released, {**base(), **release.current({}, fewer)})) == [
        "partner-police Section47EnquiryConcluded v1 $.facts.outcome: property removed"
    ]
    health = dict(DATES[Agency.HEALTH])
    health["ChildRegistered.date_of_birth"] = (Precision.DAY, "planted")
    finer = release.partner_messages(dates={**DATES, Agency.HEALTH: health})
    found = breaking(release.changes(released, {**base(), **release.current({}, finer)}))
    assert found and all(
        c.startswith("partner-health ChildRegistered v1 $.facts.date_of_birth: ") for c in found
    ), found


def test_a_partner_break_agreed_with_the_agency_is_released_only_when_accepted(
    released: Path,
) -> None:
    """Withdrawing an entitlement (data minimisation can require it): the police no longer
    receive StrategyDiscussionHeld, nor the outcome of a section 47 enquiry."""
    police = dict(ENTITLEMENTS[Agency.POLICE])
    del police["StrategyDiscussionHeld"]
    police["Section47EnquiryConcluded"] = ()
    now = {
        **base(),
        **release.current({}, release.partner_messages({**ENTITLEMENTS, Agency.POLICE: police})),
    }
    assert release.release(released, now) == 1
    assert release.release(released, now, accept_breaking=True) == 0
    assert release.changes(released, now) == []
    assert "StrategyDiscussionHeld" not in release.read(released)["partner-police"]


def test_a_domain_event_break_is_never_accepted(released: Path) -> None:
    now = publishing(planted(ChildRegistered, drop="locality"))
    before = (released / "case-events.json").read_text()
    assert release.release(released, now, NO_UPCASTERS, accept_breaking=True) == 1
    assert (released / "case-events.json").read_text() == before


# -- non-breaking changes, accepted once released -------------------------------------------


def released_then_current(folder: Path, now: Current, steps: Any = NO_UPCASTERS) -> None:
    """A non-breaking change fails the check as stale until `make contracts` releases it."""
    assert release.check(folder, now, steps) == 1
    assert release.release(folder, now, steps) == 0
    assert release.changes(folder, now, steps) == []
    assert release.check(folder, now, steps) == 0


def test_an_optional_field_added_is_released(
    released: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = publishing(planted(ChildRegistered, nickname=(str | None, None)))
    assert [str(c) for c in release.changes(released, now, NO_UPCASTERS)] == [
        "case-events ChildRegistered v1 $.payload.nickname: optional property added"
    ]
    assert release.check(released, now, NO_UPCASTERS) == 1
    assert "run `make contracts` to release it" in capsys.readouterr().err
    released_then_current(released, now)


def test_a_code_added_to_a_code_list_is_released(released: Path) -> None:
    more = StrEnum(  # type: ignore[misc]
        "ReferralSource", [*((m.name, m.value) for m in ReferralSource), ("PLANTED", "99")]
    )
    now = publishing(planted(ReferralReceived, source=(more, ...)))
    assert [str(c) for c in release.changes(released, now, NO_UPCASTERS)] == [
        "case-events ReferralReceived v1 $.payload.source: code(s) added: 99"
    ]
    released_then_current(released, now)


def test_a_version_raised_with_an_upcaster_is_released_beside_the_old_one(released: Path) -> None:
    """ChildRegistered v2 renames `locality` to `area`: the stored v1 events still decode."""
    v2 = planted(ChildRegistered, version=2, drop="locality", area=(str, ...))
    registry = EventRegistry()
    for cls in EVENTS[CASE_EVENTS].types().values():
        registry.event(v2 if cls is ChildRegistered else cls)

    @registry.upcaster("ChildRegistered", 1)
    def area_was_locality(payload: dict[str, Any]) -> dict[str, Any]:
        payload = dict(payload)
        payload["area"] = payload.pop("locality")
        return payload

    events = {CASE_EVENTS: registry}
    now = {**base(), **release.current(events, {})}
    steps = release.upcasters(events)
    assert [str(c) for c in release.changes(released, now, steps)] == [
        "case-events ChildRegistered v2: v2 is not released yet"
    ]
    released_then_current(released, now, steps)
    versions = release.read(released)[CASE_EVENTS]["ChildRegistered"]
    assert versions[1] == base()[CASE_EVENTS]["ChildRegistered"][1]  # v1 stays
    assert versions[2] == now[CASE_EVENTS]["ChildRegistered"][1]
    # and the upcaster is what keeps v1 readable
    decoded = registry.decode(
        "ChildRegistered",
        1,
        {"child_id": "C-000123", "date_of_birth": "2014-09-30", "locality": "Exeter"},
    )
    assert decoded.model_dump()["area"] == "Exeter"
    # Removing the upcaster later breaks: the released v1 could no longer be read.
    assert breaking(release.changes(released, now, NO_UPCASTERS)) == [
        "case-events ChildRegistered v1: v1 is released and the code is at v2, with no upcaster"
        " from v1 (stored v1 messages could not be read)"
    ]


def test_a_partner_message_is_versioned_by_its_event(released: Path) -> None:
    """ChildRegistered v2 (a new required field, with an upcaster): health and careers, who
    receive it, get v2 messages (ce_type ...v2) documented beside v1; without the upcaster
    their topics break as the domain topic does."""
    v2 = planted(ChildRegistered, version=2, registered_by=(str, ...))
    every, case_events = EventRegistry(), EventRegistry()
    for registry, types in ((every, domain_events()), (case_events, EVENTS[CASE_EVENTS])):
        for cls in types.types().values():
            registry.event(v2 if cls is ChildRegistered else cls)
        registry.upcaster("ChildRegistered", 1)(lambda p: {**p, "registered_by": "unknown"})
    events = {CASE_EVENTS: case_events}
    now = {**base(), **release.current(events, release.partner_messages(events=every))}
    new = [
        f"{topic} ChildRegistered v2: v2 is not released yet"
        for topic in ("case-events", "partner-careers", "partner-health")
    ]
    assert [str(c) for c in release.changes(released, now, release.upcasters(events))] == new
    assert len(breaking(release.changes(released, now, NO_UPCASTERS))) == 3
    released_then_current(released, now, release.upcasters(events))
    assert set(release.read(released)["partner-health"]["ChildRegistered"]) == {1, 2}


# -- the rules, one by one, on small schemas ------------------------------------------------

STRING = {"type": "string"}
NULLABLE = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
CODES = {"$ref": "#/$defs/Code"}
CHILD = {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}
TREE = {"type": "object", "properties": {"child": CHILD, "name": STRING}}


def _message(field: dict[str, Any], *, required: bool = True, **root: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"field": field},
        "required": ["field"] if required else [],
        "$defs": {"Code": {"type": "string", "enum": ["A", "B"]}},
        **root,
    }


RULES: list[tuple[str, dict[str, Any], dict[str, Any], list[tuple[str, bool]]]] = [
    (
        "nullable removed",
        _message(NULLABLE, required=False),
        _message({**STRING, "default": None}, required=False),
        [("no longer accepts null (an alternative removed)", True)],
    ),
    (
        "nullable added",
        _message(STRING),
        _message({"anyOf": [STRING, {"type": "null"}]}),
        [
            (
                "now accepts null too (an alternative added: readers of the released schema would"
                " reject it)",
                True,
            )
        ],
    ),
    (
        "format changed",
        _message({**STRING, "format": "date"}),
        _message({**STRING, "format": "date-time"}),
        [("format changed from 'date' to 'date-time'", True)],
    ),
    (
        "const changed",
        _message({**STRING, "const": "v1"}),
        _message({**STRING, "const": "v2"}),
        [("const changed from 'v1' to 'v2'", True)],
    ),
    (
        "bound tightened",
        _message({**STRING, "maxLength": 128}),
        _message({**STRING, "maxLength": 64}),
        [("maxLength changed from 128 to 64", True)],
    ),
    (
        "a $ref resolving to another shape",
        _message(CODES),
        {**_message(CODES), "$defs": {"Code": {"type": "integer"}}},
        [
            ("type changed from 'string' to 'integer'", True),
            ("no longer restricted to a list of codes", True),
        ],
    ),
    (
        "a $ref renamed, the same shape",
        _message(CODES),
        {
            **_message({"$ref": "#/$defs/Renamed"}),
            "$defs": {"Renamed": {"type": "string", "enum": ["A", "B"]}},
        },
        [],
    ),
    (
        "additional properties tightened",
        _message(STRING),
        _message(STRING, additionalProperties=False),
        [("additional properties no longer allowed", True)],
    ),
    (
        "additional properties loosened",
        _message(STRING, additionalProperties=False),
        _message(STRING),
        [],
    ),
    (
        "no longer required",
        _message(STRING),
        _message(STRING, required=False),
        [("no longer required (readers count on it)", True)],
    ),
    (
        "a new required property",
        _message(STRING),
        {
            **_message(STRING),
            "properties": {"field": STRING, "more": STRING},
            "required": ["field", "more"],
        },
        [("new required property (messages already written lack it)", True)],
    ),
    (
        "a default changed",
        _message({**STRING, "default": "x"}, required=False),
        _message({**STRING, "default": "y"}, required=False),
        [("default changed from 'x' to 'y'", True)],
    ),
    (
        "a property removed inside a recursive definition",
        {"$ref": "#/$defs/Node", "$defs": {"Node": TREE}},
        {"$ref": "#/$defs/Node", "$defs": {"Node": {**TREE, "properties": {"child": CHILD}}}},
        [("property removed", True)],
    ),
    (
        "documentation only",
        _message({**STRING, "description": "old words", "title": "Field"}),
        _message({**STRING, "description": "new words"}),
        [],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_each_rule(
    old: dict[str, Any], new: dict[str, Any], expected: list[tuple[str, bool]]
) -> None:
    assert [(d.what, d.breaking) for d in schema_differences(old, new)] == expected


def test_a_documentation_change_is_not_breaking_but_still_needs_releasing(released: Path) -> None:
    now = copy.deepcopy(base())
    version, schema = now[CASE_EVENTS]["ChildRegistered"]
    reworded = {**schema, "description": "Reworded."}
    now = {**now, CASE_EVENTS: {**now[CASE_EVENTS], "ChildRegistered": (version, reworded)}}
    assert [str(c) for c in release.changes(released, now, NO_UPCASTERS)] == [
        "case-events ChildRegistered v1: titles or descriptions changed"
    ]
    released_then_current(released, now)


# -- any change of the planted kinds, to any released schema --------------------------------


def _schemas() -> list[tuple[str, str, int]]:
    return sorted(
        (topic, message, version)
        for topic, messages in committed().items()
        for message, versions in messages.items()
        for version in versions
    )


def _nodes(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every object in a schema (its own $defs included) with where it is."""
    if isinstance(node, dict):
        yield at, node
        for key, value in node.items():
            yield from _nodes(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, (*at, index))


def _at(schema: dict[str, Any], where: tuple[Any, ...]) -> dict[str, Any]:
    node: Any = schema
    for key in where:
        node = node[key]
    assert isinstance(node, dict)
    return node


@st.composite
def a_property(
    draw: st.DrawFn, optional: bool = False
) -> tuple[dict[str, Any], dict[str, Any], tuple[Any, ...], str]:
    """A released schema, its copy, and one property (an optional one if asked) of an object
    anywhere in it."""

    def candidates(node: dict[str, Any]) -> list[str]:
        names = sorted(node.get("properties") or {})
        return [n for n in names if n not in node.get("required", [])] if optional else names

    def has_candidates(key: tuple[str, str, int]) -> bool:
        return any(candidates(n) for _, n in _nodes(committed()[key[0]][key[1]][key[2]]))

    topic, message, version = draw(st.sampled_from([k for k in _schemas() if has_candidates(k)]))
    schema = committed()[topic][message][version]
    where, node = draw(st.sampled_from([(at, n) for at, n in _nodes(schema) if candidates(n)]))
    name = draw(st.sampled_from(candidates(node)))
    return schema, copy.deepcopy(schema), where, name


@SETTINGS
@given(a_property())
def test_any_property_removed_from_any_released_schema_is_reported(
    found: tuple[dict[str, Any], dict[str, Any], tuple[Any, ...], str],
) -> None:
    old, new, where, name = found
    assert schema_differences(old, new) == []
    node = _at(new, where)
    del node["properties"][name]
    if name in node.get("required", []):
        node["required"] = [r for r in node["required"] if r != name]
    differences = schema_differences(old, new)
    assert differences and all(d.breaking for d in differences)
    assert any(d.what == "property removed" and d.path.endswith(f".{name}") for d in differences)


@SETTINGS
@given(a_property())
def test_any_property_retyped_is_reported(
    found: tuple[dict[str, Any], dict[str, Any], tuple[Any, ...], str],
) -> None:
    old, new, where, name = found
    properties = _at(new, where)["properties"]
    was = json.dumps(properties[name])
    properties[name] = {"type": "number" if '"integer"' in was else "integer"}
    differences = schema_differences(old, new)
    assert differences and all(d.breaking for d in differences)
    assert any(d.path.endswith(f".{name}") for d in differences), differences


@SETTINGS
@given(a_property(optional=True))
def test_any_optional_property_made_required_is_reported(
    found: tuple[dict[str, Any], dict[str, Any], tuple[Any, ...], str],
) -> None:
    old, new, where, name = found
    node = _at(new, where)
    node["required"] = [*node.get("required", []), name]
    assert [
        (d.path.rsplit(".", 1)[-1], d.what, d.breaking) for d in schema_differences(old, new)
    ] == [(name, "newly required (messages already written may lack it)", True)]


@st.composite
def a_code_list(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    """A released schema that has a code list, its copy, and the copy's list to change."""
    with_codes = [
        key
        for key in _schemas()
        if any("enum" in n for _, n in _nodes(committed()[key[0]][key[1]][key[2]]))
    ]
    topic, message, version = draw(st.sampled_from(with_codes))
    schema = committed()[topic][message][version]
    new = copy.deepcopy(schema)
    lists = [n["enum"] for _, n in _nodes(new) if isinstance(n.get("enum"), list)]
    return schema, new, draw(st.sampled_from(lists))


@SETTINGS
@given(a_code_list(), st.data())
def test_any_code_removed_is_breaking_and_any_code_added_is_not(
    found: tuple[dict[str, Any], dict[str, Any], list[Any]], data: st.DataObject
) -> None:
    old, new, codes = found
    removed = data.draw(st.sampled_from(codes))
    codes.remove(removed)
    codes.append(f"{removed}-NEW")  # and one the released list never had
    differences = schema_differences(old, new)
    assert any(d.breaking and d.what.startswith("code(s) removed") for d in differences)
    assert all(d.breaking == d.what.startswith("code(s) removed") for d in differences)
    codes.insert(0, removed)  # put back: only the addition is left, and it breaks nothing
    assert [d.breaking for d in schema_differences(old, new)] == [False] * len(
        schema_differences(old, new)
    )
    assert schema_differences(old, new)


# -- the partner messages the contract describes are the ones sent ---------------------------


@pytest.mark.parametrize(
    ("event", "expected"), WHOLE_RECORD, ids=[e.event_type for e, _ in WHOLE_RECORD]
)
def test_every_share_of_the_whole_record_is_valid_under_its_released_schema(
    event: DomainEvent, expected: Mapping[Agency, object]
) -> None:
    shares = shares_of(envelope(event), event, KEY)
    assert {m.agency for m in shares} == set(expected)
    for message in shares:
        schema = committed()[partner_topic(message.agency)][message.event_type][1]
        body = json.loads(json.dumps(message.body()))
        errors = list(
            Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(body)
        )
        assert errors == [], (message.agency, [e.message for e in errors])


@SETTINGS
@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)),
    st.sampled_from(sorted(release.COARSE_PATTERNS)),
)
def test_every_coarse_date_matches_the_pattern_partners_are_given(
    day: date, precision: Precision
) -> None:
    value = coarsened(day, precision)
    assert value is not None and re.fullmatch(release.COARSE_PATTERNS[precision], value)

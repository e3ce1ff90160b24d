from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from shared.envelope import (
    DomainEvent,
    EventRegistry,
    IncompatibleSchemaVersion,
    UnknownEventType,
    new_event_id,
    new_event_ids,
)


def registry_with_v3_event() -> tuple[EventRegistry, type[DomainEvent]]:
    registry = EventRegistry()

    @registry.event
    class ContactRecorded(DomainEvent):
        event_type = "ContactRecorded"
        schema_version = 3
        young_person_id: str
        in_touch: str
        method: str

    @registry.upcaster("ContactRecorded", 1)
    def v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
        return {"young_person_id": payload["person"], "in_touch": payload["in_touch"]}

    @registry.upcaster("ContactRecorded", 2)
    def v2_to_v3(payload: dict[str, Any]) -> dict[str, Any]:
        return {**payload, "method": "unknown"}

    return registry, ContactRecorded


def test_old_versions_are_upcast_step_by_step_to_the_current_one() -> None:
    registry, current = registry_with_v3_event()
    event = registry.decode("ContactRecorded", 1, {"person": "YP-1", "in_touch": "YES"})
    assert event == current.model_validate(
        {"young_person_id": "YP-1", "in_touch": "YES", "method": "unknown"}
    )


def test_the_current_version_is_read_as_is() -> None:
    registry, current = registry_with_v3_event()
    payload = {"young_person_id": "YP-1", "in_touch": "NO", "method": "text"}
    assert registry.decode("ContactRecorded", 3, payload) == current(**payload)


def test_unknown_types_and_newer_versions_are_refused_not_guessed() -> None:
    registry, _ = registry_with_v3_event()
    with pytest.raises(UnknownEventType):
        registry.decode("NoSuchEvent", 1, {})
    with pytest.raises(IncompatibleSchemaVersion):
        registry.decode("ContactRecorded", 4, {})


def test_a_missing_upcaster_is_an_error() -> None:
    registry = EventRegistry()

    @registry.event
    class Evolved(DomainEvent):
        event_type = "Evolved"
        schema_version = 2

    with pytest.raises(IncompatibleSchemaVersion, match="no upcaster"):
        registry.decode("Evolved", 1, {})


def test_an_event_type_cannot_be_registered_twice_with_different_classes() -> None:
    registry = EventRegistry()

    class First(DomainEvent):
        event_type = "Same"

    class Second(DomainEvent):
        event_type = "Same"

    registry.event(First)
    with pytest.raises(ValueError, match="registered twice"):
        registry.event(Second)


def test_event_ids_are_uuid7_and_time_ordered() -> None:
    ids = [new_event_id() for _ in range(100)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)


@pytest.mark.parametrize("n", [0, 1, 2, 5000])
def test_a_batch_of_event_ids_is_uuid7_distinct_and_in_order_with_the_ids_around_it(
    n: int,
) -> None:
    before = new_event_id()
    batch = new_event_ids(n)
    after = new_event_id()
    assert len(batch) == n == len(set(batch))
    assert all(i.version == 7 and i.variant == "specified in RFC 4122" for i in batch)
    assert [before, *batch, after] == sorted([before, *batch, after])
    assert all(type(i) is UUID for i in batch)  # plain ids, as new_event_id's


def _uuid7_answering(monkeypatch: pytest.MonkeyPatch, first: int) -> None:
    """uuid7 answers `first` once, then real ids (later milliseconds)."""
    import shared.envelope as envelope

    real = envelope.uuid7
    answers = iter([UUID(int=first)])
    monkeypatch.setattr(envelope, "uuid7", lambda: next(answers, None) or real())


MS = 0x0190_0000_0000  # a millisecond of 2024
TOP = MS << 80 | 7 << 76 | 0xFFF << 64 | 0b10 << 62 | (1 << 62) - 3  # three from the top


def test_a_batch_that_fits_below_the_random_parts_top_counts_on_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _uuid7_answering(monkeypatch, TOP)
    batch = new_event_ids(3)  # TOP, TOP + 1 and the very top
    assert [i.int for i in batch] == [TOP, TOP + 1, TOP + 2]
    assert all(i.version == 7 and i.int >> 80 == MS for i in batch)


def test_a_batch_that_would_run_past_the_random_parts_top_takes_an_id_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counting on past the top would wrap to the bottom of the millisecond: an id before
    the batch's first. So each id after the first is made on its own instead."""
    _uuid7_answering(monkeypatch, TOP)
    batch = new_event_ids(4)
    assert batch[0] == UUID(int=TOP) and len(set(batch)) == 4
    assert all(i.int >> 80 != MS for i in batch[1:])  # made each on its own, later
    assert batch[1:] == sorted(batch[1:])
    assert all(i.version == 7 and i.variant == "specified in RFC 4122" for i in batch)


def test_counting_on_carries_from_rand_b_into_rand_a_over_the_variant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = MS << 80 | 7 << 76 | 0x123 << 64 | 0b10 << 62 | (1 << 62) - 2
    _uuid7_answering(monkeypatch, first)
    batch = new_event_ids(4)
    assert [str(i)[14:] for i in batch] == [
        "7123-bfff-fffffffffffe",
        "7123-bfff-ffffffffffff",
        "7124-8000-000000000000",
        "7124-8000-000000000001",
    ]
    assert batch == sorted(batch)


def test_every_day_a_fact_names_is_1900_or_later() -> None:
    """A year typed as 0001 is refused with the field named (the fuzzed-input chaos scenario
    found one stored, after which the stream could not be read)."""
    from datetime import date

    from pydantic import BaseModel, ValidationError

    from contracts.topics import domain_events
    from services.education.domain.commands import RegisterMark
    from shared.envelope import EARLIEST_DAY

    models: list[type[BaseModel]] = [*domain_events().types().values(), RegisterMark]
    days = [(m, name) for m in models for name, f in m.model_fields.items() if f.annotation is date]
    assert len(days) > 60  # every service's events are here
    for model, name in days:
        with pytest.raises(ValidationError) as refused:
            model.model_validate({name: date(1, 1, 1)})
        assert any(
            e["loc"] == (name,) and "greater than or equal" in e["msg"]
            for e in refused.value.errors()
        ), (model.__name__, name)
        try:  # the earliest day itself is a day (other fields may still be missing)
            model.model_validate({name: EARLIEST_DAY})
        except ValidationError as other:
            assert all(e["loc"] != (name,) for e in other.errors()), (model.__name__, name)

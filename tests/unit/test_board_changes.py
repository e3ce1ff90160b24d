"""The boards' mapping is dispatched by event type: for every event type, with any values its
contract allows, it gives what asking every area's mapping in turn gives. No I/O."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.case_events import events as ce
from contracts.case_events.codes import ReferralSource
from contracts.topics import domain_events
from services.projections.boards import facts
from services.projections.boards.facts import MAPPINGS, Change, board_changes, classes_matched
from shared.envelope import DomainEvent
from tests.payloads import payloads

EVENT_TYPES = sorted(domain_events().types().items())


def every_mapping_asked(event: DomainEvent) -> list[Change]:
    return [change for mapping in MAPPINGS for change in mapping(event)]


@pytest.mark.parametrize(("event_type", "cls"), EVENT_TYPES, ids=[t for t, _ in EVENT_TYPES])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_event_type_is_mapped_as_every_mapping_asked_would_map_it(
    event_type: str, cls: type[DomainEvent], data: st.DataObject
) -> None:
    event = cls.model_validate(data.draw(payloads(cls)))
    assert board_changes(event) == every_mapping_asked(event)


def test_the_dispatch_finds_each_area_s_events() -> None:
    placement = facts._accommodation
    assert {c.__name__ for c in classes_matched(placement)} >= {"PlacementStarted"}
    for mapping in MAPPINGS:  # each names what it maps: none is left out of the dispatch
        assert classes_matched(mapping), mapping.__name__


def test_a_subclass_is_mapped_as_its_class_is() -> None:
    class ReferralReceivedV2(ce.ReferralReceived):  # as a later version's code might define
        pass

    fields = {"referral_id": "R-1", "referral_date": date(2025, 1, 2)}
    source = next(iter(ReferralSource))
    later = ReferralReceivedV2(**fields, source=source)
    assert board_changes(later) == board_changes(ce.ReferralReceived(**fields, source=source))
    assert board_changes(later) != []


def test_a_case_that_names_no_class_is_refused() -> None:
    def mapping(event: DomainEvent) -> list[Change]:
        match event:
            case ce.ReferralReceived():
                return []
            case _:
                return []

    with pytest.raises(TypeError, match="names no class"):
        classes_matched(mapping)


def test_a_match_of_anything_but_the_event_is_the_mapping_s_own() -> None:
    def mapping(event: DomainEvent) -> list[Change]:
        match event:
            case ce.ReferralReceived():
                match event.source:
                    case ReferralSource.POLICE:
                        return []
                return []
        return []

    assert classes_matched(mapping) == {ce.ReferralReceived}

"""Accommodation rules, without I/O: breaches are recorded and flagged, never refused."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.accommodation import events as e
from contracts.accommodation.codes import Breach
from services.accommodation.domain import commands as c
from services.accommodation.domain.accommodation import Accommodation
from shared.aggregate import Decision, DomainRuleViolation, KnownChild


def decision(dob: date, today: date = date(2024, 6, 1)) -> Decision:
    return Decision(today=today, child=KnownChild("C-1", dob, "Exeter"))


def placement(kind: str, start: str = "2024-05-01", pid: str = "PL-1") -> c.StartPlacement:
    return c.StartPlacement(
        placement_id=pid,
        start_date=start,
        placement_type=kind,
        provider="PR4",
        in_council_area=False,
    )


def breaches(events: list) -> list[Breach]:
    return [x.breach for x in events if isinstance(x, e.AccommodationBreachFlagged)]


def test_a_child_under_16_in_an_unregulated_setting_is_recorded_and_flagged() -> None:
    events = Accommodation("C-1").start_placement(placement("H5"), decision(date(2010, 1, 1)))
    assert isinstance(events[0], e.PlacementStarted)
    assert breaches(events) == [Breach.UNDER_16_IN_UNREGULATED_SETTING]


def test_unregistered_h5_for_a_16_year_old_is_a_breach_only_after_october_2023() -> None:
    dob = date(2007, 1, 1)
    before = Accommodation("C-1").start_placement(placement("H5", "2023-10-27"), decision(dob))
    after = Accommodation("C-1").start_placement(placement("H5", "2023-10-28"), decision(dob))
    registered = Accommodation("C-1").start_placement(placement("K3", "2024-01-02"), decision(dob))
    assert breaches(before) == []
    assert breaches(after) == [Breach.UNREGISTERED_SUPPORTED_ACCOMMODATION_16_17]
    assert breaches(registered) == []


def test_code_z_at_17_is_flagged_and_the_code_carries_suitability() -> None:
    events = Accommodation("C-1").record_care_leaver_accommodation(
        c.RecordCareLeaverAccommodation(
            recorded_on="2024-05-01", accommodation="Z", suitability="2"
        ),
        decision(date(2007, 3, 1)),
    )
    assert isinstance(events[0], e.CareLeaverAccommodationRecorded)
    assert events[0].code == "Z2"
    assert breaches(events) == [Breach.CODE_Z_AT_17]


def test_moves_are_counted_over_twelve_months() -> None:
    acc, d = Accommodation("C-1"), decision(date(2010, 1, 1), date(2024, 12, 1))
    for event in acc.start_placement(placement("U4", "2023-01-01"), d):
        acc.when(event)
    for i, start in enumerate(["2023-03-01", "2024-02-01", "2024-05-01"], start=2):
        [moved] = acc.change_placement(
            c.ChangePlacement(
                placement_id=f"PL-{i}",
                start_date=start,
                placement_type="U4",
                provider="PR1",
                in_council_area=True,
                reason="CARPL",
            ),
            d,
        )
        acc.when(moved)
    assert isinstance(moved, e.PlacementChanged)
    assert moved.moves_in_last_12_months == 2  # Feb and May 2024; March 2023 is older


def test_a_placement_cannot_start_over_an_open_one_nor_end_before_it_starts() -> None:
    acc, d = Accommodation("C-1"), decision(date(2010, 1, 1))
    for event in acc.start_placement(placement("U4"), d):
        acc.when(event)
    with pytest.raises(DomainRuleViolation, match="open"):
        acc.start_placement(placement("U4", pid="PL-2"), d)
    with pytest.raises(DomainRuleViolation) as refused:
        acc.end_placement(c.EndPlacement(end_date="2024-04-01"), d)
    assert refused.value.field == "end_date"

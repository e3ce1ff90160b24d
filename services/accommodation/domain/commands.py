"""Commands of the accommodation service: the facts of the event each asks for."""

from __future__ import annotations

from contracts.accommodation import events as e
from shared.commands import example


class StartPlacement(e.PlacementFacts):
    model_config = example(
        placement_id="PL-1",
        start_date="2024-06-03",
        placement_type="U4",
        provider="PR1",
        in_council_area=True,
    )


class ChangePlacement(e.PlacementChangeFacts):
    model_config = example(
        placement_id="PL-2",
        start_date="2024-09-16",
        placement_type="K2",
        provider="PR4",
        in_council_area=False,
        urn="SC123456",
        reason="CHILD",
    )


class EndPlacement(e.PlacementEndFacts):
    model_config = example(end_date="2030-05-14")


class RecordCareLeaverAccommodation(e.CareLeaverAccommodationFacts):
    model_config = example(recorded_on="2030-05-14", accommodation="T", suitability="1")


class ReassessSuitability(e.SuitabilityFacts):
    model_config = example(reassessed_on="2030-09-01", suitability="2")


class ReferForHomelessnessPrevention(e.HomelessnessReferralFacts):
    model_config = example(referred_on="2030-09-02")


class RecordHomelessnessOutcome(e.HomelessnessOutcomeFacts):
    model_config = example(outcome_on="2030-10-01", outcome="prevented")


class StartTenancy(e.TenancyStartFacts):
    model_config = example(started_on="2030-10-05", tenure="private")


class EndTenancy(e.TenancyEndFacts):
    model_config = example(ended_on="2031-10-04", planned=True)


class StartFloatingSupport(e.FloatingSupportStartFacts):
    model_config = example(started_on="2030-10-05", hours_per_week=6)


class EndFloatingSupport(e.FloatingSupportEndFacts):
    model_config = example(ended_on="2031-04-05")

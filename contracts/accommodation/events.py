"""The events this service publishes on `accommodation-events`: its published contract.

Streams are children (the child's pseudonymous id from case-events). What the platform must
not refuse to record (a child under 16 placed in an unregulated setting) is recorded, and a
`AccommodationBreachFlagged` event records the breach beside it.
"""

from __future__ import annotations

from pydantic import Field

from contracts.accommodation.codes import (
    Breach,
    CareLeaverAccommodation,
    HomelessnessOutcome,
    PlacementType,
    Provider,
    ReasonForChange,
    Suitability,
    Tenure,
)
from contracts.ids import ID_PATTERN, OFSTED_URN_PATTERN, POSTCODE_DISTRICT_PATTERN
from shared.envelope import DatedEvent, Day, EventRegistry, Facts

accommodation_event_types = EventRegistry()


class PlacementFacts(Facts):
    placement_id: str = Field(pattern=ID_PATTERN)
    start_date: Day
    placement_type: PlacementType
    provider: Provider
    in_council_area: bool
    postcode: str | None = Field(
        None,
        pattern=POSTCODE_DISTRICT_PATTERN,
        description="The placement's postcode district (outward code): never the full address.",
    )
    urn: str | None = Field(
        None,
        pattern=OFSTED_URN_PATTERN,
        description="The Ofsted unique reference number of the placement's provider (SSDA903's "
        "URN: SC and six digits, or seven digits); XXXXXXX where Ofsted has none (a regional "
        "adoption agency's placement); None where the placement type needs none (with "
        "parents, a hospital, a temporary move...).",
    )


@accommodation_event_types.event
class PlacementStarted(PlacementFacts, DatedEvent):
    """A child in care started a placement (the first of a period of care)."""

    event_type = "PlacementStarted"


class PlacementChangeFacts(PlacementFacts):
    reason: ReasonForChange


@accommodation_event_types.event
class PlacementChanged(PlacementChangeFacts, DatedEvent):
    """The child moved: the previous placement ended the day this one started."""

    event_type = "PlacementChanged"
    previous_placement_id: str
    moves_in_last_12_months: int = Field(ge=1)


class PlacementEndFacts(Facts):
    end_date: Day


@accommodation_event_types.event
class PlacementEnded(PlacementEndFacts, DatedEvent):
    event_type = "PlacementEnded"
    placement_id: str


@accommodation_event_types.event
class AccommodationBreachFlagged(DatedEvent):
    """A placement or accommodation the law does not allow was recorded (not refused)."""

    event_type = "AccommodationBreachFlagged"
    flagged_on: Day
    breach: Breach
    age: int
    code: str = Field(description="The placement type or accommodation code at fault.")


class CareLeaverAccommodationFacts(Facts):
    recorded_on: Day
    accommodation: CareLeaverAccommodation
    suitability: Suitability


@accommodation_event_types.event
class CareLeaverAccommodationRecorded(CareLeaverAccommodationFacts, DatedEvent):
    event_type = "CareLeaverAccommodationRecorded"
    code: str = Field(description="SSDA903 code: letter then suitability digit, e.g. T1.")


class SuitabilityFacts(Facts):
    reassessed_on: Day
    suitability: Suitability


@accommodation_event_types.event
class SuitabilityReassessed(SuitabilityFacts, DatedEvent):
    event_type = "SuitabilityReassessed"
    code: str


class HomelessnessReferralFacts(Facts):
    referred_on: Day


@accommodation_event_types.event
class HomelessnessPreventionReferred(HomelessnessReferralFacts, DatedEvent):
    event_type = "HomelessnessPreventionReferred"


class HomelessnessOutcomeFacts(Facts):
    outcome_on: Day
    outcome: HomelessnessOutcome


@accommodation_event_types.event
class HomelessnessPreventionOutcomeRecorded(HomelessnessOutcomeFacts, DatedEvent):
    event_type = "HomelessnessPreventionOutcomeRecorded"


class TenancyStartFacts(Facts):
    started_on: Day
    tenure: Tenure


@accommodation_event_types.event
class TenancyStarted(TenancyStartFacts, DatedEvent):
    event_type = "TenancyStarted"


class TenancyEndFacts(Facts):
    ended_on: Day
    planned: bool


@accommodation_event_types.event
class TenancyEnded(TenancyEndFacts, DatedEvent):
    event_type = "TenancyEnded"


class FloatingSupportStartFacts(Facts):
    started_on: Day
    hours_per_week: int = Field(ge=1, le=80)


@accommodation_event_types.event
class FloatingSupportStarted(FloatingSupportStartFacts, DatedEvent):
    event_type = "FloatingSupportStarted"


class FloatingSupportEndFacts(Facts):
    ended_on: Day


@accommodation_event_types.event
class FloatingSupportEnded(FloatingSupportEndFacts, DatedEvent):
    event_type = "FloatingSupportEnded"

"""A child's accommodation: placements while in care, then accommodation as a care leaver.

Breaches of the law are recorded as they happened and flagged (`AccommodationBreachFlagged`)
beside the placement; the service never refuses to record where a child actually lives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from contracts.accommodation import events as e
from contracts.accommodation.codes import (
    UNREGULATED,
    Breach,
    CareLeaverAccommodation,
    PlacementType,
)
from services.accommodation.domain import commands as c
from shared.aggregate import (
    Aggregate,
    Decision,
    DomainRuleViolation,
    KnownChild,
    check_day,
    known,
)
from shared.envelope import DomainEvent

# Supported accommodation for 16 and 17 year olds must be registered with Ofsted from this day.
SUPPORTED_ACCOMMODATION_REGISTRATION = date(2023, 10, 28)


@dataclass
class State:
    placement: tuple[str, date] | None = None  # (placement id, start)
    placement_ids: set[str] = field(default_factory=set)
    moves: list[date] = field(default_factory=list)
    care_leaver_code: str | None = None
    care_leaver_since: date | None = None
    homelessness_referral: date | None = None
    tenancy: date | None = None
    floating_support: date | None = None


def placement_breaches(
    child: KnownChild, placement_type: PlacementType, on: date
) -> list[DomainEvent]:
    age = child.age_on(on)
    found = []
    if age < 16 and placement_type in UNREGULATED:
        found.append(Breach.UNDER_16_IN_UNREGULATED_SETTING)
    if (
        16 <= age < 18
        and placement_type is PlacementType.SEMI_INDEPENDENT_UNREGISTERED
        and on >= SUPPORTED_ACCOMMODATION_REGISTRATION
    ):
        found.append(Breach.UNREGISTERED_SUPPORTED_ACCOMMODATION_16_17)
    return [
        e.AccommodationBreachFlagged(flagged_on=on, breach=b, age=age, code=placement_type.value)
        for b in found
    ]


class Accommodation(Aggregate):
    registry = e.accommodation_event_types

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.state = State()

    def _day(
        self, name: str, day: date, d: Decision, after: date | None = None, what: str = ""
    ) -> None:
        check_day(name, day, d, known(d).date_of_birth, after, what)

    # -- placements -------------------------------------------------------------------------

    def start_placement(self, cmd: c.StartPlacement, d: Decision) -> list[DomainEvent]:
        self._day("start_date", cmd.start_date, d)
        if self.state.placement is not None:
            raise DomainRuleViolation(
                "placement_id",
                f"placement {self.state.placement[0]} is "
                "open: record a change of placement instead",
            )
        self._new_id(cmd.placement_id)
        return [
            e.PlacementStarted(**cmd.model_dump()),
            *placement_breaches(known(d), cmd.placement_type, cmd.start_date),
        ]

    def change_placement(self, cmd: c.ChangePlacement, d: Decision) -> list[DomainEvent]:
        current = self._open_placement("placement_id")
        self._day("start_date", cmd.start_date, d, current[1], "the current placement started")
        self._new_id(cmd.placement_id)
        year_ago = cmd.start_date - timedelta(days=365)
        moves = 1 + sum(1 for m in self.state.moves if m > year_ago)
        return [
            e.PlacementChanged(
                **cmd.model_dump(), previous_placement_id=current[0], moves_in_last_12_months=moves
            ),
            *placement_breaches(known(d), cmd.placement_type, cmd.start_date),
        ]

    def end_placement(self, cmd: c.EndPlacement, d: Decision) -> list[DomainEvent]:
        current = self._open_placement("end_date")
        self._day("end_date", cmd.end_date, d, current[1], "the placement started")
        return [e.PlacementEnded(**cmd.model_dump(), placement_id=current[0])]

    def _open_placement(self, name: str) -> tuple[str, date]:
        if self.state.placement is None:
            raise DomainRuleViolation(name, "the child has no open placement")
        return self.state.placement

    def _new_id(self, placement_id: str) -> None:
        if placement_id in self.state.placement_ids:
            raise DomainRuleViolation("placement_id", "was already used for this child")

    # -- care leavers -----------------------------------------------------------------------

    def record_care_leaver_accommodation(
        self, cmd: c.RecordCareLeaverAccommodation, d: Decision
    ) -> list[DomainEvent]:
        self._day("recorded_on", cmd.recorded_on, d)
        age = known(d).age_on(cmd.recorded_on)
        if age < 16:
            raise DomainRuleViolation("recorded_on", "care leavers are 16 or older")
        events: list[DomainEvent] = [
            e.CareLeaverAccommodationRecorded(
                **cmd.model_dump(), code=f"{cmd.accommodation.value}{cmd.suitability.value}"
            )
        ]
        if cmd.accommodation is CareLeaverAccommodation.WITH_FORMER_FOSTER_CARERS and age == 17:
            events.append(
                e.AccommodationBreachFlagged(
                    flagged_on=cmd.recorded_on, breach=Breach.CODE_Z_AT_17, age=age, code="Z"
                )
            )
        return events

    def reassess_suitability(self, cmd: c.ReassessSuitability, d: Decision) -> list[DomainEvent]:
        if self.state.care_leaver_code is None:
            raise DomainRuleViolation("reassessed_on", "no care leaver accommodation recorded")
        self._day(
            "reassessed_on",
            cmd.reassessed_on,
            d,
            self.state.care_leaver_since,
            "the accommodation was recorded",
        )
        return [
            e.SuitabilityReassessed(
                **cmd.model_dump(), code=f"{self.state.care_leaver_code[0]}{cmd.suitability.value}"
            )
        ]

    def refer_homelessness(
        self, cmd: c.ReferForHomelessnessPrevention, d: Decision
    ) -> list[DomainEvent]:
        self._day("referred_on", cmd.referred_on, d)
        if self.state.homelessness_referral is not None:
            raise DomainRuleViolation("referred_on", "a referral is already open")
        return [e.HomelessnessPreventionReferred(**cmd.model_dump())]

    def record_homelessness_outcome(
        self, cmd: c.RecordHomelessnessOutcome, d: Decision
    ) -> list[DomainEvent]:
        if self.state.homelessness_referral is None:
            raise DomainRuleViolation("outcome_on", "no homelessness referral is open")
        self._day("outcome_on", cmd.outcome_on, d, self.state.homelessness_referral, "the referral")
        return [e.HomelessnessPreventionOutcomeRecorded(**cmd.model_dump())]

    def start_tenancy(self, cmd: c.StartTenancy, d: Decision) -> list[DomainEvent]:
        self._day("started_on", cmd.started_on, d)
        if self.state.tenancy is not None:
            raise DomainRuleViolation("started_on", "a tenancy is already open")
        return [e.TenancyStarted(**cmd.model_dump())]

    def end_tenancy(self, cmd: c.EndTenancy, d: Decision) -> list[DomainEvent]:
        if self.state.tenancy is None:
            raise DomainRuleViolation("ended_on", "no tenancy is open")
        self._day("ended_on", cmd.ended_on, d, self.state.tenancy, "the tenancy started")
        return [e.TenancyEnded(**cmd.model_dump())]

    def start_floating_support(self, cmd: c.StartFloatingSupport, d: Decision) -> list[DomainEvent]:
        self._day("started_on", cmd.started_on, d)
        if self.state.floating_support is not None:
            raise DomainRuleViolation("started_on", "floating support is already open")
        return [e.FloatingSupportStarted(**cmd.model_dump())]

    def end_floating_support(self, cmd: c.EndFloatingSupport, d: Decision) -> list[DomainEvent]:
        if self.state.floating_support is None:
            raise DomainRuleViolation("ended_on", "no floating support is open")
        self._day("ended_on", cmd.ended_on, d, self.state.floating_support, "support started")
        return [e.FloatingSupportEnded(**cmd.model_dump())]

    # -- state ------------------------------------------------------------------------------

    def when(self, event: DomainEvent) -> None:
        s = self.state
        match event:
            case e.PlacementStarted():
                s.placement = (event.placement_id, event.start_date)
                s.placement_ids.add(event.placement_id)
            case e.PlacementChanged():
                s.placement = (event.placement_id, event.start_date)
                s.placement_ids.add(event.placement_id)
                s.moves.append(event.start_date)
            case e.PlacementEnded():
                s.placement = None
            case e.CareLeaverAccommodationRecorded():
                s.care_leaver_code, s.care_leaver_since = event.code, event.recorded_on
            case e.SuitabilityReassessed():
                s.care_leaver_code = event.code
            case e.HomelessnessPreventionReferred():
                s.homelessness_referral = event.referred_on
            case e.HomelessnessPreventionOutcomeRecorded():
                s.homelessness_referral = None
            case e.TenancyStarted():
                s.tenancy = event.started_on
            case e.TenancyEnded():
                s.tenancy = None
            case e.FloatingSupportStarted():
                s.floating_support = event.started_on
            case e.FloatingSupportEnded():
                s.floating_support = None

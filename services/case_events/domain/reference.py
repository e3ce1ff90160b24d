"""The council's reference data: its localities, schools, teams and social workers, which
commands name (fields marked `Referenced(kind)`), kept here and changed only by events.

One aggregate per kind, on the kind's own stream (`reference:<kind>`): a list is decided on
whole (no two items alike), and its changes reach every service's copy in order. A team
names its locality and a worker their team: the decision is given the other kinds' items
(`known`), read by the route. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from contracts.reference import events as r
from shared.aggregate import (
    Aggregate,
    AlreadyRecorded,
    Decision,
    DomainRuleViolation,
    UnknownStream,
    not_in_future,
)
from shared.commands import example, referenced_fields, unknown_reference
from shared.envelope import DomainEvent, Facts

# Each kind's items: the item (its id) -> the day it was retired, None while current.
Items = Mapping[str, date | None]


@dataclass(frozen=True)
class Kind:
    """One kind of reference data: the events that add and retire an item."""

    name: str  # as Referenced(kind) names it
    added: type[r.LocalityAdded | r.SchoolAdded | r.TeamAdded | r.SocialWorkerAdded]
    retired: type[r.LocalityRetired | r.SchoolRetired | r.TeamRetired | r.SocialWorkerRetired]

    @property
    def key(self) -> str:
        """The field that names an item (a locality's name, a school's URN...)."""
        return self.added.key

    @property
    def words(self) -> str:
        return self.name.replace("_", " ")


KINDS = {
    k.name: k
    for k in (
        Kind(r.LOCALITY, r.LocalityAdded, r.LocalityRetired),
        Kind(r.SCHOOL, r.SchoolAdded, r.SchoolRetired),
        Kind(r.TEAM, r.TeamAdded, r.TeamRetired),
        Kind(r.SOCIAL_WORKER, r.SocialWorkerAdded, r.SocialWorkerRetired),
    )
}
BY_STREAM = {r.stream_of(name): kind for name, kind in KINDS.items()}
RETIRED = tuple(k.retired for k in KINDS.values())


# -- commands (each body is the facts of the event it asks for) -----------------------------


class AddLocality(r.LocalityFacts):
    model_config = example(name="Exeter")


class AddSchool(r.SchoolFacts):
    model_config = example(urn="113254", name="Example Academy")


class AddTeam(r.TeamFacts):
    model_config = example(team_id="T-EX-CIN", name="Exeter children in need", locality="Exeter")


class AddSocialWorker(r.SocialWorkerFacts):
    model_config = example(worker_id="SW-0001", team_id="T-EX-CIN")


class RetireItem(r.RetirementFacts):
    model_config = example(retired_on="2025-03-31")


class ReferenceList(Aggregate):
    """One kind's items: every one ever added, each with the event that added it (a school's
    name, a team's locality) and the day it was retired, if it was."""

    registry = r.reference_event_types

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.kind = BY_STREAM[stream_id]
        self.added: dict[str, DomainEvent] = {}
        self.retired: dict[str, date] = {}

    def when(self, event: DomainEvent) -> None:
        item = str(getattr(event, self.kind.key))
        if isinstance(event, RETIRED):
            self.retired[item] = event.retired_on
        else:
            self.added[item] = event
            self.retired.pop(item, None)

    def items(self) -> dict[str, date | None]:
        return {item: self.retired.get(item) for item in self.added}

    def current(self) -> list[str]:
        return sorted(item for item in self.added if item not in self.retired)

    def add(self, cmd: Facts, d: Decision, known: Mapping[str, Items]) -> list[DomainEvent]:
        """Add an item: not one already current (nor one differing only in case: a typo would
        start a second "Exeter"), and naming only current items of other kinds (`known`, by
        kind). A retired item may be added again: it is current from then on."""
        key, words = self.kind.key, self.kind.words
        item = str(getattr(cmd, key))
        if item in self.current():
            raise AlreadyRecorded(f"{words} {item!r} is already known")
        twin = next((c for c in self.current() if c.casefold() == item.casefold()), None)
        if twin is not None:
            raise DomainRuleViolation(key, f"differs only in case from the known {words} {twin!r}")
        for field, kind in referenced_fields(type(cmd)).items():
            value, items = str(getattr(cmd, field)), known[kind]
            if value not in items or items[value] is not None:  # unknown, or retired
                raise DomainRuleViolation(field, unknown_reference(kind, value, items))
        return [self.kind.added(**cmd.model_dump())]

    def retire(self, item: str, cmd: r.RetirementFacts, d: Decision) -> list[DomainEvent]:
        """Retire a current item from a day (not in the future: it is refused in new commands
        from the moment it is recorded). The facts that named it keep it."""
        if item not in self.added:
            raise UnknownStream(item)
        if item in self.retired:
            raise AlreadyRecorded(
                f"{self.kind.words} {item!r} was retired on {self.retired[item].isoformat()}"
            )
        not_in_future("retired_on", cmd.retired_on, d)
        return [self.kind.retired(**{self.kind.key: item, "retired_on": cmd.retired_on})]

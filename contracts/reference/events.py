"""The council's reference data, each change an event: its localities, schools, teams and
social workers, which commands elsewhere name (fields marked `Referenced(kind)`).

The case events service keeps them (routes under /reference) and publishes the changes on the
`case-events` topic, so another service that takes a school or a locality keeps a copy
(shared/reference_data.py) and answers a command naming an unknown or retired one with a 422
listing the known ones. Each kind is one stream (`reference:<kind>`, see `stream_of`): its
changes reach every copy in order, and a list is read, and changed, whole.

Every event says which kind it changes (`kind`) and which field names the item (`key`): what
a copy needs, without knowing each event. An item is added, and retired from a day; a retired
item is refused in new commands but stays in every fact that named it.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from contracts.ids import ID_PATTERN, LOCALITY_PATTERN, URN_PATTERN, WORKER_ID_PATTERN, Referenced
from shared.envelope import DatedEvent, Day, DomainEvent, EventRegistry, Facts

reference_event_types = EventRegistry()

LOCALITY, SCHOOL, TEAM, SOCIAL_WORKER = "locality", "school", "team", "social_worker"
KINDS = (LOCALITY, SCHOOL, TEAM, SOCIAL_WORKER)


STREAM_PREFIX = "reference:"


def stream_of(kind: str) -> str:
    """The stream of one kind's changes. The colon keeps it apart from every child's id
    (contracts.ids.CHILD_ID_PATTERN has none)."""
    if kind not in KINDS:
        raise LookupError(f"no reference data of kind {kind!r}: {', '.join(KINDS)}")
    return f"{STREAM_PREFIX}{kind}"


def is_reference_stream(stream_id: str) -> bool:
    """Whether a stream is one of the reference lists' (a record's key on case-events)."""
    return stream_id.startswith(STREAM_PREFIX)


Name = Field(min_length=1, max_length=200, description="As the council calls it.")
# A team's locality and a worker's team must be current when the team or worker is added.
TeamLocality = Annotated[
    str,
    Field(pattern=LOCALITY_PATTERN, description="The locality the team works in."),
    Referenced(LOCALITY),
]
WorkerTeam = Annotated[
    str, Field(pattern=ID_PATTERN, description="The worker's team."), Referenced(TEAM)
]


class ReferenceEvent(DomainEvent):
    """A change to the reference data: the kind it changes, and the field naming the item."""

    kind: ClassVar[str]
    key: ClassVar[str]


class RetirementFacts(Facts):
    retired_on: Day = Field(description="From this day it is refused in new commands.")


# -- localities -----------------------------------------------------------------------------


class LocalityFacts(Facts):
    name: str = Field(pattern=LOCALITY_PATTERN, description="The locality's name.")


@reference_event_types.event
class LocalityAdded(LocalityFacts, ReferenceEvent):
    """A locality the council's children and teams may belong to."""

    event_type = "LocalityAdded"
    kind: ClassVar[str] = LOCALITY
    key: ClassVar[str] = "name"


@reference_event_types.event
class LocalityRetired(RetirementFacts, LocalityFacts, ReferenceEvent, DatedEvent):
    """The locality is no longer one a new record may name (a reorganisation merged it)."""

    event_type = "LocalityRetired"
    kind: ClassVar[str] = LOCALITY
    key: ClassVar[str] = "name"


# -- schools --------------------------------------------------------------------------------


class SchoolKey(Facts):
    urn: str = Field(pattern=URN_PATTERN, description="The school's unique reference number.")


class SchoolFacts(SchoolKey):
    name: str = Name


@reference_event_types.event
class SchoolAdded(SchoolFacts, ReferenceEvent):
    """A school the council's children may be enrolled at (in the council's area or not)."""

    event_type = "SchoolAdded"
    kind: ClassVar[str] = SCHOOL
    key: ClassVar[str] = "urn"


@reference_event_types.event
class SchoolRetired(RetirementFacts, SchoolKey, ReferenceEvent, DatedEvent):
    """The school closed (or is no longer one the council's children attend)."""

    event_type = "SchoolRetired"
    kind: ClassVar[str] = SCHOOL
    key: ClassVar[str] = "urn"


# -- teams ----------------------------------------------------------------------------------


class TeamKey(Facts):
    team_id: str = Field(pattern=ID_PATTERN, description="The council's id for the team.")


class TeamFacts(TeamKey):
    name: str = Name
    locality: TeamLocality


@reference_event_types.event
class TeamAdded(TeamFacts, ReferenceEvent):
    """A team of the council's social workers, in one of its localities."""

    event_type = "TeamAdded"
    kind: ClassVar[str] = TEAM
    key: ClassVar[str] = "team_id"


@reference_event_types.event
class TeamRetired(RetirementFacts, TeamKey, ReferenceEvent, DatedEvent):
    """The team was disbanded or merged into another."""

    event_type = "TeamRetired"
    kind: ClassVar[str] = TEAM
    key: ClassVar[str] = "team_id"


# -- social workers -------------------------------------------------------------------------


class SocialWorkerKey(Facts):
    worker_id: str = Field(
        pattern=WORKER_ID_PATTERN, description="Pseudonymous id of a council worker (never a name)."
    )


class SocialWorkerFacts(SocialWorkerKey):
    team_id: WorkerTeam


@reference_event_types.event
class SocialWorkerAdded(SocialWorkerFacts, ReferenceEvent):
    """A social worker, in one of the council's teams, who may be allocated to children."""

    event_type = "SocialWorkerAdded"
    kind: ClassVar[str] = SOCIAL_WORKER
    key: ClassVar[str] = "worker_id"


@reference_event_types.event
class SocialWorkerRetired(RetirementFacts, SocialWorkerKey, ReferenceEvent, DatedEvent):
    """The social worker left the council (or no longer takes allocations)."""

    event_type = "SocialWorkerRetired"
    kind: ClassVar[str] = SOCIAL_WORKER
    key: ClassVar[str] = "worker_id"

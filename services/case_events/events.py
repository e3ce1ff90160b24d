"""The events this service publishes on the `case-events` topic: its published contract.

Other services and partners may import this module (and only this module) of case_events.
Codes are the national ones (DfE Children in Need census; SSDA903) so that statutory returns
can be derived from the log.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from shared.envelope import DomainEvent, EventRegistry, at_start_of

case_event_types = EventRegistry()

CHILD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$"
LOCALITY_PATTERN = r"^[A-Za-z][A-Za-z &'-]{0,62}[A-Za-z]$"


class ChildProtectionCategory(StrEnum):
    """Category of abuse on a child protection plan (CIN census)."""

    NEGLECT = "NEG"
    PHYSICAL_ABUSE = "PHY"
    SEXUAL_ABUSE = "SAB"
    EMOTIONAL_ABUSE = "EMO"
    MULTIPLE = "MUL"


@case_event_types.event
class ChildRegistered(DomainEvent):
    """A child became known to the platform under a pseudonymous id."""

    event_type = "ChildRegistered"
    schema_version = 1

    child_id: str = Field(pattern=CHILD_ID_PATTERN)
    date_of_birth: date
    locality: str = Field(pattern=LOCALITY_PATTERN,
                          description="The council's locality responsible for the child.")


@case_event_types.event
class ChildProtectionPlanStarted(DomainEvent):
    """A child protection plan started (after an initial child protection conference)."""

    event_type = "ChildProtectionPlanStarted"
    schema_version = 1

    child_id: str = Field(pattern=CHILD_ID_PATTERN)
    plan_id: str = Field(min_length=1, max_length=64)
    category: ChildProtectionCategory
    start_date: date
    previous_plans: int = Field(ge=0, description="Plans this child had before: >0 is a repeat.")

    def occurred_at(self) -> datetime:
        return at_start_of(self.start_date)

"""What a practitioner (or the case-management integration) asks the service to record."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from services.case_events.events import (
    CHILD_ID_PATTERN,
    LOCALITY_PATTERN,
    ChildProtectionCategory,
)


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegisterChild(Command):
    model_config = ConfigDict(
        json_schema_extra={"examples": [
            {"child_id": "C-000123", "date_of_birth": "2012-05-14", "locality": "Exeter"}
        ]}
    )

    child_id: str = Field(pattern=CHILD_ID_PATTERN,
                          description="The council's pseudonymous id for the child.")
    date_of_birth: date
    locality: str = Field(pattern=LOCALITY_PATTERN)


class StartChildProtectionPlan(Command):
    model_config = ConfigDict(
        json_schema_extra={"examples": [
            {"plan_id": "CPP-2024-0042", "category": "NEG", "start_date": "2024-03-01"}
        ]}
    )

    plan_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    category: ChildProtectionCategory
    start_date: date

"""Board: children on child protection plans (the open plans, by locality)."""

from __future__ import annotations

from datetime import date

import asyncpg
from pydantic import BaseModel

from contracts.case_events.events import ChildProtectionPlanStarted, ChildRegistered
from shared.envelope import DomainEvent, Envelope


class ChildProtectionBoard:
    name = "child_protection"

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent
                    ) -> None:
        match event:
            case ChildRegistered():
                await conn.execute(
                    "INSERT INTO children (child_id, locality) VALUES ($1, $2)",
                    event.child_id, event.locality,
                )
            case ChildProtectionPlanStarted():
                await conn.execute(
                    "INSERT INTO child_protection_plans (child_id, plan_id, category, start_date,"
                    " previous_plans, locality)"
                    " SELECT $1, $2, $3, $4, $5, locality FROM children WHERE child_id = $1",
                    event.child_id, event.plan_id, event.category.value, event.start_date,
                    event.previous_plans,
                )


class OpenPlan(BaseModel):
    child_id: str
    plan_id: str
    category: str
    start_date: date
    previous_plans: int
    locality: str


class OpenPlans(BaseModel):
    count: int
    locality: str | None
    plans: list[OpenPlan]


async def open_plans(pool: asyncpg.Pool, locality: str | None) -> OpenPlans:
    rows = await pool.fetch(
        "SELECT child_id, plan_id, category, start_date, previous_plans, locality"
        " FROM child_protection_plans"
        " WHERE end_date IS NULL AND ($1::text IS NULL OR locality = $1)"
        " ORDER BY start_date, child_id",
        locality,
    )
    plans = [OpenPlan(**dict(r)) for r in rows]
    return OpenPlans(count=len(plans), locality=locality, plans=plans)


def read_model_tables() -> list[str]:
    return ["children", "child_protection_plans"]



"""The drift rules, checked on request (the worker also checks them periodically)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from services.escalations.policies import check_drift
from shared.access import Permission, requires
from shared.api import Pool, ServiceClock

router = APIRouter(tags=["drift"])


@router.post(
    "/drift-checks",
    summary="Check the drift rules now (the worker also checks them periodically)",
    dependencies=[requires(Permission.CHECK_DRIFT)],
)
async def drift_check(
    pool: Pool,
    clock: ServiceClock,
    as_at: Annotated[date | None, Query(description="Defaults to today")] = None,
) -> dict[str, object]:
    today = clock.today()
    day = min(as_at or today, today)  # alerts are facts: never raised for the future
    return {"as_at": day.isoformat(), "alerts_raised": await check_drift(pool, day)}

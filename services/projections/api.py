"""HTTP API of the boards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query

from services.case_events.events import LOCALITY_PATTERN
from services.projections.boards.child_protection import OpenPlans, open_plans
from services.projections.registry import READ_MODEL_SQL
from shared.api import service_app
from shared.db import open_database
from shared.migrations import PROJECTION_SQL
from shared.settings import Settings

Locality = Annotated[str | None, Query(pattern=LOCALITY_PATTERN, description="Filter by locality")]


def create_app(settings: Settings) -> FastAPI:
    state: dict[str, Any] = {}

    async def database_check() -> dict[str, Any]:
        await state["pool"].fetchval("SELECT 1")
        return {"ok": True}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["pool"] = await open_database(settings, PROJECTION_SQL, READ_MODEL_SQL)
        try:
            yield
        finally:
            await state["pool"].close()

    app = service_app("Boards", settings.service,
                      "Oversight read models built from every domain topic.",
                      lifespan, {"postgres": database_check})

    @app.get("/boards/child-protection/open-plans", response_model=OpenPlans,
             tags=["boards"], summary="Children on a child protection plan now")
    async def child_protection_open_plans(locality: Locality = None) -> OpenPlans:
        return await open_plans(state["pool"], locality)

    return app

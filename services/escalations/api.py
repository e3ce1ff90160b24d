"""HTTP command API of the escalations service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.escalations.routes import attention, children, drift, escalations
from shared.api import domain_service_app
from shared.clock import Clock
from shared.known_children import KNOWN_CHILDREN_SQL
from shared.settings import Settings

RULES_SQL = Path(__file__).parent / "sql"


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    app = domain_service_app(
        settings,
        "Escalations",
        "Risk ratings and their moderation, IRO and CP-chair escalations, EWO attendance "
        "escalations and drift alerts (raised by rule), and the acknowledgements of the incident "
        "management teams' attention queue, published on `escalation-events`.",
        [KNOWN_CHILDREN_SQL, RULES_SQL],
        clock,
    )
    app.include_router(escalations.router)
    app.include_router(drift.router)
    app.include_router(children.commands)
    app.include_router(escalations.commands)
    app.include_router(escalations.record)
    app.include_router(children.record)
    app.include_router(attention.router)
    return app

"""HTTP command API of the education service, with the register feed."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.education.routes import attendance, children
from shared.api import domain_service_app
from shared.clock import Clock
from shared.known_children import KNOWN_CHILDREN_SQL
from shared.reference_data import REFERENCE_DATA_SQL, known_references
from shared.settings import Settings

# The service's own migrations (the index the register feed reads school rolls by).
EDUCATION_SQL = Path(__file__).parent / "sql"


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    app = domain_service_app(
        settings,
        "Education",
        "Enrolments, attendance (the register feed), Year 11 destinations and EET activity, "
        "published on `education-events`. A child must first be registered with case events.",
        [KNOWN_CHILDREN_SQL, REFERENCE_DATA_SQL, EDUCATION_SQL],
        clock,
    )
    # A school a command names must be one of the council's (its copy, from case-events).
    app.state.reference_data = known_references
    app.include_router(attendance.router)
    app.include_router(children.commands)
    app.include_router(children.record)
    return app

"""HTTP command API of the accommodation service."""

from __future__ import annotations

from fastapi import FastAPI

from services.accommodation.routes import children
from shared.api import domain_service_app
from shared.clock import Clock
from shared.known_children import KNOWN_CHILDREN_SQL
from shared.settings import Settings


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    app = domain_service_app(
        settings,
        "Accommodation",
        "Placements of children in care and care leavers' accommodation, published on "
        "`accommodation-events`. A child must first be registered with case events.",
        [KNOWN_CHILDREN_SQL],
        clock,
    )
    app.include_router(children.commands)
    app.include_router(children.record)
    return app

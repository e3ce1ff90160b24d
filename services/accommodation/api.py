"""HTTP command API of the accommodation service."""

from __future__ import annotations

from fastapi import FastAPI

from contracts.ids import CHILD_ID_PATTERN
from services.accommodation.domain.accommodation import Accommodation
from services.accommodation.routes import ROUTES
from shared.api import domain_service_app
from shared.clock import Clock, clock_from
from shared.known_children import KNOWN_CHILDREN_SQL, known_child
from shared.routes import StreamParam, add_command_routes, add_stream_read
from shared.settings import Settings

CHILD = StreamParam("child_id", CHILD_ID_PATTERN, "Pseudonymous child id")


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    app, state = domain_service_app(
        settings, "Accommodation",
        "Placements of children in care and care leavers' accommodation, published on "
        "`accommodation-events`. A child must first be registered with case events.",
        [KNOWN_CHILDREN_SQL])
    add_command_routes(app, "/children", CHILD, ROUTES, Accommodation, lambda: state.store,
                       clock or clock_from(settings),
                       known_child=lambda child_id: known_child(state.pool, child_id))
    add_stream_read(app, "/children", CHILD, Accommodation, lambda: state.store,
                    known_child=lambda child_id: known_child(state.pool, child_id))
    return app

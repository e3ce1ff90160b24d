"""HTTP command API of the case-events service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.case_events.personal import PersonalDataErased, key_encryption_key
from services.case_events.routes import (
    children,
    commands,
    information_governance,
    reference,
    returns,
)
from services.case_events.routes import personal_data as personal
from shared.api import domain_service_app
from shared.clock import Clock
from shared.sealing import open_key_vault
from shared.settings import Settings

KEYS_SQL = Path(__file__).parent / "sql"


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    app = domain_service_app(
        settings,
        "Case events",
        "Records the child's statutory journey, from referral to leaving care, as events "
        "published on the `case-events` topic (see docs/events.md). Personal details are "
        "sealed with the child's own key (docs/security.md).",
        [KEYS_SQL],
        clock,
        resources=open_key_vault(key_encryption_key(settings)),
    )
    app.add_exception_handler(PersonalDataErased, personal.erased)
    # The commands naming a locality, a team or a worker are checked against the reference
    # data this service keeps (shared/reference_data.py).
    app.state.reference_data = reference.ReferenceLists()
    app.include_router(children.router)
    app.include_router(personal.router)
    app.include_router(information_governance.router)
    app.include_router(commands.children)
    app.include_router(commands.families)
    app.include_router(reference.router)
    app.include_router(returns.router)
    return app

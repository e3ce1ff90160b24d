"""The audits, for the council's auditors: every message sent to a partner agency (who received
it, about which child, which fields, why and when), and every person-level read on the
platform (who, what, why, when). Read-only."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.partner_feeds.routes import reads, shares
from shared.api import database_service_app
from shared.settings import Settings

SHARES_SQL = Path(__file__).parent / "sql"


def create_app(settings: Settings) -> FastAPI:
    app = database_service_app(
        settings,
        "Partner feeds",
        "What each partner agency receives (minimised: pseudonymous ids, month-and-year dates "
        "of birth, no free text; see docs/security.md), and the audit of every share.",
        [SHARES_SQL],
    )
    app.include_router(shares.router)
    app.include_router(reads.router)
    return app

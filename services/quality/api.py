"""HTTP command API of the quality service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.quality.routes import audits, evaluations, incidents, packs, plan, surveys
from shared.api import domain_service_app
from shared.clock import Clock
from shared.known_children import KNOWN_CHILDREN_SQL
from shared.reference_data import REFERENCE_DATA_SQL, known_references
from shared.sealing import key_encryption_key, open_key_vault
from shared.settings import Settings

KEYS_SQL = Path(__file__).parent / "sql"


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    app = domain_service_app(
        settings,
        "Quality",
        "Quality assurance: practice evaluations and their moderation, partnership audits, "
        "parents' and young people's feedback, serious incidents and their reviews, the "
        "improvement plan, and the partnership's board packs with each person's commentary, "
        "published on `quality-events`. Free text (findings, comments, learning, decisions, "
        "action summaries, commentary) is sealed with the subject's own key: the "
        "child's where the record names one (docs/security.md).",
        [KNOWN_CHILDREN_SQL, REFERENCE_DATA_SQL, KEYS_SQL],
        clock,
        resources=open_key_vault(key_encryption_key(settings)),
    )
    # A locality a command names must be one of the council's (its copy, from case-events).
    app.state.reference_data = known_references
    for area in (evaluations, audits, incidents):
        app.include_router(area.sealed)
        app.include_router(area.commands)
        app.include_router(area.record)
    app.include_router(surveys.sealed)
    app.include_router(surveys.record)
    app.include_router(plan.sealed)
    app.include_router(plan.commands)
    app.include_router(plan.record)
    app.include_router(packs.sealed)
    app.include_router(packs.record)
    return app

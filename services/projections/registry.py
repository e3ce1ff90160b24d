"""What the projection service reads: every domain topic, decoded with the published contracts."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.accommodation.events import accommodation_event_types
from services.case_events.events import case_event_types
from services.education.events import education_event_types
from services.escalations.events import escalation_event_types
from services.projections.boards.child_protection import ChildProtectionBoard
from shared.envelope import EventRegistry
from shared.projection import Projection
from shared.settings import Settings
from shared.worker import Subscription, service_worker_app

READ_MODEL_SQL = Path(__file__).parent / "sql"


def event_types() -> EventRegistry:
    registry = EventRegistry()
    for contract in (case_event_types, accommodation_event_types, education_event_types,
                     escalation_event_types):
        registry.include(contract)
    return registry


def source_topics() -> list[str]:
    return ["case-events", "accommodation-events", "education-events", "escalation-events"]


def boards() -> list[Projection]:
    return [ChildProtectionBoard()]


def worker(settings: Settings) -> FastAPI:
    """Builds every board from every domain topic (no event store, so no relay)."""
    return service_worker_app(
        settings, [Subscription("boards", source_topics(), event_types(), boards())],
        [READ_MODEL_SQL], relay=False, consumer_name=settings.consumer_group)

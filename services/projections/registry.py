"""What the projection service reads: every domain topic, decoded with the published contracts."""

from __future__ import annotations

from pathlib import Path

from services.case_events.events import case_event_types
from services.projections.boards.child_protection import ChildProtectionBoard
from shared.envelope import EventRegistry
from shared.kafka import topic_of
from shared.migrations import PROJECTION_SQL
from shared.projection import Projection

READ_MODEL_SQL = Path(__file__).parent / "sql"
MIGRATIONS = (PROJECTION_SQL, READ_MODEL_SQL)


def event_types() -> EventRegistry:
    registry = EventRegistry()
    registry.include(case_event_types)
    return registry


def source_topics() -> list[str]:
    return [topic_of("case_events")]


def boards() -> list[Projection]:
    return [ChildProtectionBoard()]

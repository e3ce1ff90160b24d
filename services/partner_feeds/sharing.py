"""What each partner agency receives: data minimisation as a table, and nothing else.

A partner gets an event only if its type is listed for that agency below, and only the fields
listed with it: never the council's child id (a pseudonym of its own instead, different for
every agency, so two agencies cannot join their feeds without the council), never a full date
of birth (month and year), never free text or the names of anyone. Pure functions: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from shared.access import write_into
from shared.envelope import Agency, DomainEvent, Envelope

# The lawful basis recorded with every share (Data Protection Act 2018, Schedule 1, para 18:
# safeguarding of children and individuals at risk).
PURPOSE = "safeguarding: DPA 2018 Sch. 1 para 18"

# agency -> event type -> the fields it may see.
ENTITLEMENTS: dict[Agency, dict[str, tuple[str, ...]]] = {
    Agency.POLICE: {
        "StrategyDiscussionHeld": ("discussion_date", "section_47_enquiry"),
        "ChildProtectionPlanStarted": ("start_date",),
        "ChildProtectionPlanEnded": ("end_date",),
        "MissingEpisodeRecorded": ("started_on", "ended_on", "kind"),
    },
    Agency.HEALTH: {
        "ChildRegistered": ("date_of_birth", "locality"),
        "ChildProtectionPlanStarted": ("start_date", "category"),
        "ChildProtectionPlanEnded": ("end_date",),
        "PeriodOfCareStarted": ("start_date",),
        "PeriodOfCareEnded": ("end_date",),
        "HealthAssessmentCompleted": ("assessment_date", "kind"),
        "HealthPassportOffered": ("offered_on", "milestone"),
        "HealthPassportAccepted": ("accepted_on",),
    },
    Agency.SCHOOLS: {
        "ChildRegistered": ("date_of_birth", "locality"),
        "ChildProtectionPlanStarted": ("start_date",),
        "ChildProtectionPlanEnded": ("end_date",),
        "PeriodOfCareStarted": ("start_date",),
        "PeriodOfCareEnded": ("end_date",),
        "RiskRatingAssigned": ("rated_on", "rating", "visiting_frequency_days"),
        "EWOAttendanceEscalationRaised": ("raised_on", "sessions_missed"),
        "EWOAttendanceEscalationClosed": ("closed_on", "outcome"),
    },
    Agency.HOUSING: {
        "CareLeaverAccommodationRecorded": ("recorded_on", "accommodation", "suitability"),
        "SuitabilityReassessed": ("reassessed_on", "suitability"),
        "HomelessnessPreventionReferred": ("referred_on",),
        "HomelessnessPreventionOutcomeRecorded": ("outcome_on", "outcome"),
        "TenancyStarted": ("started_on", "tenure"),
        "TenancyEnded": ("ended_on", "planned"),
    },
    Agency.CAREERS: {
        "ChildRegistered": ("date_of_birth", "locality"),
        "CareLeaverStatusRecorded": ("recorded_on", "status"),
        "EETActivityRecorded": ("recorded_on", "activity", "neet"),
        "NEETPanelReviewed": ("review_date", "action"),
    },
    Agency.PROBATION: {
        "CareLeaverStatusRecorded": ("recorded_on", "status"),
        "CareLeaverAccommodationRecorded": ("recorded_on", "suitability"),
    },
}

PARTNERS = tuple(ENTITLEMENTS)
# Fields that are reduced, not withheld, when shared.
MONTH_ONLY = frozenset({"date_of_birth"})


def partner_topic(agency: Agency) -> str:
    """The base name of an agency's topic (contracts/topics.py)."""
    return f"partner-{agency.value}"


def pseudonym(key: bytes, agency: Agency, child_id: str) -> str:
    """The id an agency knows a child by: stable for that agency, unlinkable across agencies
    without the council's key."""
    digest = hmac.new(key, f"{agency.value}:{child_id}".encode(), hashlib.sha256).hexdigest()
    return f"{agency.value[:3].upper()}-{digest[:20]}"


@dataclass(frozen=True)
class PartnerMessage:
    agency: Agency
    message_id: UUID  # the same for the same event and agency, so a re-send is recognisable
    subject: str  # the agency's pseudonym of the child
    child_id: str  # the council's id: for the council's own audit, never in the body
    event_type: str
    facts: dict[str, Any]
    source_event_id: UUID

    def body(self) -> dict[str, Any]:
        return {
            "message_id": str(self.message_id),
            "subject": self.subject,
            "event_type": self.event_type,
            "facts": self.facts,
            "purpose": PURPOSE,
        }


def _shareable(value: Any, month_only: bool) -> Any:
    if isinstance(value, date) and month_only:
        return f"{value:%Y-%m}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def shares_of(envelope: Envelope, event: DomainEvent, key: bytes) -> list[PartnerMessage]:
    """Every message this event becomes, one per agency entitled to it (often none)."""
    out = []
    child_id = getattr(event, "child_id", None) or envelope.stream_id
    for agency, entitled in ENTITLEMENTS.items():
        fields = entitled.get(envelope.event_type)
        if fields is None:
            continue
        out.append(
            PartnerMessage(
                agency=agency,
                message_id=uuid5(envelope.event_id, agency.value),
                subject=pseudonym(key, agency, child_id),
                child_id=child_id,
                event_type=envelope.event_type,
                facts={f: _shareable(getattr(event, f), f in MONTH_ONLY) for f in fields},
                source_event_id=envelope.event_id,
            )
        )
    return out


def entitlements_markdown() -> str:
    """The table in docs/security.md (rewritten by `make docs`; a test keeps them equal)."""
    lines = ["| agency | event | fields received |", "|---|---|---|"]
    for agency, entitled in ENTITLEMENTS.items():
        for event_type, fields in entitled.items():
            shown = ", ".join(
                f"`{f}` (month and year)" if f in MONTH_ONLY else f"`{f}`" for f in fields
            )
            lines.append(f"| {agency.value} | {event_type} | {shown} |")
    return "\n".join(lines)


def write_docs(path: Path) -> None:
    write_into(path, "entitlements", entitlements_markdown() + "\n")


if __name__ == "__main__":
    write_docs(Path(__file__).resolve().parents[2] / "docs" / "security.md")

"""What each partner agency receives: data minimisation as a table, and nothing else.

A partner gets an event only if its type is listed for that agency below, and only the fields
listed with it: never the council's child id (a pseudonym of its own instead, different for
every agency, so two agencies cannot join their feeds without the council), never a full date
of birth, never free text or the names of anyone. Every date is sent only as precisely as the
agency's purpose needs (DATES): the exact dates several agencies all received would otherwise
let them join their pseudonyms on those dates (tests/unit/test_partner_linkage.py tries).
Pure functions: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from shared.access import write_into
from shared.envelope import Agency, DomainEvent, Envelope

# The lawful basis recorded with every share (Data Protection Act 2018, Schedule 1, para 18:
# safeguarding of children and individuals at risk).
PURPOSE = "safeguarding: DPA 2018 Sch. 1 para 18"

# agency -> event type -> the fields it may see. A date listed here is sent only as precisely
# as DATES says; a date an event has but not listed is withheld (DATES says why for those
# another agency receives).
ENTITLEMENTS: dict[Agency, dict[str, tuple[str, ...]]] = {
    Agency.POLICE: {
        "StrategyDiscussionHeld": ("discussion_date", "section_47_enquiry"),
        "ChildProtectionPlanStarted": (),
        "ChildProtectionPlanEnded": (),
        "MissingEpisodeRecorded": ("started_on", "ended_on", "kind"),
    },
    Agency.HEALTH: {
        "ChildRegistered": ("date_of_birth", "locality"),
        "ChildProtectionPlanStarted": ("category",),
        "ChildProtectionPlanEnded": (),
        "PeriodOfCareStarted": ("start_date",),
        "PeriodOfCareEnded": ("end_date",),
        "HealthAssessmentCompleted": ("assessment_date", "kind"),
        "HealthPassportOffered": ("offered_on", "milestone"),
        "HealthPassportAccepted": ("accepted_on",),
    },
    Agency.SCHOOLS: {
        "ChildRegistered": (),
        "ChildProtectionPlanStarted": ("start_date",),
        "ChildProtectionPlanEnded": ("end_date",),
        "PeriodOfCareStarted": (),
        "PeriodOfCareEnded": (),
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
        "ChildRegistered": ("date_of_birth",),
        "CareLeaverStatusRecorded": ("recorded_on", "status"),
        "EETActivityRecorded": ("recorded_on", "activity", "neet"),
        "NEETPanelReviewed": ("review_date", "action"),
    },
    Agency.PROBATION: {
        "CareLeaverStatusRecorded": ("status",),
        "CareLeaverAccommodationRecorded": ("suitability",),
    },
}

PARTNERS = tuple(ENTITLEMENTS)


class Precision(StrEnum):
    """How much of a date an agency receives."""

    DAY = "day"  # 2026-03-02
    WEEK = "ISO week"  # 2026-W10
    MONTH = "month"  # 2026-03
    QUARTER = "quarter"  # 2026-Q1
    YEAR = "year"  # 2026
    ACADEMIC_YEAR = "academic year"  # 2025/26: 1 September to 31 August, a school year group
    WITHHELD = "withheld"  # the event without the date (not in ENTITLEMENTS)


DAY, WEEK, MONTH = Precision.DAY, Precision.WEEK, Precision.MONTH
ACADEMIC_YEAR, WITHHELD = Precision.ACADEMIC_YEAR, Precision.WITHHELD

# agency -> "Event.field" -> (how precisely that agency gets the date, why that is enough).
# Every date an agency receives is here, and every date of an event it receives that another
# agency gets too (as withheld, if it does not). A fact several agencies receive is given
# precisely to one at most, the one whose work runs from it: the exact dates police, health
# and schools all received (and month of birth with locality) let any two of them join their
# pseudonyms (tests/unit/test_partner_linkage.py attacks every pair, before and after).
DATES: dict[Agency, dict[str, tuple[Precision, str]]] = {
    Agency.POLICE: {
        "StrategyDiscussionHeld.discussion_date": (
            DAY,
            "police attend the discussion: the day matches their own record of it",
        ),
        "ChildProtectionPlanStarted.start_date": (
            WITHHELD,
            "the flag on police systems is set as the message arrives; the strategy discussion"
            " police attended already dates it",
        ),
        "ChildProtectionPlanEnded.end_date": (
            WITHHELD,
            "the flag comes off as the message arrives",
        ),
        "MissingEpisodeRecorded.started_on": (
            DAY,
            "police search for the child and hold the return interview: the exact days",
        ),
        "MissingEpisodeRecorded.ended_on": (
            DAY,
            "police search for the child and hold the return interview: the exact days",
        ),
    },
    Agency.HEALTH: {
        "ChildRegistered.date_of_birth": (
            MONTH,
            "review health assessments are six-monthly under 5, yearly after; health"
            " passports are offered at 16 and 17 years 9 months",
        ),
        "ChildProtectionPlanStarted.start_date": (
            WITHHELD,
            "the health visitor or school nurse joins the core group as the message arrives;"
            " the category says what for",
        ),
        "ChildProtectionPlanEnded.end_date": (
            WITHHELD,
            "health leaves the core group as the message arrives",
        ),
        "PeriodOfCareStarted.start_date": (
            WEEK,
            "the initial health assessment is due within 20 working days of coming into care",
        ),
        "PeriodOfCareEnded.end_date": (
            MONTH,
            "looked-after health assessments stop; the month closes health's record",
        ),
        "HealthAssessmentCompleted.assessment_date": (
            DAY,
            "health's own assessment: no other agency receives it",
        ),
        "HealthPassportOffered.offered_on": (
            MONTH,
            "the passport milestone (16, 17y9m) is in the message; the month records it",
        ),
        "HealthPassportAccepted.accepted_on": (MONTH, "the month records the acceptance"),
    },
    Agency.SCHOOLS: {
        "ChildRegistered.date_of_birth": (
            WITHHELD,
            "a pupil's year group is on the school's own roll; with health's month of birth"
            " it would join the two feeds",
        ),
        "ChildProtectionPlanStarted.start_date": (
            WEEK,
            "the designated safeguarding lead acts the same week and records it",
        ),
        "ChildProtectionPlanEnded.end_date": (
            MONTH,
            "the school stands down as the message arrives; the month closes its record",
        ),
        "PeriodOfCareStarted.start_date": (
            WITHHELD,
            "the designated teacher acts as the message arrives; the personal education plan's"
            " clock is the virtual school's (the council's), and health has the week",
        ),
        "PeriodOfCareEnded.end_date": (
            WITHHELD,
            "the school acts as the message arrives; health has the month",
        ),
        "RiskRatingAssigned.rated_on": (DAY, "schools' only: no other agency receives it"),
        "EWOAttendanceEscalationRaised.raised_on": (
            DAY,
            "the attendance escalation is the school's to act on: no other agency receives it",
        ),
        "EWOAttendanceEscalationClosed.closed_on": (
            DAY,
            "the attendance escalation is the school's to act on: no other agency receives it",
        ),
    },
    Agency.HOUSING: {
        "CareLeaverAccommodationRecorded.recorded_on": (
            DAY,
            "housing places the young person: the exact day (probation gets no date)",
        ),
        "SuitabilityReassessed.reassessed_on": (DAY, "housing acts on the day it turns unsuitable"),
        "HomelessnessPreventionReferred.referred_on": (
            DAY,
            "the 56-day prevention duty runs from the referral",
        ),
        "HomelessnessPreventionOutcomeRecorded.outcome_on": (DAY, "housing's own duty: the day"),
        "TenancyStarted.started_on": (DAY, "housing's own tenancy: the day"),
        "TenancyEnded.ended_on": (DAY, "housing's own tenancy: the day"),
    },
    Agency.CAREERS: {
        "ChildRegistered.date_of_birth": (
            ACADEMIC_YEAR,
            "participation is tracked by academic age (the year 11 cohort, 16 and 17 year"
            " olds); a month would join with health's",
        ),
        "CareLeaverStatusRecorded.recorded_on": (
            MONTH,
            "a personal adviser's offer follows the status; the month records it (probation"
            " gets no date)",
        ),
        "EETActivityRecorded.recorded_on": (DAY, "careers' own tracking: no other agency"),
        "NEETPanelReviewed.review_date": (DAY, "careers attend the panel: the day"),
    },
    Agency.PROBATION: {
        "CareLeaverStatusRecorded.recorded_on": (
            WITHHELD,
            "the status is what entitles the person to leaving-care support, not its date;"
            " careers have the month",
        ),
        "CareLeaverAccommodationRecorded.recorded_on": (
            WITHHELD,
            "probation assesses on the current suitability (the latest message); housing"
            " has the day",
        ),
    },
}


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


def coarsened(day: date, precision: Precision) -> str | None:
    """A date as an agency receives it: deterministic, the same for every re-derivation."""
    if precision is Precision.DAY:
        return day.isoformat()
    if precision is Precision.WEEK:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if precision is Precision.MONTH:
        return f"{day:%Y-%m}"
    if precision is Precision.QUARTER:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if precision is Precision.YEAR:
        return str(day.year)
    if precision is Precision.ACADEMIC_YEAR:
        first = day.year if day.month >= 9 else day.year - 1
        return f"{first}/{(first + 1) % 100:02d}"
    return None


def _shareable(value: Any, precision: Precision) -> Any:
    if isinstance(value, date):
        return coarsened(value, precision)
    if isinstance(value, Enum):
        return value.value
    return value


def shares_of(
    envelope: Envelope,
    event: DomainEvent,
    key: bytes,
    *,
    entitlements: Mapping[Agency, Mapping[str, tuple[str, ...]]] = ENTITLEMENTS,
    dates: Mapping[Agency, Mapping[str, tuple[Precision, str]]] = DATES,
) -> list[PartnerMessage]:
    """Every message this event becomes, one per agency entitled to it (often none). The
    tables are parameters only so that a test can derive the feed under others."""
    out = []
    child_id = getattr(event, "child_id", None) or envelope.stream_id
    for agency, entitled in entitlements.items():
        fields = entitled.get(envelope.event_type)
        if fields is None:
            continue
        precision = dates.get(agency, {})
        facts = {}
        for f in fields:
            # A date nobody declared a precision for is withheld (a unit test declares all).
            p, _ = precision.get(f"{envelope.event_type}.{f}", (Precision.WITHHELD, ""))
            value = getattr(event, f)
            if not (isinstance(value, date) and p is Precision.WITHHELD):
                facts[f] = _shareable(value, p)
        out.append(
            PartnerMessage(
                agency=agency,
                message_id=uuid5(envelope.event_id, agency.value),
                subject=pseudonym(key, agency, child_id),
                child_id=child_id,
                event_type=envelope.event_type,
                facts=facts,
                source_event_id=envelope.event_id,
            )
        )
    return out


def entitlements_markdown() -> str:
    """The table in docs/security.md (rewritten by `make docs`; a test keeps them equal)."""
    lines = [
        "| agency | event | fields received | dates as | why that precision |",
        "|---|---|---|---|---|",
    ]
    for agency, entitled in ENTITLEMENTS.items():
        for event_type, fields in entitled.items():
            declared = {
                name.partition(".")[2]: rule
                for name, rule in DATES.get(agency, {}).items()
                if name.partition(".")[0] == event_type
            }
            shown = ", ".join(f"`{f}`" for f in fields)
            precisions = "<br>".join(f"`{f}`: {p.value}" for f, (p, _) in declared.items())
            why = "<br>".join(dict.fromkeys(reason for _, reason in declared.values()))
            lines.append(
                f"| {agency.value} | {event_type} | {shown or '(the event only)'} |"
                f" {precisions} | {why} |"
            )
    return "\n".join(lines)


def write_docs(path: Path) -> None:
    write_into(path, "entitlements", entitlements_markdown() + "\n")


if __name__ == "__main__":
    write_docs(Path(__file__).resolve().parents[2] / "docs" / "security.md")

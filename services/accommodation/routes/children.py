"""Every command about a child's accommodation, and this service's record of the child."""

from __future__ import annotations

from contracts.ids import CHILD_ID_PATTERN
from services.accommodation.domain import commands as c
from services.accommodation.domain.accommodation import Accommodation
from shared.known_children import known_child
from shared.routes import CommandRoute, Commands, StreamParam, command_router, stream_read_router

CHILD = StreamParam("child_id", CHILD_ID_PATTERN, "Pseudonymous child id")

COMMANDS = [
    CommandRoute(
        "/placements",
        c.StartPlacement,
        Accommodation.start_placement,
        "Start a placement (a breach is recorded and flagged, not refused)",
        "placements",
    ),
    CommandRoute(
        "/placement-changes",
        c.ChangePlacement,
        Accommodation.change_placement,
        "Move the child to another placement",
        "placements",
    ),
    CommandRoute(
        "/placement-endings",
        c.EndPlacement,
        Accommodation.end_placement,
        "End the current placement",
        "placements",
    ),
    CommandRoute(
        "/care-leaver-accommodation",
        c.RecordCareLeaverAccommodation,
        Accommodation.record_care_leaver_accommodation,
        "Record a care leaver's accommodation and its suitability",
        "care leavers",
    ),
    CommandRoute(
        "/suitability-reassessments",
        c.ReassessSuitability,
        Accommodation.reassess_suitability,
        "Reassess the suitability of a care leaver's accommodation",
        "care leavers",
    ),
    CommandRoute(
        "/homelessness-prevention-referrals",
        c.ReferForHomelessnessPrevention,
        Accommodation.refer_homelessness,
        "Refer for homelessness prevention",
        "housing",
    ),
    CommandRoute(
        "/homelessness-prevention-outcomes",
        c.RecordHomelessnessOutcome,
        Accommodation.record_homelessness_outcome,
        "Record the homelessness prevention outcome",
        "housing",
    ),
    CommandRoute(
        "/tenancies", c.StartTenancy, Accommodation.start_tenancy, "Start a tenancy", "housing"
    ),
    CommandRoute(
        "/tenancy-endings", c.EndTenancy, Accommodation.end_tenancy, "End the tenancy", "housing"
    ),
    CommandRoute(
        "/floating-support",
        c.StartFloatingSupport,
        Accommodation.start_floating_support,
        "Start floating support",
        "housing",
    ),
    CommandRoute(
        "/floating-support-endings",
        c.EndFloatingSupport,
        Accommodation.end_floating_support,
        "End floating support",
        "housing",
    ),
]

# The child must be known from the case-events topic; its first placement opens the stream.
CHILDREN = Commands("/children", CHILD, Accommodation, known_child=known_child)
commands = command_router(CHILDREN, COMMANDS)
record = stream_read_router(CHILDREN)

"""A child's risk: the RAG rating and its moderation, the EWO attendance escalation; and
this service's record of the child."""

from __future__ import annotations

from contracts.ids import CHILD_ID_PATTERN
from services.escalations.domain import commands as c
from services.escalations.domain.risk import ChildRisk
from shared.known_children import known_child
from shared.routes import CommandRoute, Commands, StreamParam, command_router, stream_read_router

CHILD = StreamParam("child_id", CHILD_ID_PATTERN, "Pseudonymous child id")

COMMANDS = [
    CommandRoute(
        "/risk-ratings",
        c.AssignRiskRating,
        ChildRisk.assign_rating,
        "Assign or change the child's RAG rating",
        "risk",
    ),
    CommandRoute(
        "/dip-samples",
        c.RecordDipSample,
        ChildRisk.dip_sample,
        "Record a manager's dip sample of the rating (agree or moderate)",
        "risk",
    ),
    CommandRoute(
        "/ewo-escalation-closures",
        c.CloseEWOEscalation,
        ChildRisk.close_ewo,
        "Close the open EWO attendance escalation",
        "attendance",
    ),
]

CHILDREN = Commands("/children", CHILD, ChildRisk, known_child=known_child)
commands = command_router(CHILDREN, COMMANDS)
record = stream_read_router(CHILDREN)

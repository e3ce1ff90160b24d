"""Serious incidents: notified (the national panel's 5 working days), the rapid review (15),
a practice review commissioned and published, learning points and actions (their text sealed
with the child's key); and the record of one incident."""

from __future__ import annotations

from contracts.ids import ID_PATTERN
from services.quality.domain import commands as c
from services.quality.domain.incident import SeriousIncident
from services.quality.routes.sealed import (
    Record,
    SealedRoute,
    child_of,
    locality_of,
    record_router,
    sealed_router,
    the_childs,
)
from shared.routes import CommandRoute, Commands, StreamParam, command_router

INCIDENT = StreamParam("incident_id", ID_PATTERN, "The serious incident's id")
INCIDENTS = Commands("/serious-incidents", INCIDENT, SeriousIncident, locality_of=locality_of)
RECORD = Record(INCIDENTS, "incident_id", the_childs, child_of)
TAG = "serious incidents"

sealed = sealed_router(
    RECORD,
    [
        SealedRoute(
            "",
            c.NotifySeriousIncident,
            SeriousIncident.notify,
            "Record a serious incident's notification to the national panel",
            TAG,
        ),
        SealedRoute(
            "/learning-points",
            c.RecordLearningPoint,
            SeriousIncident.record_learning,
            "Record a learning point (sealed)",
            TAG,
            text="learning",
        ),
        SealedRoute(
            "/actions",
            c.AgreeIncidentAction,
            SeriousIncident.agree_action,
            "Agree an action taking the learning back to teams (its summary sealed)",
            TAG,
            text="summary",
        ),
    ],
)
commands = command_router(
    INCIDENTS,
    [
        CommandRoute(
            "/rapid-reviews",
            c.CompleteRapidReview,
            SeriousIncident.complete_rapid_review,
            "Record the rapid review and its decision",
            TAG,
        ),
        CommandRoute(
            "/practice-reviews",
            c.CommissionPracticeReview,
            SeriousIncident.commission_review,
            "Commission a Child Safeguarding Practice Review",
            TAG,
        ),
        CommandRoute(
            "/practice-review-publications",
            c.PublishPracticeReview,
            SeriousIncident.publish_review,
            "Record the practice review's publication",
            TAG,
        ),
        CommandRoute(
            "/action-completions",
            c.CompleteIncidentAction,
            SeriousIncident.complete_action,
            "Complete one of the incident's actions",
            TAG,
        ),
    ],
)
record = record_router(RECORD)

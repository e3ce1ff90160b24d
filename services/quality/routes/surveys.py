"""Feedback surveys and their responses: a response's comment is sealed with the key of the
child it names, else its own; and the record of one survey (the responses the caller's
localities allow)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.ids import ID_PATTERN
from services.quality.domain import commands as c
from services.quality.domain.survey import FeedbackSurvey
from services.quality.routes.sealed import Record, SealedRoute, record_router, sealed_router
from shared.routes import Commands, StreamParam

SURVEY = StreamParam("survey_id", ID_PATTERN, "The feedback survey's id")
SURVEYS = Commands("/feedback-surveys", SURVEY, FeedbackSurvey)
TAG = "feedback"


def respondent_or_child(stream_id: str, child_id: str | None, fields: Mapping[str, Any]) -> str:
    """A response's subject: the child it names, else the response itself."""
    return str(fields.get("child_id") or f"feedback-response/{fields['response_id']}")


RECORD = Record(SURVEYS, "survey_id", respondent_or_child)

sealed = sealed_router(
    RECORD,
    [
        SealedRoute(
            "",
            c.LaunchFeedbackSurvey,
            FeedbackSurvey.launch,
            "Launch a feedback survey: its questions and the period it runs",
            TAG,
        ),
        SealedRoute(
            "/responses",
            c.RecordFeedbackResponse,
            FeedbackSurvey.respond,
            "Record a response: an answer per question, the comment sealed",
            TAG,
            text="comment",
        ),
    ],
)
record = record_router(RECORD)

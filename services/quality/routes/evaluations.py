"""Practice evaluations (case audits): recorded with their findings sealed with the child's
key, moderated by a second auditor, and their actions; and the record of one evaluation."""

from __future__ import annotations

from contracts.ids import ID_PATTERN
from services.quality.domain import commands as c
from services.quality.domain.evaluation import PracticeEvaluation
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

EVALUATION = StreamParam("evaluation_id", ID_PATTERN, "The practice evaluation's id")
EVALUATIONS = Commands(
    "/practice-evaluations", EVALUATION, PracticeEvaluation, locality_of=locality_of
)
RECORD = Record(EVALUATIONS, "evaluation_id", the_childs, child_of)
TAG = "practice evaluations"

sealed = sealed_router(
    RECORD,
    [
        SealedRoute(
            "",
            c.RecordPracticeEvaluation,
            PracticeEvaluation.record,
            "Record a practice evaluation: the grade, each strand's, the findings (sealed)",
            TAG,
            text="findings",
        ),
        SealedRoute(
            "/actions",
            c.AgreeEvaluationAction,
            PracticeEvaluation.agree_action,
            "Agree an action from the evaluation (its summary sealed)",
            TAG,
            text="summary",
        ),
    ],
)
commands = command_router(
    EVALUATIONS,
    [
        CommandRoute(
            "/moderations",
            c.ModeratePracticeEvaluation,
            PracticeEvaluation.moderate,
            "Moderate the evaluation's grade (a second auditor)",
            TAG,
        ),
        CommandRoute(
            "/action-completions",
            c.CompleteEvaluationAction,
            PracticeEvaluation.complete_action,
            "Complete one of the evaluation's actions",
            TAG,
        ),
    ],
)
record = record_router(RECORD)

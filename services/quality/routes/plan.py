"""The improvement plan: priorities, measures tied to board figures, performance surgeries
(their decisions sealed with the plan's key) and actions per priority; and the plan's record."""

from __future__ import annotations

from contracts.ids import ID_PATTERN
from services.quality.domain import commands as c
from services.quality.domain.plan import ImprovementPlan
from services.quality.routes.sealed import (
    Record,
    SealedRoute,
    record_router,
    sealed_router,
    the_records,
)
from shared.routes import CommandRoute, Commands, StreamParam, command_router

PLAN = StreamParam("plan_id", ID_PATTERN, "The improvement plan's id")
PLANS = Commands("/improvement-plans", PLAN, ImprovementPlan, stream_may_be_new=True)
RECORD = Record(PLANS, "plan_id", the_records("improvement-plan"))
TAG = "improvement plan"

sealed = sealed_router(
    RECORD,
    [
        SealedRoute(
            "/surgeries",
            c.HoldPerformanceSurgery,
            ImprovementPlan.hold_surgery,
            "Record a performance surgery: the figures looked at, the decisions (sealed)",
            TAG,
            text="decisions",
        ),
        SealedRoute(
            "/actions",
            c.AgreePlanAction,
            ImprovementPlan.agree_action,
            "Agree an action against a priority (its summary sealed)",
            TAG,
            text="summary",
        ),
    ],
)
commands = command_router(
    PLANS,
    [
        CommandRoute(
            "/priorities",
            c.AddImprovementPriority,
            ImprovementPlan.add_priority,
            "Add a priority to the plan (the first starts the plan)",
            TAG,
        ),
        CommandRoute(
            "/measures",
            c.SetImprovementMeasure,
            ImprovementPlan.set_measure,
            "Set a priority's measure: a board's figure and its target",
            TAG,
        ),
        CommandRoute(
            "/action-completions",
            c.CompletePlanAction,
            ImprovementPlan.complete_action,
            "Complete one of the plan's actions",
            TAG,
        ),
    ],
)
record = record_router(RECORD)

"""Application handlers: one per command, plain functions of (command, dependencies)."""

from __future__ import annotations

from services.case_events.domain.child import Child
from services.case_events.domain.commands import RegisterChild, StartChildProtectionPlan
from shared.application import execute
from shared.clock import Clock
from shared.eventstore import AppendResult, CommandContext, EventStore


async def register_child(command: RegisterChild, ctx: CommandContext, store: EventStore,
                         clock: Clock) -> AppendResult:
    return await execute(
        store, Child, command.child_id,
        lambda child: child.register(command, clock.today()),
        ctx, must_exist=False,
    )


async def start_child_protection_plan(
    child_id: str, command: StartChildProtectionPlan, ctx: CommandContext, store: EventStore,
    clock: Clock, if_match: int | None = None,
) -> AppendResult:
    return await execute(
        store, Child, child_id,
        lambda child: child.start_child_protection_plan(command, clock.today()),
        ctx, if_match=if_match,
    )

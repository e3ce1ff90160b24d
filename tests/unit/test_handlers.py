"""Carrying out commands against the in-memory store: idempotency, conflicts, unknown children."""

from __future__ import annotations

from datetime import date

import pytest

from services.case_events.domain import commands as c
from services.case_events.domain.child import Child
from shared.aggregate import Decision
from shared.application import UnknownStream, execute
from shared.envelope import Actor, Agency, new_event_id
from shared.eventstore import (
    AppendResult,
    CommandContext,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    InMemoryEventStore,
    request_hash,
)

TODAY = Decision(today=date(2024, 6, 1))
ACTOR = Actor(user_id="sw-1", agency=Agency.COUNCIL, role="social_worker")
REGISTER = c.RegisterChild(child_id="C-001", date_of_birth=date(2015, 3, 2), locality="Exeter")
PLAN = c.StartChildProtectionPlan(plan_id="P1", category="NEG", start_date=date(2024, 3, 1))


def ctx(key: str | None = None, body: object = None) -> CommandContext:
    return CommandContext(
        actor=ACTOR,
        correlation_id=new_event_id(),
        idempotency_key=key,
        request_hash=request_hash(body) if key else None,
    )


async def register(store: InMemoryEventStore, context: CommandContext) -> AppendResult:
    return await execute(
        store, Child, "C-001", lambda ch: ch.register(REGISTER, TODAY), context, must_exist=False
    )


async def start_plan(
    store: InMemoryEventStore,
    context: CommandContext,
    child: str = "C-001",
    if_match: int | None = None,
) -> AppendResult:
    return await execute(
        store,
        Child,
        child,
        lambda ch: ch.start_child_protection_plan(PLAN, TODAY),
        context,
        if_match=if_match,
    )


async def test_the_same_command_delivered_twice_records_one_set_of_events() -> None:
    store = InMemoryEventStore()
    first = await register(store, ctx("k1", "a"))
    await start_plan(store, ctx("k2", "b"))
    again = await start_plan(store, ctx("k2", "b"))
    assert not first.duplicate and again.duplicate
    assert [e.event_type for e in await store.read_stream("C-001")] == [
        "ChildRegistered",
        "ChildProtectionPlanStarted",
    ]


async def test_a_key_reused_for_another_command_is_refused() -> None:
    store = InMemoryEventStore()
    await register(store, ctx("k1", "a"))
    with pytest.raises(IdempotencyKeyReused):
        await start_plan(store, ctx("k1", "other"))


async def test_unknown_child_and_stale_if_match() -> None:
    store = InMemoryEventStore()
    with pytest.raises(UnknownStream):
        await start_plan(store, ctx(), child="C-404")
    await register(store, ctx())
    with pytest.raises(ConcurrencyConflict) as conflict:
        await start_plan(store, ctx(), if_match=0)
    assert (conflict.value.expected_version, conflict.value.actual_version) == (0, 1)

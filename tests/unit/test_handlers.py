"""Handlers against the in-memory event store: idempotency, conflicts, unknown children."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.case_events import handlers
from services.case_events.domain.commands import RegisterChild, StartChildProtectionPlan
from shared.application import UnknownStream
from shared.clock import FixedClock
from shared.envelope import Actor, Agency, new_event_id
from shared.eventstore import (
    CommandContext,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    InMemoryEventStore,
    request_hash,
)

CLOCK = FixedClock(datetime(2024, 6, 1, 9, 0, tzinfo=UTC))
ACTOR = Actor(user_id="sw-1", agency=Agency.COUNCIL, role="social_worker")
REGISTER = RegisterChild(child_id="C-001", date_of_birth=date(2015, 3, 2), locality="Exeter")
PLAN = StartChildProtectionPlan(plan_id="P1", category="NEG", start_date=date(2024, 3, 1))


def ctx(key: str | None = None, body: object = None) -> CommandContext:
    return CommandContext(actor=ACTOR, correlation_id=new_event_id(), idempotency_key=key,
                          request_hash=request_hash(body) if key else None)


async def test_the_same_command_delivered_twice_records_one_set_of_events() -> None:
    store = InMemoryEventStore()
    first = await handlers.register_child(REGISTER, ctx("k1", "a"), store, CLOCK)
    await handlers.start_child_protection_plan("C-001", PLAN, ctx("k2", "b"), store, CLOCK)
    again = await handlers.start_child_protection_plan("C-001", PLAN, ctx("k2", "b"), store, CLOCK)
    assert not first.duplicate and again.duplicate
    assert [e.event_type for e in await store.read_stream("C-001")] == [
        "ChildRegistered", "ChildProtectionPlanStarted"]


async def test_a_key_reused_for_another_command_is_refused() -> None:
    store = InMemoryEventStore()
    await handlers.register_child(REGISTER, ctx("k1", "a"), store, CLOCK)
    with pytest.raises(IdempotencyKeyReused):
        await handlers.start_child_protection_plan("C-001", PLAN, ctx("k1", "other"), store,
                                                   CLOCK)


async def test_unknown_child_and_stale_if_match() -> None:
    store = InMemoryEventStore()
    with pytest.raises(UnknownStream):
        await handlers.start_child_protection_plan("C-404", PLAN, ctx(), store, CLOCK)
    await handlers.register_child(REGISTER, ctx(), store, CLOCK)
    with pytest.raises(ConcurrencyConflict) as conflict:
        await handlers.start_child_protection_plan("C-001", PLAN, ctx(), store, CLOCK, if_match=0)
    assert (conflict.value.expected_version, conflict.value.actual_version) == (0, 1)

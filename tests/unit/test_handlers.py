"""Carrying out commands against the in-memory store: idempotency, conflicts, unknown children."""

from __future__ import annotations

from datetime import date

import pytest

from services.case_events.domain import commands as c
from services.case_events.domain.child import Child, ChildAlreadyRegistered
from shared.aggregate import Decision
from shared.application import UnknownStream, execute
from shared.envelope import Actor, Agency, Envelope, new_event_id
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


async def register(
    store: InMemoryEventStore, context: CommandContext, *, new_stream: bool = False
) -> AppendResult:
    return await execute(
        store,
        Child,
        "C-001",
        lambda ch: ch.register(REGISTER, TODAY),
        context,
        must_exist=False,
        new_stream=new_stream,
    )


class CountedReads(InMemoryEventStore):
    """The in-memory store, counting the streams read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[Envelope]:
        self.reads += 1
        return await super().read_stream(stream_id, after_version)


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


async def test_a_new_stream_is_started_without_reading_it() -> None:
    store = CountedReads()
    first = await register(store, ctx(), new_stream=True)
    assert (store.reads, first.stream_version) == (0, 1)
    assert [e.event_type for e in await store.read_stream("C-001")] == ["ChildRegistered"]


@pytest.mark.parametrize("new_stream", [False, True])
async def test_a_stream_that_exists_is_decided_on_what_it_holds(new_stream: bool) -> None:
    """The refusal is the one reading the stream first gives, and nothing is appended."""
    store = CountedReads()
    await register(store, ctx())
    with pytest.raises(ChildAlreadyRegistered, match="already registered"):
        await register(store, ctx(), new_stream=new_stream)
    assert store.reads == 2  # the stream read once by each registration that decided on it
    assert len(await store.read_stream("C-001")) == 1


async def test_a_new_stream_delivered_twice_records_it_once() -> None:
    store = CountedReads()
    first = await register(store, ctx("k1", "a"), new_stream=True)
    again = await register(store, ctx("k1", "a"), new_stream=True)
    assert not first.duplicate and again.duplicate
    assert (again.stream_version, store.reads) == (1, 0)
    with pytest.raises(IdempotencyKeyReused):
        await register(store, ctx("k1", "other"), new_stream=True)

"""The one way a command is carried out: load, decide, append with the expected version."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from shared.aggregate import Aggregate, UnknownStream
from shared.envelope import DomainEvent
from shared.eventstore import AppendResult, CommandContext, ConcurrencyConflict, EventStore

__all__ = ["UnknownStream", "execute"]


A = TypeVar("A", bound=Aggregate)


async def execute(
    store: EventStore,
    aggregate_type: type[A],
    stream_id: str,
    decide: Callable[[A], Sequence[DomainEvent]],
    ctx: CommandContext,
    *,
    must_exist: bool = True,
    if_match: int | None = None,
) -> AppendResult:
    """Carry out a command once, however often it is delivered.

    A repeated idempotency key returns the first result without deciding again (deciding again
    could wrongly refuse, e.g. "a plan is already open", because the first delivery opened it).
    ``if_match`` is the version the caller last saw (HTTP If-Match); a mismatch is a conflict.
    """
    if ctx.idempotency_key is not None:
        earlier = await store.find_command(ctx.idempotency_key, ctx.request_hash)
        if earlier is not None:
            return earlier
    aggregate = aggregate_type.from_history(stream_id, await store.read_stream(stream_id))
    if must_exist and not aggregate.exists:
        raise UnknownStream(stream_id)
    if if_match is not None and if_match != aggregate.version:
        raise ConcurrencyConflict(stream_id, if_match, aggregate.version)
    events = decide(aggregate)
    return await store.append(stream_id, aggregate.version, events, ctx)

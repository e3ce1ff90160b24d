"""The one way a command is carried out: load, decide, append with the expected version."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from shared.aggregate import Aggregate, AlreadyRecorded, DomainRuleViolation, UnknownStream
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
    new_stream: bool = False,
) -> AppendResult:
    """Carry out a command once, however often it is delivered.

    A repeated idempotency key returns the first result without deciding again (deciding again
    could wrongly refuse, e.g. "a plan is already open", because the first delivery opened it).
    ``if_match`` is the version the caller last saw (HTTP If-Match); a mismatch is a conflict.

    ``new_stream``: the command nearly always starts its stream (a registration). It is decided
    on the empty stream and appended at version 0, which succeeds only if the stream is still
    empty: the answer reading it first would have given, without the read. If the stream
    exists after all (the append's conflict), or the empty stream's decision refuses, it is
    decided again on what the stream holds, as any command is.
    """
    if ctx.idempotency_key is not None:
        earlier = await store.find_command(ctx.idempotency_key, ctx.request_hash)
        if earlier is not None:
            return earlier
    if new_stream and not must_exist and if_match is None:
        try:
            events = decide(aggregate_type.from_history(stream_id, []))
            return await store.append(stream_id, 0, events, ctx)
        except (ConcurrencyConflict, DomainRuleViolation, AlreadyRecorded, UnknownStream):
            pass
    aggregate = aggregate_type.from_history(stream_id, await store.read_stream(stream_id))
    if must_exist and not aggregate.exists:
        raise UnknownStream(stream_id)
    if if_match is not None and if_match != aggregate.version:
        raise ConcurrencyConflict(stream_id, if_match, aggregate.version)
    events = decide(aggregate)
    return await store.append(stream_id, aggregate.version, events, ctx)

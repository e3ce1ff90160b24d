"""One contract, every event store: the in-memory fake and PostgreSQL pass the same tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, datetime

import pytest

from shared.envelope import Actor, Agency, DomainEvent, WireEvent, at_start_of, new_event_id
from shared.eventstore import (
    CommandContext,
    ConcurrencyConflict,
    Cursor,
    EventStore,
    IdempotencyKeyReused,
    InMemoryEventStore,
    PostgresEventStore,
    RequestHash,
    request_hash,
)
from tests.conftest import fresh_event_store
from tests.infrastructure import eventually, new_namespace


class NoteRecorded(DomainEvent):
    event_type = "NoteRecorded"
    n: int


ACTOR = Actor(user_id="u1", agency=Agency.COUNCIL, role="social_worker")


def ctx(key: str | None = None, digest: RequestHash | str = "h") -> CommandContext:
    return CommandContext(
        actor=ACTOR,
        correlation_id=new_event_id(),
        idempotency_key=key,
        request_hash=digest if key else None,
    )


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[EventStore]:
    if request.param == "memory":
        yield InMemoryEventStore()
    else:
        infra = request.getfixturevalue("infra")  # a plain (synchronous) session fixture
        async with fresh_event_store(infra, new_namespace()) as pool:
            yield PostgresEventStore(pool)


async def test_append_and_read_a_stream_in_order(store: EventStore) -> None:
    await store.append("s1", 0, [NoteRecorded(n=1), NoteRecorded(n=2)], ctx())
    await store.append("s1", 2, [NoteRecorded(n=3)], ctx())
    events = await store.read_stream("s1")
    assert [(e.stream_version, e.payload["n"]) for e in events] == [(1, 1), (2, 2), (3, 3)]
    assert await store.read_stream("other") == []


async def test_a_stale_expected_version_is_a_typed_conflict(store: EventStore) -> None:
    await store.append("s1", 0, [NoteRecorded(n=1)], ctx())
    with pytest.raises(ConcurrencyConflict) as conflict:
        await store.append("s1", 0, [NoteRecorded(n=2)], ctx())
    assert conflict.value.actual_version == 1
    assert len(await store.read_stream("s1")) == 1


async def test_two_concurrent_writers_at_the_same_version_exactly_one_wins(
    store: EventStore,
) -> None:
    await store.append("s1", 0, [NoteRecorded(n=0)], ctx())
    outcomes = await asyncio.gather(
        *(store.append("s1", 1, [NoteRecorded(n=i)], ctx()) for i in range(8)),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    losers = [o for o in outcomes if isinstance(o, ConcurrencyConflict)]
    assert (len(winners), len(losers)) == (1, 7)
    assert len(await store.read_stream("s1")) == 2


async def test_an_idempotency_key_records_the_command_once(store: EventStore) -> None:
    first = await store.append("s1", 0, [NoteRecorded(n=1)], ctx("key-1"))
    again = await store.append("s1", 0, [NoteRecorded(n=1)], ctx("key-1"))
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.stream_version == first.stream_version == 1
    assert len(await store.read_stream("s1")) == 1
    found = await store.find_command("key-1", "h")
    assert found is not None and found.stream_version == 1
    with pytest.raises(IdempotencyKeyReused):
        await store.find_command("key-1", "a different command")


async def test_a_command_stored_in_the_earlier_digest_form_is_known_to_its_retry(
    store: EventStore,
) -> None:
    """A key stored before `RequestHash.of` (its digest in `request_hash`'s form), retried
    after the upgrade: the same content is its first result, another is a reused key."""
    await store.append("s1", 0, [NoteRecorded(n=1)], ctx("key-1", digest=request_hash({"n": 1})))
    retry = RequestHash.of({"n": 1}, earlier=lambda: request_hash({"n": 1}))
    again = await store.append("s1", 0, [NoteRecorded(n=1)], ctx("key-1", digest=retry))
    assert again.duplicate and again.stream_version == 1
    assert len(await store.read_stream("s1")) == 1
    with pytest.raises(IdempotencyKeyReused):
        await store.find_command("key-1", RequestHash.of({"n": 2}, lambda: request_hash({"n": 2})))
    # Stored in the new form, the earlier form is never worked out.
    await store.append("s2", 0, [NoteRecorded(n=1)], ctx("key-2", digest=retry))

    def not_asked() -> str:
        raise AssertionError("the earlier form was worked out for a record in the new form")

    assert await store.find_command("key-2", RequestHash(retry.digest, not_asked)) is not None
    with pytest.raises(IdempotencyKeyReused):
        await store.find_command("key-2", RequestHash.of({"n": 2}, not_asked))


async def test_read_all_follows_the_commit_order_from_a_cursor(store: EventStore) -> None:
    await store.append("a", 0, [NoteRecorded(n=1)], ctx())
    await store.append("b", 0, [NoteRecorded(n=2), NoteRecorded(n=3)], ctx())

    async def all_readable() -> bool:
        return len(await store.read_all(Cursor(), 10)) == 3

    # PostgreSQL holds committed events back while an older transaction of their database is
    # in flight (autovacuum's, for one): it could still commit before them.
    await eventually(all_readable, 30, what="the three events to be readable")
    first = await store.read_all(Cursor(), 2)
    rest = await store.read_all(first[-1][0], 10)
    assert [e.payload["n"] for _, e in first + rest] == [1, 2, 3]
    assert await store.read_all(rest[-1][0], 10) == []


async def test_batches_over_the_same_streams_at_the_same_time_are_all_recorded(
    store: EventStore,
) -> None:
    """Feeds naming the same children at once (a school's several days; two schools' registers
    of a dual-registered pupil): each batch is recorded, after whatever committed first."""
    await store.append("s2", 0, [NoteRecorded(n=0)], ctx())
    streams = ["s1", "s2", "s3"]
    outcomes = await asyncio.gather(
        *(
            store.append_batch(
                # Each batch names the streams in its own order: none waits on another forever.
                [(s, [NoteRecorded(n=i)]) for s in (streams if i % 2 else streams[::-1])],
                ctx(f"feed-{i}", f"h{i}"),
            )
            for i in range(1, 7)
        ),
        return_exceptions=True,
    )
    assert all(not isinstance(o, BaseException) and not o.duplicate for o in outcomes), outcomes
    for stream_id in streams:
        events = await store.read_stream(stream_id)
        assert [e.stream_version for e in events] == list(range(1, len(events) + 1))
        assert sorted(e.payload["n"] for e in events if e.payload["n"]) == list(range(1, 7))
    # A retried batch claims its key once: the same feed again is its recorded result.
    again = await store.append_batch([("s1", [NoteRecorded(n=1)])], ctx("feed-1", "h1"))
    assert again.duplicate and again.stream_version == 3
    assert len(await store.read_stream("s1")) == 6


async def test_a_batch_at_heads_another_writer_moved_is_a_conflict_that_records_nothing(
    store: EventStore,
) -> None:
    await store.append("s2", 0, [NoteRecorded(n=0)], ctx())
    batch = [("s1", [NoteRecorded(n=1)]), ("s2", [NoteRecorded(n=1)])]
    with pytest.raises(ConcurrencyConflict) as conflict:
        await store.append_batch(batch, ctx("feed-1"), {"s1": 0, "s2": 0})
    assert (conflict.value.stream_id, conflict.value.expected_version) == ("s2", 0)
    assert conflict.value.actual_version == 1
    assert await store.read_stream("s1") == []
    assert await store.find_command("feed-1", "h") is None  # nor its key claimed
    # Decided again at the heads now, it is recorded after them.
    recorded = await store.append_batch(batch, ctx("feed-1"), {"s2": 1})
    assert not recorded.duplicate
    assert [e.stream_version for e in await store.read_stream("s2")] == [1, 2]


async def test_concurrent_duplicates_of_one_batch_record_it_once(store: EventStore) -> None:
    batch = [("s1", [NoteRecorded(n=1)]), ("s2", [NoteRecorded(n=1)])]
    outcomes = await asyncio.gather(
        *(store.append_batch(batch, ctx("feed-1")) for _ in range(6)), return_exceptions=True
    )
    assert [o.duplicate for o in outcomes if not isinstance(o, BaseException)].count(False) == 1
    assert all(not isinstance(o, BaseException) for o in outcomes), outcomes
    assert [len(await store.read_stream(s)) for s in ("s1", "s2")] == [1, 1]


class Dated(DomainEvent):
    event_type = "Dated"
    schema_version = 2
    on: date
    n: int

    def occurred_at(self) -> datetime:
        return at_start_of(self.on)


async def test_a_batch_of_events_in_their_wire_form_is_stored_as_their_models_would_be(
    store: EventStore,
) -> None:
    """The register feed appends its events in their wire form (no model per event): stored
    as the same events made from their models are, ids and result alike."""
    day = date(2024, 6, 3)
    model = Dated(on=day, n=1)
    wire = WireEvent("Dated", 2, at_start_of(day), model.model_dump(mode="json"))
    result = await store.append_batch([("s1", [model]), ("s2", [wire])], ctx("feed-1"))
    [from_model], [from_wire] = await store.read_stream("s1"), await store.read_stream("s2")
    assert result.stream_version == 2 and len(set(result.event_ids)) == 2
    assert {from_model.event_id, from_wire.event_id} == set(result.event_ids)
    apart = {"event_id", "stream_id", "position", "recorded_at"}
    assert from_wire.model_dump(exclude=apart) == from_model.model_dump(exclude=apart)
    assert from_wire.payload == {"on": "2024-06-03", "n": 1}
    assert from_wire.occurred_at == at_start_of(day)

"""Dead letters, without Kafka or PostgreSQL: what the runner records when it passes over a
message, when a replay may apply one (at most once) and when it must refuse, and what the
operator's command shows (the reason and origin; never a sealed value)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from contracts.case_events.events import ChildRegistered
from contracts.topics import domain_events
from deploy.dead_letters import (
    MASK,
    RECORDING_MIGRATION,
    DeadLetter,
    DeadLetterError,
    consumer_runner,
    dead_letter_of,
    listed,
    masked,
    parse_id,
    shown,
    state_of,
    target_of,
    worker_subscription,
)
from shared.envelope import UNREADABLE_TYPE, DomainEvent, Envelope
from shared.eventstore import make_envelopes
from shared.migrations import ROOT
from shared.projection import (
    LOCK_OFFSETS,
    STREAM_VERSIONS,
    ProjectionRunner,
    ReplayOutcome,
    _Decoded,
    replay_refusal,
)
from shared.settings import Settings
from tests.publisher import CTX

TOPIC = "case-events"
SEALED_VALUE = "sealed:v1:QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"


def envelope(child: str, version: int = 1) -> Envelope:
    event = ChildRegistered(child_id=child, date_of_birth=date(2015, 3, 1), locality="Exeter")
    [made] = make_envelopes(child, version - 1, [event], CTX)
    return made


def record(offset: int, value: bytes | None, headers: Sequence[tuple[str, bytes]] = ()) -> Any:
    return ConsumerRecord(TOPIC, 0, offset, 0, 0, None, value, None, -1, -1, list(headers))


def wire(e: Envelope) -> bytes:
    return e.model_dump_json(exclude={"position"}).encode()


# -- the runner: passing over, and replaying ---------------------------------------------------


class FakeConnection:
    """What the runner asks of PostgreSQL, answered from memory: the stored offset, the
    passed-over row; every statement it runs is kept."""

    def __init__(
        self, stored: int | None = None, passed_over: Any = None, held: Sequence[Any] = ()
    ) -> None:
        self.stored, self.passed_over = stored, passed_over
        self.held = list(held)  # rows of projection_held, as a replay selects them
        # Event ids, or (topic, partition, offset), skipped in projection_dead_letters.
        self.skipped: set[Any] = set()
        self.executed: list[tuple[str, tuple[Any, ...]]] = []

    def transaction(self, **_: Any) -> Any:
        """A transaction (or a savepoint): what ran in it is forgotten if it fails."""

        @asynccontextmanager
        async def transaction() -> AsyncIterator[None]:
            mark = len(self.executed)
            try:
                yield
            except BaseException:
                del self.executed[mark:]
                raise

        return transaction()

    async def execute(self, sql: str, *args: Any) -> None:
        self.executed.append((sql, args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        if sql.startswith("SELECT EXISTS (SELECT FROM projection_dead_letters"):
            # An operator skipped this event, or the message at this place, before.
            return args[1] in self.skipped or tuple(args[2:5]) in self.skipped
        if sql.startswith("SELECT count(*) FROM projection_held"):
            return len(self.held)
        return self.stored

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        if sql == LOCK_OFFSETS and self.stored is not None:  # one partition's, as stored
            return [{"topic": args[1][0], "partition": args[2][0], "next_offset": self.stored}]
        if sql.startswith("SELECT partition, message_offset, message FROM projection_held"):
            return self.held
        return []

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return self.passed_over

    def statements(self, starting: str) -> list[tuple[Any, ...]]:
        return [args for sql, args in self.executed if sql.startswith(starting)]


class FakePool:
    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn

    def acquire(self) -> Any:
        @asynccontextmanager
        async def acquire() -> AsyncIterator[FakeConnection]:
            yield self.conn

        return acquire()


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    async def send_and_wait(self, topic: str, value: Any, key: Any, headers: Any) -> None:
        self.sent.append({k: v.decode() for k, v in headers if k.startswith("dlq_")})


class Defective:
    """A projection with a defect on one event (until mended): it buffers what it applies
    and writes it at flush, as the boards do."""

    name = "defective"

    def __init__(self, fails_on: set[str]) -> None:
        self.fails_on = fails_on
        self.fails_only: set[Any] = set()  # event ids: when given, only these of `fails_on`
        self.fails_at_flush: set[str] = set()  # streams whose rows fail when written
        self.buffered: list[str] = []
        self.written: list[str] = []

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        self.buffered.append(envelope.stream_id)
        failing = not self.fails_only or envelope.event_id in self.fails_only
        if envelope.stream_id in self.fails_on and failing:
            raise ValueError(f"defect on {envelope.stream_id}")

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self.fails_at_flush & set(self.buffered):
            raise ValueError("a row the database refused")
        self.written += self.buffered
        self.buffered = []

    def discard(self) -> None:
        self.buffered = []


def runner(
    conn: FakeConnection, projection: Defective, producer: Any = None, in_order: bool = True
) -> ProjectionRunner:
    return ProjectionRunner(
        FakePool(conn),
        domain_events(),
        [projection],
        [TOPIC],
        kafka_options={},
        consumer_name="boards.unit",
        dead_letters=producer,
        in_order=in_order,
    )


async def test_the_runner_records_each_message_it_passes_over_with_the_offsets() -> None:
    good, poison = envelope("C-1"), envelope("C-2")
    unknown = json.loads(wire(envelope("C-3")))
    unknown["event_type"] = "ChildTeleported"
    records = [
        record(0, b"\x00\xffnot json"),
        record(1, json.dumps(unknown).encode()),
        record(2, wire(poison)),
        record(3, wire(good)),
    ]
    conn, producer, projection = FakeConnection(), FakeProducer(), Defective({"C-2"})
    await runner(conn, projection, producer)._process({TopicPartition(TOPIC, 0): records})

    assert projection.written == ["C-1"]  # the poison's buffered rows were rolled back too
    assert [d["dlq_origin_offset"] for d in producer.sent] == ["0", "1", "2"]
    passed = conn.statements("INSERT INTO projection_dead_letters")
    # (consumer, topic, partition, offset, event id, type, stream, version, reason): once each,
    # though the batch ran twice (whole, then event by event after the handler failed).
    assert [(p[3], p[5], p[6]) for p in passed] == [
        (0, None, None),
        (1, "ChildTeleported", "C-3"),
        (2, "ChildRegistered", "C-2"),
    ]
    assert passed[2][4] == poison.event_id and passed[2][8].startswith("apply failed")
    assert conn.statements("WITH streams AS")[-1][6] == [4]  # the partition's next offset


def passed_over_row(event: Envelope | None, **changed: Any) -> dict[str, Any]:
    """A consumer's row of a message it passed over (projection_dead_letters), not replayed."""
    return {
        "event_id": None if event is None else event.event_id,
        "stream_id": None if event is None else event.stream_id,
        "holds_stream": True,
        "replayed_at": None,
        "replayed_by": None,
        "skipped": False,
        **changed,
    }


async def test_a_replay_applies_a_passed_over_message_once_with_its_record() -> None:
    poison = envelope("C-2")
    row = passed_over_row(poison)
    conn, projection = FakeConnection(stored=10, passed_over=row), Defective(set())
    audit_id = uuid4()
    done = await runner(conn, projection).replay(
        TOPIC, 0, 2, wire(poison), by="ops-1", audit_id=audit_id
    )
    assert done.applied and done.outcome is ReplayOutcome.REPLAYED
    assert projection.written == ["C-2"]
    [update] = conn.statements("UPDATE projection_dead_letters")
    assert update == ("boards.unit", TOPIC, 0, 2, "ops-1", audit_id, False)


async def test_a_replay_that_still_fails_records_nothing_and_leaves_nothing_buffered() -> None:
    poison = envelope("C-2")
    row = passed_over_row(poison)
    conn, projection = FakeConnection(stored=10, passed_over=row), Defective({"C-2"})
    done = await runner(conn, projection).replay(TOPIC, 0, 2, wire(poison), by="ops-1")
    assert done.outcome is ReplayOutcome.STILL_FAILS and "defect on C-2" in done.detail
    assert projection.written == [] and projection.buffered == []
    assert conn.statements("UPDATE projection_dead_letters") == []


async def test_a_streams_later_events_are_held_behind_its_dead_letter() -> None:
    """Once an event of a stream is passed over, the stream's later events are held with
    their messages, unapplied; other streams go on. In the batch that failed, and in later
    batches (the consumer's record says the stream is held)."""
    poison, later, other = envelope("C-2"), envelope("C-2", 2), envelope("C-1")
    records = [record(0, wire(poison)), record(1, wire(later)), record(2, wire(other))]
    conn, producer, projection = FakeConnection(), FakeProducer(), Defective({"C-2"})
    await runner(conn, projection, producer)._process({TopicPartition(TOPIC, 0): records})

    assert projection.written == ["C-1"]
    assert [d["dlq_origin_offset"] for d in producer.sent] == ["0"]  # the held one is not sent
    [held] = conn.statements("INSERT INTO projection_held")
    # (consumer, topic, partition, offset, stream, version, event id, type, message)
    assert held[3:7] == (1, "C-2", 2, later.event_id) and held[8] == wire(later)
    progress = conn.statements("WITH streams AS")[-1]
    assert dict(zip(progress[2], progress[3], strict=True)) == {"C-1": 1, "C-2": 2}

    class Holding(FakeConnection):
        async def fetch(self, sql: str, *args: Any) -> list[Any]:
            if sql == STREAM_VERSIONS:  # C-2 held at v2
                held = {"held": True, "open_locked": 1, "open_seen": 1}
                return [{"topic": TOPIC, "stream_id": "C-2", "stream_version": 2, **held}]
            return await super().fetch(sql, *args)

    conn, projection = Holding(stored=3), Defective(set())
    await runner(conn, projection, producer)._process(
        {TopicPartition(TOPIC, 0): [record(3, wire(envelope("C-2", 3)))]}
    )
    assert projection.written == []
    assert [h[3] for h in conn.statements("INSERT INTO projection_held")] == [3]


async def test_a_consumer_out_of_order_holds_nothing() -> None:
    """A consumer for which order does not matter (a child's erasure) applies a stream's
    later events after its dead letter, which records that it holds nothing."""
    poison, later = envelope("C-2"), envelope("C-2", 2)
    conn, producer, projection = FakeConnection(), FakeProducer(), Defective({"C-2"})
    projection.fails_only = {poison.event_id}
    records = [record(0, wire(poison)), record(1, wire(later))]
    await runner(conn, projection, producer, in_order=False)._process(
        {TopicPartition(TOPIC, 0): records}
    )
    assert projection.written == ["C-2"]  # v2
    assert conn.statements("INSERT INTO projection_held") == []
    [passed] = conn.statements("INSERT INTO projection_dead_letters")
    assert passed[9] is False


async def test_an_event_skipped_before_is_passed_over_again_without_holding() -> None:
    """A rebuild reads again an event an operator skipped (copied into the new build as
    skipped): passed over, neither dead-lettered nor holding its stream."""
    poison, later = envelope("C-2"), envelope("C-2", 2)
    conn, producer, projection = FakeConnection(), FakeProducer(), Defective({"C-2"})
    projection.fails_only = {poison.event_id}
    conn.skipped.add(poison.event_id)
    records = [record(0, wire(poison)), record(1, wire(later))]
    await runner(conn, projection, producer)._process({TopicPartition(TOPIC, 0): records})
    assert projection.written == ["C-2"]  # v2
    assert producer.sent == []
    assert conn.statements("INSERT INTO projection_dead_letters") == []
    assert conn.statements("INSERT INTO projection_held") == []


async def test_a_failed_flush_sends_no_dead_letter_for_an_event_held_on_the_second_pass() -> None:
    """v1's rows fail at the flush and v2 cannot be decoded: done again event by event, v1 is
    dead-lettered and v2 held behind it. v2 is not sent: the first pass sends its dead letters
    only after its flush succeeds."""
    good = envelope("C-2")
    unknown = json.loads(wire(envelope("C-2", 2)))
    unknown["event_type"] = "ChildTeleported"
    records = [record(0, wire(good)), record(1, json.dumps(unknown).encode())]
    conn, producer, projection = FakeConnection(), FakeProducer(), Defective(set())
    projection.fails_at_flush = {"C-2"}
    await runner(conn, projection, producer)._process({TopicPartition(TOPIC, 0): records})
    assert [d["dlq_origin_offset"] for d in producer.sent] == ["0"]
    assert [h[3] for h in conn.statements("INSERT INTO projection_held")] == [1]


def newer(e: Envelope) -> bytes:
    """The event's message as a newer release writes it: its envelope has a field this
    release does not know, so it cannot be read whole."""
    return json.dumps({**json.loads(wire(e)), "tenant": "devon"}).encode()


async def test_an_envelope_this_release_cannot_read_holds_its_stream_by_its_place() -> None:
    """A message whose envelope cannot be read (a newer release's) still says its stream and
    version: dead-lettered in its stream's order, and the stream's later events held behind
    it, as for an event that cannot be applied. Before, it held nothing, and the stream's
    later events were dropped as out of order (a gap at its version) for good."""
    first, unreadable, later = envelope("C-2"), envelope("C-2", 2), envelope("C-2", 3)
    records = [record(0, wire(first)), record(1, newer(unreadable)), record(2, wire(later))]
    conn, producer, projection = FakeConnection(), FakeProducer(), Defective(set())
    await runner(conn, projection, producer)._process({TopicPartition(TOPIC, 0): records})

    assert projection.written == ["C-2"]  # v1 only
    assert [d["dlq_origin_offset"] for d in producer.sent] == ["1"]
    [passed] = conn.statements("INSERT INTO projection_dead_letters")
    assert passed[3:8] == (1, unreadable.event_id, "ChildRegistered", "C-2", 2)
    assert passed[8].startswith("undecodable") and passed[9] is True  # it holds its stream
    [held] = conn.statements("INSERT INTO projection_held")
    assert held[3:7] == (2, "C-2", 3, later.event_id)
    progress = conn.statements("WITH streams AS")[-1]
    assert dict(zip(progress[2], progress[3], strict=True)) == {"C-2": 3}


async def test_bytes_without_a_place_in_a_stream_hold_nothing() -> None:
    place = json.loads(newer(envelope("C-2", 2)))
    del place["stream_version"]
    records = [record(0, json.dumps(place).encode()), record(1, wire(envelope("C-1")))]
    conn, producer, projection = FakeConnection(), FakeProducer(), Defective(set())
    await runner(conn, projection, producer)._process({TopicPartition(TOPIC, 0): records})
    assert projection.written == ["C-1"]
    [passed] = conn.statements("INSERT INTO projection_dead_letters")
    assert passed[4:8] == (None, None, None, None) and passed[9] is False
    assert conn.statements("INSERT INTO projection_held") == []


async def test_a_place_is_read_without_a_type_or_a_correlation_id_it_can_read() -> None:
    """Only the event, the stream and the version are needed to hold the stream: a type or
    a correlation id the place cannot read is left out (the held row needs a type)."""
    first, unreadable, later = envelope("C-2"), envelope("C-2", 2), envelope("C-2", 3)
    body = {**json.loads(newer(unreadable)), "correlation_id": "req-42"}
    del body["event_type"]
    records = [
        record(0, wire(first)),
        record(1, json.dumps(body).encode()),
        record(2, wire(later)),
        record(3, json.dumps({**body, "stream_version": 4, "event_type": 7}).encode()),
    ]
    conn, producer, projection = FakeConnection(), FakeProducer(), Defective(set())
    await runner(conn, projection, producer)._process({TopicPartition(TOPIC, 0): records})
    assert projection.written == ["C-2"]
    [passed] = conn.statements("INSERT INTO projection_dead_letters")
    assert passed[3:8] == (1, unreadable.event_id, UNREADABLE_TYPE, "C-2", 2)
    held = conn.statements("INSERT INTO projection_held")
    assert [(h[3], h[5], h[7]) for h in held] == [
        (2, 3, "ChildRegistered"),
        (3, 4, UNREADABLE_TYPE),
    ]


async def test_a_message_skipped_before_it_had_a_place_is_passed_over_by_its_offset() -> None:
    """Skipped in the live build when a release could not place it (recorded with no event
    id), then read by a rebuild that can: passed over at its offset as skipped, neither
    dead-lettered again nor holding the child's later events (which no replay would then
    let go)."""
    unreadable, later = envelope("C-2"), envelope("C-2", 2)
    conn, producer, projection = FakeConnection(), FakeProducer(), Defective(set())
    conn.skipped.add((TOPIC, 0, 0))
    records = [record(0, newer(unreadable)), record(1, wire(later))]
    await runner(conn, projection, producer)._process({TopicPartition(TOPIC, 0): records})
    assert projection.written == ["C-2"]  # v2
    assert producer.sent == []
    assert conn.statements("INSERT INTO projection_held") == []


async def test_bytes_an_operator_skipped_are_passed_over_again_without_a_dead_letter() -> None:
    """A rebuild reads again bytes that are no event, skipped in the live build (copied into
    the new one as skipped): passed over, not dead-lettered again each rebuild."""
    conn, producer, projection = FakeConnection(), FakeProducer(), Defective(set())
    conn.skipped.add((TOPIC, 0, 0))
    records = [record(0, b"\x00\xffnot json"), record(1, wire(envelope("C-1")))]
    await runner(conn, projection, producer)._process({TopicPartition(TOPIC, 0): records})
    assert projection.written == ["C-1"]
    assert producer.sent == []
    assert conn.statements("INSERT INTO projection_dead_letters") == []


async def test_a_held_event_this_release_cannot_read_is_dead_lettered_in_its_turn() -> None:
    """A held message whose envelope cannot be read (the contract changed since it was held)
    has its place: dead-lettered in its turn, with the events after it held behind it."""
    poison, unreadable, last = envelope("C-2"), envelope("C-2", 2), envelope("C-2", 3)
    held = [
        {"partition": 0, "message_offset": 6, "message": newer(unreadable)},
        held_row(last, 9),
    ]
    conn = FakeConnection(stored=12, passed_over=passed_over_row(poison), held=held)
    producer, projection = FakeProducer(), Defective(set())
    done = await runner(conn, projection, producer).replay(TOPIC, 0, 5, wire(poison), by="ops")
    assert done.outcome is ReplayOutcome.REPLAYED and not done.complete
    assert "ChildRegistered v2 held behind it (offset 6) fails" in done.detail
    assert projection.written == ["C-2"]  # the dead letter; v3 waits behind v2
    assert [d["dlq_origin_offset"] for d in producer.sent] == ["6"]
    [passed] = conn.statements("INSERT INTO projection_dead_letters")
    assert passed[3] == 6 and passed[9] is True


def held_row(event: Envelope, offset: int) -> dict[str, Any]:
    return {"partition": 0, "message_offset": offset, "message": wire(event)}


async def test_a_replay_applies_the_events_held_behind_it_in_order_and_lets_them_go() -> None:
    poison = envelope("C-2")
    held = [held_row(envelope("C-2", 2), 6), held_row(envelope("C-2", 3), 9)]
    conn = FakeConnection(stored=10, passed_over=passed_over_row(poison), held=held)
    projection = Defective(set())
    done = await runner(conn, projection).replay(TOPIC, 0, 5, wire(poison), by="ops-1")
    assert done.outcome is ReplayOutcome.REPLAYED and "then 2 of 2 held behind it" in done.detail
    assert projection.written == ["C-2", "C-2", "C-2"]
    [released] = conn.statements("UPDATE projection_held h SET released_at")
    assert released == ("boards.unit", TOPIC, [0, 0], [6, 9])


async def test_a_held_event_that_fails_is_dead_lettered_in_its_turn() -> None:
    """The dead letter and the held events before the failing one are applied; the failing
    one is dead-lettered and recorded as passed over, holding its stream again; the events
    after it stay held. Before, a held event that could not be applied (bad data) held its
    stream for good: it had no dead letter to replay or skip."""
    poison, good, bad, after = (envelope("C-2", v) for v in (1, 2, 3, 4))
    held = [held_row(good, 6), held_row(bad, 9), held_row(after, 11)]
    conn = FakeConnection(stored=12, passed_over=passed_over_row(poison), held=held)
    producer, projection = FakeProducer(), Defective({"C-2"})
    projection.fails_only = {bad.event_id}
    done = await runner(conn, projection, producer).replay(TOPIC, 0, 5, wire(poison), by="ops")
    assert done.outcome is ReplayOutcome.REPLAYED and not done.applied
    assert "then 1 of 3 held behind it" in done.detail
    assert "ChildRegistered v3 held behind it (offset 9) fails" in done.detail
    assert "1 still held behind it" in done.detail
    assert projection.written == ["C-2", "C-2"]  # the dead letter, then v2
    assert [d["dlq_origin_offset"] for d in producer.sent] == ["9"]
    [passed] = conn.statements("INSERT INTO projection_dead_letters")
    # (consumer, topic, partition, offset, event id, type, stream, version, reason, holds)
    assert (passed[3], passed[4], passed[6], passed[7], passed[9]) == (
        9,
        bad.event_id,
        "C-2",
        3,
        True,
    )
    [released] = conn.statements("UPDATE projection_held h SET released_at")
    assert released[3] == [6, 9]  # offset 11 stays held, behind 9
    [update] = conn.statements("UPDATE projection_dead_letters")
    assert update[3] == 5  # the dead letter replayed is marked


async def test_a_held_event_skipped_before_is_passed_over_and_the_replay_goes_on() -> None:
    """A rebuild held an event an operator had skipped in the live build (behind another
    dead letter): the replay passes it over again, as skipped, and applies the rest. Before,
    it was taken for a failure and the events after it were stranded."""
    poison, skipped, after = (envelope("C-2", v) for v in (1, 2, 3))
    held = [held_row(skipped, 6), held_row(after, 9)]
    conn = FakeConnection(stored=12, passed_over=passed_over_row(poison), held=held)
    conn.skipped.add(skipped.event_id)
    producer, projection = FakeProducer(), Defective({"C-2"})
    projection.fails_only = {skipped.event_id}
    done = await runner(conn, projection, producer).replay(TOPIC, 0, 5, wire(poison), by="ops")
    assert done.applied and "then 2 of 2 held behind it" in done.detail
    assert projection.written == ["C-2", "C-2"]  # the dead letter, then v3
    assert producer.sent == [] and conn.statements("INSERT INTO projection_dead_letters") == []
    [released] = conn.statements("UPDATE projection_held h SET released_at")
    assert released[3] == [6, 9]


async def test_a_replay_with_a_held_event_this_release_cannot_read_changes_nothing() -> None:
    poison = envelope("C-2")
    held = [
        held_row(envelope("C-2", 2), 6),
        {"partition": 0, "message_offset": 9, "message": b"not an envelope"},
    ]
    conn = FakeConnection(stored=12, passed_over=passed_over_row(poison), held=held)
    projection = Defective(set())
    done = await runner(conn, projection, FakeProducer()).replay(
        TOPIC, 0, 5, wire(poison), by="ops"
    )
    assert done.outcome is ReplayOutcome.STILL_FAILS and "(offset 9)" in done.detail
    assert projection.written == []
    assert conn.statements("UPDATE projection_dead_letters") == []
    assert conn.statements("UPDATE projection_held") == []


async def test_a_replay_into_a_consumer_no_longer_current_changes_nothing() -> None:
    """A board build swapped out between the command's check and the replay: `current`,
    asked with the offsets locked, refuses it."""
    poison = envelope("C-2")
    conn = FakeConnection(stored=10, passed_over=passed_over_row(poison))
    projection = Defective(set())

    async def swapped_out(_: Any) -> str:
        return "the board build is no longer live"

    done = await runner(conn, projection).replay(
        TOPIC, 0, 5, wire(poison), by="ops", skip=True, current=swapped_out
    )
    assert done.outcome is ReplayOutcome.NOT_PASSED_OVER and "no longer live" in done.detail
    assert conn.statements("UPDATE") == [] and projection.written == []


def test_the_erasure_subscription_applies_its_streams_out_of_order() -> None:
    """A child's erasure never waits behind an earlier event's dead letter: the quality
    worker's subscription says so, and the worker's runner (and the replay's) follow it."""
    from services.quality.policies import subscriptions
    from shared.worker import _runner

    settings = Settings(service="quality")
    by_name = {s.name: s for s in subscriptions(settings)}
    assert by_name["erasure"].in_order is False
    assert by_name["known-children"].in_order is True
    made = _runner(settings, FakePool(FakeConnection()), None, by_name["erasure"], None)
    assert made._in_order is False
    target = target_of(f"{settings.namespace}quality.erasure", settings)
    replaying, _ = consumer_runner(settings, target, FakePool(FakeConnection()))
    assert replaying._in_order is False


async def test_a_skip_applies_only_the_held_events_even_when_the_letter_cannot_be_read() -> None:
    poison = envelope("C-2")
    held = [held_row(envelope("C-2", 2), 6)]
    conn = FakeConnection(stored=10, passed_over=passed_over_row(poison), held=held)
    projection = Defective(set())
    done = await runner(conn, projection).replay(TOPIC, 0, 5, b"not json", by="ops-1", skip=True)
    assert done.outcome is ReplayOutcome.SKIPPED and done.applied
    assert projection.written == ["C-2"]  # the held v2 only
    [update] = conn.statements("UPDATE projection_dead_letters")
    assert update[-1] is True  # skipped
    again = replay_refusal(
        "boards.x",
        5,
        10,
        passed_over_row(
            poison, replayed_at=datetime(2026, 12, 1, tzinfo=UTC), replayed_by="ops-1", skipped=True
        ),
        decoded(wire(poison)),
    )
    assert again is not None and "already skipped by boards.x" in again.detail


async def test_a_dead_letter_from_before_holding_replays_alone() -> None:
    """Passed over before streams were held (`holds_stream` false): the events after it were
    applied, so a replay applies it alone, whatever the held table holds."""
    poison = envelope("C-2")
    row = passed_over_row(poison, holds_stream=False)
    conn = FakeConnection(stored=10, passed_over=row, held=[held_row(envelope("C-2", 2), 6)])
    projection = Defective(set())
    done = await runner(conn, projection).replay(TOPIC, 0, 5, wire(poison), by="ops-1")
    assert done.outcome is ReplayOutcome.REPLAYED and projection.written == ["C-2"]


def decoded(value: bytes | None) -> _Decoded:
    conn = FakeConnection()
    return runner(conn, Defective(set()))._decode(record(2, value))


def test_a_second_replay_is_refused_and_says_when_and_by_whom() -> None:
    poison = envelope("C-2")
    when = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    row = passed_over_row(poison, replayed_at=when, replayed_by="ops-1")
    refused = replay_refusal("boards.x", 2, 10, row, decoded(wire(poison)))
    assert refused is not None and refused.outcome is ReplayOutcome.ALREADY_REPLAYED
    assert "2026-12-01 09:30:00 UTC by ops-1" in refused.detail
    assert "nothing was applied again" in refused.detail


@pytest.mark.parametrize(
    ("stored", "outcome"),
    [
        (None, ReplayOutcome.NOT_REACHED),
        (2, ReplayOutcome.NOT_REACHED),
        (3, ReplayOutcome.NOT_PASSED_OVER),
    ],
)
def test_a_message_the_consumer_did_not_pass_over_is_never_applied(
    stored: int | None, outcome: ReplayOutcome
) -> None:
    """No row: the consumer applied it after all (or dropped it as a duplicate), or has not
    reached it yet: either way a replay would apply it twice."""
    refused = replay_refusal("boards.x", 2, stored, None, decoded(wire(envelope("C-2"))))
    assert refused is not None and refused.outcome is outcome


def test_a_replay_refuses_bytes_it_still_cannot_read_and_another_event() -> None:
    row = passed_over_row(None, event_id=uuid4())
    still = replay_refusal("boards.x", 2, 10, row, decoded(b"not json"))
    assert still is not None and still.outcome is ReplayOutcome.STILL_FAILS
    other = replay_refusal("boards.x", 2, 10, row, decoded(wire(envelope("C-9"))))
    assert other is not None and other.outcome is ReplayOutcome.NOT_PASSED_OVER
    mine = envelope("C-2")
    row["event_id"] = mine.event_id
    assert replay_refusal("boards.x", 2, 10, row, decoded(wire(mine))) is None


# -- the operator's command ----------------------------------------------------------------------


def dead(value: bytes, reason: str = "apply failed: ValueError: boom") -> DeadLetter:
    headers = [
        ("event_id", b"0190"),
        ("event_type", b"PersonalDetailsRecorded"),
        ("dlq_reason", reason.encode()),
        ("dlq_origin_topic", TOPIC.encode()),
        ("dlq_origin_partition", b"3"),
        ("dlq_origin_offset", b"41"),
        ("dlq_consumer", b"boards.boards_20261201090000_ab12"),
        ("dlq_failed_at", b"2026-12-01T09:00:00+00:00"),
    ]
    return dead_letter_of(
        ConsumerRecord("dead-letter", 1, 7, 0, 0, None, value, None, -1, -1, headers)
    )


def personal() -> bytes:
    body = json.loads(wire(envelope("C-7")))
    body["event_type"] = "PersonalDetailsRecorded"
    body["payload"] = {"child_id": "C-7", "family_name": SEALED_VALUE, "notes": None}
    return json.dumps(body).encode()


def test_a_dead_letter_read_back_names_its_consumer_reason_origin_and_child() -> None:
    letter = dead(personal())
    assert (letter.id, letter.origin) == ("1:7", "case-events:3:41")
    assert letter.consumer == "boards.boards_20261201090000_ab12"
    assert letter.event_type == "PersonalDetailsRecorded"
    assert letter.child_ids == ["C-7"]
    assert set(letter.headers) == {"event_id", "event_type"}  # the dlq_* are fields


def test_show_and_list_never_print_a_sealed_value() -> None:
    letter = dead(personal(), reason=f"apply failed: bad value {SEALED_VALUE!r}")
    for printed in (shown(letter, "waiting"), listed(letter, "waiting")):
        text = json.dumps(printed, default=str)
        assert "sealed:v1:" not in text
        assert "case-events:3:41" in text and "apply failed" in text
    assert shown(letter, "waiting")["event"]["payload"]["family_name"] == MASK
    assert "C-7" not in json.dumps(listed(letter, "waiting"))  # no stream or child in a list
    assert masked({"a": [SEALED_VALUE, 3, None]}) == {"a": [MASK, 3, None]}


def test_bytes_that_are_not_json_are_shown_by_size_and_digest_only() -> None:
    raw = b"\x00\xffFamily Name in clear"
    value = shown(dead(raw), "waiting")["value"]
    assert value.startswith(f"{len(raw)} bytes, not a JSON object (sha256 ")
    assert "Family" not in value
    letter = dead(raw)
    assert letter.event_type == "PersonalDetailsRecorded"  # as its headers say
    assert letter.child_ids == []


def test_ids_are_partition_and_offset_on_the_dead_letter_topic() -> None:
    assert parse_id("2:17") == (2, 17)
    assert parse_id("dead-letter:2:17") == (2, 17)
    for bad in ("17", "a:b", "-1:3", ""):
        with pytest.raises(DeadLetterError):
            parse_id(bad)


def test_the_consumer_named_in_a_dead_letter_is_found_where_its_worker_keeps_it() -> None:
    settings = Settings(namespace="t1_")
    boards = target_of("t1_boards.boards_20261201090000_ab12", settings)
    assert (boards.service, boards.schema) == ("projections", "boards_20261201090000_ab12")
    feeds = target_of("t1_partner_feeds.shares", settings)
    assert (feeds.service, feeds.subscription, feeds.schema) == ("partner_feeds", "shares", None)
    ewo = target_of("t1_escalations.attendance", settings)
    assert (ewo.service, ewo.subscription) == ("escalations", "attendance")
    for unknown in ("boards.x", "t1_case_events.x", "t1_escalations", 't1_boards.x"; DROP'):
        with pytest.raises(DeadLetterError):
            target_of(unknown, settings)


def test_a_dead_letters_state_comes_from_its_consumers_records() -> None:
    letter = dead(personal())  # origin partition 3, offset 41
    when = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert state_of(letter, {41: {"replayed_at": None, "held": 0}}, {3: 50}) == "waiting"
    holding = {41: {"replayed_at": None, "held": 2}}
    assert state_of(letter, holding, {3: 50}) == "waiting, 2 held behind it"
    replayed = {41: {"replayed_at": when, "replayed_by": "ops-1", "skipped": False}}
    assert state_of(letter, replayed, {3: 50}) == "replayed 2026-12-01 09:30 by ops-1"
    skipped = {41: {"replayed_at": when, "replayed_by": "ops-1", "skipped": True}}
    assert state_of(letter, skipped, {3: 50}) == "skipped 2026-12-01 09:30 by ops-1"
    assert state_of(letter, {}, {3: 41}) == "not reached yet"
    assert state_of(letter, {}, {3: 42}).startswith("applied by the consumer")
    assert state_of(letter, None, {}).startswith("unknown")
    # Failed (09:00) before the consumer's database recorded what it passes over (10:00).
    since = datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert state_of(letter, {}, {3: 42}, since).endswith("not replayable")
    assert (ROOT / RECORDING_MIGRATION).is_file()


@pytest.mark.parametrize(
    ("consumer", "projection"),
    [
        ("escalations.attendance", "ewo_attendance"),
        ("escalations.known-children", "known_children"),
        ("partner_feeds.shares", "partner-feed"),
        ("education.known-children", "known_children"),
        ("education.reference-data", "reference_data"),
        ("accommodation.known-children", "known_children"),
    ],
)
def test_a_service_workers_consumer_is_rebuilt_from_its_own_subscriptions(
    consumer: str, projection: str
) -> None:
    settings = Settings(partner_pseudonym_key="unit-test-key")
    subscription = worker_subscription(settings, target_of(consumer, settings))
    assert [p.name for p in subscription.projections] == [projection]
    with pytest.raises(DeadLetterError):
        worker_subscription(settings, target_of("escalations.no-such-policy", settings))


class OutOfRoom(Defective):
    """A projection whose write finds the database out of room or cancelled: not its event's
    fault."""

    def __init__(self, error: Exception) -> None:
        super().__init__(set())
        self.error = error

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.DiskFullError("could not extend file"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients already"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_the_database_out_of_room_is_retried_and_nothing_dead_lettered(
    error: Exception,
) -> None:
    conn, producer = FakeConnection(), FakeProducer()
    with pytest.raises(type(error)):  # to the runner's loop, which tries the batch again
        await runner(conn, OutOfRoom(error), producer)._process(
            {TopicPartition(TOPIC, 0): [record(0, wire(envelope("C-1")))]}
        )
    assert producer.sent == []
    assert conn.statements("INSERT INTO projection_dead_letters") == []

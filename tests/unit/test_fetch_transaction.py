"""A fetch is applied in one transaction, whatever partitions and topics it brings, with what
is kept a partition at a time still kept so: each partition's stored offset moved past its
own last record, a partition the consumer is ahead on read again from its stored offset
while the others are applied, a poison message dead-lettered once by where it came from.
No I/O: the runner's statements are answered from memory."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from contracts.topics import domain_events
from shared.projection import LOCK_FIRST_OFFSETS, LOCK_OFFSETS, STORE_PROGRESS, ProjectionRunner
from tests.unit.test_dead_letters import (
    TOPIC,
    Defective,
    FakeConnection,
    FakePool,
    FakeProducer,
    envelope,
    wire,
)

OTHER = "education"  # a second topic the runner reads (after TOPIC, "case-events", in order)


class Offsets(FakeConnection):
    """Stored offsets by partition; the transactions begun are counted."""

    def __init__(self, stored: dict[TopicPartition, int]) -> None:
        super().__init__()
        self.offsets = stored
        self.transactions = 0

    def transaction(self, **options: Any) -> Any:
        self.transactions += 1
        return super().transaction(**options)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        if sql != LOCK_OFFSETS:
            return []
        wanted = {TopicPartition(t, p) for t, p in zip(args[1], args[2], strict=True)}
        return [
            {"topic": tp.topic, "partition": tp.partition, "next_offset": offset}
            for tp, offset in sorted(self.offsets.items())
            if tp in wanted
        ]

    def progress(self) -> list[tuple[Any, ...]]:
        return [args for sql, args in self.executed if sql == STORE_PROGRESS]


class Seeks:
    """The consumer, as far as a rewind and the informational commit use it."""

    def __init__(self) -> None:
        self.seeks: list[tuple[TopicPartition, int]] = []

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def commit(self, offsets: Any = None) -> None:
        return None


def at(tp: TopicPartition, offset: int, value: bytes | None) -> Any:
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, None, value, None, -1, -1, [])


def made(conn: Offsets, projection: Defective, producer: Any = None) -> ProjectionRunner:
    runner = ProjectionRunner(
        FakePool(conn),
        domain_events(),
        [projection],
        [TOPIC, OTHER],
        kafka_options={},
        consumer_name="boards.unit",
        dead_letters=producer,
    )
    runner._consumer = Seeks()
    return runner


A, B, C = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1), TopicPartition(OTHER, 0)


async def test_every_partition_of_a_fetch_is_applied_in_one_transaction() -> None:
    conn, projection = Offsets({}), Defective(set())
    fetched = {
        A: [at(A, 0, wire(envelope("C-1"))), at(A, 1, wire(envelope("C-1", 2)))],
        B: [at(B, 0, wire(envelope("C-2")))],
        C: [at(C, 0, wire(envelope("C-3"))), at(C, 1, wire(envelope("C-4")))],
    }
    runner = made(conn, projection)
    await runner._process(fetched)

    assert projection.written == ["C-1", "C-1", "C-2", "C-3", "C-4"]
    assert conn.transactions == 1
    [(_, stream_topics, streams, versions, topics, partitions, offsets)] = conn.progress()
    # Each stream by its topic, each partition past its own last record.
    assert sorted(zip(stream_topics, streams, versions, strict=True)) == [
        (TOPIC, "C-1", 2),
        (TOPIC, "C-2", 1),
        (OTHER, "C-3", 1),
        (OTHER, "C-4", 1),
    ]
    assert list(zip(topics, partitions, offsets, strict=True)) == [
        (TOPIC, 0, 2),
        (TOPIC, 1, 1),
        (OTHER, 0, 2),
    ]
    assert runner.progress[TOPIC].positions == {0: 2, 1: 1}
    assert runner.progress[OTHER].positions == {0: 2}


async def test_a_partition_the_consumer_is_ahead_on_is_read_again_and_the_others_applied() -> None:
    # A's stored offset is 3, but the fetch begins at 5: the database lost the commits of 3
    # and 4. B stands where its records begin; of C, the first record was applied already.
    conn, projection = Offsets({A: 3, B: 7, C: 1}), Defective(set())
    fetched = {
        A: [at(A, 5, wire(envelope("C-1", 6)))],
        B: [at(B, 7, wire(envelope("C-2")))],
        C: [at(C, 0, wire(envelope("C-3"))), at(C, 1, wire(envelope("C-4")))],
    }
    runner = made(conn, projection)
    await runner._process(fetched)

    assert runner._consumer.seeks == [(A, 3)]  # type: ignore[union-attr]
    assert projection.written == ["C-2", "C-4"]
    assert conn.transactions == 1
    [(*_, topics, partitions, offsets)] = conn.progress()
    assert list(zip(topics, partitions, offsets, strict=True)) == [(TOPIC, 1, 8), (OTHER, 0, 2)]
    assert runner.progress[TOPIC].positions == {0: 3, 1: 8}  # A: where it is read again from


class RefusesAnEmptyCommit(Seeks):
    """As aiokafka's consumer: `commit({})` is a ValueError (no offsets to commit)."""

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[Any] = []

    async def commit(self, offsets: Any = None) -> None:
        if not offsets:
            raise ValueError("Offsets should be a dict")
        self.commits.append(offsets)


async def test_a_batch_read_again_whole_commits_nothing_to_kafka() -> None:
    # Every partition of the fetch is behind its stored offset's: nothing moved on, nothing
    # to commit; an empty commit would be refused with an error that ends the runner.
    conn, projection = Offsets({A: 3}), Defective(set())
    runner = made(conn, projection)
    runner._consumer = consumer = RefusesAnEmptyCommit()
    await runner._process({A: [at(A, 5, wire(envelope("C-1", 6)))]})

    assert consumer.seeks == [(A, 3)]
    assert consumer.commits == []
    await runner._process({A: [at(A, 3, wire(envelope("C-1")))]})
    assert consumer.commits == [{A: 4}]


async def test_a_poison_message_is_dead_lettered_once_by_its_origin_and_the_rest_applied() -> None:
    # Two messages that cannot be read at the same offset of two partitions: each is its own
    # dead letter. A handler's failure on C-2 redoes the fetch event by event (savepoints).
    conn, projection, producer = Offsets({}), Defective({"C-2"}), FakeProducer()
    fetched = {
        A: [at(A, 0, b"not json"), at(A, 1, wire(envelope("C-1")))],
        B: [at(B, 0, b"not json either"), at(B, 1, wire(envelope("C-2")))],
        C: [at(C, 0, wire(envelope("C-3")))],
    }
    await made(conn, projection, producer)._process(fetched)

    assert projection.written == ["C-1", "C-3"]
    origins = sorted(
        (d["dlq_origin_topic"], d["dlq_origin_partition"], d["dlq_origin_offset"])
        for d in producer.sent
    )
    assert origins == [(TOPIC, "0", "0"), (TOPIC, "1", "0"), (TOPIC, "1", "1")]
    assert conn.transactions >= 2  # the fetch's, rolled back; then its redo with savepoints
    [(*_, topics, partitions, offsets)] = conn.progress()
    assert list(zip(topics, partitions, offsets, strict=True)) == [
        (TOPIC, 0, 2),
        (TOPIC, 1, 2),
        (OTHER, 0, 1),
    ]


async def test_a_partition_waits_its_turn_on_its_first_batch_only() -> None:
    # A has a stored-offset row, B has none yet: the first fetch waits its turn on both (the
    # runner has seen neither row); the next waits only on B, whose row it still has not seen.
    conn, projection = Offsets({A: 0}), Defective(set())
    runner = made(conn, projection)
    await runner._process(
        {A: [at(A, 0, wire(envelope("C-1")))], B: [at(B, 0, wire(envelope("C-2")))]}
    )
    await runner._process(
        {A: [at(A, 1, wire(envelope("C-1", 2)))], B: [at(B, 1, wire(envelope("C-3")))]}
    )

    turns = [args for sql, args in conn.executed if sql == LOCK_FIRST_OFFSETS]
    assert turns == [("boards.unit", [TOPIC, TOPIC], [0, 1]), ("boards.unit", [TOPIC], [1])]


async def test_a_row_seen_and_then_lost_is_read_again_and_waits_its_turn_again() -> None:
    # A's row is seen, then lost with the database's last commits (a crash between batches):
    # the next fetch applies none of A's records and reads A again from its beginning; the
    # one after waits its turn on A as a first batch does. B, whose row stands, goes on.
    conn, projection = Offsets({A: 0, B: 0}), Defective(set())
    runner = made(conn, projection)
    await runner._process(
        {A: [at(A, 0, wire(envelope("C-1")))], B: [at(B, 0, wire(envelope("C-2")))]}
    )
    del conn.offsets[A]
    conn.offsets[B] = 1
    await runner._process(
        {A: [at(A, 1, wire(envelope("C-1", 2)))], B: [at(B, 1, wire(envelope("C-3")))]}
    )
    await runner._process({A: [at(A, 0, wire(envelope("C-1")))]})

    assert projection.written == ["C-1", "C-2", "C-3", "C-1"]
    assert runner._consumer.seeks == [(A, 0)]  # type: ignore[union-attr]
    turns = [args for sql, args in conn.executed if sql == LOCK_FIRST_OFFSETS]
    assert turns == [("boards.unit", [TOPIC, TOPIC], [0, 1]), ("boards.unit", [TOPIC], [0])]

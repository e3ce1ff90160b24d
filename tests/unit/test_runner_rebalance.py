"""A batch the runner fetched while its partitions were being assigned is not applied: the
assignment sought them to the stored offsets, and the runner reads again from there. Before
this, the first batch of a new consumer could be applied and then read again from the
sought offset (test_projection_streams failed about one run in six under load on it).

A consumer of records in memory drives the runner's own loop. Its first fetch returns the
records while the assignment's callback runs, as aiokafka may have it: either all of the
callback within the fetch, or a callback begun before the fetch (it reads the stored
offsets meanwhile) that seeks after it. No I/O."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition

from shared.projection import _SeekToStoredOffsets
from tests.unit.test_dead_letters import (
    TOPIC,
    Defective,
    FakeConnection,
    envelope,
    record,
    runner,
    wire,
)

TP = TopicPartition(TOPIC, 0)


class SlowToReadOffsets(FakeConnection):
    """The stored offsets are read once `answer` is set (none stored); `asked` says the
    callback is reading them."""

    def __init__(self) -> None:
        super().__init__()
        self.asked, self.answer = asyncio.Event(), asyncio.Event()
        self.assigned: asyncio.Task[None] | None = None  # the callback, once begun

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.asked.set()
        await self.answer.wait()
        return []


class AssignedWhileFetching:
    """Four records on one partition. The first fetch returns them from the beginning, with
    the assignment's callback run within it (`within`) or let go on to seek after it; each
    later fetch returns what lies at the position, until `fetches` have been made."""

    def __init__(self, conn: SlowToReadOffsets, stop: asyncio.Event, within: bool) -> None:
        self.records = [record(i, wire(envelope(f"C-{i}"))) for i in range(4)]
        self.conn, self.stop, self.within = conn, stop, within
        self.fetches = 3
        self.position = 0
        self.seeks: list[int] = []

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> Any:
        self.fetches -= 1
        if self.fetches == 0:
            self.stop.set()
        first = self.fetches == 2
        if first:
            self.conn.answer.set()  # the callback may read the stored offsets, and seek
            if self.within:
                assert self.conn.assigned is not None
                await self.conn.assigned
        elif timeout_ms != 500:  # filling a batch: nothing more
            return {}
        fetched = self.records[self.position :]
        self.position = len(self.records)
        return {TP: fetched} if fetched else {}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append(offset)
        self.position = offset

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 0)

    def highwater(self, tp: TopicPartition) -> int:
        return len(self.records)

    async def commit(self, offsets: Any = None) -> None:
        return None


@pytest.mark.parametrize("within", [True, False], ids=["within the fetch", "seeking after it"])
async def test_a_batch_fetched_while_assigned_is_read_again_from_the_sought_offset(
    within: bool,
) -> None:
    conn, projection, stop = SlowToReadOffsets(), Defective(set()), asyncio.Event()
    made = runner(conn, projection)
    consumer = AssignedWhileFetching(conn, stop, within)
    made._consumer = consumer
    # The assignment begins: its callback takes the runner's lock and reads the offsets.
    assigning = _SeekToStoredOffsets(made).on_partitions_assigned([TP])
    conn.assigned = asyncio.create_task(assigning)
    await asyncio.wait_for(conn.asked.wait(), 10)
    await asyncio.wait_for(made._consume(consumer, stop), 10)
    await conn.assigned
    # Sought by the assignment (to the beginning), and again by the runner to read from there.
    assert consumer.seeks == [0, 0]
    # Each record applied once: not the batch fetched across the seek and then its re-read.
    assert projection.written == ["C-0", "C-1", "C-2", "C-3"]

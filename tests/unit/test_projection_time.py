"""Where a projection runner's time goes, as it counts it (csp_projection_seconds_total): each
read model's apply and flush, and the runner's decoding and transactions. On a clock the test
moves, so the seconds are exact. No I/O."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import TopicPartition

from contracts.topics import domain_events
from shared import projection as runner_module
from shared.envelope import DomainEvent, Envelope
from shared.projection import RUNNER, spent_by
from tests.unit.test_dead_letters import (
    TOPIC,
    FakeConnection,
    FakePool,
    envelope,
    record,
    wire,
)


class Clock:
    """perf_counter, monotonic and time as the runner reads them: moved only by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now


class Slow:
    """A read model whose apply takes `apply_s` an event and whose flush takes `flush_s`."""

    def __init__(self, name: str, clock: Clock, apply_s: float, flush_s: float) -> None:
        self.name, self.clock, self.apply_s, self.flush_s = name, clock, apply_s, flush_s

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        self.clock.now += self.apply_s

    async def flush(self, conn: asyncpg.Connection) -> None:
        self.clock.now += self.flush_s


spent = spent_by


async def test_each_read_models_apply_and_flush_are_counted_apart_inside_the_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(runner_module, "time", clock)
    boards, queue = Slow("boards", clock, 0.25, 1.0), Slow("queue", clock, 0.5, 2.0)
    conn = FakeConnection()
    runner = runner_module.ProjectionRunner(
        FakePool(conn),
        domain_events(),
        [boards, queue],
        [TOPIC],
        kafka_options={},
        consumer_name="boards.timed",
        dead_letters=None,
    )
    records = [record(i, wire(envelope(f"C-{i}"))) for i in range(4)]

    await runner._process({TopicPartition(TOPIC, 0): records})

    got = spent("boards.timed")
    assert got[("boards", "apply")] == pytest.approx(4 * 0.25)
    assert got[("queue", "apply")] == pytest.approx(4 * 0.5)
    assert got[("boards", "flush")] == pytest.approx(1.0)
    assert got[("queue", "flush")] == pytest.approx(2.0)
    # The transaction holds the applies and flushes (the fake database takes no time).
    assert got[(RUNNER, "transaction")] == pytest.approx(1.0 + 2.0 + 3.0)
    assert got[(RUNNER, "decode")] == 0.0  # the clock did not move while decoding

    # A second batch adds to the counts.
    conn.stored = 4
    await runner._process({TopicPartition(TOPIC, 0): [record(4, wire(envelope("C-4")))]})
    assert spent("boards.timed")[("queue", "apply")] == pytest.approx(5 * 0.5)

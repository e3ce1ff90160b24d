"""The partner feed's producer, started with the first batch to send: one that fails to start
(the broker down) is stopped before the batch is tried again, so its client and connections
are not left behind, one a try, for as long as the broker stays down. And no share is sent
that its audit does not hold. No I/O."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError

from services.partner_feeds import feed
from shared.eventstore import make_envelopes
from shared.settings import Settings
from tests.publisher import CTX
from tests.unit.test_sharing import plan_started


class Unreachable:
    """A producer whose broker does not answer."""

    made: list[Unreachable] = []

    def __init__(self, settings: Any) -> None:
        self.stopped = False
        Unreachable.made.append(self)

    async def start(self) -> None:
        raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9)]")

    async def stop(self) -> None:
        self.stopped = True


async def test_a_producer_that_fails_to_start_is_stopped_and_made_anew(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feed, "new_producer", Unreachable)
    Unreachable.made.clear()
    settings = Settings(service="partner_feeds", partner_pseudonym_key="unit-test-key")
    partner_feed = feed.PartnerFeed(settings)
    for _ in range(3):  # a batch, tried again while the broker is down
        with pytest.raises(KafkaConnectionError):
            await partner_feed._started_producer()
    assert [p.stopped for p in Unreachable.made] == [True, True, True]


class Sending:
    """A producer that records what it was given to send."""

    def __init__(self, settings: Any) -> None:
        self.sent: list[str] = []

    async def start(self) -> None:
        pass

    async def send(self, topic: str, **_: Any) -> Any:
        self.sent.append(topic)

        async def acknowledged() -> None:
            pass

        return acknowledged()


class RefusingAudit:
    """A connection whose database refuses the share audit's rows."""

    def __init__(self) -> None:
        self.executed: list[str] = []

    async def executemany(self, sql: str, rows: Any) -> None:
        raise asyncpg.exceptions.CheckViolationError("shares_purpose_check")

    async def execute(self, sql: str, *args: Any) -> None:
        self.executed.append(sql)


async def test_a_share_the_audit_refuses_is_never_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit rows are written before the sends, in the runner's transaction: a row the
    database refuses fails the batch with nothing sent to any agency (before, the shares had
    gone out by then, with no audit of them)."""
    monkeypatch.setattr(feed, "new_producer", Sending)
    settings = Settings(service="partner_feeds", partner_pseudonym_key="unit-test-key")
    partner_feed = feed.PartnerFeed(settings)
    event = plan_started()
    [made] = make_envelopes("C-000123", 0, [event], CTX)
    conn: Any = RefusingAudit()
    await partner_feed.apply(conn, made, event)
    with pytest.raises(asyncpg.exceptions.CheckViolationError):
        await partner_feed.flush(conn)
    producer = partner_feed._producer
    assert isinstance(producer, Sending) and producer.sent == []

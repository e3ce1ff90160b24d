"""The partner feed's producer, started with the first batch to send: one that fails to start
(the broker down) is stopped before the batch is tried again, so its client and connections
are not left behind, one a try, for as long as the broker stays down. No I/O."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from services.partner_feeds import feed
from shared.settings import Settings


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

"""A service's subscriptions let Kafka gather a fetch for `subscription_fetch_wait_ms` (with
a byte floor a backlog fills at once); the boards' runners, live and rebuilding, keep Kafka's
answer-at-once, as does every runner at 0. No I/O: the runners are made, not run."""

from __future__ import annotations

from typing import Any

import pytest

from services.education.__main__ import subscriptions as education_subscriptions
from services.escalations.policies import subscriptions as escalation_subscriptions
from services.projections.registry import build_runner
from shared.projection import FETCH_GATHER_BYTES, ProjectionRunner
from shared.settings import Settings
from shared.worker import _runner

GATHERING = {"fetch_min_bytes", "fetch_max_wait_ms"}
POOL: Any = None  # made, not run: no connection is asked for


def subscribers(settings: Settings) -> list[ProjectionRunner]:
    """Runners of a service's subscriptions: policies, and copies of the children and the
    reference lists."""
    return [
        _runner(settings, POOL, POOL, subscription, None)
        for subscription in [
            *escalation_subscriptions(settings),
            *education_subscriptions(settings),
        ]
    ]


def boards(settings: Settings) -> list[ProjectionRunner]:
    live = build_runner(settings, POOL, "boards_x", None)
    rebuild = build_runner(settings, POOL, "boards_y", None, fill_wait_ms=100, rebuilding=True)
    return [live, rebuild]


@pytest.mark.parametrize("wait_ms", [1, 50, 500])
def test_a_services_subscriptions_gather_for_the_setting(wait_ms: int) -> None:
    for runner in subscribers(Settings(subscription_fetch_wait_ms=wait_ms)):
        options = runner.consumer_options
        assert options["fetch_max_wait_ms"] == wait_ms, runner.consumer_name
        assert options["fetch_min_bytes"] == FETCH_GATHER_BYTES
        assert options["max_poll_records"] == runner._batch_size


def test_the_boards_and_a_wait_of_0_are_answered_at_once() -> None:
    settings = Settings(subscription_fetch_wait_ms=50)
    for runner in [*boards(settings), *subscribers(Settings(subscription_fetch_wait_ms=0))]:
        assert not GATHERING & runner.consumer_options.keys(), runner.consumer_name
        assert runner.consumer_options["max_poll_records"] == runner._batch_size


def test_the_platform_gathers_by_default_and_refuses_a_wait_kafka_would_not_keep() -> None:
    assert Settings().subscription_fetch_wait_ms == 50
    with pytest.raises(ValueError, match="subscription_fetch_wait_ms"):
        Settings(subscription_fetch_wait_ms=501)

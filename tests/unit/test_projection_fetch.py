"""A service's subscriptions let Kafka gather a fetch for `subscription_fetch_wait_ms` (with
a byte floor a backlog fills at once) while records come, and wait for the next record once
none do; the boards' runners, live and rebuilding, keep Kafka's answer-at-once, as does every
runner at 0. No I/O: the runners are made, not run, and the fetcher is a stand-in; its fields
are held to aiokafka's source here and to a real fetcher in
tests/integration/test_projection_streams.py."""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.consumer.fetcher import Fetcher
from structlog.testing import capture_logs

from services.education.__main__ import subscriptions as education_subscriptions
from services.escalations.policies import subscriptions as escalation_subscriptions
from services.projections.registry import build_runner
from shared.projection import FETCH_GATHER_BYTES, FETCH_IDLE, FetchShape, ProjectionRunner
from shared.settings import Settings
from shared.worker import _runner

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
        assert runner.fetch_wait_ms == wait_ms, runner.consumer_name
        assert _made_with(runner) == FETCH_IDLE  # gathering once records come
        assert runner.consumer_options["max_poll_records"] == runner._batch_size


def test_the_boards_and_a_wait_of_0_are_answered_at_once() -> None:
    settings = Settings(subscription_fetch_wait_ms=50)
    for runner in [*boards(settings), *subscribers(Settings(subscription_fetch_wait_ms=0))]:
        assert runner.fetch_wait_ms == 0, runner.consumer_name
        assert _made_with(runner) == FETCH_IDLE
        assert runner.consumer_options["max_poll_records"] == runner._batch_size


def test_a_fetch_gathers_while_records_come_and_waits_once_none_do() -> None:
    consumer: Any = SimpleNamespace(
        _fetcher=SimpleNamespace(_fetch_min_bytes=1, _fetch_max_wait_ms=500)
    )
    shape = FetchShape(50)
    seen = []
    for records in [0, 3, 1000, 0, 0, 7]:
        shape.follow(consumer, records)
        seen.append((consumer._fetcher._fetch_min_bytes, consumer._fetcher._fetch_max_wait_ms))
    gather = (FETCH_GATHER_BYTES, 50)
    assert seen == [FETCH_IDLE, gather, gather, FETCH_IDLE, FETCH_IDLE, gather]


def test_a_fetcher_without_both_fields_is_left_as_made_and_said_once() -> None:
    consumer: Any = SimpleNamespace(_fetcher=SimpleNamespace(_fetch_max_wait_ms=500))
    shape = FetchShape(50)
    with capture_logs() as logs:
        for records in [10, 0, 10, 0]:
            shape.follow(consumer, records)
    assert vars(consumer._fetcher) == {"_fetch_max_wait_ms": 500}
    assert [e["event"] for e in logs] == [
        "fetches cannot gather: aiokafka's fetcher has no fields for them"
    ]


def test_aiokafkas_fetch_requests_are_built_from_the_fields_set() -> None:
    """The two fields are aiokafka's own (a private API, pinned in pyproject.toml): each fetch
    request it sends is made from them, as the fetcher's state when the request is built."""
    built = inspect.getsource(Fetcher._get_actions_per_node)
    request = built[built.index("FetchRequest(") :]
    assert request.index("self._fetch_max_wait_ms") < request.index("self._fetch_min_bytes")
    made = inspect.getsource(Fetcher.__init__)
    for field in FetchShape.FIELDS:
        assert f"self.{field} =" in made, field


def _made_with(runner: ProjectionRunner) -> tuple[object, object]:
    options = runner.consumer_options
    return options["fetch_min_bytes"], options["fetch_max_wait_ms"]


def test_the_platform_gathers_by_default_and_refuses_a_wait_kafka_would_not_keep() -> None:
    assert Settings().subscription_fetch_wait_ms == 50
    with pytest.raises(ValueError, match="subscription_fetch_wait_ms"):
        Settings(subscription_fetch_wait_ms=501)

"""Through the public entrypoints: HTTP command, event store, relay, Kafka, projection, HTTP."""

from __future__ import annotations

import functools
import uuid

import httpx
import pytest

from contracts.topics import domain_topic_names
from tests.e2e.conftest import Platform
from tests.infrastructure import (
    MANAGER,
    OPERATIONS,
    auth,
    health_check,
    poll_until,
    reports_ok,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
OWN_PLATFORM = True  # it counts a locality's open plans, and the relays' events published

SOCIAL_WORKER = auth("practitioner", user="sw-17")


def child_id() -> str:
    return f"C-{uuid.uuid4().hex[:8]}"


def register(
    platform: Platform, child: str, locality: str = "Exeter", **headers: str
) -> httpx.Response:
    return MANAGER.post(
        f"{platform.case_events.url}/children",
        json={"child_id": child, "date_of_birth": "2014-09-30", "locality": locality},
        headers={**SOCIAL_WORKER, **headers},
    )


def start_plan(platform: Platform, child: str, plan: str = "P1", **headers: str) -> httpx.Response:
    return MANAGER.post(
        f"{platform.case_events.url}/children/{child}/child-protection-plans",
        json={"plan_id": plan, "category": "NEG", "start_date": "2024-02-12"},
        headers={**SOCIAL_WORKER, **headers},
    )


def open_plans(platform: Platform, locality: str | None = None) -> dict:
    params = {"locality": locality} if locality else {}
    response = MANAGER.get(
        f"{platform.projections.url}/boards/child-protection/open-plans", params=params
    )
    assert response.status_code == 200
    return response.json()


def test_a_plan_started_over_http_appears_on_the_board(platform: Platform) -> None:
    child = child_id()
    assert register(platform, child, locality="Mid Devon").status_code == 201
    started = start_plan(platform, child)
    assert started.status_code == 201
    assert started.headers["ETag"] == '"2"'

    board = poll_until(
        lambda: (b := open_plans(platform, "Mid Devon"))["count"] == 1 and b,
        timeout_s=60,
        what="the plan on the board",
    )
    assert board["plans"] == [
        {
            "child_id": child,
            "plan_id": "P1",
            "category": "NEG",
            "start_date": "2024-02-12",
            "previous_plans": 0,
            "locality": "Mid Devon",
        }
    ]


def test_a_retried_command_is_recorded_once(platform: Platform) -> None:
    child = child_id()
    key = {"Idempotency-Key": f"liquidlogic-{uuid.uuid4()}"}
    first, retry = register(platform, child, **key), register(platform, child, **key)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["duplicate"] is True
    assert retry.json()["stream_version"] == first.json()["stream_version"] == 1

    plan_key = {"Idempotency-Key": f"liquidlogic-{uuid.uuid4()}"}
    assert start_plan(platform, child, **plan_key).status_code == 201
    assert start_plan(platform, child, **plan_key).status_code == 200
    state = MANAGER.get(f"{platform.case_events.url}/children/{child}").json()
    assert state["stream_version"] == 2


def test_bad_input_is_refused_with_the_field_and_the_reason(platform: Platform) -> None:
    child = child_id()
    assert register(platform, child).status_code == 201

    bad_code = MANAGER.post(
        f"{platform.case_events.url}/children/{child}/child-protection-plans",
        json={"plan_id": "P1", "category": "XYZ", "start_date": "2024-02-30"},
        headers=SOCIAL_WORKER,
    )
    assert bad_code.status_code == 422
    assert {tuple(e["loc"]) for e in bad_code.json()["detail"]} == {
        ("body", "category"),
        ("body", "start_date"),
    }

    before_birth = MANAGER.post(
        f"{platform.case_events.url}/children/{child}/child-protection-plans",
        json={"plan_id": "P1", "category": "NEG", "start_date": "2010-01-01"},
        headers=SOCIAL_WORKER,
    )
    assert before_birth.status_code == 422
    assert before_birth.json()["detail"][0]["loc"] == ["body", "start_date"]

    malformed = MANAGER.post(
        f"{platform.case_events.url}/children",
        content=b"{not json",
        headers={**SOCIAL_WORKER, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 422

    assert start_plan(platform, "C-unknown-1").status_code == 404
    assert register(platform, child).status_code == 409  # already registered
    stale = start_plan(platform, child, **{"If-Match": '"0"'})
    assert stale.status_code == 409
    assert stale.json()["actual_version"] == 1

    # None of the refused commands recorded anything.
    assert MANAGER.get(f"{platform.case_events.url}/children/{child}").json()["stream_version"] == 1


def test_every_process_reports_health_and_metrics(platform: Platform) -> None:
    for process in platform.processes.values():
        poll_until(
            functools.partial(reports_ok, process.url),
            30,
            0.2,
            f"{process.module} {process.role} to report ok",
        )
        assert OPERATIONS.get(f"{process.url}/metrics").status_code == 200
    worker = platform.projections_worker.url
    lag = poll_until(
        lambda: health_check(worker, "boards").get("lag"),
        30,
        0.2,
        "the projections' lag (none while its consumer starts)",
    )
    assert set(lag) == {f"{platform.namespace}{t}" for t in domain_topic_names()}
    assert all(set(v) == {"offset_lag", "time_lag_seconds", "measured"} for v in lag.values())
    runner_metrics = OPERATIONS.get(f"{platform.projections_worker.url}/metrics").text
    assert "csp_projection_offset_lag" in runner_metrics
    assert "csp_projection_time_lag_seconds" in runner_metrics
    assert (
        "csp_relay_events_published_total"
        in OPERATIONS.get(f"{platform.case_events_worker.url}/metrics").text
    )

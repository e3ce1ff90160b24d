"""A client for scripted journeys: posts commands as a practitioner would, fails loudly."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx

from contracts.topics import DOMAIN_TOPICS
from tests.e2e.conftest import Platform
from tests.infrastructure import (
    HTTP,
    MANAGER,
    auth,
    eventually,
    health_check,
    platform_today,
    poll_until,
)

HEADERS = auth("practitioner", user="sw-17")


class Practitioner:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def post(
        self, service: str, path: str, body: dict[str, Any], expect: int = 201, **headers: str
    ) -> httpx.Response:
        url = f"{getattr(self.platform, service).url}{path}"
        response = HTTP.post(url, json=body, headers={**HEADERS, **headers}, timeout=60)
        assert response.status_code == expect, f"{path}: {response.status_code} {response.text}"
        return response

    def child(
        self, service: str, child_id: str, path: str, expect: int = 201, **body: Any
    ) -> httpx.Response:
        return self.post(service, f"/children/{child_id}{path}", body, expect)

    def register(self, dob: str, locality: str = "Exeter") -> str:
        child_id = f"C-{uuid.uuid4().hex[:10]}"
        self.post(
            "case_events",
            "/children",
            {"child_id": child_id, "date_of_birth": dob, "locality": locality},
        )
        return child_id

    def wait_known(
        self,
        child_id: str,
        services: tuple[str, ...] = ("accommodation", "education", "escalations"),
    ) -> None:
        """The other services learn of a child from case-events: wait until each has."""
        for service in services:
            url = f"{getattr(self.platform, service).url}/children/{child_id}"
            poll_until(
                lambda u=url: MANAGER.get(u, timeout=5).status_code == 200,
                30,
                0.05,
                f"{service} to know {child_id}",
            )


async def demo_county(platform: Platform, seed: int, scale: float) -> Platform:
    """A demo county (deploy/demo) loaded through the platform's public APIs, as a practitioner
    (the reference data as a manager), once every topic is consumed by the projections."""
    from deploy.demo.county import PORTS, load

    urls = {s: getattr(platform, s).url for s in PORTS}  # every service the county writes to
    progress = platform.projections.env.get("CSP_DEMO_PROGRESS_FILE")
    await load(
        0,
        seed=seed,
        scale=scale,
        end=platform_today(),
        auth=auth("practitioner"),
        urls=urls,
        manager=auth("manager"),  # the county's teams and social workers
        progress_file=Path(progress) if progress else None,  # as make run's is shown
    )
    await consumed(platform)
    return platform


async def read_everything(worker: str, consumers: list[str], timeout_s: float, what: str) -> None:
    """Wait until a worker's `consumers` (their /health checks) have read everything there
    is. The offset lag is measured after each batch: zero for all twice, a fetch apart, and
    no batch being applied then (its time lag is the age of its oldest message till done)."""
    caught_up = 0

    async def settled() -> bool:
        nonlocal caught_up
        lags = [(await asyncio.to_thread(health_check, worker, n)).get("lag") for n in consumers]
        done = all(
            lag is not None
            and all(v["offset_lag"] == 0 and v["time_lag_seconds"] == 0 for v in lag.values())
            for lag in lags
        )
        caught_up = caught_up + 1 if done else 0
        return caught_up >= 2

    await eventually(settled, timeout_s, 1.5, what=what)


async def consumed(platform: Platform) -> None:
    """Wait until every event each service stored is on its topic and the projections have
    read everything there is."""

    async def published() -> bool:  # every event each service stored is on its topic
        for service in (t.owner for t in DOMAIN_TOPICS):
            worker = getattr(platform, f"{service}_worker").url
            relay = await asyncio.to_thread(health_check, worker, "relay")
            if relay.get("events_behind", 1):
                return False
        return True

    await eventually(published, 180, 0.5, what="the relays to publish the county")
    await read_everything(
        platform.projections_worker.url,
        ["boards"],
        180,
        "the projections to catch up with the county",
    )

"""A client for scripted journeys: posts commands as a practitioner would, fails loudly."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from contracts.topics import DOMAIN_TOPICS
from tests.e2e.conftest import Platform
from tests.infrastructure import (
    HTTP,
    MANAGER,
    auth,
    platform_today,
    poll_until,
    settled,
)

HEADERS = auth("practitioner", user="sw-17")


class Practitioner:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def post(
        self,
        service: str,
        path: str,
        body: dict[str, Any],
        expect: int = 201,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url = f"{getattr(self.platform, service).url}{path}"
        response = HTTP.post(url, json=body, headers={**HEADERS, **(headers or {})}, timeout=60)
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

            def known(u: str = url) -> bool:
                return MANAGER.get(u).status_code == 200

            poll_until(
                known,
                30,
                0.05,
                f"{service} to know {child_id}",
            )

    def wait_projected(self, child_id: str) -> None:
        """The projections have applied the child's registration: its chronology is there
        (a 404 until then). The boards' and the attention queue's rows of the child are
        written in the same transaction, so a fact of the child is then shown as soon as
        it is applied, not held back waiting for the child's registration."""
        url = f"{self.platform.projections.url}/children/{child_id}/chronology"
        poll_until(
            lambda: MANAGER.get(url).status_code == 200,
            60,
            0.1,  # each read is audited: not a record every 50 ms
            f"the projections to know {child_id}",
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


async def consumed(platform: Platform) -> None:
    """Wait until every event each service stored is on its topic (the escalations that
    attendance raises too) and the projections have read everything there is."""
    await settled(
        [getattr(platform, f"{t.owner}_worker").url for t in DOMAIN_TOPICS],
        platform.projections_worker.url,
        180,
        "the county",
        {platform.escalations_worker.url: ["attendance", "drift-watch"]},
    )

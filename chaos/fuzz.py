"""Scenario 9, hostile HTTP input: every command endpoint of the five domain services fuzzed
from its own OpenAPI document (schemathesis, on hypothesis), valid and invalid requests mixed.

Invariants: no 5xx; a rejected request (4xx) records nothing (the event store and the
idempotency table are unchanged by it); an oversized body is a 413.
"""

from __future__ import annotations

import asyncio
import random
import string
from typing import Any

import asyncpg
import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from chaos.cluster import ChaosCluster
from chaos.invariants import Figures
from chaos.scenarios import Size
from tests import reference_data
from tests.infrastructure import HTTP, ServiceProcess, auth, new_namespace

SERVICES = ("case_events", "accommodation", "education", "escalations", "quality")

HEADERS = auth("manager", user="fuzzer")


class _Store:
    """Counts of the event store's rows, read between two requests (requests run one by one)."""

    def __init__(self, dsn: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._conn: asyncpg.Connection = self._loop.run_until_complete(asyncpg.connect(dsn))

    def rows(self) -> tuple[int, int]:
        row = self._loop.run_until_complete(
            self._conn.fetchrow(
                "SELECT (SELECT count(*) FROM events) AS e, (SELECT count(*) FROM commands) AS c"
            )
        )
        return int(row["e"]), int(row["c"])

    def close(self) -> None:
        self._loop.run_until_complete(self._conn.close())
        self._loop.close()


def fuzz_service(url: str, dsn: str, examples: int, seed: int, known_child: str) -> dict[str, Any]:
    """Fuzz every POST operation of one service; return what was seen."""
    # The service makes its OpenAPI document on the first request for it: seconds, under load.
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", headers=HEADERS, timeout=60)
    store = _Store(dsn)
    seen: dict[str, Any] = {
        "requests": 0,
        "accepted": 0,
        "rejected": 0,
        "server_errors": [],
        "recorded_when_rejected": [],
    }
    try:
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]
            if operation.method.upper() != "POST":
                continue
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = operation.as_strategy(generation_mode=mode)

                @settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=strategy)
                def one(case: Any) -> None:
                    # Half the time aim at a child that exists, so the domain rules run too.
                    if (
                        case.path_parameters
                        and "child_id" in case.path_parameters
                        and random.Random(str(case.body)).random() < 0.5
                    ):
                        case.path_parameters["child_id"] = known_child
                    before = store.rows()
                    response = case.call(
                        base_url=url, headers={**HEADERS, **(case.headers or {})}, timeout=30
                    )
                    seen["requests"] += 1
                    if response.status_code >= 500:
                        seen["server_errors"].append(
                            f"{case.method} {case.formatted_path}: {response.status_code}"
                        )
                    elif response.status_code >= 400:
                        seen["rejected"] += 1
                        if store.rows() != before:
                            seen["recorded_when_rejected"].append(
                                f"{case.method} {case.formatted_path}: {response.status_code}"
                            )
                    else:
                        seen["accepted"] += 1

                one()
    finally:
        store.close()
    return seen


def unhappy_paths(url: str, dsn: str, known_child: str) -> dict[str, Any]:
    """Every command endpoint on purpose, not by chance: its documented example body sent to
    a stream that does not exist, and to an id that holds a record of another kind (the known
    child's, e.g. as an escalation id). Each must be refused with a 4xx that records nothing."""
    document = HTTP.get(f"{url}/openapi.json", headers=HEADERS).json()
    schemas = document["components"]["schemas"]
    store = _Store(dsn)
    seen: dict[str, Any] = {
        "requests": 0,
        "accepted": 0,
        "rejected": 0,
        "server_errors": [],
        "recorded_when_rejected": [],
    }
    try:
        for template, operations in document["paths"].items():
            post = operations.get("post")
            if post is None or "{" not in template:
                continue
            content = post.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = content.get("schema", {}).get("$ref", "")
            body = (schemas.get(ref.rsplit("/", 1)[-1], {}).get("examples") or [{}])[0]
            for stream in ("FZ-never-recorded", known_child):
                if stream == known_child and "{child_id}" in template:
                    continue  # the known child's own record: the generated pass covers it
                path = template.split("{")[0] + stream + template.split("}", 1)[1]
                before = store.rows()
                response = HTTP.post(f"{url}{path}", json=body, headers=HEADERS, timeout=30)
                seen["requests"] += 1
                where = f"POST {path} (unhappy path): {response.status_code}"
                if response.status_code >= 500:
                    seen["server_errors"].append(where)
                elif response.status_code >= 400:
                    seen["rejected"] += 1
                    if store.rows() != before:
                        seen["recorded_when_rejected"].append(where)
                else:  # e.g. a family's first triage discussion starts its record
                    seen["accepted"] += 1
    finally:
        store.close()
    return seen


def oversized(url: str, limit: int) -> list[str]:
    """Bodies over the limit, declared and chunked, to a command endpoint: each must be 413.
    Not to a route declared bulk (`x-bulk-body`: the register feed), which is held to
    CSP_MAX_BULK_REQUEST_BYTES instead."""
    problems = []
    paths = HTTP.get(f"{url}/openapi.json", headers=HEADERS).json()["paths"]
    path = next(
        p for p, ops in paths.items() if "post" in ops and not ops["post"].get("x-bulk-body")
    ).replace("{child_id}", "FZ-known-1")
    big = (
        b'{"child_id": "'
        + "".join(random.choices(string.ascii_letters, k=limit + 10)).encode()
        + b'"}'
    )
    r = HTTP.post(
        f"{url}{path}", content=big, headers={**HEADERS, "Content-Type": "application/json"}
    )
    if r.status_code != 413:
        problems.append(f"declared length over the limit: {r.status_code}")

    def chunks() -> Any:
        for at in range(0, len(big), 64 * 1024):
            yield big[at : at + 64 * 1024]

    r = HTTP.post(
        f"{url}{path}", content=chunks(), headers={**HEADERS, "Content-Type": "application/json"}
    )
    if r.status_code != 413:
        problems.append(f"chunked body over the limit: {r.status_code}")
    return problems


async def fuzz_commands(cluster: ChaosCluster, size: Size, seed: int) -> Figures:
    infra = cluster.infrastructure()
    namespace = new_namespace()
    limit = 256 * 1024
    # The escalations worker's drift checks append alerts on a clock of their own (a fuzzed CP
    # plan can be drifting at once): at the default minute, one could land between a rejected
    # request and its count of the rows, and be taken for that request's record.
    env = infra.env(
        namespace,
        CSP_DEMO="off",
        CSP_MAX_REQUEST_BYTES=str(limit),
        CSP_RATE_LIMIT="100000/second",
        CSP_DRIFT_CHECK_INTERVAL_S="3600",
    )
    from chaos.scenarios import ROOT

    logs = ROOT / "test-artifacts" / "chaos" / f"fuzz-{namespace}"
    apis = {s: ServiceProcess(f"services.{s}", "api", env, logs) for s in SERVICES}
    worker = ServiceProcess("services.case_events", "worker", env, logs)
    processes = [
        *apis.values(),
        worker,
        *(ServiceProcess(f"services.{s}", "worker", env, logs) for s in SERVICES[1:]),
    ]
    totals: dict[str, Any] = {
        "requests": 0,
        "accepted": 0,
        "rejected": 0,
        "server_errors": [],
        "recorded_when_rejected": [],
    }
    try:
        for p in processes:
            p.start()
        for p in processes:
            await asyncio.to_thread(p.wait_healthy, 180)
        child = "FZ-known-1"
        await asyncio.to_thread(reference_data.seed, apis["case_events"].url)  # its locality
        async with httpx.AsyncClient(timeout=60) as client:
            r = await client.post(
                f"{apis['case_events'].url}/children",
                headers=HEADERS,
                json={"child_id": child, "date_of_birth": "2012-05-01", "locality": "Exeter"},
            )
            r.raise_for_status()
        for service, api in apis.items():
            dsn = infra.dsn(f"{namespace}{service}")
            # The unhappy paths after the generated requests: by then the known child has
            # records of its own (a rating...) under ids other kinds of stream could use.
            for seen in (
                await asyncio.to_thread(
                    fuzz_service, api.url, dsn, size.fuzz_examples, seed, child
                ),
                await asyncio.to_thread(unhappy_paths, api.url, dsn, child),
            ):
                for key in totals:
                    totals[key] += seen[key]
        too_large = [f"{s}: {p}" for s, api in apis.items() for p in oversized(api.url, limit)]
    finally:
        for p in processes:
            p.stop()
    failures = len(totals["server_errors"]) + len(totals["recorded_when_rejected"]) + len(too_large)
    figures = Figures(
        scenario="9 hostile HTTP input (fuzzed)",
        offered=totals["requests"],
        acknowledged=totals["accepted"],
        stored=0,
        published=0,
        applied=0,
        duplicates_published=0,
        duplicates_applied=0,
        lost=0,
        dead_lettered=0,
        violations=failures,
    )
    figures.notes.append(
        f"{totals['requests']} generated requests to every POST endpoint of the five services "
        f"({totals['accepted']} accepted, {totals['rejected']} rejected with 4xx); 5xx: "
        f"{len(totals['server_errors'])}; rejected yet recorded: "
        f"{len(totals['recorded_when_rejected'])}; oversized bodies not 413: {len(too_large)}"
    )
    figures.notes += totals["server_errors"][:5] + totals["recorded_when_rejected"][:5] + too_large
    return figures

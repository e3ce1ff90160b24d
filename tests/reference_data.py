"""The council's reference data the tests, the benchmarks and the fuzzed input name: a
platform refuses a command naming a locality, a school, a team or a social worker it has not
been given (shared/reference_data.py), so each one is seeded, through the case events API as
a manager would, before its first command.

`seed()` is idempotent (each item under an Idempotency-Key of its own; an item already
current is fine), so it may run again on a platform that has them; it can wait until
education's copy has the schools (`wait_known()`, or has one retired: `wait_retired()`; by its
database, with a deadline).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg
import httpx

from tests.infrastructure import auth

# Every locality a test or benchmark registers a child in (the demo county's five among
# them), every school it enrols one at, and teams and workers for allocations.
LOCALITIES = ("East", "Exeter", "Mid Devon", "Mid and West", "North", "South", "Westward")
SCHOOLS = {
    "113254": "Example Academy",
    "100001": "Example Primary School",
    "200002": "Example College",
}
# T-EX-CIN and T-NO-CP are the demo county's ids too (deploy/demo/council.py): loaded beside
# these, the county finds them current and adds its own workers to them.
TEAMS = {
    "T-EX-CIN": ("Exeter assessment and children in need", "Exeter"),
    "T-NO-CP": ("North child protection", "North"),
}
SOCIAL_WORKERS = {"SW-0001": "T-EX-CIN", "SW-0002": "T-EX-CIN", "SW-0003": "T-NO-CP"}

MANAGER = auth("manager", user="reference-data")


def items(
    localities: Iterable[str] = LOCALITIES,
    schools: Mapping[str, str] = SCHOOLS,
    teams: Mapping[str, tuple[str, str]] = TEAMS,
    workers: Mapping[str, str] = SOCIAL_WORKERS,
) -> list[tuple[str, dict[str, Any]]]:
    """(path under /reference, body) of each item, parents before the items that name them."""
    return [
        *(("localities", {"name": name}) for name in localities),
        *(("schools", {"urn": urn, "name": name}) for urn, name in schools.items()),
        *(
            ("teams", {"team_id": team, "name": name, "locality": locality})
            for team, (name, locality) in teams.items()
        ),
        *(("social-workers", {"worker_id": w, "team_id": t}) for w, t in workers.items()),
    ]


def seed(case_events_url: str, education_dsn: str | None = None, **only: Any) -> None:
    """Add each item (`only`: the `items()` arguments to add fewer, or others); with
    `education_dsn`, wait until education's copy has the schools. Blocking: from a coroutine,
    run it in a thread (asyncio.to_thread)."""
    with httpx.Client(base_url=case_events_url, headers=MANAGER, timeout=30) as client:
        for path, body in items(**only):
            key = f"test-reference/{path}/" + "/".join(str(v) for v in body.values())
            for _attempt in range(10):
                r = client.post(f"/reference/{path}", json=body, headers={"Idempotency-Key": key})
                # 409 with versions: another writer appended to the kind's list first; again.
                if not (conflicted := r.status_code == 409 and "expected_version" in r.json()):
                    break
            # 409 otherwise: current already (added by another key, e.g. the demo county's).
            assert not conflicted, f"{path} {body}: still a version conflict: {r.text}"
            assert r.status_code in (200, 201, 409), f"{path} {body}: {r.status_code} {r.text}"
    if education_dsn is not None:
        wait_known(education_dsn, "school", only.get("schools", SCHOOLS))


def wait_known(dsn: str, kind: str, wanted: Iterable[str], timeout_s: float = 60) -> None:
    """Wait until a service's copy of the reference data (its `reference_data` table, at
    `dsn`) has every one of `wanted` current: it learns them from the case-events topic."""
    _wait_for(dsn, kind, wanted, False, timeout_s)


def wait_retired(dsn: str, kind: str, wanted: Iterable[str], timeout_s: float = 60) -> None:
    """Wait until a service's copy has every one of `wanted` retired: until then a command
    naming one may still be taken, so a test of the refusal waits for this first."""
    _wait_for(dsn, kind, wanted, True, timeout_s)


def _wait_for(dsn: str, kind: str, wanted: Iterable[str], retired: bool, timeout_s: float) -> None:
    """Poll the copy, with a deadline, until every one of `wanted` is current (or retired)."""

    async def present() -> set[str]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT item FROM reference_data WHERE kind = $1 AND (retired_on IS NOT NULL) = $2",
                kind,
                retired,
            )
            return {r["item"] for r in rows}
        except asyncpg.UndefinedTableError:
            return set()  # the worker has not migrated its database yet
        finally:
            await conn.close()

    state = "retired" if retired else "current"
    deadline = time.monotonic() + timeout_s
    while missing := set(wanted) - asyncio.run(present()):
        if time.monotonic() > deadline:
            where = dsn.rsplit("/", 1)[-1]
            raise TimeoutError(
                f"{where} did not learn of {kind} {sorted(missing)} {state} in {timeout_s}s"
            )
        time.sleep(0.1)  # poll interval, bounded by the deadline

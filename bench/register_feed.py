"""How fast the education service records a register feed, beside a raw COPY baseline.

    make run                      # in one terminal
    make bench-register-feed      # in another (or: python -m bench.register_feed --help)

Registers children through case-events' public API, waits until education knows them, enrols
them at the school whose register is sent (a feed marks only that school's pupils), then
posts register feeds (all children, N school days, AM and PM) through the batch endpoint, and
copies rows of the same shape straight into a scratch table of the same database with
asyncpg's COPY. Prints marks per second for both and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx

from deploy.local.stack import LocalStack
from shared.settings import Settings

ACTOR = {"user_id": "bench", "agency": "council", "role": "practitioner"}  # of the COPY rows
CODES = ["/", "\\", "/", "\\", "/", "N", "I", "/", "L", "/"]
SCHOOL, FIRST_DAY = "113254", date(2024, 9, 2)


def school_days(start: date, count: int) -> list[date]:
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


async def register(client: httpx.AsyncClient, case_events: str, n: int) -> list[str]:
    """`n` children registered (the client carries the bench user's token)."""
    ids = [f"B-{uuid.uuid4().hex[:12]}" for _ in range(n)]
    semaphore = asyncio.Semaphore(16)

    async def one(child_id: str) -> None:
        async with semaphore:
            r = await client.post(
                f"{case_events}/children",
                json={"child_id": child_id, "date_of_birth": "2012-01-01", "locality": "Exeter"},
            )
            r.raise_for_status()

    await asyncio.gather(*(one(c) for c in ids))
    return ids


async def enrol(client: httpx.AsyncClient, education: str, ids: list[str]) -> None:
    """Put the children on the school's roll from the first day marked (not timed)."""
    semaphore = asyncio.Semaphore(16)

    async def one(child_id: str) -> None:
        async with semaphore:
            r = await client.post(
                f"{education}/children/{child_id}/enrolments",
                json={
                    "enrolment_id": "EN-1",
                    "school_urn": SCHOOL,
                    "school_in_council_area": True,
                    "start_date": FIRST_DAY.isoformat(),
                    "year_group": 7,
                },
            )
            r.raise_for_status()

    await asyncio.gather(*(one(c) for c in ids))


async def measure(
    case_events: str,
    education: str,
    dsn: str,
    children: int,
    days: int,
    marks_per_call: int,
    auth: dict[str, str],
    settled: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, float]:
    """Marks per second through the batch endpoint and rows per second by raw COPY, as the
    user `auth` (an Authorization header) names. `settled` waits, before each clock starts,
    until the platform has done the work before it (the children's registrations and
    enrolments; the feed's events relayed), so neither figure is timed beside the other's
    tail (the harness knows its workers; a running stack's are not this script's to find)."""
    async with httpx.AsyncClient(timeout=300, headers=auth) as client:
        ids = await register(client, case_events, children)
        # Every child, not the last registered: they were registered concurrently, and they
        # reach education through different partitions of case-events.
        known = await asyncpg.connect(dsn)
        try:
            deadline = time.monotonic() + 120
            while await known.fetchval(
                "SELECT count(*) FROM known_children WHERE child_id = ANY($1::text[])", ids
            ) < len(ids):
                if time.monotonic() > deadline:
                    raise SystemExit("education did not learn the children within 120 s")
                await asyncio.sleep(0.2)  # poll interval, bounded by the deadline
        finally:
            await known.close()
        await enrol(client, education, ids)
        marks = [
            {
                "child_id": c,
                "date": d.isoformat(),
                "session": s,
                "code": CODES[(i + j) % len(CODES)],
            }
            for j, d in enumerate(school_days(FIRST_DAY, days))
            for i, c in enumerate(ids)
            for s in ("AM", "PM")
        ]
        # Each call's body made before the clock starts, as the baseline's rows are: a
        # school's system sends a file it has written, and its JSON is not the platform's work.
        calls = [
            json.dumps({"school_urn": SCHOOL, "marks": marks[i : i + marks_per_call]}).encode()
            for i in range(0, len(marks), marks_per_call)
        ]
        if settled is not None:
            await settled()
        started = time.perf_counter()
        for body in calls:
            r = await client.post(
                f"{education}/attendance/register-feed",
                headers={"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"},
                content=body,
            )
            if r.status_code != 201:
                raise SystemExit(f"register feed refused: {r.status_code} {r.text[:500]}")
        endpoint_s = time.perf_counter() - started
    if settled is not None:  # the baseline is not timed beside the feed's events being relayed
        await settled()
    conn = await asyncpg.connect(dsn)
    # A regular (WAL-logged) table like the event store's: a TEMP table skips the WAL and would
    # flatter the baseline.
    table = f"bench_marks_{uuid.uuid4().hex[:8]}"
    try:
        await conn.execute(f"CREATE TABLE {table} (LIKE events INCLUDING ALL)")
        now = datetime.now(UTC)
        rows = [
            (
                uuid.uuid4(),
                f"{m['child_id']}-{i}",
                1,
                "AttendanceRecorded",
                1,
                now,
                now,
                json.dumps(ACTOR),
                uuid.uuid4(),
                None,
                json.dumps(m),
            )
            for i, m in enumerate(marks)
        ]
        columns = [
            "event_id",
            "stream_id",
            "stream_version",
            "event_type",
            "schema_version",
            "occurred_at",
            "recorded_at",
            "actor",
            "correlation_id",
            "causation_id",
            "payload",
        ]
        started = time.perf_counter()
        await conn.copy_records_to_table(table, records=rows, columns=columns)
        copy_s = time.perf_counter() - started
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()
    return {
        "marks": len(marks),
        "calls": len(calls),
        "endpoint": len(marks) / endpoint_s,
        "copy": len(marks) / copy_s,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.register_feed")
    parser.add_argument(
        "--base-port", type=int, default=int(os.environ.get("CSP_HTTP_BASE_PORT", "8000"))
    )
    parser.add_argument("--children", type=int, default=2000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--marks-per-call", type=int, default=10_000)
    args = parser.parse_args()
    r = await measure(
        f"http://127.0.0.1:{args.base_port + 1}",
        f"http://127.0.0.1:{args.base_port + 3}",
        Settings(service="education").dsn(),
        args.children,
        args.days,
        args.marks_per_call,
        LocalStack().issuer.headers("bench", "council", "practitioner"),
    )
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
    print(f"register feed: {r['marks']:.0f} marks in {r['calls']:.0f} calls")
    print(f"  batch endpoint: {r['endpoint']:10,.0f} marks/s")
    print(f"  raw COPY:       {r['copy']:10,.0f} rows/s (one row per mark)")
    print(f"  ratio:          {r['endpoint'] / r['copy']:.0%}")


if __name__ == "__main__":
    asyncio.run(main())

"""`make bench`: the platform measured beside the physical limit of its own parts.

    python -m bench.harness            # full sizes; writes bench/results/latest.json and
                                       # the table in docs/benchmarks.md
    python -m bench.harness --smoke    # tiny sizes, no figures written (run by make test)
    python -m bench.harness --only returns   # the statutory returns' figures only (a few
                                       # minutes): their section of docs/benchmarks.md and
                                       # bench/results/returns.json (bench/returns.py)
    python -m bench.harness --only returns-import   # the import of past returns' figure
                                       # only, merged into that section and returns.json

Each figure is measured beside its baseline in the same run, on the same PostgreSQL and the
same Kafka broker (started like the tests start them: tests/infrastructure.py), so the ratio
holds on a noisy machine. Sizes are fixed and the workload seeded.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import NewTopic

from bench import dashboard, decode, register_feed
from bench import returns as statutory_returns
from bench.cpu import ITS_CHILDREN, THE_LOAD, CpuShares
from bench.cpu import table as cpu_table
from bench.processes import start_services
from contracts.topics import domain_topic_names, named
from services.projections.boards.kept import keep
from services.projections.boards.memo import CHANNEL as MEMO_CHANNEL
from services.projections.boards.memo import payload_of
from services.projections.boards.totals import TOTALLED, trend_month_ends
from services.projections.builds import BUILDS_SQL, differences, drop_build
from services.projections.registry import BUILD, rebuild
from shared.clock import SystemClock
from shared.db import open_database
from shared.entrypoint import tune_garbage_collector
from shared.envelope import Actor, Agency, DomainEvent, new_event_id
from shared.eventstore import CommandContext, Cursor, PostgresEventStore, make_envelopes
from shared.kafka import connected_admin, ensure_topics, new_producer
from shared.migrations import EVENT_STORE_SQL
from shared.projection import RUNNER, spent_by
from shared.relay import Relay, event_headers
from shared.settings import Settings
from tests import reference_data
from tests.infrastructure import (
    TEST_ISSUER,
    Infrastructure,
    ServiceProcess,
    eventually,
    health,
    infrastructure,
    new_namespace,
    read_everything,
    settled,
)
from tests.publisher import Log

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"
DOC = ROOT / "docs" / "benchmarks.md"
T = TypeVar("T")
ACTOR = Actor(user_id="bench", agency=Agency.PLATFORM, role="bench")
BENCH_USER = TEST_ISSUER.headers("bench", "council", "practitioner")


@dataclass(frozen=True)
class Sizes:
    appends: int
    relay_events: int
    rebuild_events: int
    freshness_seconds: float
    queries: int
    feed_children: int
    feed_days: int
    # The appends, the register feed and the relay are timed over a few seconds or less: each
    # is measured this many times, beside its own baseline, and the run of the median ratio
    # is the figure (the appends' ratio ranged from 43% to 68% over runs of the same code).
    repeats: int
    sustained_seconds: float
    sustained_rates: tuple[float, ...]  # tried in order until one fails
    rebuilding_events: int  # more on case-events before freshness is timed during a rebuild
    rebuilding_seconds: float  # the commands' time then: the rebuild's swap falls within it
    keeping_seconds: float  # the commands' time while a month end is kept (after the rebuild)
    national_queries: int  # on the rebuilt read model (half as many children as events)
    # Each dashboard page, on the same read model (bench/dashboard.py): its first request
    # keeps the days its boards read, minutes for a page of trends at 500,000 children.
    page_requests: int
    returns_scales: tuple[float, ...]  # demo counties whose returns are exported (1: the demo)
    returns_quality_seconds: float  # commands offered while the data-quality board is timed
    returns_quality_rate: float  # commands/s offered then
    returns_quality_county: float  # the demo county whose case-events journeys are offered
    returns_import_scale: float  # the demo county whose past returns are imported

    @staticmethod
    def full() -> Sizes:
        return Sizes(
            appends=16_000,
            relay_events=50_000,
            rebuild_events=1_000_000,
            freshness_seconds=20,
            queries=200,
            feed_children=2000,
            feed_days=5,
            repeats=3,
            sustained_seconds=60,
            sustained_rates=(60, 80, 100, 120, 140, 160, 200, 250, 300, 350, 400, 450, 500),
            rebuilding_events=400_000,
            rebuilding_seconds=150,
            keeping_seconds=60,
            national_queries=10,
            page_requests=20,
            returns_scales=(1.0, 10.0),
            returns_quality_seconds=60,
            returns_quality_rate=50,
            returns_quality_county=0.1,
            returns_import_scale=0.15,
        )

    @staticmethod
    def smoke() -> Sizes:
        return Sizes(
            appends=200,
            relay_events=500,
            rebuild_events=1_000,
            freshness_seconds=1,
            queries=5,
            feed_children=20,
            feed_days=1,
            repeats=2,
            sustained_seconds=1,
            sustained_rates=(5,),
            rebuilding_events=1_000,
            rebuilding_seconds=10,
            keeping_seconds=5,
            national_queries=2,
            page_requests=0,  # each page's first request only: the harness runs, briefly
            returns_scales=(0.01,),
            returns_quality_seconds=4,
            returns_quality_rate=10,
            returns_quality_county=0.01,
            returns_import_scale=0.01,
        )


class Tick(DomainEvent):
    event_type = "Tick"
    n: int
    note: str


def settings(infra: Infrastructure, namespace: str, service: str = "case_events") -> Settings:
    return Settings(
        service=service,
        namespace=namespace,
        postgres_host=infra.postgres_host,
        postgres_port=infra.postgres_port,
        postgres_user=infra.postgres_user,
        postgres_password=infra.postgres_password,
        kafka_bootstrap_servers=infra.kafka_bootstrap,
        auth_jwks=str(TEST_ISSUER.ensure().jwks_file),
    )


async def fresh_store(s: Settings) -> asyncpg.Pool:
    """A new event store opened exactly as the services open theirs."""
    return await open_database(s.model_copy(update={"postgres_pool_max": 16}), EVENT_STORE_SQL)


def ctx() -> CommandContext:
    return CommandContext(actor=ACTOR, correlation_id=new_event_id())


# -- 1. appends against raw INSERT -------------------------------------------------------------


async def appends(infra: Infrastructure, n: int) -> dict[str, Any]:
    s = settings(infra, new_namespace())
    pool = await fresh_store(s)
    store = PostgresEventStore(pool)
    writers = 8
    note = "x" * 200

    async def write(w: int) -> None:
        for i in range(n // writers):
            await store.append(f"s{w}-{i}", 0, [Tick(n=i, note=note)], ctx())

    started = time.perf_counter()
    await asyncio.gather(*(write(w) for w in range(writers)))
    platform_rate = n / (time.perf_counter() - started)

    # Same columns, identity and indexes; none of the store's logic, triggers or NOTIFY.
    await pool.execute("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
    [envelope] = make_envelopes("raw", 0, [Tick(n=0, note=note)], ctx())

    async def raw(w: int) -> None:
        async with pool.acquire() as conn:
            for i in range(n // writers):
                await conn.execute(
                    "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type,"
                    " schema_version, occurred_at, recorded_at, actor, correlation_id, payload)"
                    " VALUES ($1, $2, 1, 'Tick', 1, $3, $3, $4::jsonb, $5, $6::jsonb)",
                    uuid.uuid4(),
                    f"s{w}-{i}",
                    envelope.recorded_at,
                    envelope.actor.model_dump_json(),
                    envelope.correlation_id,
                    json.dumps(envelope.payload),
                )

    started = time.perf_counter()
    await asyncio.gather(*(raw(w) for w in range(writers)))
    raw_rate = n / (time.perf_counter() - started)
    await pool.close()
    return {
        "figure": "event-store appends/s (single-event commands, 8 writers)",
        "platform": platform_rate,
        "baseline": raw_rate,
        "baseline_name": "raw asyncpg INSERT, 8 writers",
        "target_ratio": 0.5,
    }


# -- 3. relay against the raw producer ----------------------------------------------------------


async def relay(infra: Infrastructure, n: int) -> dict[str, Any]:
    s = settings(infra, new_namespace())
    pool = await fresh_store(s)
    store = PostgresEventStore(pool)
    for at in range(0, n, 500):
        await asyncio.gather(
            *(
                store.append(f"child-{at + i}", 0, [Tick(n=i, note="r")], ctx())
                for i in range(min(500, n - at))
            )
        )
    await ensure_topics(s, named("case-events"))
    topic = s.topic("case-events")
    producer = new_producer(s)
    await producer.start()
    publisher = Relay(pool, producer, topic, batch_size=1000)
    # Published when the checkpoint reaches the last event in commit order, which is not
    # always the last position: appends sent together commit in any order.
    head = await store.head()
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(publisher.run(stop))

    async def published() -> bool:
        return await publisher.checkpoint() >= head

    await eventually(published, 600, 0.01, what="the relay to publish every event")
    relay_rate = n / (time.perf_counter() - started)
    stop.set()
    await task
    envelopes = [e for _, e in await store.read_all(Cursor(), n)]
    raw_topic = f"{topic}-raw"
    admin = await connected_admin(s)
    try:
        await admin.create_topics([NewTopic(raw_topic, s.topic_partitions, 1)])
    finally:
        await admin.close()
    started = time.perf_counter()
    deliveries = [
        await producer.send(
            raw_topic,
            e.model_dump_json().encode(),
            key=e.stream_id.encode(),
            headers=event_headers(str(e.event_id), e.event_type, 1),
        )
        for e in envelopes
    ]
    await asyncio.gather(*deliveries)
    raw_rate = n / (time.perf_counter() - started)
    await producer.stop()
    await pool.close()
    return {
        "figure": "relay events/s, store to topic",
        "platform": relay_rate,
        "baseline": raw_rate,
        "baseline_name": "raw aiokafka producer (acks=all, idempotent), same envelopes",
        "target_ratio": 0.5,
    }


# -- 4. projection rebuild against the raw consumer -------------------------------------------


async def _publish_children(s: Settings, n: int) -> int:
    """`n` events on case-events: n/2 children registered, each with a plan started."""
    log = Log()
    print(f"rebuild: publishing {n:,} events", flush=True)
    for i in range(n // 2):
        child, events = decode.a_child(i)
        log.add("case-events", child, *events)
    return await log.publish(s)


async def rebuild_rate(
    infra: Infrastructure, n: int, namespace: str, compare: bool = True
) -> dict[str, Any]:
    """Rebuild the boards from `n` events (n/2 children) in `namespace`; the read model stays
    for the national-scale board queries. `compare`: then hold it to the live worker's build
    of the same events (`equals_the_live_workers`)."""
    s = settings(infra, namespace, "projections")
    sent = await _publish_children(s, n)
    # The published events are garbage now: collected before the clock starts, so the
    # rebuild (which runs in its own process in production) does not pay for scanning them.
    gc.collect()
    # The other domain topics the projections subscribe to, empty here.
    await ensure_topics(s, named(*(t for t in domain_topic_names() if t != "case-events")))
    started = time.perf_counter()
    with CpuShares() as cpu:  # the whole machine's, not only the members' own phases
        schema = await rebuild(s, swap_in=True, progress=False)
    took = time.perf_counter() - started
    rebuild_events = sent / took
    print(f"rebuild: {rebuild_events:,.0f} events/s", flush=True)
    phases = spent_by_phase(f"{s.consumer_group}.{schema}", took, sent, s.rebuild_members)
    print(phases_table(phases), flush=True)
    print("\n".join(rebuild_cpu_table(cpu.percent, rebuild_events)), flush=True)
    consumer = AIOKafkaConsumer(
        s.topic("case-events"),
        bootstrap_servers=s.kafka_bootstrap_servers,
        group_id=f"{namespace}raw",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5000,
    )
    await consumer.start()
    seen, started = 0, time.perf_counter()
    while seen < sent:
        batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
        seen += sum(len(v) for v in batch.values())
    raw_rate = sent / (time.perf_counter() - started)
    await consumer.stop()
    equal = await equals_the_live_workers(s, schema) if compare else None
    return {
        "equals_live": equal,
        "figure": f"projection rebuild events/s from offset 0 ({sent:,} events)",
        "platform": rebuild_events,
        "baseline": raw_rate,
        "baseline_name": "raw aiokafka consumer, same topic",
        "target_ratio": 0.3,
        "target_absolute": 50_000,
        "phases": phases,
        "members": s.rebuild_members,
        "cpu": cpu.percent,
    }


async def equals_the_live_workers(s: Settings, rebuilt: str) -> dict[str, Any]:
    """The same events filled into another build as the live worker fills the live one (its
    batches, every index kept all along, the returns' touches not swept), then every
    read-model table of the two compared both ways with EXCEPT ALL (`differences`). That
    build is dropped after; the rebuilt one stays live."""
    print("rebuild: the same events filled as the live worker fills them, to compare", flush=True)
    started = time.perf_counter()
    live = await rebuild(s, swap_in=False, progress=False, as_the_live_worker=True)
    filled = time.perf_counter() - started
    pool = await open_database(s, BUILDS_SQL)
    try:
        async with pool.acquire() as conn:
            started = time.perf_counter()
            counts = await differences(conn, rebuilt, live)
            compared = time.perf_counter() - started
            rows = 0
            for table in counts:
                rows += await conn.fetchval(f'SELECT count(*) FROM "{rebuilt}".{table}')
        await drop_build(pool, live)
    finally:
        await pool.close()
    differing = {table: n for table, n in counts.items() if n}
    print(
        f"rebuild equals the live worker's build: {sum(differing.values()):,} rows differ in "
        f"{len(counts)} tables ({rows:,} rows; filled in {filled:.0f} s, compared in "
        f"{compared:.0f} s){'' if not differing else f': {differing}'}",
        flush=True,
    )
    return {
        "tables": len(counts),
        "rows": rows,
        "differences": sum(differing.values()),
        "differing": differing,
        "fill_seconds": filled,
        "compare_seconds": compared,
        "batch_size": s.projection_batch_size,
    }


def spent_by_phase(
    consumer: str, took: float, events: int, members: int = 1
) -> list[dict[str, Any]]:
    """Where a rebuild's wall time went, from the runner's own counter
    (csp_projection_seconds_total, in this process): decoding, each read model's apply and
    flush, the rest of the batches' transactions, the rebuild's own steps around the batches
    (setting up, stopping, the indexes, the swap), and the rest (fetching from Kafka, waiting
    for batches to fill, seeing that the build caught up). The batches' phases are summed over
    the rebuild's `members` (each member's counts are added to this process's as it stops):
    the rest is what is left of `members` times the wall time of the filling."""
    spent = spent_by(consumer)
    transaction = spent.pop((RUNNER, "transaction"), 0.0)
    decode = spent.pop((RUNNER, "decode"), 0.0)
    around = {phase: spent.pop((BUILD, phase)) for (p, phase) in list(spent) if p == BUILD}
    inside = sorted(spent.items(), key=lambda kv: -kv[1])
    rows = [("decoding the records", decode)]
    rows += [(f"{projection}: {phase}", seconds) for (projection, phase), seconds in inside]
    rows += [
        (
            "the rest of the transactions (offsets, stream versions, commit)",
            transaction - sum(spent.values()),
        ),
    ]
    rows += [(f"the rebuild: {phase}", seconds) for phase, seconds in around.items()]
    rows += [
        (
            "the rest (Kafka, batches filling, seeing the build caught up)",
            members * (took - sum(around.values())) - transaction - decode,
        ),
    ]
    return [
        {"phase": phase, "seconds": round(seconds, 2), "us_per_event": seconds / events * 1e6}
        for phase, seconds in rows
    ]


# The rebuild runs in the benchmark's process, which spawns its other members.
REBUILD_PROCESSES = {
    THE_LOAD: "the rebuild's first member (the benchmark's process)",
    ITS_CHILDREN: "the rebuild's other members",
}


def rebuild_cpu_table(percent: dict[str, float], events_per_s: float) -> list[str]:
    return cpu_table(percent, events_per_s, REBUILD_PROCESSES, per_event=True)


def phases_table(phases: list[dict[str, Any]]) -> str:
    lines = ["| where the rebuild's time went | s | µs an event |", "|---|---|---|"]
    lines += [f"| {p['phase']} | {p['seconds']:.2f} | {p['us_per_event']:.1f} |" for p in phases]
    return "\n".join(lines)


# -- 5. freshness and 6. board queries ---------------------------------------------------------


async def with_reference_data(
    infra: Infrastructure, namespace: str, processes: dict[str, ServiceProcess]
) -> None:
    """The localities and the school the commands name (tests/reference_data.py): added
    through case events, and known to education's copy (not timed)."""
    education = infra.dsn(f"{namespace}education") if "education_api" in processes else None
    await asyncio.to_thread(reference_data.seed, processes["case_events_api"].url, education)


async def feed_rate(
    infra: Infrastructure, namespace: str, processes: dict[str, ServiceProcess], sizes: Sizes
) -> dict[str, float]:
    return await register_feed.measure(
        processes["case_events_api"].url,
        processes["education_api"].url,
        infra.dsn(f"{namespace}education"),
        sizes.feed_children,
        sizes.feed_days,
        10_000,
        BENCH_USER,
        settled=lambda: settle(processes),
    )


async def through_the_services(
    infra: Infrastructure, sizes: Sizes
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """The register feed, freshness at 50 and 500 commands/s, and board queries, through the
    services' own processes."""
    namespace = new_namespace()
    processes = start_services(infra, namespace, ("case_events", "education", "projections"))
    try:
        await with_reference_data(infra, namespace, processes)
        feeds = [await feed_rate(infra, namespace, processes, sizes) for _ in range(sizes.repeats)]
        conn = await asyncpg.connect(infra.dsn(f"{namespace}projections"))
        try:
            latency = [
                await freshness(processes, conn, namespace, rate, sizes.freshness_seconds)
                for rate in (50.0, 500.0)
            ]
            latency.append(
                await board_queries(processes["projections_api"].url, conn, sizes.queries)
            )
            sustained = await highest_sustained(processes, conn, namespace, sizes)
            during = await freshness_while_rebuilding(
                infra,
                processes,
                conn,
                namespace,
                sizes.rebuilding_events,
                sizes.rebuilding_seconds,
            )
            latency.insert(2, during)  # beside the other freshness figures
            keeping = await freshness_while_keeping(
                infra, processes, conn, namespace, sizes.keeping_seconds
            )
            latency.insert(3, keeping)
        finally:
            await conn.close()
    finally:
        for p in processes.values():
            p.stop()
    return (
        median_run(
            [
                {
                    "figure": f"register feed marks/s ({f['marks']:,.0f} marks, calls of 10,000)",
                    "platform": f["endpoint"],
                    "baseline": f["copy"],
                    "baseline_name": "raw asyncpg COPY of the same rows",
                    "target_ratio": 0.5,
                }
                for f in feeds
            ]
        ),
        latency,
        sustained,
    )


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Of a figure's runs, each beside its own baseline, the one of the median ratio (of an
    even number, the lower of the two middle ones), with every run's ratio in `runs`."""
    ratios = [r["platform"] / r["baseline"] for r in runs]
    by_ratio = sorted(runs, key=lambda r: r["platform"] / r["baseline"])
    return {**by_ratio[(len(runs) - 1) // 2], "runs": ratios}


async def settle(processes: Mapping[str, ServiceProcess]) -> None:
    """Every event the services stored is on its topic and the projections have read it: a
    step's latencies are then its own commands', not the work's before it (the register
    feed's events still being read took the 50/s step's p99 from 39 ms to 157 and 700)."""
    relays = [
        p.url
        for name, p in processes.items()
        if name.endswith("_worker") and name != "projections_worker"
    ]
    projections = processes.get("projections_worker")
    await settled(relays, projections.url if projections else None, 300, "the work before the step")


async def freshness(
    processes: Mapping[str, ServiceProcess],
    conn: asyncpg.Connection,
    namespace: str,
    rate: float,
    seconds: float,
    tag: str = "",
    meanwhile: Callable[[], Coroutine[Any, Any, Any]] | None = None,
) -> dict[str, Any]:
    """Register children at `rate` per second, once the platform has settled; time from
    HTTP 201 to the board's row. `meanwhile` is run from the first command (its result in
    the answer's `meanwhile`)."""
    await settle(processes)
    api = processes["case_events_api"].url
    accepted: dict[str, float] = {}
    seen: dict[str, float] = {}
    # Accepted and not yet on the board: all the watcher asks for. Asking for every child of
    # the run (LIKE its tag) fetched thousands of rows every 5 ms by the end of a step, and
    # took the cores the platform was being measured on; so did asking for every child sent,
    # answered or not: once the API fell behind, the commands waiting for a connection made
    # each look-up longer (1 ms of PostgreSQL's time, a poll every 10 ms, at 400/s offered).
    # One on the board before its answer is found at the first poll after it.
    unseen: set[str] = set()
    done = asyncio.Event()
    tag = f"{namespace}{tag}{int(rate)}-"

    async def watch() -> None:
        while not done.is_set() or len(seen) < len(accepted):
            schema = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
            if schema and unseen:
                # One index probe a child, whatever the statistics: planned with them,
                # `child_id = ANY($1)` read the whole table (4 ms of PostgreSQL's time a poll
                # at 400/s, 40% of a core charged to the platform).
                for r in await conn.fetch(
                    "SELECT w.child_id FROM unnest($1::text[]) AS w(child_id) CROSS JOIN LATERAL"
                    f' (SELECT 1 FROM "{schema}".children c WHERE c.child_id = w.child_id'
                    " LIMIT 1) AS on_the_board",
                    list(unseen),
                ):
                    seen.setdefault(r["child_id"], time.perf_counter())
                    unseen.discard(r["child_id"])
            await asyncio.sleep(0.005)  # the watcher's poll interval

    watcher = asyncio.create_task(watch())
    failed = 0
    errors: Counter[str] = Counter()  # what the failures were: an exception's class, a status
    # A client's connection pool, as an integration has: aiohttp's, whose cost does not grow
    # with the connections open (httpx's looked at each of them, with a system call, for
    # every request: a core's half at 140/s once answers slowed and the pool grew to 64).
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=64),
        timeout=aiohttp.ClientTimeout(total=60),
        headers=BENCH_USER,
    ) as client:

        async def command(i: int) -> None:
            nonlocal failed
            child = f"F-{tag}{i}"
            try:
                async with client.post(
                    f"{api}/children",
                    json={"child_id": child, "date_of_birth": "2014-01-01", "locality": "Exeter"},
                ) as r:
                    await r.read()
                    status = r.status
            except (aiohttp.ClientError, TimeoutError) as error:
                failed += 1
                errors[type(error).__name__] += 1
                return
            if status == 201:
                accepted[child] = time.perf_counter()
                unseen.add(child)
            else:
                failed += 1
                errors[f"HTTP {status}"] += 1

        tasks, started = [], time.perf_counter()
        beside = asyncio.create_task(meanwhile()) if meanwhile else None
        with CpuShares() as cpu:  # where the cores' time went while the commands were sent
            for i in range(int(seconds * rate)):
                tasks.append(asyncio.create_task(command(i)))
                await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.perf_counter()))
            await asyncio.gather(*tasks)
        achieved = len(accepted) / (time.perf_counter() - started)
    done.set()
    await asyncio.wait_for(watcher, 300)
    besides = await asyncio.wait_for(beside, 600) if beside else None
    latencies = sorted(seen[c] - accepted[c] for c in accepted)
    # The slowest, with when each was answered (the machine's clock): where a stall was.
    wall = time.time() - time.perf_counter()
    slowest = sorted(accepted, key=lambda c: seen[c] - accepted[c])[-5:]
    return {
        "figure": f"freshness at {rate:.0f} commands/s offered ({achieved:.0f}/s accepted, "
        f"{failed} failed; ms from HTTP 201 to on the board)",
        "p50": _pct(latencies, 0.5),
        "p95": _pct(latencies, 0.95),
        "p99": _pct(latencies, 0.99),
        "commands": len(latencies),
        "failed": failed,
        "errors": dict(errors),
        "offered": rate,
        "achieved": achieved,
        "target_p99_ms": 250 if rate <= 50 else 1000,
        "cpu": cpu.percent,
        "slowest": [
            (
                datetime.fromtimestamp(wall + accepted[c], UTC).strftime("%H:%M:%S.%f")[:-3],
                round((seen[c] - accepted[c]) * 1000),
            )
            for c in slowest
        ],
        "meanwhile": besides,
    }


async def more_children(
    infra: Infrastructure, processes: Mapping[str, ServiceProcess], namespace: str, events: int
) -> None:
    """`events` more on case-events (`_publish_children`), read by every consumer of the
    services (education's too)."""
    if events:
        await _publish_children(settings(infra, namespace, "projections"), events)
    for name, process in processes.items():
        if name.endswith("_worker"):
            checks = (await asyncio.to_thread(health, process.url)).get("checks", {})
            consumers = [c for c, check in checks.items() if "lag" in check]
            await read_everything(process.url, consumers, 600, f"{name} to read the events")


async def freshness_while_rebuilding(
    infra: Infrastructure,
    processes: Mapping[str, ServiceProcess],
    conn: asyncpg.Connection,
    namespace: str,
    events: int,
    seconds: float,
    **rebuild_settings: str,
) -> dict[str, Any]:
    """Freshness at 50 commands/s while the boards are rebuilt beside the live ones and the
    new build swapped in, as an upgrade does (docs/operations.md): `events` more on
    case-events (read by the live worker first), then `python -m services.projections
    rebuild` as a process of its own, with the projections' settings and `rebuild_settings`
    (CSP_REBUILD_MEMBERS). The commands are sent for `seconds` from the build's first batch,
    which should see the rebuild through to its swap (said in the figure if not)."""
    s = settings(infra, namespace, "projections")
    members = rebuild_settings.get("CSP_REBUILD_MEMBERS", str(s.rebuild_members))
    await more_children(infra, processes, namespace, events)
    before = {r["schema_name"] for r in await conn.fetch("SELECT schema_name FROM board_builds")}
    logged = ROOT / "test-artifacts" / "logs" / f"bench-{namespace}" / f"rebuild-{members}.log"
    logged.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with logged.open("wb") as log:  # its logs and progress: a pipe not read would stall it
        rebuilding = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.projections",
            "rebuild",
            cwd=ROOT,
            env={**processes["projections_worker"].env, **rebuild_settings},
            stdout=log,
            stderr=log,
        )
    build: list[str] = []
    ended: list[float] = []

    async def done() -> int:
        code = await rebuilding.wait()
        ended.append(time.perf_counter())
        return code

    waiting = asyncio.create_task(done())

    async def filling() -> bool:
        for r in await conn.fetch("SELECT schema_name FROM board_builds"):
            if r["schema_name"] not in before:
                build.append(r["schema_name"])
                return bool(
                    await conn.fetchval(f'SELECT count(*) FROM "{build[-1]}".projection_offsets')
                )
        if rebuilding.returncode is not None:
            raise RuntimeError(f"the rebuild stopped ({rebuilding.returncode}) before filling")
        return False

    await eventually(filling, 120, 0.1, what="the rebuild's first batch")
    found = await freshness(processes, conn, namespace, 50.0, seconds, tag=f"r{members}m")
    swapped = waiting.done()  # while the commands were being sent
    if await asyncio.wait_for(waiting, 600) != 0:
        raise RuntimeError(f"the rebuild failed ({rebuilding.returncode}): see {logged}")
    took = ended[0] - started
    print(
        f"freshness during a rebuild ({members} members, {took:.0f} s, "
        f"{'swapped in' if swapped else 'NOT swapped in'} while timed): p99 {found['p99']:.0f} ms"
        f"; the slowest answered at {found['slowest']}",
        flush=True,
    )
    return {
        **found,
        "figure": f"freshness at 50 commands/s offered during a rebuild of the boards "
        f"({found['achieved']:.0f}/s accepted, {found['failed']} failed; ms from HTTP 201 to on "
        f"the board; the rebuild's {members} members filled a build beside the live one and "
        f"swapped it in, in {took:.0f} s"
        + (", while they were sent" if swapped else ", after the last was sent")
        + ")",
        "rebuild_s": took,
        "swapped_while_timed": swapped,
        "build": build[-1],
    }


async def freshness_while_keeping(
    infra: Infrastructure,
    processes: Mapping[str, ServiceProcess],
    conn: asyncpg.Connection,
    namespace: str,
    seconds: float,
) -> dict[str, Any]:
    """Freshness at 50 commands/s while the boards are kept on a day from a snapshot of every
    child: the latest month end a trend reads, dropped first (as a backdated fact drops it)
    and kept again from the first command, as the API keeps it (`kept.keep`, here from this
    process). Keeping a day held every batch of the projection up for its snapshot before
    (10 s at 200,000 children)."""
    s = settings(infra, namespace, "projections")
    schema = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
    children = await conn.fetchval(f'SELECT count(*) FROM "{schema}".children')
    today = SystemClock().today()  # the API's today (London's)
    day = trend_month_ends(today)[0]
    pool = await asyncpg.create_pool(s.dsn(), min_size=0, max_size=2)
    try:

        async def keeping() -> tuple[float, list[str] | None]:
            started = time.perf_counter()
            await pool.execute(f'UPDATE "{schema}".board_days SET stale = true WHERE day = $1', day)
            kept = await keep(pool, day, today, s.board_days_kept)
            return time.perf_counter() - started, kept

        found = await freshness(processes, conn, namespace, 50.0, seconds, "k", keeping)
        took, kept = found["meanwhile"]
        # The API may have kept it first (it keeps month ends in a quiet moment): then this
        # keep waited for the API's, which the figure timed all the same.
        if await pool.fetchval(
            f'SELECT count(*) FROM "{schema}".board_days WHERE day = $1'
            " AND NOT stale AND NOT keeping",
            day,
        ) != len(TOTALLED):
            raise RuntimeError(f"the month end {day} was not kept: {kept}")
    finally:
        await pool.close()
    print(
        f"freshness while a month end is kept ({children:,} children, the keep {took:.1f} s): "
        f"p99 {found['p99']:.0f} ms; the slowest answered at {found['slowest']}",
        flush=True,
    )
    return {
        **{k: v for k, v in found.items() if k != "meanwhile"},
        "figure": f"freshness at 50 commands/s offered while a trend's month end is kept "
        f"({found['achieved']:.0f}/s accepted, {found['failed']} failed; ms from HTTP 201 to on "
        f"the board; the keep read {children:,} children and took {took:.1f} s"
        + ("" if took < seconds else ", longer than the commands were sent")
        + ")",
        "keep_s": took,
    }


async def highest_sustained(
    processes: Mapping[str, ServiceProcess], conn: asyncpg.Connection, namespace: str, sizes: Sizes
) -> dict[str, Any]:
    """The highest offered rate held for `sustained_seconds` with p99 under 1 s, every command
    accepted and at least 95% of the rate achieved: rates tried in order until one fails,
    each from a settled platform."""
    best: float | None = None
    tried = []
    for rate in sizes.sustained_rates:
        found = await freshness(processes, conn, namespace, rate, sizes.sustained_seconds, tag="s")
        held = found["p99"] < 1000 and found["failed"] == 0 and found["achieved"] >= 0.95 * rate
        tried.append(
            {
                "offered": rate,
                "achieved": round(found["achieved"], 1),
                "p99_ms": round(found["p99"], 1),
                "failed": found["failed"],
                "errors": found["errors"],
                "held": held,
                "cpu": found["cpu"],
            }
        )
        print(
            f"sustained {rate:.0f}/s for {sizes.sustained_seconds:.0f}s: achieved "
            f"{found['achieved']:.0f}/s, p99 {found['p99']:.0f} ms, "
            f"{'held' if held else 'not held'}"
            + (f" (failed: {found['errors']})" if found["errors"] else ""),
            flush=True,
        )
        if not held:
            break
        best = rate
    return {
        "figure": f"highest rate sustained for {sizes.sustained_seconds:.0f} s with p99 "
        "under 1 s (commands/s)",
        "rate": best,
        "tried": tried,
    }


async def board_queries(boards: str, conn: asyncpg.Connection, n: int) -> dict[str, Any]:
    """/boards/timeliness, council view, all localities: the first query of a day not kept
    yet (it keeps the totalled boards on that day), then `n` queries of today (which the API
    keeps when it starts), each beside a plain SELECT of the rows it sums."""
    schema = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
    children = await conn.fetchval(f'SELECT count(*) FROM "{schema}".children')

    async def kept_today() -> date | None:
        day: date | None = await conn.fetchval(
            f"SELECT max(day) FROM \"{schema}\".board_days WHERE board = 'timeliness'"
            " AND NOT keeping"
        )
        return day

    kept = await eventually(kept_today, 900, 0.5, what="the API to keep today's boards")
    if kept is None:  # eventually returns only a value that is there
        raise TimeoutError("the API kept no day")
    today: date = kept
    # A day the API has not kept: the day before, unless a trend's month end (kept already).
    unkept = today - timedelta(days=1)
    while unkept in trend_month_ends(today):
        unkept -= timedelta(days=1)
    board_times, select_times = [], []
    async with httpx.AsyncClient(timeout=900, headers=BENCH_USER) as client:
        t = time.perf_counter()
        (
            await client.get(
                f"{boards}/boards/timeliness",
                params={"view": "council", "as_at": unkept.isoformat()},
            )
        ).raise_for_status()
        first = time.perf_counter() - t
        for _ in range(n):
            t = time.perf_counter()
            (
                await client.get(
                    f"{boards}/boards/timeliness",
                    params={"view": "council", "as_at": today.isoformat()},
                )
            ).raise_for_status()
            board_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            await conn.fetch(
                f"SELECT * FROM \"{schema}\".board_totals WHERE board = 'timeliness' AND day = $1",
                today,
            )
            select_times.append(time.perf_counter() - t)
    board_times.sort()
    select_times.sort()
    return {
        "figure": f"board query latency, {children:,} children (ms, /boards/timeliness)",
        "children": children,
        "p50": _pct(board_times, 0.5),
        "p95": _pct(board_times, 0.95),
        "baseline_p50": _pct(select_times, 0.5),
        "baseline_p95": _pct(select_times, 0.95),
        "first_ms": first * 1000,
        "baseline_name": "plain SELECT of the board's rows in board_totals",
        "target_p95_ms": 50,
    }


async def national_board_queries(
    infra: Infrastructure, namespace: str, n: int, page_requests: int | None
) -> dict[str, Any]:
    """Board queries on the read model the rebuild made (national scale at full size), then
    every dashboard page on it (bench/dashboard.py) unless `page_requests` is None."""
    env = infra.env(namespace, CSP_DEMO="off", CSP_RATE_LIMIT="1000000/second")
    api = ServiceProcess(
        "services.projections", "api", env, ROOT / "test-artifacts" / "logs" / f"bench-{namespace}"
    )
    api.start()
    started = time.perf_counter()
    try:
        api.wait_healthy(120)
        conn = await asyncpg.connect(infra.dsn(f"{namespace}projections"))
        try:
            # Timed as a person finds them once the API has kept the trend's month ends in
            # the background (api.keep_before_asked: about four minutes after a start at
            # national scale, during which every query shares the cores with that work).
            kept_s = await trend_kept(conn, started) if page_requests is not None else None
            figures = await board_queries(api.url, conn, n)

            async def changed_today() -> None:  # as a batch of today's records says
                await conn.execute(
                    "SELECT pg_notify($1, $2)", MEMO_CHANNEL, payload_of(SystemClock().today())
                )

            if page_requests is not None:
                figures["pages"] = await dashboard.page_latencies(
                    api.url, BENCH_USER, page_requests, changed_today
                )
                figures["pages"]["trend_kept_s"] = kept_s
        finally:
            await conn.close()
        return figures
    finally:
        api.stop()


async def trend_kept(conn: asyncpg.Connection, started: float) -> float:
    """Seconds from the API's start until it has kept every month end a trend reads."""
    schema = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")

    async def all_kept() -> bool:
        ends = trend_month_ends(SystemClock().today())  # the API's today (London's)
        found = await conn.fetchval(
            f'SELECT count(*) FROM "{schema}".board_days WHERE day = ANY($1::date[])'
            " AND NOT stale AND NOT keeping",
            ends,
        )
        return found == len(ends) * len(TOTALLED)

    await eventually(all_kept, 3600, 1, what="the API to keep the trend's month ends")
    return time.perf_counter() - started


def where_the_cores_went(tried: list[dict[str, Any]]) -> list[str]:
    """The CPU of each process at the highest rate held, and at the first rate not held."""
    held = [t for t in tried if t["held"] and t.get("cpu")]
    shown = held[-1:] + [t for t in tried if not t["held"] and t.get("cpu")][:1]
    lines = []
    for t in shown:
        state = "held" if t["held"] else "not held"
        lines += [
            f"Where the cores' time went at {t['offered']:.0f} commands/s offered ({state}; "
            f"{t['achieved']:.0f}/s achieved), each process's CPU while the commands were sent "
            "(bench/cpu.py), and per command achieved:",
            "",
            *cpu_table(t["cpu"], t["achieved"]),
            "",
        ]
    return lines


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0


# -- the report --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "python": platform.python_version(),
        "java": java.splitlines()[0] if java else "",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(),
    }


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {m['date']}: {m['cpus']} CPUs, {m['memory_gib']} GiB,"
        f" Python {m['python']}, {m['java']}. Kafka, PostgreSQL and every process share "
        "the machine. Each figure is measured beside its baseline in the same run.",
        "",
        "| figure | platform | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["throughput"]:
        ratio = r["platform"] / r["baseline"]
        target = f"{r['target_ratio']:.0%} of baseline" + (
            f" and {r['target_absolute']:,}/s" if r.get("target_absolute") else ""
        )
        met = ratio >= r["target_ratio"] and r["platform"] >= r.get("target_absolute", 0)
        runs = r.get("runs", [])
        figure = r["figure"] + (
            f" (the median of {len(runs)} runs: {', '.join(f'{x:.0%}' for x in runs)})"
            if len(runs) > 1
            else ""
        )
        lines.append(
            f"| {figure} | {r['platform']:,.0f}/s | {r['baseline']:,.0f}/s "
            f"({r['baseline_name']}) | {ratio:.0%} | {target} | "
            f"{_met(met)} |"
        )
    rebuilt = next((r for r in results["throughput"] if r.get("phases")), None)
    if rebuilt is not None:
        lines += [
            "",
            "Where the rebuild's time went (the runner's `csp_projection_seconds_total`,"
            f" summed over the rebuild's {rebuilt.get('members', 1)} members, processes side by"
            " side each reading its share of the partitions: their batches' seconds add up to"
            " that many times the wall time of the filling):",
            "",
            phases_table(rebuilt["phases"]),
        ]
        if rebuilt.get("cpu"):
            lines += [
                "",
                "Where the machine's cores went while the rebuild ran (bench/cpu.py: every"
                " process, the members' waits on PostgreSQL being PostgreSQL's time):",
                "",
                *rebuild_cpu_table(rebuilt["cpu"], rebuilt["platform"]),
            ]
        equal = rebuilt.get("equals_live")
        if equal is not None:
            lines += [
                "",
                "The rebuild's read model against the live worker's: the same events filled into"
                " another build as the live worker fills the live one (its batches of"
                f" {equal['batch_size']:,}, every index kept all along;"
                f" {equal['fill_seconds']:.0f} s), then each of the {equal['tables']}"
                f" read-model tables ({equal['rows']:,} rows in the rebuild) compared both ways"
                f" with `EXCEPT ALL` ({equal['compare_seconds']:.0f} s):"
                f" **{equal['differences']:,} rows differ**"
                + (f" ({equal['differing']})" if equal["differing"] else "")
                + ". (`services/projections/builds.py` `differences`; the bookkeeping, the kept"
                " totals and the returns' queue are not compared, and why is said there.)",
            ]
    *freshness_figures, county = results["latency"]
    lines += ["", "| latency | p50 | p95 | p99 | target | met |", "|---|---|---|---|---|---|"]
    for f in freshness_figures:
        lines.append(
            f"| {f['figure']} | {f['p50']:.0f} ms | {f['p95']:.0f} ms | "
            f"{f['p99']:.0f} ms | p99 < {f['target_p99_ms']} ms | "
            f"{_met(f['p99'] < f['target_p99_ms'])} |"
        )
    for q in (county, results["national"]):
        lines += [
            f"| {q['figure']} | {q['p50']:.1f} ms | {q['p95']:.1f} ms | | p95 < "
            f"{q['target_p95_ms']} ms | {_met(q['p95'] < q['target_p95_ms'])} |",
            f"| baseline: {q['baseline_name']} | {q['baseline_p50']:.1f} ms | "
            f"{q['baseline_p95']:.1f} ms | | | |",
            f"| first query of a day not kept yet (keeps the three totalled boards on it)"
            f" | {q['first_ms']:,.0f} ms | | | | |",
        ]
    lines.append("")
    h = results["sustained"]
    steps = "; ".join(
        f"{t['offered']:.0f}/s offered: {t['achieved']:.0f}/s, p99 "
        f"{t['p99_ms']:.0f} ms, {'held' if t['held'] else 'not held'}"
        for t in h["tried"]
    )
    every = all(t["held"] for t in h["tried"])
    rate = "none" if h["rate"] is None else f"{'at least ' if every else ''}{h['rate']:.0f}"
    lines += [
        f"**{h['figure']}: {rate}** "
        f"(rates tried in order until one was not held: {steps}). Held means p99 from "
        "HTTP 201 to the board under 1 s, no command failed, and at least 95% of the "
        "offered rate accepted.",
        "",
    ]
    lines += where_the_cores_went(h["tried"])
    lines += [
        "Profiles of the slow paths, and what was changed because of them: "
        "[performance.md](performance.md).",
        "",
    ]
    lines += [
        "The national-scale board queries run on the read model the rebuild made: "
        "its events name half as many children (500,000 at full size; England has about "
        "400,000 children in need).",
        "",
    ]
    national = results["national"]
    if national.get("pages"):
        lines += dashboard.section(
            national["pages"], national["pages"].get("children", national.get("children"))
        )
    if results.get("returns"):
        lines += statutory_returns.section(results["returns"])
    return "\n".join(lines)


async def run(sizes: Sizes, smoke: bool) -> dict[str, Any]:
    with infrastructure() as infra:
        throughput = [
            median_run([await appends(infra, sizes.appends) for _ in range(sizes.repeats)])
        ]
        feed, latency, sustained = await through_the_services(infra, sizes)
        namespace = new_namespace()
        throughput += [
            feed,
            median_run([await relay(infra, sizes.relay_events) for _ in range(sizes.repeats)]),
            await rebuild_rate(infra, sizes.rebuild_events, namespace),
        ]
        national = await national_board_queries(
            infra, namespace, sizes.national_queries, sizes.page_requests
        )
        returns = await returns_figures(infra, sizes)
    results = {
        "machine": machine(),
        "smoke": smoke,
        "sizes": sizes.__dict__,
        "throughput": throughput,
        "latency": latency,
        "sustained": sustained,
        "national": national,
        "returns": returns,
    }
    return results


async def returns_figures(infra: Infrastructure, sizes: Sizes) -> dict[str, Any]:
    """The statutory returns' figures (bench/returns.py): export times, the data-quality
    board's delay, the import's rate."""
    return await statutory_returns.figures(
        infra,
        sizes.returns_scales,
        sizes.returns_quality_seconds,
        sizes.returns_quality_rate,
        sizes.returns_quality_county,
        sizes.returns_import_scale,
    )


async def returns_only(sizes: Sizes) -> dict[str, Any]:
    with infrastructure() as infra:
        return {"machine": machine(), **await returns_figures(infra, sizes)}


async def returns_import_only(sizes: Sizes) -> dict[str, Any]:
    with infrastructure() as infra:
        figure = await statutory_returns.import_figure(infra, sizes.returns_import_scale)
        return {**figure, "machine": machine()}


async def pages_only(sizes: Sizes) -> dict[str, Any]:
    """The rebuild's read model (its figure printed), then every dashboard page on it."""
    with infrastructure() as infra:
        namespace = new_namespace()
        r = await rebuild_rate(infra, sizes.rebuild_events, namespace, compare=False)
        print(f"{r['figure']}: {r['platform']:,.0f}/s", flush=True)
        national = await national_board_queries(
            infra, namespace, sizes.national_queries, sizes.page_requests
        )
        print(
            f"{national['figure']}: p50 {national['p50']:.1f} ms, p95 {national['p95']:.1f} ms"
            f" (plain SELECT: p95 {national['baseline_p95']:.1f} ms); first query of a day not"
            f" kept yet {national['first_ms']:,.0f} ms",
            flush=True,
        )
        command = (
            "python -m bench.harness --only pages"
            f" --events {sizes.rebuild_events} --requests {sizes.page_requests}"
        )
        return {
            **national["pages"],
            "children": national["children"],
            "machine": machine(),
            "command": command,
        }


async def only(figure: str, sizes: Sizes, runs: int) -> None:
    """One throughput figure beside its baseline, `runs` times (for before/after pairs while
    changing one path); prints, writes nothing."""
    with infrastructure() as infra:
        for _ in range(runs):
            if figure == "appends":
                r = await appends(infra, sizes.appends)
            elif figure == "feed":
                # The services `make bench` measures the feed on: the projections' worker
                # applies the first call's events while the second is decided, as it does there.
                namespace = new_namespace()
                processes = start_services(
                    infra, namespace, ("case_events", "education", "projections")
                )
                try:
                    await with_reference_data(infra, namespace, processes)
                    feed = await feed_rate(infra, namespace, processes, sizes)
                finally:
                    for p in processes.values():
                        p.stop()
                r = {
                    "figure": "register feed marks/s",
                    "platform": feed["endpoint"],
                    "baseline": feed["copy"],
                    "baseline_name": "raw asyncpg COPY",
                }
            elif figure == "relay":
                r = await relay(infra, sizes.relay_events)
            else:
                r = await rebuild_rate(infra, sizes.rebuild_events, new_namespace())
            print(
                f"{r['figure']}: {r['platform']:,.0f}/s, baseline {r['baseline']:,.0f}/s "
                f"({r['baseline_name']}), {r['platform'] / r['baseline']:.0%}",
                flush=True,
            )


@dataclass(frozen=True)
class Services:
    """The services a step alone is measured on (`on_the_services`)."""

    infra: Infrastructure
    processes: dict[str, ServiceProcess]
    conn: asyncpg.Connection  # to the projections' database
    namespace: str


async def on_the_services(step: Callable[[Services], Awaitable[T]]) -> T:
    """A step measured alone on case events, education (its worker keeps its copy of every
    child registered) and the projections as processes, with the reference data, given a
    connection to the projections' database (`make bench` measures the same steps after the
    register feed and the freshness figures, on the same services)."""
    with infrastructure() as infra:
        namespace = new_namespace()
        processes = start_services(infra, namespace, ("case_events", "education", "projections"))
        try:
            await with_reference_data(infra, namespace, processes)
            conn = await asyncpg.connect(infra.dsn(f"{namespace}projections"))
            try:
                return await step(Services(infra, processes, conn, namespace))
            finally:
                await conn.close()
        finally:
            for p in processes.values():
                p.stop()


async def rebuilding_only(sizes: Sizes) -> list[dict[str, Any]]:
    """Freshness at 50 commands/s alone, then during a rebuild by two members and by one
    (`CSP_REBUILD_MEMBERS`), on the same services; prints, writes nothing."""

    async def step(on: Services) -> list[dict[str, Any]]:
        found = [
            await freshness(on.processes, on.conn, on.namespace, 50.0, sizes.freshness_seconds)
        ]
        for members, events in (("2", sizes.rebuilding_events), ("1", 0)):
            found.append(
                await freshness_while_rebuilding(
                    on.infra,
                    on.processes,
                    on.conn,
                    on.namespace,
                    events,
                    sizes.rebuilding_seconds,
                    CSP_REBUILD_MEMBERS=members,
                )
            )
        return found

    return _printed(await on_the_services(step))


def _printed(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Freshness figures, printed with where the cores' time went; their main figures."""
    for f in found:
        print(
            f"{f['figure']}: p50 {f['p50']:.0f} ms, p95 {f['p95']:.0f} ms, p99 {f['p99']:.0f} ms"
            f" (CPU: {', '.join(f'{k} {v:.0f}%' for k, v in f['cpu'].items())})",
            flush=True,
        )
    return [{k: f[k] for k in ("figure", "p50", "p95", "p99", "achieved", "cpu")} for f in found]


async def keeping_only(sizes: Sizes) -> list[dict[str, Any]]:
    """Freshness at 50 commands/s alone, then while a month end is kept, on services given
    `rebuilding_events` more events first (half as many children); prints, writes nothing."""

    async def step(on: Services) -> list[dict[str, Any]]:
        await more_children(on.infra, on.processes, on.namespace, sizes.rebuilding_events)
        seconds = sizes.keeping_seconds
        return [
            await freshness(on.processes, on.conn, on.namespace, 50.0, seconds),
            await freshness_while_keeping(on.infra, on.processes, on.conn, on.namespace, seconds),
        ]

    return _printed(await on_the_services(step))


async def sustained_only(sizes: Sizes) -> dict[str, Any]:
    """The highest rate held alone."""
    return await on_the_services(
        lambda on: highest_sustained(on.processes, on.conn, on.namespace, sizes)
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.harness")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; write nothing")
    parser.add_argument(
        "--only",
        choices=[
            "appends",
            "feed",
            "relay",
            "rebuild",
            "returns",
            "returns-import",
            "pages",
            "sustained",
            "rebuilding",
            "keeping",
            "decode",
        ],
        help="measure one figure beside its baseline; write nothing (returns: the statutory "
        "returns' figures, written into their section of the doc and bench/results/returns.json"
        " unless --smoke; returns-import: the import's figure alone, merged into them; pages:"
        " the rebuild then every dashboard page on its read model, written into their section;"
        " sustained: the highest rate of commands held, printed; rebuilding: freshness alone,"
        " then during a rebuild by two members and by one, printed; keeping: freshness alone,"
        " then while a month end is kept, printed; decode: a consumer's read of a message, the"
        " plain way beside the one pass, no I/O, printed)",
    )
    parser.add_argument("--runs", type=int, default=2, help="with --only: how many times")
    parser.add_argument(
        "--events",
        type=int,
        help="with --only rebuild or pages: events to rebuild (1,000,000 unless told)",
    )
    parser.add_argument(
        "--requests", type=int, help="with --only pages: requests of each page after its first"
    )
    args = parser.parse_args()
    tune_garbage_collector()  # as every platform process does (shared/entrypoint.py)
    sizes = Sizes.smoke() if args.smoke else Sizes.full()
    if args.only == "returns":
        figures = asyncio.run(returns_only(sizes))
        print("\n".join(statutory_returns.section(figures)))
        if not args.smoke:
            written = statutory_returns.record(figures, DOC, RESULTS.parent)
            print("wrote " + " and ".join(str(p.relative_to(ROOT)) for p in written))
        return
    if args.only == "pages":
        sizes = dataclasses.replace(sizes, rebuild_events=args.events or sizes.rebuild_events)
        if args.requests:
            sizes = dataclasses.replace(sizes, page_requests=args.requests)
        pages = asyncio.run(pages_only(sizes))
        print("\n".join(dashboard.section(pages, pages["children"])))
        if not args.smoke:
            written = dashboard.record(pages, pages["children"], DOC, RESULTS.parent)
            print("wrote " + " and ".join(str(p.relative_to(ROOT)) for p in written))
        return
    printed = {  # nothing written
        "sustained": sustained_only,
        "rebuilding": rebuilding_only,
        "keeping": keeping_only,
        "decode": decode.measured,
    }
    if args.only in printed:
        print(json.dumps(asyncio.run(printed[args.only](sizes))))
        return
    if args.only == "returns-import":
        figure = asyncio.run(returns_import_only(sizes))
        print("\n".join(statutory_returns.import_lines(figure)))
        if not args.smoke:
            written = statutory_returns.record_import(figure, DOC, RESULTS.parent)
            print("wrote " + " and ".join(str(p.relative_to(ROOT)) for p in written))
        return
    if args.only:
        if args.events:
            sizes = dataclasses.replace(sizes, rebuild_events=args.events)
        asyncio.run(only(args.only, sizes, args.runs))
        return
    results = asyncio.run(run(sizes, args.smoke))
    print(markdown(results))
    if args.smoke:
        print(
            json.dumps(
                {"smoke": "ok", "figures": len(results["throughput"]) + len(results["latency"]) + 1}
            )
        )
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, default=str) + "\n")
    DOC.write_text(markdown(results))
    print(f"wrote {RESULTS.relative_to(ROOT)} and {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

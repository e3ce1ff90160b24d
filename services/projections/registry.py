"""What the projection service reads (every domain topic, decoded with the published
contracts), its worker (which follows the live board build, and keeps the returns' live
data-quality board checked) and the rebuild."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from tqdm import tqdm

from contracts.topics import DEAD_LETTERS, DOMAIN_TOPICS, domain_events, domain_topic_names
from services.projections.assurance.projection import Assurance
from services.projections.attention.projection import Attention
from services.projections.boards.kept import keep
from services.projections.boards.projection import BoardFacts
from services.projections.builds import (
    BUILDS_SQL,
    NotCaughtUp,
    SkipsToCarry,
    create_build,
    ensure_live_build,
    live_build,
    make_indexes,
    set_aside_indexes,
    skipped_since,
    swap,
)
from services.projections.chronology.projection import Chronology
from services.projections.returns.quality import Checker
from services.projections.returns.queries import READS
from shared.clock import clock_from
from shared.db import open_database
from shared.entrypoint import tune_garbage_collector
from shared.envelope import EventRegistry
from shared.http import WorkerParts, worker_app
from shared.kafka import DEAD_LETTER_TOPIC, ensure_topics, new_producer
from shared.logging import configure_logging, get_logger
from shared.projection import (
    RUNNER,
    SPENT,
    TRANSIENT,
    AppliedLedger,
    Projection,
    ProjectionRunner,
    spent_by,
)
from shared.retry import pause
from shared.settings import Settings

log = get_logger(__name__)

# The events that can change a child's returns: those the returns read, and whether a UPN is
# held. A school's register, a family's triage or an escalation touches no return, and is not
# made to wait behind (or hold up) the checks of those that do.
TOUCHES_RETURNS = READS | {"PersonalDetailsRecorded", "ChildPersonalDataErased"}


def boards(settings: Settings, rebuilding: bool = False) -> list[Projection]:
    """Every read model a build holds, each applied in the same transaction as the offsets:
    the boards' facts, each child's chronology (a rebuild's touches queue the children for
    the returns' check as a sweep does: behind the live events' once it is swapped in),
    quality assurance's records, and the incident management teams' attention queue."""
    return [
        BoardFacts(clock_from(settings).today, settings.board_days_kept),
        Chronology(swept=rebuilding, touches=TOUCHES_RETURNS),
        Assurance(),
        Attention(),
    ]


def build_runner(
    settings: Settings,
    pool: asyncpg.Pool,
    schema: str,
    dead_letters: Any,
    registry: EventRegistry | None = None,
    batch_size: int | None = None,
    fill_wait_ms: int = 0,
    rebuilding: bool = False,
) -> ProjectionRunner:
    """The runner that fills one build: its own consumer name, offsets in its own schema."""
    consumer = f"{settings.consumer_group}.{schema}"
    projections = boards(settings, rebuilding)
    if settings.projection_ledger:
        projections.append(AppliedLedger(consumer))
    return ProjectionRunner(
        pool,
        registry or domain_events(),
        projections,
        [settings.topic(t) for t in domain_topic_names()],
        kafka_options=settings.kafka_options(),
        consumer_name=consumer,
        dead_letters=dead_letters,
        dead_letter_topic=settings.topic(DEAD_LETTER_TOPIC),
        batch_size=batch_size or settings.projection_batch_size,
        schema=schema,
        fill_wait_ms=fill_wait_ms,
    )


async def watch_for_swap(
    live: Callable[[], Awaitable[str | None]],
    schema: str,
    stop: asyncio.Event,
    swapped: asyncio.Event,
    every_s: float = 1.0,
) -> None:
    """Set `swapped` once `live()` names a build other than `schema` (a rebuild swapped in),
    or if this watch ends any other way: its runner then stops, and the worker finds the live
    build again. A failed read (the database restarting) is asked again: a watch that died on
    it would leave the runner filling a build no longer live, unseen, from the next swap on."""
    try:
        while not stop.is_set():
            try:
                if await live() != schema:
                    log.info("a rebuild was swapped in; following it", previous=schema)
                    return
            except (*TRANSIENT, asyncpg.PostgresError) as error:
                log.warning("cannot read which build is live; asking again", error=repr(error))
            await pause(stop, every_s)
    finally:
        swapped.set()


def worker(settings: Settings) -> FastAPI:
    """Keeps the live build up to date; when a rebuild swaps in another build, carries on in
    that one from the offsets the rebuild stored. Beside it, the checker of the returns' data
    quality (returns/quality.py) checks again the children the events touched, in the live
    build, and is stopped with it."""

    async def start(stop: asyncio.Event) -> WorkerParts:
        pool = await open_database(settings, BUILDS_SQL)
        await ensure_topics(settings, [*DOMAIN_TOPICS, DEAD_LETTERS])
        producer = new_producer(settings)
        await producer.start()
        current: dict[str, ProjectionRunner] = {}
        checker = Checker(settings, pool, clock_from(settings))

        async def follow(stop: asyncio.Event) -> None:
            while not stop.is_set():
                try:
                    schema = await ensure_live_build(pool)
                except (*TRANSIENT, asyncpg.PostgresError) as error:
                    log.warning("cannot find the live build yet; retrying", error=repr(error))
                    await pause(stop, 1.0)
                    continue
                runner = current["runner"] = build_runner(settings, pool, schema, producer)
                swapped = asyncio.Event()
                watcher = asyncio.create_task(
                    watch_for_swap(lambda: live_build(pool), schema, stop, swapped)
                )
                await runner.run(swapped)
                watcher.cancel()

        async def check() -> dict[str, Any]:
            runner = current.get("runner")
            if runner is None:
                return {"ok": False, "error": "starting"}
            return {
                "ok": runner.healthy,
                "error": runner.last_error,
                "build": runner.consumer_name,
                "lag": runner.lag(),
            }

        async def both(stop: asyncio.Event) -> None:
            # The checker never raises (it retries what fails); if following the builds ever
            # did, the task group cancels the checker too, and the worker stops as before.
            async with asyncio.TaskGroup() as group:
                group.create_task(follow(stop))
                group.create_task(checker.run(stop))

        async def close() -> None:
            await producer.stop()
            await pool.close()

        return both, {"boards": check, "returns_quality": checker.health}, close

    return worker_app("Projections worker", settings, start)


# SPENT's projection label for a rebuild's own steps around the runner's batches: setting up
# (the database, the build's schema, the topics' ends), stopping the runner once it caught up,
# making the indexes set aside, and the swap.
BUILD = "(build)"


async def rebuild(
    settings: Settings,
    swap_in: bool = True,
    progress: bool = True,
    registry: EventRegistry | None = None,
    as_the_live_worker: bool = False,
) -> str:
    """Fill a new build from offset 0 beside the live one, with a progress bar; then swap it
    in (the live boards keep answering from the old build until then). `registry` decodes
    the events (by default the published contracts, with their upcasters).
    `as_the_live_worker`: filled as the worker fills the live build (its batches, every index
    kept all along, the returns' touches not swept) and never swapped in: what a rebuild must
    equal (`differences`; the benchmark's rebuild at 1,000,000 events)."""
    began = time.perf_counter()
    pool = await open_database(settings, BUILDS_SQL)
    producer = new_producer(settings)
    await producer.start()
    try:
        schema = await create_build(pool)
        indexes = [] if as_the_live_worker else await set_aside_indexes(pool, schema)
        topics = [settings.topic(t) for t in domain_topic_names()]
        target = await _end_offsets(settings, topics)
        total = sum(target.values())
        runner = (
            build_runner(settings, pool, schema, producer, registry)
            if as_the_live_worker
            else _rebuilding_runner(settings, pool, schema, producer, registry)
        )
        # Members of the same group in processes beside this one (the published contracts
        # only: a registry given here is not sent to another process).
        members = 1 if as_the_live_worker or registry is not None else settings.rebuild_members
        others = _Members(settings, schema, members - 1)
        spent = SPENT.labels(runner.consumer_name, BUILD, "setting up")
        spent.inc(time.perf_counter() - began)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        bar = tqdm(
            total=total,
            unit="msg",
            desc=f"rebuilding {schema}",
            file=sys.stderr,
            disable=not progress,
        )
        try:
            while True:
                done = await _consumed(pool, schema, runner.consumer_name, target)
                bar.update(done - bar.n)
                if done >= total:
                    break
                if task.done():
                    task.result()
                    raise RuntimeError("the rebuild stopped before it caught up")
                others.check()
                await asyncio.sleep(0.2)  # progress poll
        finally:
            bar.close()
            caught_up = time.perf_counter()
            stop.set()
            await asyncio.gather(task, asyncio.to_thread(others.stop))
            SPENT.labels(runner.consumer_name, BUILD, "stopping").inc(
                time.perf_counter() - caught_up
            )
        if as_the_live_worker:
            return schema
        made = time.perf_counter()
        await make_indexes(pool, schema, indexes)
        seconds = time.perf_counter() - made
        SPENT.labels(runner.consumer_name, BUILD, "indexes made").inc(seconds)
        log.info("indexes made", build=schema, indexes=len(indexes), seconds=round(seconds, 1))
        if swap_in:
            await carry_skips(settings, pool, schema, producer)
            keeping = time.perf_counter()
            if await _keep_the_live_builds_days(settings, pool, schema):
                SPENT.labels(runner.consumer_name, BUILD, "days kept").inc(
                    time.perf_counter() - keeping
                )
            swapping = time.perf_counter()
            previous = await _swapped_in_caught_up(settings, pool, schema, producer, registry)
            SPENT.labels(runner.consumer_name, BUILD, "swapped in").inc(
                time.perf_counter() - swapping
            )
            log.info("rebuild swapped in", build=schema, previous=previous, messages=total)
        return schema
    finally:
        await producer.stop()
        await pool.close()


async def carry_skips(settings: Settings, pool: asyncpg.Pool, schema: str, producer: Any) -> int:
    """Skip in the build `schema` the dead letters an operator skipped in the live build
    while it was filled (those skipped before, `copy_skipped` recorded when it was made):
    as the operator, under their audit record, so the events it held behind them are
    applied before it is swapped in. How many."""
    async with pool.acquire() as conn:
        skipped = await skipped_since(conn, schema)
    runner = build_runner(settings, pool, schema, producer)
    for row in skipped:
        done = await runner.replay(
            row["topic"],
            row["partition"],
            row["message_offset"],
            None,
            by=row["replayed_by"],
            audit_id=row["replay_audit_id"],
            skip=True,
        )
        if done.applied:
            log.info("a skip carried to the new build", build=schema, outcome=done.detail)
        else:  # the swap waits for it (SkipsToCarry) until the catching up's deadline
            log.warning("a skip not carried to the new build", build=schema, outcome=done.detail)
    return len(skipped)


async def _keep_the_live_builds_days(settings: Settings, pool: asyncpg.Pool, schema: str) -> int:
    """Keep the boards on the days the live build keeps them (and today), in the new build
    before it is swapped in; return how many days. The API would keep them after the swap,
    today's at once, and until a day is kept its boards are worked out from the facts (a
    trend's twelve month ends, minutes at 500,000 children). Here they are kept before anyone
    reads the build."""
    live = await live_build(pool)
    if live is None:
        return 0
    today = clock_from(settings).today()
    try:
        days = {
            r["day"]
            for r in await pool.fetch(
                f'SELECT DISTINCT day FROM "{live}".board_days WHERE NOT stale'
            )
        }
    except asyncpg.UndefinedTableError:  # a live build from before the kept totals
        days = set()
    kept = 0
    for day in sorted(days | {today}, reverse=True):  # today first, as the API keeps them
        if await keep(pool, day, today, settings.board_days_kept, build=schema):
            kept += 1
    log.info("the live build's days kept", build=schema, days=kept)
    return kept


# How long a rebuilt build may take to catch up with the live one before it is swapped in.
CATCH_UP_S = 600.0


async def _swapped_in_caught_up(
    settings: Settings,
    pool: asyncpg.Pool,
    schema: str,
    producer: Any,
    registry: EventRegistry | None,
) -> str | None:
    """Swap the build in once it holds everything the live build does (`swap(caught_up=True)`),
    reading on as the live worker reads until then. The live worker kept the live build up to
    date all the while the rebuild filled its own to the topics' ends of its start: swapped in
    at those, the boards would go back to how they were then (a child registered meanwhile
    gone, an escalation closed meanwhile open again) until the worker had followed the swap
    and read on from there. Returns the build it replaced."""
    with contextlib.suppress(NotCaughtUp):
        return await swap(pool, schema, caught_up=True)  # nothing was recorded meanwhile
    await carry_skips(settings, pool, schema, producer)
    runner = build_runner(settings, pool, schema, producer, registry)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    deadline = time.monotonic() + CATCH_UP_S
    try:
        while True:
            try:
                previous = await swap(pool, schema, caught_up=True)
                log.info("caught up with the live build", build=schema, previous=previous)
                return previous
            except SkipsToCarry:
                await carry_skips(settings, pool, schema, producer)
            except NotCaughtUp as behind:
                if task.done():
                    task.result()
                    raise RuntimeError("the build stopped reading before it caught up") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"not swapped in: {behind} after {CATCH_UP_S:.0f} s"
                    ) from None
            await asyncio.sleep(0.1)  # the catching up's poll, within the deadline
    finally:
        stop.set()
        await task


def _rebuilding_runner(
    settings: Settings,
    pool: asyncpg.Pool,
    schema: str,
    producer: Any,
    registry: EventRegistry | None = None,
) -> ProjectionRunner:
    """A rebuild's runner. Nobody waits on a build being filled: larger batches, fewer
    transactions."""
    return build_runner(
        settings,
        pool,
        schema,
        producer,
        registry,
        batch_size=settings.rebuild_batch_size,
        fill_wait_ms=100,
        rebuilding=True,
    )


class _Members:
    """The rebuild's other members, each a process of its own (spawned: nothing of this
    process's state is shared) running a rebuild's runner into `schema` until told to stop.
    One member's Python and its PostgreSQL backend take turns, so a member keeps about one
    core busy: two use a machine of two."""

    def __init__(self, settings: Settings, schema: str, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._stopping = context.Event()
        # Each member's csp_projection_seconds_total, sent back as it stops and added to this
        # process's: where the whole rebuild's time went, every member's batches counted.
        self._spent: Any = context.Queue()
        self._processes = [
            context.Process(
                target=_member,
                args=(settings, schema, self._stopping, self._spent),
                name=f"member-{n + 2}",
            )
            for n in range(count)
        ]
        for process in self._processes:
            process.start()

    def check(self) -> None:
        for process in self._processes:
            if process.exitcode is not None:
                raise RuntimeError(f"rebuild {process.name} stopped (exit {process.exitcode})")

    def stop(self) -> None:
        self._stopping.set()
        for process in self._processes:
            process.join(60)
            if process.is_alive():
                process.kill()
                process.join()
        while True:
            try:
                consumer, spent = self._spent.get(timeout=0.1)
            except queue.Empty:
                break
            for (projection, phase), seconds in spent.items():
                SPENT.labels(consumer, projection, phase).inc(seconds)


def _member(settings: Settings, schema: str, stopping: Any, spent: Any) -> None:
    configure_logging("projections", settings.log_level, settings.log_format)
    tune_garbage_collector()
    consumer = asyncio.run(_fill_as_a_member(settings, schema, stopping))
    counted = spent_by(consumer)
    spent.put((consumer, counted))
    log.info(
        "rebuild member stopped",
        member=multiprocessing.current_process().name,
        seconds_in_batches=round(counted.get((RUNNER, "transaction"), 0.0), 1),
    )


async def _fill_as_a_member(settings: Settings, schema: str, stopping: Any) -> str:
    """Run a rebuild's runner into `schema` until `stopping`; return its consumer name."""
    pool = await open_database(settings, BUILDS_SQL)
    producer = new_producer(settings)
    await producer.start()
    try:
        stop = asyncio.Event()
        runner = _rebuilding_runner(settings, pool, schema, producer)

        async def watch() -> None:
            # The other process's flag, which cannot be awaited: looked at ten times a second.
            while not stopping.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            stop.set()

        watching = asyncio.create_task(watch())
        await runner.run(stop)
        watching.cancel()
        return runner.consumer_name
    finally:
        await producer.stop()
        await pool.close()


async def _end_offsets(settings: Settings, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(*topics, **settings.kafka_options(), group_id=None)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())
        ]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def _consumed(
    pool: asyncpg.Pool, schema: str, consumer: str, target: dict[TopicPartition, int]
) -> int:
    rows = await pool.fetch(
        f'SELECT topic, partition, next_offset FROM "{schema}".projection_offsets'
        " WHERE consumer = $1",
        consumer,
    )
    stored = {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}
    return sum(min(stored.get(tp, 0), end) for tp, end in target.items())

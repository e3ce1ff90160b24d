"""The fault scenarios. Each runs the seeded workload through the case-events API on a fresh
namespace (its own databases and topics), injects its faults while the workload runs, waits
until the platform has settled, and returns its figures (chaos/invariants.py).

The processes are the platform's own (`python -m services.X api|worker`): the case-events API
and worker (its relay), and the projections worker (the boards), with the ledger on.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient

from chaos import workload
from chaos.cluster import ChaosCluster
from chaos.invariants import Figures, check, gather, replay_differences
from chaos.workload import Outcome
from shared.envelope import EventRegistry
from shared.kafka import new_producer
from shared.retry import pause
from shared.settings import Settings
from tests.conftest import settings_for
from tests.infrastructure import ServiceProcess, new_namespace

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Size:
    commands: int
    rate: float  # commands offered per second
    broker_restarts: int
    process_kills: int
    pause_s: float
    poison: int
    rebalances: int
    fuzz_examples: int
    postgres_crashes: int


FULL = Size(
    commands=3000,
    rate=40,
    broker_restarts=5,
    process_kills=100,
    pause_s=30,
    poison=60,
    rebalances=12,
    fuzz_examples=60,
    postgres_crashes=3,
)
SHORT = Size(
    commands=400,
    rate=40,
    broker_restarts=2,
    process_kills=10,
    pause_s=10,
    poison=12,
    rebalances=3,
    fuzz_examples=8,
    postgres_crashes=1,
)


class Platform:
    """One scenario's processes on the cluster, in a namespace of their own."""

    def __init__(
        self,
        cluster: ChaosCluster,
        name: str,
        projection_workers: int = 1,
        logs: Path | None = None,
    ) -> None:
        self.cluster = cluster
        self.infra = cluster.infrastructure()
        self.namespace = new_namespace()
        self.env = self.infra.env(
            self.namespace,
            CSP_DEMO="off",
            CSP_PROJECTION_LEDGER="true",
            CSP_RELAY_STALLED_AFTER_S="5",
            CSP_RATE_LIMIT="100000/second",
            **cluster.replication_env(),
        )
        logs = logs or ROOT / "test-artifacts" / "chaos" / f"{name}-{self.namespace}"
        self.api = ServiceProcess("services.case_events", "api", self.env, logs)
        self.relay = ServiceProcess("services.case_events", "worker", self.env, logs)
        self.boards = [
            ServiceProcess("services.projections", "worker", self.env, logs)
            for _ in range(projection_workers)
        ]

    @property
    def processes(self) -> list[ServiceProcess]:
        return [self.api, self.relay, *self.boards]

    def settings(self, service: str = "projections") -> Settings:
        return settings_for(
            self.infra,
            service,
            self.namespace,
            projection_ledger=True,
            topic_replication_factor=min(len(self.cluster.kafka), 3),
        )

    def dsn(self, service: str) -> str:
        return self.infra.dsn(f"{self.namespace}{service}")

    def start(self) -> Platform:
        started = time.monotonic()
        for p in self.processes:
            p.start()
        for p in self.processes:
            p.wait_healthy(180)
        self.started_in_s = time.monotonic() - started
        return self

    def stop(self) -> None:
        for p in self.processes:  # all told at once, then each waited for
            p.terminate()
        for p in self.processes:
            p.stop()

    async def settle(self, timeout_s: float = 240) -> None:
        """Wait until every stored event is in the ledger of the live boards (or the deadline:
        then the checker reports what is missing)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                stored = await _count(self.dsn("case_events"), "events")
                if (
                    stored
                    and await _count(self.dsn("projections"), "projection_applied", live_build=True)
                    >= stored
                ):
                    return
            except (OSError, asyncpg.PostgresError):
                pass
            await asyncio.sleep(0.5)  # poll interval; the deadline bounds the wait

    async def figures(
        self,
        name: str,
        outcome: Outcome,
        *,
        poison: int = 0,
        replay: bool = True,
        leave_out: tuple[str, ...] = (),
        registry: EventRegistry | None = None,
    ) -> Figures:
        settling = time.monotonic()
        await self.settle()
        settled = time.monotonic() - settling
        evidence = await gather(
            outcome, self.settings(), self.dsn("case_events"), self.dsn("projections"), poison
        )
        result = check(name, outcome.offered, evidence)
        result.notes += outcome.rejected[:3] + [f"gave up: {k}" for k in outcome.gave_up[:3]]
        if outcome.rejected or outcome.gave_up:
            result.notes.append(
                f"{len(outcome.rejected)} rejected, {len(outcome.gave_up)} "
                "unanswered commands (not acknowledged, so not counted lost)"
            )
        if replay:
            replaying = time.monotonic()
            counts, _ = await replay_differences(
                self.settings(), self.dsn("projections"), registry, leave_out
            )
            result.replay_differences = sum(counts.values())
            if result.replay_differences:
                result.notes.append(f"replay differs: { ({t: n for t, n in counts.items() if n}) }")
            result.notes.append(f"replay took {time.monotonic() - replaying:.0f}s")
        result.notes.append(f"settled {settled:.0f}s after the workload")
        return result


async def _count(dsn: str, table: str, live_build: bool = False) -> int:
    """Distinct events in the event store, or in the live board build's ledger."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        if live_build:
            live = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
            if live is None:
                return 0
            table = f'"{live}".{table}'
        return int(await conn.fetchval(f"SELECT count(DISTINCT event_id) FROM {table}"))
    finally:
        await conn.close()


async def with_workload(
    platform: Platform, size: Size, seed: int, faults: Callable[[asyncio.Event], Awaitable[None]]
) -> Outcome:
    """Run the workload and, beside it, `faults` until the workload is done."""
    done = asyncio.Event()
    task = asyncio.create_task(workload.run(platform.api.url, seed, size.commands, size.rate))
    task.add_done_callback(lambda _: done.set())
    try:
        await faults(done)
    finally:
        outcome = await task
    return outcome


async def _pause(seconds: float, done: asyncio.Event | None = None) -> None:
    """Wait between two faults (the schedule of the injector, not a wait for an outcome)."""
    if done is None:
        await asyncio.sleep(seconds)
        return
    await pause(done, seconds)


async def relay_caught_up(platform: Platform, since: float, timeout_s: float = 300) -> float:
    """Seconds from `since` until the relay is healthy with nothing left to publish."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                r = await client.get(f"{platform.relay.url}/health")
                if r.status_code == 200 and r.json()["checks"]["relay"]["events_behind"] == 0:
                    return time.monotonic() - since
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            await _pause(0.2)
    raise TimeoutError(f"the relay did not catch up within {timeout_s:.0f}s")


# -- 1. the broker down and back ---------------------------------------------------------------


async def broker_restarts(cluster: ChaosCluster, size: Size, seed: int) -> Figures:
    platform = Platform(cluster, "broker-restarts")
    rng = random.Random(seed)
    acked_while_down = 0
    down_windows: list[tuple[float, float]] = []
    recoveries: list[float] = []
    try:
        platform.start()

        async def faults(done: asyncio.Event) -> None:
            broker = cluster.kafka[0]
            for _ in range(size.broker_restarts):
                await _pause(rng.uniform(2, 5))
                broker.kill()
                down = time.monotonic()
                await _pause(rng.uniform(2, 5))
                down_windows.append((down, time.monotonic()))
                await asyncio.to_thread(broker.start)
                recoveries.append(await relay_caught_up(platform, time.monotonic()))

        outcome = await with_workload(platform, size, seed, faults)
        acked_while_down = sum(
            1 for a in outcome.acks if any(s <= a.at <= e for s, e in down_windows)
        )
        result = await platform.figures("1 broker killed and restarted", outcome)
        result.recovery_s = max(recoveries, default=None)
        result.notes.append(
            "recovery: the longest, over the restarts, from the broker "
            "listening again to nothing left to publish"
        )
        result.notes.append(
            f"{size.broker_restarts} SIGKILLs of the broker; {acked_while_down} "
            "commands acknowledged while it was down"
        )
        return result
    finally:
        platform.stop()


# -- 2. a three-broker cluster, leaders killed -------------------------------------------------


async def leader_kills(cluster: ChaosCluster, size: Size, seed: int) -> Figures:
    assert len(cluster.kafka) == 3
    platform = Platform(cluster, "leader-kills")
    rng = random.Random(seed)
    topic = platform.settings().topic("case-events")
    killed: list[int] = []
    recoveries: list[float] = []
    try:
        platform.start()

        async def faults(done: asyncio.Event) -> None:
            for _ in range(size.broker_restarts):
                await _pause(rng.uniform(2, 4))
                leader = await _leader_of(cluster, topic, rng.randrange(6))
                broker = cluster.kafka[leader - 1]
                broker.kill()
                killed.append(leader)
                recoveries.append(await relay_caught_up(platform, time.monotonic()))
                await _pause(rng.uniform(2, 4))
                await asyncio.to_thread(broker.start)
                await _in_sync(cluster, topic, 120)  # before the next kill: ISR whole again

        outcome = await with_workload(platform, size, seed, faults)
        result = await platform.figures("2 three brokers, leaders killed", outcome)
        result.recovery_s = max(recoveries, default=None)
        result.notes.append(
            "recovery: the longest, over the kills, from a leader's death to "
            "nothing left to publish (a new leader elected, the rest in sync)"
        )
        result.notes.append(
            f"replication factor 3, min.insync.replicas 2, unclean leader "
            f"election off; leaders killed (node ids): {killed}"
        )
        return result
    finally:
        platform.stop()


async def _describe(cluster: ChaosCluster, topic: str) -> list[dict[str, Any]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
        return list(description["partitions"])
    finally:
        await admin.close()


async def _leader_of(cluster: ChaosCluster, topic: str, partition: int) -> int:
    for p in await _describe(cluster, topic):
        if p["partition"] == partition:
            return int(p["leader"])
    raise LookupError(f"{topic}:{partition}")


async def _in_sync(cluster: ChaosCluster, topic: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if all(len(p["isr"]) == 3 for p in await _describe(cluster, topic)):
                return
        except Exception:
            pass
        await asyncio.sleep(0.5)  # poll interval within the deadline
    raise TimeoutError(f"{topic} replicas not back in sync after {timeout_s}s")


# -- 3. our own processes crash ----------------------------------------------------------------


async def process_kills(cluster: ChaosCluster, size: Size, seed: int) -> Figures:
    platform = Platform(cluster, "process-kills")
    rng = random.Random(seed)
    kills = {"relay": 0, "projection": 0}
    try:
        platform.start()

        async def faults(done: asyncio.Event) -> None:
            # Kill at random moments, mostly while the process is working: around its database
            # commit and its offset store. A killed process is started again at once.
            while sum(kills.values()) < size.process_kills:
                await _pause(rng.uniform(0.3, 2.5))
                which = rng.choice(["relay", "projection"])
                process = platform.relay if which == "relay" else platform.boards[0]
                process.kill()
                kills[which] += 1
                process.start()
            for p in (platform.relay, platform.boards[0]):
                await asyncio.to_thread(p.wait_healthy, 180)

        outcome = await with_workload(platform, size, seed, faults)
        result = await platform.figures("3 relay and projection processes killed", outcome)
        result.notes.append(f"SIGKILLs: {kills['relay']} relay, {kills['projection']} projection")
        return result
    finally:
        platform.stop()


# -- 4. PostgreSQL immediate shutdown ----------------------------------------------------------


async def postgres_crash(cluster: ChaosCluster, size: Size, seed: int) -> Figures:
    platform = Platform(cluster, "postgres-crash")
    restarted_at: list[float] = []
    try:
        platform.start()

        async def faults(done: asyncio.Event) -> None:
            every = size.commands / size.rate / (size.postgres_crashes + 1)
            for _ in range(size.postgres_crashes):
                await _pause(every)
                cluster.postgres_immediate_shutdown()
                await _pause(3)
                await asyncio.to_thread(cluster.postgres.start, 120)
                restarted_at.append(time.monotonic())

        outcome = await with_workload(platform, size, seed, faults)
        recoveries = [
            min((a.at for a in outcome.acks if a.at >= t), default=t) - t for t in restarted_at
        ]
        result = await platform.figures("4 PostgreSQL immediate shutdown", outcome)
        result.recovery_s = max(recoveries, default=None)
        rewinds = sum(
            b.log_path.read_text(errors="replace").count("consumer ahead of the stored offset")
            for b in platform.boards
        )
        result.notes.append(
            f"{len(restarted_at)} immediate shutdowns, 3 s down each; the "
            f"boards found their consumer ahead of their stored offsets and read "
            f"again from them {rewinds} times (a crash that takes their last "
            "asynchronous commits; whether one does depends on its timing)"
        )
        for p in platform.processes:
            if p.proc is not None and p.proc.poll() is not None:
                result.violations += 1
                result.notes.append(f"{p.module} {p.role} exited and did not reconnect")
        result.notes.append(
            "recovery: the longest, over the shutdowns, from the server "
            "accepting connections again to the next command acknowledged; no "
            "process was restarted"
        )
        return result
    finally:
        platform.stop()


# -- 5. a paused broker ------------------------------------------------------------------------


async def paused_broker(cluster: ChaosCluster, size: Size, seed: int) -> Figures:
    platform = Platform(cluster, "paused-broker")
    observed: dict[str, float] = {}
    try:
        platform.start()

        async def faults(done: asyncio.Event) -> None:
            await _pause(3)
            broker = cluster.kafka[0]
            broker.signal(signal.SIGSTOP)
            paused = time.monotonic()
            # Degraded shows from CSP_RELAY_STALLED_AFTER_S (5 s) until SIGCONT (10 s in the
            # short run): a check slower than 2 s on the shared cores is asked again, and one
            # slow answer cannot take the whole of that window.
            async with httpx.AsyncClient(timeout=2) as client:
                while time.monotonic() - paused < size.pause_s:
                    try:
                        r = await client.get(f"{platform.relay.url}/health")
                    except httpx.TimeoutException:
                        continue
                    if r.status_code == 503 and "degraded" not in observed:
                        observed["degraded"] = time.monotonic() - paused
                    await _pause(0.5)
                broker.signal(signal.SIGCONT)
            observed["recovered"] = await relay_caught_up(platform, time.monotonic())

        outcome = await with_workload(platform, size, seed, faults)
        result = await platform.figures("5 broker paused (SIGSTOP)", outcome)
        result.recovery_s = observed.get("recovered")
        degraded = observed.get("degraded")
        result.notes.append(
            f"paused {size.pause_s:g}s; the relay's /health said degraded after "
            + (f"{degraded:.1f}s" if degraded is not None else "NEVER")
            + f"; slowest command answered in {outcome.slowest_s * 1000:.0f} ms (they need "
            "only PostgreSQL); recovery: from SIGCONT"
            " to nothing left to publish"
        )
        if degraded is None:
            result.violations += 1
            result.notes.append("FAILED: health never showed degraded")
        return result
    finally:
        platform.stop()


# -- 6. poison messages ------------------------------------------------------------------------


async def poison_messages(cluster: ChaosCluster, size: Size, seed: int) -> Figures:
    platform = Platform(cluster, "poison")
    rng = random.Random(seed)
    settings = platform.settings("chaos")
    topic = settings.topic("case-events")
    try:
        platform.start()

        async def faults(done: asyncio.Event) -> None:
            producer = new_producer(settings)
            await producer.start()
            try:
                for i in range(size.poison):
                    await _pause(rng.uniform(0.05, 0.4))
                    value, headers = _poison(i, rng)
                    await producer.send_and_wait(
                        topic, value, key=f"poison-{i}".encode(), headers=headers
                    )
            finally:
                await producer.stop()

        outcome = await with_workload(platform, size, seed, faults)
        result = await platform.figures("6 poison messages", outcome, poison=size.poison)
        result.notes.append(
            f"{size.poison} poison messages: malformed bytes, unknown event "
            "types, newer schema versions, invalid payloads"
        )
        return result
    finally:
        platform.stop()


def _poison(i: int, rng: random.Random) -> tuple[bytes, list[tuple[str, bytes]]]:
    from datetime import UTC, datetime

    from shared.envelope import new_event_id

    kind = i % 4
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(40)), []
    event_id = str(new_event_id())
    now = datetime.now(UTC).isoformat()
    envelope = {
        "event_id": event_id,
        "event_type": "ChildRegistered",
        "schema_version": 1,
        "stream_id": f"poison-{i}",
        "stream_version": 1,
        "occurred_at": now,
        "recorded_at": now,
        "correlation_id": event_id,
        "actor": {"user_id": "x", "agency": "council", "role": "x"},
        "payload": {"child_id": f"poison-{i}", "date_of_birth": "2012-01-01", "locality": "Exeter"},
    }
    if kind == 1:
        envelope["event_type"] = "ChildTeleported"
    elif kind == 2:
        envelope["schema_version"] = 99
    else:
        envelope["payload"] = {"child_id": f"poison-{i}", "date_of_birth": "not a date"}
    return json.dumps(envelope).encode(), [("event_id", event_id.encode())]


# -- 7. schema evolution -----------------------------------------------------------------------


async def schema_evolution(cluster: ChaosCluster, size: Size, seed: int) -> Figures:
    from chaos.evolution import registry_with_child_registered_v2

    platform = Platform(cluster, "schema-evolution")
    try:
        platform.start()
        outcome = await with_workload(platform, size, seed, _no_faults)
        result = await platform.figures(
            "7 schema evolution (v1 events, v2 code)",
            outcome,
            registry=registry_with_child_registered_v2(),
            # The chronology shows each event as the code reading it decodes it: the v2
            # code's shows the upcaster's `first_known_through` in every registration, as it
            # should. The boards and every other read model must be the same.
            leave_out=("chronology",),
        )
        undecodable = await _undecodable(
            platform.dsn("case_events"), registry_with_child_registered_v2(upcaster=False)
        )
        result.notes.append(
            "ChildRegistered v2 adds a required `first_known_through`; the stored v1 events "
            "are upcast. Replay differences: the live boards (v1 code) against a rebuild from "
            "offset 0 by the v2 code, in every read model but the chronology (which shows the "
            f"upcast field, as it should). Without the upcaster, {undecodable} stored events would "
            "not decode"
        )
        if not undecodable:
            result.violations += 1
            result.notes.append("FAILED: the v2 code read v1 events without its upcaster")
        return result
    finally:
        platform.stop()


async def _undecodable(dsn: str, registry: EventRegistry) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT event_type, schema_version, payload::text FROM events")
    finally:
        await conn.close()
    failures = 0
    for row in rows:
        try:
            registry.decode(row["event_type"], row["schema_version"], json.loads(row["payload"]))
        except Exception:
            failures += 1
    return failures


async def _no_faults(done: asyncio.Event) -> None:
    await done.wait()


# -- 8. rebalancing ----------------------------------------------------------------------------


async def rebalancing(cluster: ChaosCluster, size: Size, seed: int) -> Figures:
    platform = Platform(cluster, "rebalancing", projection_workers=2)
    rng = random.Random(seed)
    cycles = 0
    try:
        platform.start()

        async def faults(done: asyncio.Event) -> None:
            nonlocal cycles
            while cycles < size.rebalances:
                await _pause(rng.uniform(2, 5))
                member = platform.boards[cycles % 2]
                await asyncio.to_thread(member.stop)  # SIGTERM: leaves the group
                await _pause(rng.uniform(1, 3))
                member.start()
                await asyncio.to_thread(member.wait_healthy, 180)
                cycles += 1

        outcome = await with_workload(platform, size, seed, faults)
        result = await platform.figures("8 rebalancing, two projection members", outcome)
        result.notes.append(f"{cycles} stop/start cycles of one of two members of the group")
        return result
    finally:
        platform.stop()

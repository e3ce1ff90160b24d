"""`make bench`'s figures for the statutory returns (docs/returns.md): how long each return
takes to export for a county, and how long a fact that breaks a DfE rule takes to reach the
live data-quality board while the platform is busy.

1. Export time. A county of the demo's making (deploy/demo/county.py, at scale 1 and ten times
   larger) is not loaded through the APIs (a million commands would take hours): its commands
   are decided in memory by the services' own aggregates (deploy/returns/rehearsal.py), each
   event made into the row the chronology projection writes for it
   (services/projections/chronology/entries.py) and COPYed into a board build made by the
   projection's own migrations. Each return is then made as its route makes it
   (services/projections/routes/returns.py): every child's facts read from PostgreSQL
   (`fetched`), made into records (`build_records`) and derived with the route's own
   functions. What the route does besides is not timed: asking case events for the UPNs (an
   HTTP call; the demo's own UPNs stand in) and writing the audit record.
2. The data-quality board's delay. The services run as processes (case events and the
   projections, the worker with its checker and the DfE's validators), a small county is
   loaded, and then ordinary commands (the case-events journeys of a demo county) are offered
   at a steady rate, among them children whose last command plants a fault the board reports
   (the faults of tests/e2e/test_returns_quality.py). Each fault is timed from its command's
   HTTP 201 (the event is committed before the answer) to the first poll of the board
   (`GET /returns/quality?view=council`, as a manager) that names its rules for its child.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import json
import tempfile
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import asyncpg
import httpx

from bench.processes import start_services
from contracts.education.events import SchoolEnrolled, SchoolLeft
from deploy.demo.county import Step, plan, waited_out
from deploy.returns import import_returns
from deploy.returns.importing import rehearsed
from deploy.returns.rehearsal import (
    ACTOR,
    NOT_DECIDED_HERE,
    Refused,
    Rehearsal,
    records_from_steps,
)
from services.education.domain.commands import RecordRegisterFeed
from services.education.domain.learner import Learner, attendance_events, enrolments
from services.projections.builds import BUILDS_SQL, ensure_live_build, reading
from services.projections.chronology.entries import COLUMNS, entry, registered_locality
from services.projections.returns import annex_a, cin_census, ssda903
from services.projections.returns.facts import ChildRecord, CollectionYear
from services.projections.returns.queries import build_records, fetched
from services.projections.returns.rules import NOT_YET
from services.projections.routes.returns import named, zipped
from shared.clock import LONDON
from shared.db import open_database
from shared.envelope import DomainEvent, Envelope
from shared.eventstore import CommandContext, make_envelopes
from shared.settings import Settings
from tests import reference_data
from tests.infrastructure import TEST_ISSUER, Infrastructure, ServiceProcess, new_namespace

ROOT = Path(__file__).resolve().parent.parent
SEED = 7  # the demo county's (make run's)
CHUNK = 50_000  # chronology rows per COPY
PRACTITIONER = TEST_ISSUER.headers("bench-returns", "council", "practitioner")
MANAGER = TEST_ISSUER.headers("bench-returns-manager", "council", "manager")
OPERATIONS = TEST_ISSUER.headers("bench-returns-operations", "council", "operations")
# The checker's own histograms (services/projections/returns/quality.py): a batch's check,
# and a child's wait from its first touch to its issues written.
CHECKER_METRICS = ("csp_returns_quality_check_seconds", "csp_returns_quality_delay_seconds")
# The planted children's locality: one the demo county never registers a child in, so the
# board's council view asked for it names only them (tests/reference_data.py seeds it).
PLANTED_LOCALITY = "Westward"
WORKER, TEAM = "SW-0001", "T-EX-CIN"  # tests/reference_data.py
LANES = 24  # commands in flight at once at most (the demo loader's concurrency)
FAULT_EVERY_S = 0.5  # a fault's first command is offered this often
# The watcher's pause between two reads of the board: each read costs the API ~30 ms of a
# core on the two the whole platform shares, which the checker would otherwise have.
BOARD_POLL_S = 0.25
DEADLINE_S = 180.0  # after the last command, how long a fault may take to reach the board


def today() -> date:
    return datetime.now(LONDON).date()


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


# -- 1. export time ---------------------------------------------------------------------------


@dataclass
class CountyRows:
    """The demo county's commands decided in memory, as the chronology's rows, in chunks: the
    journeys and the later commands by the rehearsal's aggregates, the register feeds by
    education's own decision (`attendance_events`, on the roll the enrolments made)."""

    scale: float
    day: date
    rehearsal: Rehearsal = field(init=False)
    localities: dict[str, str] = field(default_factory=dict)
    enrolled: dict[str, list[DomainEvent]] = field(default_factory=lambda: defaultdict(list))
    commands: int = 0
    refused: int = 0
    events: int = 0

    def __post_init__(self) -> None:
        self.rehearsal = Rehearsal(self.day)

    def chunks(self, size: int = CHUNK) -> Iterator[list[tuple[Any, ...]]]:
        work = plan(SEED, self.scale, self.day)
        for journey in work.journeys + work.later:
            for step in journey.steps:
                self._decide(step)
                if len(self.rehearsal.envelopes) >= size:
                    yield self._drain()
        yield self._drain()  # every enrolment known before the feeds are decided
        for feed in work.feeds:
            self._feed(feed)
            if len(self.rehearsal.envelopes) >= size:
                yield self._drain()
        yield self._drain()

    def _decide(self, step: Step) -> None:
        if step.path in NOT_DECIDED_HERE:
            return
        self.commands += 1
        try:
            self.rehearsal.decide(step)
        except Refused:
            self.refused += 1

    def _feed(self, step: Step) -> None:
        """A register feed, as education decides it: one AttendanceRecorded per child and day,
        on the child's education stream."""
        self.commands += 1
        feed = RecordRegisterFeed.model_validate(step.body)
        roll = {m.child_id: enrolments(self.enrolled[m.child_id]) for m in feed.marks}
        decided = attendance_events(feed, self.rehearsal.known, self.day, roll)
        ctx = CommandContext(ACTOR, uuid.uuid4())
        for child, events in decided:
            learner = self.rehearsal.streams.setdefault(("education", child), Learner(child))
            for envelope, event in zip(
                make_envelopes(child, learner.version, events, ctx), events, strict=True
            ):
                learner.when(event)
                learner.version += 1
                self.rehearsal.envelopes.append((envelope, event))

    def _drain(self) -> list[tuple[Any, ...]]:
        decided: list[tuple[Envelope, DomainEvent]] = self.rehearsal.envelopes
        self.rehearsal.envelopes = []
        rows = []
        for envelope, event in decided:
            rows.append(entry(envelope, event).record())
            locality = registered_locality(envelope, event)
            if locality is not None:
                self.localities[envelope.stream_id] = locality
            if isinstance(event, SchoolEnrolled | SchoolLeft):
                self.enrolled[envelope.stream_id].append(event)
        self.events += len(rows)
        return rows


async def load_county(
    pool: asyncpg.Pool, scale: float, day: date
) -> tuple[dict[str, Any], dict[str, str]]:
    """The county's chronology COPYed into the live build; what was loaded, and the
    children's UPNs (the demo's, which the export would ask case events for)."""
    county = CountyRows(scale, day)
    chunks = county.chunks()
    generate_s = copy_s = 0.0
    async with pool.acquire() as conn:
        schema = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
        while True:
            started = time.perf_counter()
            rows = next(chunks, None)
            generate_s += time.perf_counter() - started
            if rows is None:
                break
            started = time.perf_counter()
            await conn.copy_records_to_table(
                "chronology", records=rows, columns=list(COLUMNS), schema_name=schema
            )
            copy_s += time.perf_counter() - started
            print(f"returns: scale {scale:g}, {county.events:,} rows", flush=True)
        await conn.copy_records_to_table(
            "chronology_children",
            records=list(county.localities.items()),
            columns=["child_id", "locality"],
            schema_name=schema,
        )
        # A table this size would have been analysed by autovacuum long since.
        await conn.execute(f'ANALYZE "{schema}".chronology, "{schema}".chronology_children')
    loaded = {
        "commands": county.commands,
        "refused": county.refused,
        "chronology_rows": county.events,
        "children": len(county.localities),
        "generate_s": generate_s,
        "copy_s": copy_s,
    }
    return loaded, dict(county.rehearsal.upns)


@dataclass(frozen=True)
class Made:
    """What a return came to: its file's size, its rows and the children it names."""

    size: int
    rows: int
    children: int


def make_ssda903(children: Sequence[ChildRecord], day: date, upns: Mapping[str, str]) -> Made:
    """As GET /returns/ssda903 makes it: this year's tables and last year's, the UPNs of the
    children they name, the zip of both years' CSVs."""
    this = CollectionYear.of(day)
    current, previous = (ssda903.ssda903(children, y, {}, day) for y in (this, this.previous))
    ids = named(*current.values(), *previous.values())
    known = {c: upns[c] for c in ids if c in upns}
    current, previous = ssda903.with_upns(current, known), ssda903.with_upns(previous, known)
    body = zipped(
        {this.label: ssda903.files(current), this.previous.label: ssda903.files(previous)}
    )
    return Made(len(body), sum(len(r) for r in current.values()), len(ids))


def make_cin_census(children: Sequence[ChildRecord], day: date, upns: Mapping[str, str]) -> Made:
    """As GET /returns/cin-census makes it: once to learn the children it names, again with
    their UPNs."""
    this = CollectionYear.of(day)
    la = Settings.model_fields["local_authority"].default
    first = cin_census.cin_census(children, this, {}, la)
    ids = named(first.rows, column=cin_census.CHILD)
    census = cin_census.cin_census(children, this, {c: upns[c] for c in ids if c in upns}, la)
    return Made(len(census.xml), len(census.rows), len(ids))


def make_annex_a(children: Sequence[ChildRecord], day: date, upns: Mapping[str, str]) -> Made:
    """As GET /returns/annex-a makes it: the lists, then the workbook (no UPN is asked for)."""
    lists = annex_a.annex_a(children, day, {})
    body = annex_a.workbook(lists)
    ids = named(*lists.values(), column=annex_a.CHILD)
    return Made(len(body), sum(len(r) for r in lists.values()), len(ids))


RETURNS: dict[str, Callable[[Sequence[ChildRecord], date, Mapping[str, str]], Made]] = {
    "SSDA903 (zip: the year's and the previous year's CSVs)": make_ssda903,
    "CIN census (XML)": make_cin_census,
    "Ofsted Annex A (xlsx workbook)": make_annex_a,
}


async def export_times(pool: asyncpg.Pool, upns: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each return made as its route makes it, as at today, timed in its parts."""
    timed = []
    for name, make in RETURNS.items():
        gc.collect()  # the previous return's garbage is not this one's to pay for
        day = today()
        started = time.perf_counter()
        async with reading(pool) as conn:
            rows, localities = await fetched(conn, day)
        read = time.perf_counter()
        children = build_records(rows, localities)
        built = time.perf_counter()
        made = make(children, day, upns)
        done = time.perf_counter()
        timed.append(
            {
                "return": name,
                "rows_read": len(rows),
                "read_s": read - started,
                "build_s": built - read,
                "derive_s": done - built,
                "total_s": done - started,
                "bytes": made.size,
                "rows": made.rows,
                "children": made.children,
            }
        )
        print(f"returns: {name}: {done - started:.1f} s", flush=True)
        del rows, children
    return timed


def projections_settings(infra: Infrastructure, namespace: str) -> Settings:
    return Settings(
        service="projections",
        namespace=namespace,
        postgres_host=infra.postgres_host,
        postgres_port=infra.postgres_port,
        postgres_user=infra.postgres_user,
        postgres_password=infra.postgres_password,
        postgres_pool_max=4,
    )


async def export_figure(infra: Infrastructure, scale: float) -> dict[str, Any]:
    """The county at `scale` loaded into a projections database of its own, each return made
    from it."""
    settings = projections_settings(infra, new_namespace())
    pool = await open_database(settings, BUILDS_SQL)
    try:
        await ensure_live_build(pool)
        started = time.perf_counter()
        loaded, upns = await load_county(pool, scale, today())
        print(
            f"returns: scale {scale:g} loaded in {time.perf_counter() - started:.0f} s "
            f"({loaded['commands']:,} commands, {loaded['chronology_rows']:,} rows)",
            flush=True,
        )
        gc.collect()
        return {"scale": scale, **loaded, "returns": await export_times(pool, upns)}
    finally:
        await pool.close()
        # Gone with the run: its gigabytes are no later figure's to vacuum or cache.
        conn = await asyncpg.connect(settings.dsn("postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{settings.database}" WITH (FORCE)')
        finally:
            await conn.close()


# -- 2. the data-quality board's delay ---------------------------------------------------------


@dataclass
class Planted:
    """A child whose last command plants a fault: the rules the board should name."""

    child: str
    rules: frozenset[tuple[str, str]]
    steps: list[Step]
    answered: float | None = None  # perf_counter at the planting command's 201
    answered_at: datetime | None = None  # the wall clock then
    seen: float | None = None  # perf_counter when a poll of the board first named its rules
    written: datetime | None = None  # when the checker wrote the first of them (found_at)
    failed: bool = False


def _ago(day: date, days: int) -> str:
    return (day - timedelta(days=days)).isoformat()


def _weekday_ago(day: date, days: int) -> str:
    """A working day about `days` ago (an initial conference is never at a weekend)."""
    found = day - timedelta(days=days)
    while found.weekday() >= 5:
        found -= timedelta(days=1)
    return found.isoformat()


def _child_steps(child: str, day: date, sex: str) -> list[Step]:
    three = _ago(day, 3 * 365 + 30)  # under school age: no UPN is asked for
    base = f"/children/{child}"
    return [
        Step(
            "case_events",
            "/children",
            {"child_id": child, "date_of_birth": three, "locality": PLANTED_LOCALITY},
        ),
        Step(
            "case_events",
            f"{base}/social-worker-allocations",
            {
                "allocated_on": _ago(day, 40),
                "worker_id": WORKER,
                "team_id": TEAM,
                "reason": "FCONTA",
            },
        ),
        Step(
            "case_events",
            f"{base}/characteristics",
            {
                "recorded_on": _ago(day, 39),
                "sex": sex,
                "ethnicity": "WBRI",
                "disabilities": ["NONE"],
            },
        ),
    ]


def _referred(child: str, day: date, outcome: dict[str, str], days: int) -> list[Step]:
    base = f"/children/{child}"
    return [
        Step(
            "case_events",
            f"{base}/referrals",
            {"referral_id": f"R-{child}", "referral_date": _ago(day, days), "source": "1A"},
        ),
        Step(
            "case_events",
            f"{base}/referral-outcomes",
            {"referral_id": f"R-{child}", "decided_on": _ago(day, days - 1), **outcome},
        ),
    ]


def needless_referral(day: date) -> Planted:
    """CIN census 8610: a referral that led to an assessment, with no primary need."""
    child = f"Q{uuid.uuid4().hex[:12].upper()}"
    steps = _child_steps(child, day, "1") + _referred(child, day, {"outcome": "assessment"}, 45)
    return Planted(child, frozenset({("cin", "8610")}), steps)


def unconferenced_plan(day: date) -> Planted:
    """CIN census 2885 and 8675Q: a child protection plan with no initial conference (the
    plan is the planting command)."""
    child = f"Q{uuid.uuid4().hex[:12].upper()}"
    base = f"/children/{child}"
    steps = [
        *_child_steps(child, day, "2"),
        *_referred(child, day, {"outcome": "s47", "primary_need": "N1"}, 40),
        Step(
            "case_events",
            f"{base}/assessments",
            {"assessment_id": f"A-{child}", "start_date": _ago(day, 38)},
        ),
        Step(
            "case_events",
            f"{base}/assessment-completions",
            {
                "assessment_id": f"A-{child}",
                "completion_date": _ago(day, 25),
                "factors": ["2A"],
                "primary_need": "N1",
            },
        ),
        Step(
            "case_events",
            f"{base}/strategy-discussions",
            {
                "discussion_id": f"SD-{child}",
                "discussion_date": _ago(day, 38),
                "section_47_enquiry": True,
            },
        ),
        Step(
            "case_events",
            f"{base}/section-47-outcomes",
            {"discussion_id": f"SD-{child}", "concluded_on": _ago(day, 32), "outcome": "icpc"},
        ),
        Step(
            "case_events",
            f"{base}/child-protection-plans",
            {"plan_id": f"CP-{child}", "category": "NEG", "start_date": _weekday_ago(day, 30)},
        ),
    ]
    return Planted(child, frozenset({("cin", "2885"), ("cin", "8675Q")}), steps)


FAULTS = (needless_referral, unconferenced_plan)


class Pace:
    """Command slots at a steady rate until a deadline: never faster than the rate (a lane
    late for its slot does not make the next ones come sooner)."""

    def __init__(self, rate: float, seconds: float) -> None:
        self.gap = 1 / rate
        self.next = time.perf_counter()
        self.until = self.next + seconds

    async def slot(self) -> bool:
        now = time.perf_counter()
        at = max(self.next, now)
        if at >= self.until:
            return False
        self.next = at + self.gap
        await asyncio.sleep(at - now)
        return True


@dataclass
class Sent:
    accepted: int = 0
    failed: int = 0
    retried: int = 0
    children: set[str] = field(default_factory=set)  # those the commands named


async def post(
    client: httpx.AsyncClient, url: str, step: Step, headers: Mapping[str, str], sent: Sent
) -> bool:
    """Send one command until it is recorded or refused for good (the demo loader's rule of
    what is transient: deploy/demo/county.py `waited_out`); whether it was recorded."""
    key = str(uuid.uuid4())
    for _ in range(20):
        try:
            r = await client.post(
                f"{url}{step.path}", json=step.body, headers={**headers, "Idempotency-Key": key}
            )
        except httpx.TransportError:
            sent.retried += 1
            await asyncio.sleep(0.2)
            continue
        if r.status_code in (200, 201) or (r.status_code == 409 and step.exists_ok):
            sent.accepted += 1
            if step.path.startswith("/children/"):
                sent.children.add(step.path.split("/")[2])
            return True
        wait = waited_out(step, r)
        if wait is None:
            break
        sent.retried += 1
        await asyncio.sleep(wait or 0.05)
    sent.failed += 1
    return False


def start(
    infra: Infrastructure, namespace: str, services: Sequence[str] = ("case_events", "projections")
) -> dict[str, ServiceProcess]:
    """The services' processes (API and worker each), healthy: case events and the
    projections unless told otherwise, the projections' worker checking the returns (its
    validators' process started by it)."""
    return start_services(infra, namespace, services, CSP_RETURNS_CHECK="true")


async def board(client: httpx.AsyncClient, url: str, **params: str) -> dict[str, Any]:
    r = await client.get(f"{url}/returns/quality", params=params, headers=MANAGER)
    r.raise_for_status()
    answer: dict[str, Any] = r.json()
    return answer


async def board_settled(client: httpx.AsyncClient, url: str, timeout_s: float) -> float:
    """Wait until the county was checked once and nothing waits; how long that took."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        found = await board(client, url)
        if found["county_checked_at"] is not None and found["waiting"] == 0:
            return time.perf_counter() - started
        await asyncio.sleep(0.2)  # the next look; the deadline bounds the wait
    raise TimeoutError("the data-quality board did not settle")


def ordinary_journeys(scale: float, day: date) -> tuple[list[Step], list[list[Step]]]:
    """A demo county's reference data, and its journeys' case-events commands (each journey's
    in order): the ordinary commands."""
    work = plan(SEED, scale, day)
    reference = [s for level in work.reference for s in level if s.service == "case_events"]
    journeys = [[s for s in j.steps if s.service == "case_events"] for j in work.journeys]
    return reference, [j for j in journeys if j]


async def load_at_once(
    client: httpx.AsyncClient, url: str, journeys: Sequence[list[Step]], sent: Sent
) -> None:
    """Journeys as the demo loader sends them: `LANES` at once, each in order."""
    queue = deque(journeys)

    async def lane() -> None:
        while queue:
            for step in queue.popleft():
                await post(client, url, step, PRACTITIONER, sent)

    await asyncio.gather(*(lane() for _ in range(LANES)))


async def in_turn(
    client: httpx.AsyncClient,
    url: str,
    steps: Sequence[Step],
    fault: Planted | None,
    pace: Pace,
    sent: Sent,
) -> bool:
    """A journey's (or a fault's) commands in order, each in a slot of the pace; whether the
    pace has slots left. A fault is planted when its last command is answered."""
    for step in steps:
        if not await pace.slot():
            if fault is not None:
                fault.failed = True  # not planted before the end
            return False
        if not await post(client, url, step, PRACTITIONER, sent):
            if fault is not None:
                fault.failed = True
            return True
    if fault is not None:
        fault.answered = time.perf_counter()
        fault.answered_at = datetime.now(UTC)
    return True


async def offered(
    client: httpx.AsyncClient,
    url: str,
    journeys: deque[list[Step]],
    pace: Pace,
    planted: list[Planted],
    sent: Sent,
) -> None:
    """Commands at the pace's rate, a fault's first command every `FAULT_EVERY_S` taking the
    next slot a lane has, the ordinary journeys between."""
    faults: deque[Planted] = deque()
    day = today()
    # Two slots a second for each lane: a fault's commands follow one another as quickly at
    # a smoke run's rate as at the full one's.
    lanes = max(2, min(LANES, int(1 / pace.gap / 2)))

    async def plant() -> None:
        n = 0
        while time.perf_counter() < pace.until:
            fault = FAULTS[n % len(FAULTS)](day)
            planted.append(fault)
            faults.append(fault)
            n += 1
            await asyncio.sleep(FAULT_EVERY_S)

    async def lane() -> None:
        while True:
            fault = faults.popleft() if faults else None
            steps = fault.steps if fault else (journeys.popleft() if journeys else None)
            if steps is None:
                if not await pace.slot():
                    return
                continue  # nothing to send in this slot
            if not await in_turn(client, url, steps, fault, pace, sent):
                return

    planter = asyncio.create_task(plant())
    await asyncio.gather(*(lane() for _ in range(lanes)))
    await planter


@dataclass
class Watched:
    """What the watcher saw besides the faults: the most children waiting for a check at
    once, and how long each read of the board took."""

    most_waiting: int = 0
    reads: list[float] = field(default_factory=list)


async def watch(
    client: httpx.AsyncClient, url: str, planted: list[Planted], done: asyncio.Event
) -> Watched:
    """Read the board (council view, the planted children's locality) until every planted
    fault is on it or the deadline passes after the last command."""
    deadline: float | None = None
    watched = Watched()
    while True:
        asked = time.perf_counter()
        found = await board(client, url, view="council", locality=PLANTED_LOCALITY)
        now = time.perf_counter()
        watched.reads.append(now - asked)
        watched.most_waiting = max(watched.most_waiting, found["waiting"])
        rules: dict[str, set[tuple[str, str]]] = defaultdict(set)
        written: dict[str, datetime] = {}
        for issue in found["issues"]:
            kind, rule, child = issue["return"], issue["rule"], issue["child_id"]
            if issue["known"] is None and rule not in NOT_YET[kind]:
                rules[child].add((kind, rule))
                at = datetime.fromisoformat(issue["found_at"])
                written[child] = min(written.get(child, at), at)
        for p in planted:
            if p.answered is not None and p.seen is None and p.rules <= rules[p.child]:
                p.seen, p.written = now, written[p.child]
        # A fault still queued when the offering ended was never planted.
        waiting = [p for p in planted if p.answered is not None and p.seen is None]
        if done.is_set():
            deadline = deadline or now + DEADLINE_S
            if not waiting or now > deadline:
                return watched
        await asyncio.sleep(BOARD_POLL_S)


async def checker_metrics(client: httpx.AsyncClient, worker: str) -> dict[str, float]:
    """The count and sum of the checker's histograms, as the worker's /metrics says them."""
    r = await client.get(f"{worker}/metrics", headers=OPERATIONS)
    r.raise_for_status()
    wanted = {f"{m}_{part}" for m in CHECKER_METRICS for part in ("count", "sum")}
    values = {}
    for line in r.text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            values[name] = float(value)
    return values


def _mean(before: Mapping[str, float], after: Mapping[str, float], metric: str) -> float:
    count = after.get(f"{metric}_count", 0.0) - before.get(f"{metric}_count", 0.0)
    total = after.get(f"{metric}_sum", 0.0) - before.get(f"{metric}_sum", 0.0)
    return total / count if count else 0.0


async def quality_figure(
    infra: Infrastructure, seconds: float, rate: float, county_scale: float
) -> dict[str, Any]:
    """The board's delay at `rate` commands/s offered for `seconds`, after a small county
    (a third of the journeys of a demo county at `county_scale`) was loaded."""
    namespace = new_namespace()
    processes = start(infra, namespace)
    api = processes["case_events_api"].url
    boards = processes["projections_api"].url
    worker = processes["projections_worker"].url
    try:
        await asyncio.to_thread(reference_data.seed, api)
        reference, journeys = ordinary_journeys(county_scale, today())
        limits = httpx.Limits(max_connections=LANES + 4)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            preload = Sent()
            for step in reference:
                await post(client, api, step, MANAGER, preload)
            first = len(journeys) // 3
            started = time.perf_counter()
            await load_at_once(client, api, journeys[:first], preload)
            loaded_s = time.perf_counter() - started
            settled_s = await board_settled(client, boards, 600)
            print(
                f"returns quality: {preload.accepted:,} commands loaded in {loaded_s:.0f} s, "
                f"the board settled {settled_s:.0f} s later; offering {rate:g}/s for "
                f"{seconds:g} s",
                flush=True,
            )
            planted: list[Planted] = []
            sent = Sent()
            before = await checker_metrics(client, worker)
            started = time.perf_counter()
            done = asyncio.Event()
            watcher = asyncio.create_task(watch(client, boards, planted, done))
            pace = Pace(rate, seconds)
            await offered(client, api, deque(journeys[first:]), pace, planted, sent)
            achieved = (sent.accepted + sent.failed) / (time.perf_counter() - started)
            done.set()
            watched = await watcher
            after = await checker_metrics(client, worker)
            on_board = (await board(client, boards))["children"]["county"]
    finally:
        for p in processes.values():
            p.stop()
    measured = [p for p in planted if p.seen is not None and p.answered is not None]
    delays = [p.seen - p.answered for p in measured if p.seen and p.answered]
    writes = [
        (p.written - p.answered_at).total_seconds() for p in measured if p.written and p.answered_at
    ]
    return {
        "figure": f"data-quality board delay at {rate:g} commands/s offered for {seconds:g} s "
        "(ms from the planting command's HTTP 201 to a poll of the board naming its rules)",
        "p50": _pct(delays, 0.5),
        "p95": _pct(delays, 0.95),
        "p99": _pct(delays, 0.99),
        "written_p50": _pct(writes, 0.5),
        "written_p99": _pct(writes, 0.99),
        "measured": len(delays),
        "planted": sum(1 for p in planted if p.answered is not None),
        "not_seen": sum(1 for p in planted if p.answered is not None and p.seen is None),
        "offered": rate,
        "achieved": achieved,
        "accepted": sent.accepted,
        "failed": sent.failed,
        "retried": sent.retried,
        "preloaded_commands": preload.accepted,
        "children_named": len(sent.children),
        "most_waiting": watched.most_waiting,
        "board_read_p50": _pct(watched.reads, 0.5),
        "board_reads": len(watched.reads),
        "children_on_board": on_board,
        "checks": int(
            after.get(f"{CHECKER_METRICS[0]}_count", 0)
            - before.get(f"{CHECKER_METRICS[0]}_count", 0)
        ),
        "check_mean_s": _mean(before, after, CHECKER_METRICS[0]),
        "touch_to_board_mean_s": _mean(before, after, CHECKER_METRICS[1]),
    }


# -- 3. importing past returns -----------------------------------------------------------------

# The services an import sends commands to (deploy/returns/import_returns.py), and the
# locality its children are registered in: a demo locality the test council's reference data
# has (tests/reference_data.py).
IMPORT_SERVICES = ("case_events", "accommodation", "education", "escalations")
IMPORT_LOCALITY = "Exeter"
STAGING = "import_baseline"  # the baseline's schema, dropped after it


def county_returns(scale: float, day: date, into: Path) -> tuple[int, int]:
    """The demo county at `scale` as a council keeps its past returns: its records made in
    memory by the services' own aggregates, SSDA903 of this year and last in their folders
    and each year's CIN census (as tests/unit/test_returns_import.py `written` writes them);
    how many files, and their bytes."""
    work = plan(SEED, scale, day)
    records, upns = records_from_steps(
        (s for j in work.journeys + work.later for s in j.steps), day
    )
    la = Settings.model_fields["local_authority"].default
    this = CollectionYear.of(day)
    for year in (this, this.previous):
        folder = into / year.label
        folder.mkdir(parents=True)
        for name, text in ssda903.files(ssda903.ssda903(records, year, upns, day)).items():
            (folder / name).write_text(text)
        census = cin_census.cin_census(records, year, upns, la)
        (into / f"cin-census-{year.label}.xml").write_bytes(census.xml)
    files = list(into.rglob("*.*"))
    return len(files), sum(p.stat().st_size for p in files)


Table = tuple[list[str], list[tuple[str, ...]]]  # a staging table's columns, its rows


def staged(folder: Path) -> dict[str, Table]:
    """The files' rows as the baseline COPYs them, every value text: each CSV's rows under its
    header's columns, and one row per CIN census child (its LAchildID and its element as
    XML), read with the standard library's csv and ElementTree (expat, as the import's CIN
    reader)."""
    tables: dict[str, Table] = {}
    for i, path in enumerate(sorted(folder.rglob("*.csv"))):
        with path.open(newline="") as f:
            header, *rows = csv.reader(f)
        tables[f"t{i}_{path.stem}"] = (header, [tuple(r) for r in rows if r])
    for i, path in enumerate(sorted(folder.rglob("*.xml"))):
        children = [
            (child.findtext("ChildIdentifiers/LAchildID") or "", ElementTree.tostring(child))
            for child in ElementTree.parse(path).getroot().iter("Child")
        ]
        tables[f"x{i}_children"] = (
            ["la_child_id", "child"],
            [(k, xml.decode()) for k, xml in children],
        )
    return tables


async def copied(dsn: str, tables: Mapping[str, Table]) -> float:
    """Seconds to COPY the rows into unlogged staging tables of text columns, made first (not
    timed) in the database `dsn` names, dropped after."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA {STAGING}")
        for name, (columns, _) in tables.items():
            text = ", ".join(f'"{c}" text' for c in columns)
            await conn.execute(f'CREATE UNLOGGED TABLE {STAGING}."{name}" ({text})')
        started = time.perf_counter()
        for name, (columns, rows) in tables.items():
            await conn.copy_records_to_table(
                name, records=rows, columns=columns, schema_name=STAGING
            )
        return time.perf_counter() - started
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {STAGING} CASCADE")
        await conn.close()


async def imported(folder: Path, urls: Mapping[str, str], day: date) -> dict[str, Any]:
    """One import of the files, as `python -m deploy.returns.import_returns` does it (without
    its progress bar), timed in its parts: read, rehearsed, recorded through the APIs."""
    gc.collect()  # the previous import's garbage is not this one's to pay for
    started = time.perf_counter()
    read_plan = import_returns.read(folder, IMPORT_LOCALITY)
    read_at = time.perf_counter()
    to_send = rehearsed(read_plan, day)
    rehearsed_at = time.perf_counter()
    outcome = await import_returns.record(
        to_send, dict(urls), PRACTITIONER, MANAGER, progress=False
    )
    done = time.perf_counter()
    return {
        "read_s": read_at - started,
        "rehearse_s": rehearsed_at - read_at,
        "record_s": done - rehearsed_at,
        "total_s": done - started,
        "returns_rows": to_send.rows,  # as the readers count them (a CIN row: a CINdetails)
        "children": len(to_send.children),
        "commands": len(to_send.reference) + sum(len(d) for d in to_send.children.values()),
        "recorded": outcome.recorded,
        "already": outcome.already,
        "imported_children": outcome.children,
        "problems": len(outcome.problems),
        "first_problems": [str(p) for p in outcome.problems[:5]],
    }


async def import_figure(infra: Infrastructure, scale: float) -> dict[str, Any]:
    """The demo county at `scale`'s past returns imported into an empty platform (the four
    command services with the test council's reference data), then the same files again; the
    baseline: the same rows read with the standard library and COPYed into the same
    PostgreSQL."""
    day = today()
    namespace = new_namespace()
    with tempfile.TemporaryDirectory(prefix="bench-returns-import-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        files, size = county_returns(scale, day, folder)
        made_s = time.perf_counter() - started
        processes = start(infra, namespace, IMPORT_SERVICES)
        try:
            await asyncio.to_thread(
                reference_data.seed,
                processes["case_events_api"].url,
                infra.dsn(f"{namespace}education"),
            )
            # The baseline first, while the services are idle.
            gc.collect()
            started = time.perf_counter()
            tables = staged(folder)
            parse_s = time.perf_counter() - started
            copy_s = await copied(infra.dsn(f"{namespace}case_events"), tables)
            urls = {s: processes[f"{s}_api"].url for s in IMPORT_SERVICES}
            first = await imported(folder, urls, day)
            print(
                f"returns import: scale {scale:g}, {first['commands']:,} commands in "
                f"{first['total_s']:.0f} s",
                flush=True,
            )
            second = await imported(folder, urls, day)
        finally:
            for p in processes.values():
                p.stop()
    rows = sum(len(r) for _, r in tables.values())
    csv_rows = sum(len(r) for name, (_, r) in tables.items() if name.startswith("t"))
    return {
        "scale": scale,
        "files": files,
        "bytes": size,
        "rows": rows,
        "csv_rows": csv_rows,
        "cin_children": rows - csv_rows,
        "made_s": made_s,
        "first": first,
        "second": second,
        "baseline_parse_s": parse_s,
        "baseline_copy_s": copy_s,
        "platform": rows / first["total_s"],
        "baseline": rows / (parse_s + copy_s),
        "copy_only": rows / copy_s,
        "commands_per_s": first["commands"] / first["record_s"],
        "again": rows / second["total_s"],
        "again_commands_per_s": second["commands"] / second["record_s"],
    }


# -- together, and how docs/benchmarks.md shows them -------------------------------------------


async def figures(
    infra: Infrastructure,
    scales: Sequence[float],
    quality_seconds: float,
    quality_rate: float,
    quality_county: float,
    import_scale: float = 0.0,
) -> dict[str, Any]:
    """The board's delay first and the import's rate (on a PostgreSQL not busy with the
    counties' aftermath), then each county's export times; how long each part of this bench
    took."""
    timed: dict[str, float] = {}
    quality = imports = None
    if quality_seconds > 0:
        started = time.perf_counter()
        quality = await quality_figure(infra, quality_seconds, quality_rate, quality_county)
        timed["data-quality delay"] = time.perf_counter() - started
    if import_scale > 0:
        started = time.perf_counter()
        imports = await import_figure(infra, import_scale)
        timed["import"] = time.perf_counter() - started
    exports = []
    for scale in scales:
        started = time.perf_counter()
        exports.append(await export_figure(infra, scale))
        gc.collect()
        timed[f"export at scale {scale:g}"] = time.perf_counter() - started
    return {"exports": exports, "quality": quality, "import": imports, "bench_seconds": timed}


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} kB"


def section(results: Mapping[str, Any]) -> list[str]:
    """The "Statutory returns" section of docs/benchmarks.md."""
    lines = ["## Statutory returns", ""]
    m = results.get("machine")
    if m:  # measured on their own (`--only returns`), not with the figures above
        lines += [
            f"Measured by `python -m bench.harness --only returns` on {m['date']}: {m['cpus']}"
            f" CPUs, {m['memory_gib']} GiB, Python {m['python']}.",
            "",
        ]
    lines += [
        "Export time of each return as its route makes it (services/projections/routes/"
        "returns.py), as at the day of the run: every child's facts read from the "
        "chronology in PostgreSQL, made into records, and the return derived with the "
        "route's own functions. Not timed: asking case events for the UPNs and writing the "
        "audit record. The counties are the demo county's (deploy/demo/county.py, seed 7; "
        "scale 1 is the demo county, a large shire council's), their commands decided in "
        "memory by the services' "
        "own aggregates (deploy/returns/rehearsal.py; register feeds by education's own "
        "decision) and their chronology rows COPYed into a board build (loading them through "
        "the APIs would take hours).",
        "",
        "| county | return | read | records | derive | total | rows (children) | file |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for county in results.get("exports") or []:
        label = (
            f"scale {county['scale']:g}: {county['children']:,} children, "
            f"{county['chronology_rows']:,} chronology rows"
        )
        for r in county["returns"]:
            lines.append(
                f"| {label} | {r['return']} | {r['read_s']:.1f} s ({r['rows_read']:,} rows) | "
                f"{r['build_s']:.1f} s | {r['derive_s']:.1f} s | **{r['total_s']:.1f} s** | "
                f"{r['rows']:,} ({r['children']:,}) | {_size(r['bytes'])} |"
            )
            label = ""
    lines.append("")
    made = "; ".join(
        f"scale {c['scale']:g}: {c['commands']:,} commands decided and made into "
        f"{c['chronology_rows']:,} rows in {c['generate_s']:.0f} s, COPYed in "
        f"{c['copy_s']:.0f} s ({c['chronology_rows'] / max(c['copy_s'], 1e-9):,.0f} rows/s)"
        + (f", {c['refused']} refused" if c["refused"] else "")
        for c in results.get("exports") or []
    )
    if made:
        lines += [f"Making the counties (not part of any figure): {made}.", ""]
    if results.get("import"):
        lines += import_lines(results["import"])
    q = results.get("quality")
    if q:
        lines += [
            "| data-quality board | p50 | p95 | p99 | faults measured |",
            "|---|---|---|---|---|",
            f"| {q['figure']} | {q['p50']:,.0f} ms | {q['p95']:,.0f} ms | {q['p99']:,.0f} ms "
            f"| {q['measured']} of {q['planted']} |",
            f"| the same, to the checker's write (the issue's found_at) | "
            f"{q['written_p50']:,.0f} ms | | {q['written_p99']:,.0f} ms | |",
            "",
            f"The board's delay is measured with case events and the projections running as "
            f"processes, the worker checking the returns with the DfE's validators "
            f"(CSP_RETURNS_CHECK=true). A small county was loaded first "
            f"({q['preloaded_commands']:,} commands, the board settled); then "
            f"{q['offered']:g} commands/s were offered ({q['achieved']:.0f}/s sent, "
            f"{q['accepted']:,} accepted, {q['failed']} refused): a demo county's case-events "
            "journeys, and every "
            f"{FAULT_EVERY_S:g} s a child whose last command plants a fault the board reports "
            "(a referral to assessment with no primary need: CIN 8610; a child protection plan "
            "with no initial conference: CIN 2885, 8675Q). The board was read every "
            f"{BOARD_POLL_S:g} s after the previous answer (a read took {q['board_read_p50']:.0f}"
            f" ms at p50). The offered commands named {q['children_named']:,} children; at "
            f"most {q['most_waiting']:,} were waiting for a check at once; the checker checked "
            f"{q['checks']} batches while the faults were offered and awaited, "
            f"{q['check_mean_s']:.1f} s each on average, and its own measure from a child's "
            f"first touch to its issues written was {q['touch_to_board_mean_s']:.1f} s on "
            f"average. A fault is on the board within the check under way and its child's own "
            f"(services/projections/returns/quality.py); at this rate a check takes longer "
            f"than on an idle machine, as the commands take the cores the validators share.",
            "",
        ]
    return lines


def import_lines(i: Mapping[str, Any]) -> list[str]:
    """The import's rows of the section, and what they measured."""
    first, second = i["first"], i["second"]
    m = i.get("machine")
    measured = (
        f"Measured by `python -m bench.harness --only returns-import` on {m['date']}: "
        f"{m['cpus']} CPUs, {m['memory_gib']} GiB, Python {m['python']}. "
        if m
        else ""
    )

    def parts(run: Mapping[str, Any]) -> str:
        return (
            f"{run['total_s']:.0f} s: read {run['read_s']:.1f} s, rehearsed "
            f"{run['rehearse_s']:.1f} s, recorded {run['record_s']:.0f} s"
        )

    return [
        "| import of past returns (deploy/returns/import_returns.py) | platform | "
        "commands/s sent | baseline | ratio |",
        "|---|---|---|---|---|",
        f"| the demo county at scale {i['scale']:g}: {i['files']} files "
        f"({_size(i['bytes'])}), {i['rows']:,} rows ({i['csv_rows']:,} SSDA903 CSV rows, "
        f"{i['cin_children']:,} CIN census children); {first['children']:,} children, "
        f"{first['commands']:,} commands | **{i['platform']:,.0f} rows/s** ({parts(first)}) "
        f"| {i['commands_per_s']:,.0f}/s | {i['baseline']:,.0f} rows/s (raw asyncpg COPY "
        f"of the same rows, read with csv and ElementTree: {i['baseline_parse_s']:.2f} s + "
        f"COPY {i['baseline_copy_s']:.2f} s) | {i['platform'] / i['baseline']:.2%} |",
        f"| the same files again (idempotent: {second['recorded']:,} commands recorded, "
        f"{second['already']:,} already) | {i['again']:,.0f} rows/s ({parts(second)}) | "
        f"{i['again_commands_per_s']:,.0f}/s | | {i['again'] / i['baseline']:.2%} |",
        "",
        f"{measured}The import is `deploy/returns/import_returns.py`'s: every file read and "
        "each child's history decided in memory by the services' own aggregates before "
        "anything is sent, then each command sent through the public APIs of case events, "
        "accommodation, education and escalations (each service's API and worker running as "
        "processes, the test council's reference data added first, the children registered "
        f"in {IMPORT_LOCALITY}), 16 children at once, each command answered after its event "
        "is committed. The files are the demo county's (deploy/demo/county.py, seed 7) "
        "returns of this collection year and the last, made from its records decided in "
        f"memory ({i['made_s']:.0f} s, not timed): SSDA903's CSVs and each year's CIN census "
        "XML. Rows/s counts the files' rows (a CSV row; a CIN census Child) over the whole "
        "import; commands/s over the sending alone. The baseline COPYs the same rows, every "
        "value text (a CIN child as its LAchildID and its element's XML), into unlogged "
        "staging tables of the same PostgreSQL "
        f"({i['copy_only']:,.0f} rows/s for the COPY alone). The second import "
        "sends every command again, under the same idempotency key, and each is answered "
        f"with what was recorded the first time ({first['recorded']:,} recorded then"
        + (f"; {first['problems']} problems, children not imported" if first["problems"] else "")
        + ").",
        "",
    ]


def with_section(document: str, lines: Sequence[str], heading: str = "## Statutory returns") -> str:
    """`document` (docs/benchmarks.md) with its section under `heading` replaced by `lines`
    (which start with that heading; added at the end if it has none)."""
    head, marker, tail = document.partition(heading)
    if not marker:
        return document.rstrip("\n") + "\n\n" + "\n".join(lines)
    rest = tail.split("\n## ", 1)
    after = "\n## " + rest[1] if len(rest) > 1 else ""
    return head + "\n".join(lines) + after


def record(results: Mapping[str, Any], doc: Path, folder: Path) -> list[Path]:
    """The figures written into docs/benchmarks.md's section and bench/results/returns.json
    (a run of only these figures; the whole bench writes them with the rest)."""
    doc.write_text(with_section(doc.read_text() if doc.exists() else "", section(results)))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "returns.json"
    out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return [doc, out]


def record_import(figure: Mapping[str, Any], doc: Path, folder: Path) -> list[Path]:
    """The import's figure (`--only returns-import`) merged into bench/results/returns.json,
    the other figures as the last run measured them, and the section written again."""
    out = folder / "returns.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    results["import"] = figure
    return record(results, doc, folder)

"""The seeded workload: the demo county's case-event journeys, sent through the public command
API at a steady rate, as an integration would send them; first, as the county records it, the
council's reference data the journeys name (localities, teams, social workers), by a manager.

Each command carries an idempotency key and is sent again (same key) after a transport error
or a 5xx, until its deadline: that is what makes "acknowledged" meaningful. A 2xx is an
acknowledgement; the response names the stream and the version recorded.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import date

import httpx

from deploy.demo.county import County, Step
from tests.infrastructure import auth

HEADERS = auth("practitioner", user="chaos-workload")
MANAGER = auth("manager", user="chaos-workload")  # a manager keeps the reference data


@dataclass(frozen=True)
class Ack:
    key: str
    stream_id: str
    stream_version: int
    at: float  # time.monotonic() of the acknowledgement


@dataclass
class Outcome:
    offered: int = 0  # distinct commands sent at least once
    acks: list[Ack] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # 4xx: the command itself was refused
    gave_up: list[str] = field(default_factory=list)  # no answer before the command's deadline
    attempts: int = 0  # sends, counting resends after errors
    server_errors: int = 0  # 5xx answers (then sent again)
    transport_errors: int = 0  # no answer at all (then sent again)
    slowest_s: float = 0.0  # the longest a command took from first send to its answer


def journeys(seed: int, commands: int) -> list[list[tuple[str, Step]]]:
    """Case-event journeys of the demo county (seeded), about `commands` commands in all; each
    step with its idempotency key."""
    county = _county(seed, commands)
    chosen: list[list[tuple[str, Step]]] = []
    total = 0
    for journey in [
        *county.children_in_need(),
        *county.child_protection(),
        *county.in_care(),
        *county.care_leavers(),
    ]:
        steps = [
            (f"chaos-{seed}-{journey.key}-{i}", s)
            for i, s in enumerate(journey.steps)
            if s.service == "case_events"
        ]
        chosen.append(steps)
        total += len(steps)
        if total >= commands:
            break
    county.rng.shuffle(chosen)
    return chosen


def reference_data(seed: int, commands: int) -> list[tuple[str, Step]]:
    """The county's reference data its journeys name, each with its idempotency key, in the
    order they depend on each other (a team after its locality, a worker after their team)."""
    levels = _county(seed, commands).council.reference_data([])  # no school: case events only
    steps = [step for level in levels for step in level]
    return [(f"chaos-{seed}-reference-{i}", step) for i, step in enumerate(steps)]


def _county(seed: int, commands: int) -> County:
    return County(seed, scale=max(0.02, commands / 9000), end=date(2026, 3, 31))


def _settle(outcome: Outcome, key: str, response: httpx.Response, started: float) -> bool | None:
    """True: acknowledged; False: refused for good (4xx); None: a 5xx, to be sent again."""
    if response.status_code in (200, 201):
        body = response.json()
        outcome.acks.append(Ack(key, body["stream_id"], body["stream_version"], time.monotonic()))
        outcome.slowest_s = max(outcome.slowest_s, time.monotonic() - started)
        return True
    if response.status_code < 500:
        outcome.rejected.append(f"{key}: {response.status_code} {response.text[:200]}")
        return False
    outcome.server_errors += 1
    return None


async def run(
    api: str,
    seed: int,
    commands: int,
    rate: float,
    *,
    concurrency: int = 32,
    command_deadline_s: float = 120.0,
) -> Outcome:
    """Send the workload to the case-events API at about `rate` commands per second."""
    outcome = Outcome()
    work = journeys(seed, commands)
    reference = reference_data(seed, commands)
    interval = 1.0 / rate
    next_slot = time.monotonic()
    slot_lock = asyncio.Lock()
    semaphore = asyncio.Semaphore(concurrency)

    async def paced() -> None:
        nonlocal next_slot
        async with slot_lock:
            wait = next_slot - time.monotonic()
            next_slot = max(next_slot, time.monotonic()) + interval
        if wait > 0:
            await asyncio.sleep(wait)  # the pacing of the offered load, not a wait for an outcome

    async with httpx.AsyncClient(
        timeout=httpx.Timeout(15.0, connect=3.0), limits=httpx.Limits(max_connections=concurrency)
    ) as client:

        async def send(key: str, step: Step, headers: dict[str, str] = HEADERS) -> bool:
            started = time.monotonic()
            deadline = started + command_deadline_s
            pause = 0.1
            outcome.offered += 1
            while True:
                outcome.attempts += 1
                try:
                    r = await client.post(
                        f"{api}{step.path}",
                        json=step.body,
                        headers={**headers, "Idempotency-Key": key},
                    )
                except httpx.TransportError:
                    outcome.transport_errors += 1
                else:
                    settled = _settle(outcome, key, r, started)
                    if settled is not None:
                        return settled
                if time.monotonic() > deadline:
                    outcome.gave_up.append(key)
                    return False
                await asyncio.sleep(pause)  # back off before sending the same command again
                pause = min(pause * 2, 2.0)

        async def journey(steps: list[tuple[str, Step]], headers: dict[str, str] = HEADERS) -> None:
            async with semaphore:
                for key, step in steps:
                    await paced()
                    if not await send(key, step, headers):
                        return  # the rest of this child's journey depends on this step

        await journey(reference, MANAGER)  # one by one: each kind is one list (one stream)
        await asyncio.gather(*(journey(j) for j in work))
    return outcome

"""`python -m bench.harness --only decode`: a consumer's read of a message, the plain way
(`Envelope.model_validate_json`, then `decode_envelope`) beside the one pass that replaced
it (`EventRegistry.read`), on the rebuild's messages (children registered, each with a
child-protection plan started). No I/O, so it shows the decoding alone; a rebuild's
"decoding the records" adds the garbage collector and the cores shared with PostgreSQL and
Kafka. Printed, nothing written."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

from contracts.case_events import events as ce
from contracts.topics import domain_events
from shared.envelope import Actor, Agency, DomainEvent, Envelope, EventRegistry
from shared.eventstore import CommandContext, make_envelopes

CONTEXT = CommandContext(
    actor=Actor(user_id="bench", agency=Agency.COUNCIL, role="social_worker"),
    correlation_id=uuid4(),
)


def a_child(i: int) -> tuple[str, list[DomainEvent]]:
    """The rebuild's `i`th child (bench/harness.py publishes them): registered, then a plan."""
    child = f"R-{i:07d}"
    return child, [
        ce.ChildRegistered(
            child_id=child, date_of_birth=date(2012, 1, 1), locality=("Exeter", "North")[i % 2]
        ),
        ce.ChildProtectionPlanStarted(
            child_id=child,
            plan_id=f"P{i}",
            category="NEG",
            start_date=date(2024, 1, 1) + timedelta(i % 300),
            previous_plans=0,
        ),
    ]


def messages(n: int) -> list[bytes]:
    """`n` of the rebuild's messages as the relay publishes them."""
    values: list[bytes] = []
    for i in range(n // 2):
        child, events = a_child(i)
        for envelope in make_envelopes(child, 0, events, CONTEXT):
            values.append(envelope.model_dump_json(exclude={"position"}).encode())
    return values


def the_plain_way(registry: EventRegistry) -> Callable[[bytes], Any]:
    def read(value: bytes) -> Any:
        return registry.decode_envelope(Envelope.model_validate_json(value))

    return read


def one_pass(registry: EventRegistry) -> Callable[[bytes], Any]:
    def read(value: bytes) -> Any:
        return registry.decode_envelope(registry.read(value))

    return read


def microseconds(read: Callable[[bytes], Any], values: list[bytes]) -> float:
    """The best of five passes over the messages, in µs a message."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for value in values:
            read(value)
        best = min(best, time.perf_counter() - started)
    return best / len(values) * 1e6


async def measured(sizes: Any) -> dict[str, Any]:
    """Three runs over 20,000 messages (fewer with --smoke): µs a message each way."""
    return measure(min(20_000, sizes.rebuild_events), 3)


def measure(n: int, runs: int) -> dict[str, Any]:
    registry = domain_events()
    values = messages(n)
    figures: dict[str, Any] = {"messages": len(values), "the plain way": [], "one pass": []}
    ways = {"the plain way": the_plain_way(registry), "one pass": one_pass(registry)}
    for way in ways.values():  # made and warmed (the one pass is made on its first read)
        way(values[0])
    for run in range(1, runs + 1):
        timed = {name: microseconds(way, values) for name, way in ways.items()}
        plain, one = timed["the plain way"], timed["one pass"]
        for name, value in timed.items():
            figures[name].append(round(value, 2))
        print(
            f"decode, run {run} of {runs}, {len(values):,} messages: the plain way "
            f"{plain:.2f} µs a message, one pass {one:.2f} µs ({one / plain:.0%})",
            flush=True,
        )
    return figures

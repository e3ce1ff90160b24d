"""The cores' time each process on the machine took while a figure was measured (psutil), to
say where the time goes at a rate, not only whether the rate was held:

    with CpuShares() as shares:
        ...  # the load
    shares.percent  # {"case_events api": 33.9, "PostgreSQL": 30.4, ...}: % of one core

Processes are named by what they run: a platform process by its service and role (`python -m
services.case_events api`), PostgreSQL's backends together, Kafka's JVM, and this process (the
benchmark's own client and watcher, on the same cores as the platform).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Mapping
from types import TracebackType

import psutil

THE_LOAD = "the load (the benchmark's client and watcher)"
# Processes this one started that are not a platform process, Kafka or PostgreSQL: a
# rebuild's other members (multiprocessing's spawned children).
ITS_CHILDREN = "the benchmark's own child processes"
_SERVICE = re.compile(r"-m services\.(\w+) (api|worker)\b")


def _named(process: psutil.Process) -> str:
    if process.pid == os.getpid():
        return THE_LOAD
    name = process.name()
    if name.startswith("postgres"):
        return "PostgreSQL"
    command = " ".join(process.cmdline())
    if name == "java" and "kafka" in command.lower():
        return "Kafka"
    found = _SERVICE.search(command)
    if found:
        return f"{found.group(1)} {found.group(2)}"
    return ITS_CHILDREN if process.ppid() == os.getpid() else "other"


def _times(names: dict[tuple[int, float], str]) -> dict[tuple[int, float], tuple[str, float]]:
    """Each process (pid and start, so a pid reused is another) with its name and CPU seconds.
    `names`: the names already worked out, by process (a name is read once, not each sample)."""
    out = {}
    for process in psutil.process_iter():
        try:
            with process.oneshot():
                key = (process.pid, process.create_time())
                if key not in names:
                    names[key] = _named(process)
                cpu = process.cpu_times()
                out[key] = (names[key], cpu.user + cpu.system)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return out


SAMPLE_S = 1.0  # how often the processes are read while a block runs


class CpuShares:
    """Each named group's CPU over the block, in % of one core (the machine has
    `psutil.cpu_count()` cores: 100% each). The processes are read every `SAMPLE_S` in a
    thread, so one that ends inside the block (a rebuild's member, a database connection's
    backend) counts up to its last reading; one started inside it is counted whole. The
    readings cost this process a few milliseconds of CPU each (2 ms for 80 processes)."""

    def __init__(self) -> None:
        self.percent: dict[str, float] = {}
        self.seconds = 0.0
        self._names: dict[tuple[int, float], str] = {}
        self._done = threading.Event()

    def __enter__(self) -> CpuShares:
        self._before = _times(self._names)
        self._last = dict(self._before)
        self._started = time.monotonic()
        self._sampler = threading.Thread(target=self._sample, name="cpu-shares", daemon=True)
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(SAMPLE_S):
            self._last.update(_times(self._names))

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._done.set()
        self._sampler.join()
        self._last.update(_times(self._names))
        self.seconds = time.monotonic() - self._started
        used: dict[str, float] = {}
        for key, (name, cpu) in self._last.items():
            used[name] = used.get(name, 0.0) + cpu - self._before.get(key, (name, 0.0))[1]
        self.percent = {
            name: round(100 * cpu / self.seconds, 1)
            for name, cpu in sorted(used.items(), key=lambda item: -item[1])
            if cpu > 0
        }


def table(
    percent: dict[str, float],
    rate: float | None,
    names: Mapping[str, str] | None = None,
    per_event: bool = False,
) -> list[str]:
    """Markdown rows: each group's share of the cores and its CPU milliseconds a command (at
    `rate` commands a second), or with `per_event` microseconds an event (at `rate` events a
    second); without a rate (an idle platform), the shares alone. `names`: another name for a
    group where the figure knows better (a rebuild's members)."""
    cores = psutil.cpu_count() or 1
    # % of a core for a second, over the rate: in milliseconds, or in microseconds.
    unit, scale = ("µs an event", 10_000) if per_event else ("ms a command", 10)

    def row(name: str, share: float) -> str:
        cells = [name, f"{share:.0f}%"]
        if rate is not None:
            cells.append(f"{share * scale / rate:.1f}" if rate > 0 else "-")
        return "| " + " | ".join(cells) + " |"

    columns = 2 if rate is None else 3
    header = ["process", "CPU (% of one core)", f"CPU {unit}"][:columns]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * columns]
    rows += [
        row((names or {}).get(name, name), share) for name, share in percent.items() if share >= 0.5
    ]
    rows.append(row(f"**all** (the machine has {cores * 100}%)", sum(percent.values())))
    return rows

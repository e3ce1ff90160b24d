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
import time
from types import TracebackType

import psutil

THE_LOAD = "the load (the benchmark's client and watcher)"
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
    return f"{found.group(1)} {found.group(2)}" if found else "other"


def _times() -> dict[tuple[int, float], tuple[str, float]]:
    """Each process (pid and start, so a pid reused is another) with its name and CPU seconds."""
    out = {}
    for process in psutil.process_iter():
        try:
            with process.oneshot():
                cpu = process.cpu_times()
                out[(process.pid, process.create_time())] = (_named(process), cpu.user + cpu.system)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return out


class CpuShares:
    """Each named group's CPU over the block, in % of one core (the machine has
    `psutil.cpu_count()` cores: 100% each). A process that ended inside the block is not
    counted; one started inside it is counted whole."""

    def __init__(self) -> None:
        self.percent: dict[str, float] = {}
        self.seconds = 0.0

    def __enter__(self) -> CpuShares:
        self._before, self._started = _times(), time.monotonic()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        after, self.seconds = _times(), time.monotonic() - self._started
        used: dict[str, float] = {}
        for key, (name, cpu) in after.items():
            used[name] = used.get(name, 0.0) + cpu - self._before.get(key, (name, 0.0))[1]
        self.percent = {
            name: round(100 * cpu / self.seconds, 1)
            for name, cpu in sorted(used.items(), key=lambda item: -item[1])
            if cpu > 0
        }


def table(percent: dict[str, float], rate: float) -> list[str]:
    """Markdown rows: each group's share of the cores and its CPU milliseconds a command."""
    cores = psutil.cpu_count() or 1

    def per_command(share: float) -> str:  # % of a core for a second, over the commands
        return f"{share * 10 / rate:.1f}" if rate > 0 else "-"

    rows = [
        "| process | CPU (% of one core) | CPU ms a command |",
        "|---|---|---|",
    ]
    rows += [
        f"| {name} | {share:.0f}% | {per_command(share)} |"
        for name, share in percent.items()
        if share >= 0.5
    ]
    total = sum(percent.values())
    rows.append(
        f"| **all** (the machine has {cores * 100}%) | {total:.0f}% | {per_command(total)} |"
    )
    return rows

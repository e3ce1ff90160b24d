"""The benchmark's table of where the cores went: by a command, by an event, or (an idle
platform) the shares alone; groups under half a percent left out, the total of all kept."""

from __future__ import annotations

import psutil

from bench.cpu import table

SHARES = {"Kafka": 8.2, "education worker": 1.4, "other": 0.3}
ALL = f"| **all** (the machine has {(psutil.cpu_count() or 1) * 100}%) |"


def test_shares_by_command_by_event_and_alone() -> None:
    assert table(SHARES, 50) == [
        "| process | CPU (% of one core) | CPU ms a command |",
        "|---|---|---|",
        "| Kafka | 8% | 1.6 |",
        "| education worker | 1% | 0.3 |",
        f"{ALL} 10% | 2.0 |",
    ]
    assert table(SHARES, 1000, per_event=True)[2] == "| Kafka | 8% | 82.0 |"
    assert table(SHARES, None) == [
        "| process | CPU (% of one core) |",
        "|---|---|",
        "| Kafka | 8% |",
        "| education worker | 1% |",
        f"{ALL} 10% |",
    ]


def test_no_rate_measured_is_a_dash_and_a_group_can_be_named_again() -> None:
    rows = table(
        {"the benchmark's own child processes": 54.0},
        0,
        names={"the benchmark's own child processes": "the rebuild's other members"},
    )
    assert rows[2] == "| the rebuild's other members | 54% | - |"

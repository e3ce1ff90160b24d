"""The benchmark harness at tiny sizes, so it cannot rot (figures are not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from deploy.local.stack import ROOT
from tests.infrastructure import Infrastructure

pytestmark = pytest.mark.integration


def test_the_benchmark_harness_runs_every_figure_at_smoke_size(infra: Infrastructure) -> None:
    env = {
        **os.environ,
        "CSP_TEST_POSTGRES_DSN_BASE": infra.dsn("postgres").rsplit("/", 1)[0],
        "CSP_TEST_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
    }
    run = subprocess.run(
        [sys.executable, "-m", "bench.harness", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"smoke": "ok", "figures": 10}
    assert "| event-store appends/s" in run.stdout
    assert "| projection rebuild events/s" in run.stdout
    # Where the rebuild's time went, from the runner's own counts: each read model's phases.
    for phase in ("board_facts: apply", "chronology: flush", "decoding the records"):
        assert f"| {phase} |" in run.stdout, phase
    # And where the machine's cores went meanwhile, the rebuild's own process by its part.
    assert "Where the machine's cores went while the rebuild ran" in run.stdout
    assert "| process | CPU (% of one core) | CPU µs an event |" in run.stdout
    assert "| the rebuild's first member (the benchmark's process) |" in run.stdout
    # The rebuild held to the live worker's build of the same events, every read model.
    assert "The rebuild's read model against the live worker's" in run.stdout
    assert "**0 rows differ**" in run.stdout
    assert "| register feed marks/s" in run.stdout and "freshness at 500" in run.stdout
    assert "during a rebuild of the boards" in run.stdout  # the rebuild's own process ran
    assert "while a trend's month end is kept" in run.stdout  # and the keep beside it
    assert "| dashboard page |" in run.stdout and "| index |" in run.stdout
    # Where the cores went at the rate offered. Which processes pass the table's 0.5% depends
    # on a second's clock ticks at smoke size, so only the table itself is asserted.
    assert "Where the cores' time went at 5 commands/s offered (" in run.stdout
    assert "| process | CPU (% of one core) | CPU ms a command |" in run.stdout
    assert "| **all** (the machine has " in run.stdout

"""The short version of `make chaos`: every fault scenario at small size, invariants held."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from deploy.local.stack import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


def test_every_fault_scenario_keeps_every_invariant_at_short_size() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "chaos", "--short"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    print(run.stdout)
    lines = [line for line in run.stdout.splitlines() if re.match(r"^\d .*: offered ", line)]
    assert len(lines) == 9, run.stdout[-3000:] + run.stderr[-3000:]
    failed = [line for line in lines if not line.endswith("-> OK")]
    assert not failed, "\n".join(failed)
    for line in lines:
        figures = dict(re.findall(r"(lost|duplicates applied) (\d+)", line))
        assert figures == {"lost": "0", "duplicates applied": "0"}, line
    assert run.returncode == 0, run.stderr[-3000:]

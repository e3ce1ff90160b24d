"""The short version of `make chaos`: every fault scenario at small size, invariants held.

The scenarios run in two `python -m chaos` processes side by side, each on clusters of its own:
the same scenarios and sizes as `python -m chaos --short`, in about two thirds of the time. The
full run (`make chaos`) keeps them one after another, so that its recovery figures are measured
on an otherwise idle machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.local.stack import ROOT, ports_part, server_ports

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

TIMEOUT_S = 1200
# Two halves of about equal length: the scenarios that stop or crash the single broker's cluster
# stay together on it; the three-broker scenario and those that leave the cluster alone run on
# clusters of their own in the other process.
PARTS = ("1,3,4,5,8", "2,6,7,9")


def test_every_fault_scenario_keeps_every_invariant_at_short_size(tmp_path: Path) -> None:
    logs = {only: (tmp_path / f"{n}.out", tmp_path / f"{n}.err") for n, only in enumerate(PARTS)}
    runs = []
    try:
        for n, (only, (out, err)) in enumerate(logs.items()):
            # Each process picks its clusters' ports from its own part of this worker's: two
            # picking at once never choose the same port before one of them binds it.
            ports = ports_part(n, len(PARTS), server_ports())
            with out.open("w") as out_file, err.open("w") as err_file:
                runs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "chaos", "--short", "--only", only],
                        cwd=ROOT,
                        env={**os.environ, "CSP_SERVER_PORTS": ports},
                        stdout=out_file,
                        stderr=err_file,
                        text=True,
                    )
                )
        codes = [run.wait(timeout=TIMEOUT_S) for run in runs]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    outputs = [
        (out.read_text(), err.read_text(), code)
        for (out, err), code in zip(logs.values(), codes, strict=True)
    ]
    stdout = "".join(out for out, _, _ in outputs)
    stderr = "".join(err[-3000:] for _, err, _ in outputs)
    print(stdout)
    lines = [line for line in stdout.splitlines() if re.match(r"^\d .*: offered ", line)]
    assert sorted(line[0] for line in lines) == list("123456789"), stdout[-3000:] + stderr
    failed = [line for line in lines if not line.endswith("-> OK")]
    assert not failed, "\n".join(failed)
    for line in lines:
        figures = dict(re.findall(r"(lost|duplicates applied) (\d+)", line))
        assert figures == {"lost": "0", "duplicates applied": "0"}, line
    assert [code for _, _, code in outputs] == [0, 0], stderr

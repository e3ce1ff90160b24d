"""A worker whose loop ended on an unexpected error (a relay or a subscription stopped for
good) answered /health "degraded" and stayed up: compose restarts a process that exits, not
one that is unhealthy, so the boards, escalations or a partner's feed it keeps stood still
behind a process that answered. It now exits (status 70), and the local stack starts it again
(deploy/local/keep.py), as compose's `restart: unless-stopped` does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from deploy.local import keep as keeping
from shared.http import LOOP_ENDED
from tests.infrastructure import another_issuer, poll_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

# A worker (shared/http.py `worker_app`, served by `serve` as every service's is) whose loop
# fails at its first run and keeps going at the next, as a runner does on a fault that
# passed: each run is written down, and the running one says so.
WORKER = """
import sys
from pathlib import Path
from shared.http import serve, worker_app
from shared.settings import Settings

runs = Path(sys.argv[2])
runs.write_text(runs.read_text() + "run\\n" if runs.exists() else "run\\n")
first = runs.read_text().count("run") == 1

async def start(stop):
    async def loop(stop):
        if first:
            raise RuntimeError("the loop's own fault")
        runs.write_text(runs.read_text() + "running\\n")
        await stop.wait()

    async def close():
        return None

    return loop, {}, close

settings = Settings(service="test", http_port=0, auth_jwks=sys.argv[1])
serve(worker_app("test worker", settings, start), settings)
"""


def _worker(tmp_path: Path) -> list[str]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    jwks = str(another_issuer().ensure().jwks_file)
    return [sys.executable, str(script), jwks, str(tmp_path / "runs")]


def test_a_worker_whose_loop_ended_exits_so_that_it_is_started_again(tmp_path: Path) -> None:
    ended = subprocess.run(
        _worker(tmp_path), cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, capture_output=True, timeout=60
    )
    assert ended.returncode == LOOP_ENDED, ended.stderr.decode()[-2000:]
    assert b"worker loop ended" in ended.stdout + ended.stderr
    assert b"RuntimeError: the loop's own fault" in ended.stdout + ended.stderr


def test_keep_starts_a_failed_worker_again_and_passes_a_stop_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.chdir(ROOT)
    worker = _worker(tmp_path)
    said: list[str] = []
    stopping = threading.Event()
    result: list[int] = []
    kept = threading.Thread(
        target=lambda: result.append(keeping.keep(worker, stopping.is_set, said.append))
    )
    kept.start()
    runs = tmp_path / "runs"
    try:
        poll_until(
            lambda: runs.exists() and "running" in runs.read_text(),
            60,
            0.1,
            what="the worker started again and running",
        )
    finally:
        stopping.set()
        kept.join(30)
    assert not kept.is_alive()
    assert runs.read_text().split() == ["run", "run", "running"]
    assert said == [
        f"keep: {' '.join(worker[-2:])} exited with status {LOOP_ENDED}; "
        f"starting it again in {keeping.FIRST_WAIT_S:g} s"
    ]
    # Stopped as it was asked: by the SIGTERM passed on (uvicorn raises it again once stopped).
    assert result == [-signal.SIGTERM]


def test_keep_waits_longer_while_a_process_keeps_failing_and_ends_on_a_clean_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keeping, "FIRST_WAIT_S", 0.05)
    count = tmp_path / "count"
    # Fails three times, then exits cleanly: kept going until then, never after.
    script = (
        "import sys; from pathlib import Path; p = Path(sys.argv[1]);"
        " n = len(p.read_text()) if p.exists() else 0; p.write_text('x' * (n + 1));"
        " sys.exit(5 if n < 3 else 0)"
    )
    said: list[str] = []
    status = keeping.keep([sys.executable, "-c", script, str(count)], lambda: False, said.append)
    assert status == 0
    assert count.read_text() == "xxxx"
    assert [line.rsplit(" in ", 1)[1] for line in said] == ["0.05 s", "0.1 s", "0.2 s"]
    assert all("exited with status 5" in line for line in said)


def test_honchos_stop_ends_keep_and_its_process_without_a_restart(tmp_path: Path) -> None:
    """honcho stops a process by SIGTERM to its whole group (os.killpg): the process and
    `keep` in front of it both get it, and neither starts anything again."""
    started = tmp_path / "started"
    # Each start adds an 'x', written beside the file and moved onto it: the file is there
    # only once its 'x' is (written in place, a SIGTERM between the file's creation and its
    # write could leave it empty: a test that failed once on that race, not on `keep`).
    child = (
        "import signal, sys; from pathlib import Path; p = Path(sys.argv[1]);"
        " t = p.with_suffix('.next'); t.write_text(p.read_text() + 'x' if p.exists() else 'x');"
        " t.replace(p); signal.pause()"
    )
    kept = subprocess.Popen(
        [sys.executable, "-m", "deploy.local.keep", sys.executable, "-c", child, str(started)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
        start_new_session=True,  # a group of its own, as honcho starts each process
    )
    try:
        poll_until(started.exists, 30, 0.05, what="the kept process to start")
        os.killpg(kept.pid, signal.SIGTERM)
        status = kept.wait(timeout=30)
    finally:
        if kept.poll() is None:
            os.killpg(kept.pid, signal.SIGKILL)
    assert status == 128 + signal.SIGTERM  # its process's end, as a shell would say it
    assert started.read_text() == "x"  # started once, never again

"""`make run`'s stack: starts, answers on the URLs it prints (Prometheus's among them, every
process a target that is up) and on the README's first call as soon as it prints them, stops,
restarts on its data."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from deploy.local.stack import (
    ARCHIVER_OFFSET,
    PROMETHEUS_OFFSET,
    ROOT,
    port_open,
    service_processes,
)
from tests.infrastructure import HTTP, free_port, poll_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


class Run:
    """`python -m deploy.local.stack run` (what `make run` execs), with its output collected."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.output: list[str] = []
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deploy.local.stack", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def wait_up(self, timeout_s: float) -> float:
        """Until the run has printed its URLs, all of them: the line after the last (the URLs
        are collected by a thread of their own, a line at a time, after "The platform is
        up"; waiting for that line alone read half of them once, in CI)."""
        poll_until(
            lambda: (
                any("Stop with Ctrl-C" in line for line in self.output)
                or self.proc.poll() is not None
            ),
            timeout_s,
            0.2,
            "the platform to be up",
        )
        assert self.proc.poll() is None, "".join(self.output[-40:])
        return time.monotonic() - self.started

    def urls(self) -> list[str]:
        return [
            m.group(0)
            for line in self.output
            for m in [re.search(r"http://127\.0\.0\.1:\d+/\S*", line)]
            if m
        ]

    def stop(self) -> int:
        subprocess.run(
            [sys.executable, "-m", "deploy.local.stack", "stop"],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )
        return self.proc.wait(timeout=60)


def test_run_prints_working_urls_stops_cleanly_and_restarts_on_its_data() -> None:
    state = ROOT / ".local" / "smoke-stack"
    shutil.rmtree(state, ignore_errors=True)
    # Every port the services take (APIs from base, workers from base+10): reserved, so the
    # ports chosen next (PostgreSQL's, Kafka's) are not one of them.
    base = free_port(max(p.port for p in service_processes(0)) + 1)
    env = {
        **os.environ,
        "CSP_STATE_DIR": str(state),
        # Its WAL archive beside its state, not in the checkout's .local/backup, where it
        # would be a second cluster's archive beside `make run`'s.
        "CSP_BACKUP_DIR": str(state / "backup"),
        "CSP_HTTP_BASE_PORT": str(base),
        "CSP_POSTGRES_PORT": str(free_port()),
        "CSP_KAFKA_PORT": str(free_port(2)),
        "CSP_KAFKA_HEAP": "512m",
        "CSP_DEMO": "reference",  # the demo council's localities, schools...; no children
    }
    first = Run(env)
    try:
        first_s = first.wait_up(240)
        _the_readme_registration_is_recorded(state, base)
        urls = first.urls()
        assert len(urls) >= 3
        prometheus = f"http://127.0.0.1:{base + PROMETHEUS_OFFSET}/"
        assert prometheus in urls
        _every_process_is_an_up_target(prometheus, base)
        for url in urls:
            if url == prometheus:  # its own UI, no sign-in: on the loopback address only
                assert HTTP.get(url, follow_redirects=True).status_code == 200
                continue
            # The tokens `make run` mints: the share audit is for information governance.
            user = "information-governance" if url.endswith("/shares") else "manager"
            token = (state / "tokens" / f"{user}.jwt").read_text().strip()
            headers = {"Authorization": f"Bearer {token}"}
            if url.endswith("/boards/live"):  # a stream that never ends: read its first event
                with HTTP.stream("GET", url, headers=headers) as stream:
                    assert stream.status_code == 200
                    assert next(stream.iter_lines()).startswith("event: ready")
            else:  # as a browser: the live page sends a council user to the council's queue
                got = HTTP.get(url, headers=headers, follow_redirects=True)
                assert got.status_code == 200, url
                assert not (got.history and got.url.path == "/login"), url  # not sent to sign in
            anonymous = HTTP.get(url).status_code  # no token: only health, sign-in
            assert (
                anonymous == 200 if url.endswith(("/health", "/login")) else anonymous in (303, 401)
            ), (url, anonymous)
        first.stop()
        assert not _anything_listening(base, env)

        second = Run(env)
        try:
            second_s = second.wait_up(120)
        finally:
            second.stop()
        assert not _anything_listening(base, env)
        print(f"\nlocal stack: first run healthy in {first_s:.1f}s, second in {second_s:.1f}s")

    finally:
        if first.proc.poll() is None:
            first.proc.send_signal(signal.SIGTERM)
        _remove_postgres_data(state)


def _the_readme_registration_is_recorded(state: Path, base: int) -> None:
    """The README's first call, sent the moment the URLs are printed, records the child: its
    locality (the demo council's reference data) is known by then."""
    readme = (ROOT / "README.md").read_text()
    call = re.search(
        r"(Idempotency-Key: [^']+)' localhost:8001/children \\\n\s*-d '([^']+)'", readme
    )
    assert call is not None, "the README's registration call"
    token = (state / "tokens" / "practitioner.jwt").read_text().strip()
    key, value = call.group(1).split(": ")
    got = HTTP.post(
        f"http://127.0.0.1:{base + 1}/children",
        content=call.group(2),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            key: value,
        },
    )
    assert got.status_code == 201, got.text


def _every_process_is_an_up_target(prometheus: str, base: int) -> None:
    """Prometheus scrapes every process's /metrics with the operations token: each target
    up (the first scrapes come within the 5 s interval of the start)."""
    wanted = {p.name: f"127.0.0.1:{p.port}" for p in service_processes(base)}
    wanted["archiver"] = f"127.0.0.1:{base + ARCHIVER_OFFSET}"  # the WAL archiver (on by default)

    def targets() -> dict[str, Any] | None:
        answer = HTTP.get(f"{prometheus}api/v1/targets").json()
        active = answer["data"]["activeTargets"]
        platform = {t["labels"]["process"]: t for t in active if t["labels"]["job"] == "platform"}
        if set(platform) == set(wanted) and all(t["health"] == "up" for t in active):
            return platform
        return None

    try:
        platform = poll_until(targets, 60, 1.0, "every Prometheus target to be up")
    except TimeoutError:
        active = HTTP.get(f"{prometheus}api/v1/targets").json()["data"]
        raise AssertionError(
            [(t["labels"], t["health"], t["lastError"]) for t in active["activeTargets"]]
        ) from None
    assert {n: t["labels"]["instance"] for n, t in platform.items()} == wanted
    rules = HTTP.get(f"{prometheus}api/v1/rules").json()["data"]["groups"]
    assert any(r["name"] == "RelayStalled" for g in rules for r in g["rules"])  # rules loaded


def _anything_listening(base: int, env: dict[str, str]) -> bool:
    ports = [
        base,
        base + 1,
        base + PROMETHEUS_OFFSET,
        base + 10,
        base + 11,
        int(env["CSP_POSTGRES_PORT"]),
        int(env["CSP_KAFKA_PORT"]),
    ]
    return any(port_open(p) for p in ports)


def _remove_postgres_data(state: Path) -> None:
    from deploy.local.stack import LocalStack

    pg_dir = LocalStack(state_dir=state).postgres_dir
    shutil.rmtree(state, ignore_errors=True)
    if pg_dir.parent != state:
        shutil.rmtree(pg_dir.parent, ignore_errors=True)

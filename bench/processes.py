"""The platform's services started for a benchmark: each service's API and worker as processes
of their own, as `make run` starts them, healthy before a figure is measured."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.infrastructure import Infrastructure, ServiceProcess

ROOT = Path(__file__).resolve().parent.parent


def start_services(
    infra: Infrastructure, namespace: str, services: Sequence[str], **settings: str
) -> dict[str, ServiceProcess]:
    """Each service's API and worker, healthy; `settings` (CSP_...) beside the bench's own
    (no demo county, no rate limit, and logs in JSON as the platform is deployed: the tests'
    readable console lines cost a request four times as much to write)."""
    env = infra.env(
        namespace,
        **{
            "CSP_DEMO": "off",
            "CSP_RATE_LIMIT": "1000000/second",
            "CSP_LOG_FORMAT": "json",
            **settings,
        },
    )
    logs = ROOT / "test-artifacts" / "logs" / f"bench-{namespace}"
    processes = {
        f"{svc}_{role}": ServiceProcess(f"services.{svc}", role, env, logs)
        for svc in services
        for role in ("api", "worker")
    }
    for p in processes.values():
        p.start()
    try:
        for p in processes.values():
            p.wait_healthy(120)
    except BaseException:
        for p in processes.values():
            p.stop()
        raise
    return processes

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import ARTIFACTS
from tests.infrastructure import Infrastructure, ServiceProcess, new_namespace


@dataclass
class Platform:
    case_events: ServiceProcess
    case_events_worker: ServiceProcess
    projections: ServiceProcess
    projections_worker: ServiceProcess
    namespace: str


@pytest.fixture(scope="module")
def platform(infra: Infrastructure) -> Iterator[Platform]:
    """Every process of the slice, started as `make run` starts them, in a namespace of its own."""
    namespace = new_namespace()
    env = infra.env(namespace)
    logs = ARTIFACTS / "logs" / f"e2e-{namespace}"
    processes = [
        ServiceProcess("services.case_events", "api", env, logs),
        ServiceProcess("services.case_events", "worker", env, logs),
        ServiceProcess("services.projections", "api", env, logs),
        ServiceProcess("services.projections", "worker", env, logs),
    ]
    try:
        for p in processes:
            p.start()
        for p in processes:
            p.wait_healthy()
        yield Platform(*processes, namespace=namespace)
    finally:
        for p in processes:
            p.stop()

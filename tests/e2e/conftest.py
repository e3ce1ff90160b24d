from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from deploy.local.stack import service_processes
from tests.conftest import ARTIFACTS
from tests.infrastructure import Infrastructure, ServiceProcess, new_namespace


@dataclass
class Platform:
    processes: dict[str, ServiceProcess]
    namespace: str

    def __getattr__(self, name: str) -> ServiceProcess:
        """platform.case_events is its API; platform.case_events_worker its worker."""
        processes = self.__dict__["processes"]
        key = name if name.endswith("_worker") else f"{name}_api"
        if key not in processes:
            raise AttributeError(name)
        return processes[key]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def platform(infra: Infrastructure) -> Iterator[Platform]:
    """Every process of the platform, started as `make run` starts them, in a namespace of its
    own. The drift rules are checked on demand (POST /drift-checks), not on a timer."""
    namespace = new_namespace()
    env = infra.env(namespace, CSP_DRIFT_CHECK_INTERVAL_S="3600")
    logs = ARTIFACTS / "logs" / f"e2e-{namespace}"
    processes = {p.name: ServiceProcess(p.module, p.role, env, logs)
                 for p in service_processes(0)}
    try:
        for p in processes.values():
            p.start()
        for p in processes.values():
            p.wait_healthy(120)
        yield Platform(processes, namespace)
    finally:
        for p in processes.values():
            p.stop()

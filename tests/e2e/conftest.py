from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.async_api import Browser, async_playwright

from deploy.local.stack import LocalStack, service_processes
from tests.conftest import ARTIFACTS
from tests.e2e.audit_check import check_reads_audited, record_responses
from tests.infrastructure import (
    HTTP,
    Infrastructure,
    ServiceProcess,
    auth,
    new_namespace,
    platform_today,
    poll_until,
    process_env,
    running,
    secure_kafka,
    wired,
)
from tests.reference_data import seed


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
        return processes[key]


@pytest.fixture(scope="session", autouse=True)
def every_response() -> Iterator[None]:
    """Note every response, for the audit-completeness check when each platform stops."""
    yield from record_responses()


SHOTS = ARTIFACTS / "screenshots"  # every browser test's screenshots
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's: none is downloaded


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright: one a module."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
def platform(request: pytest.FixtureRequest, infra: Infrastructure) -> Iterator[Platform]:
    """Every process of the platform, started as `make run` starts them, in a namespace of its
    own: provisioned first, each process as its service's runtime role with only the keys it
    uses. The drift rules are checked on demand (POST /drift-checks), not on a timer.

    The modules share one (`shared_platform`): each records children of its own and counts
    only them. A module that counts anything of the whole platform (a board of a locality,
    the returns, a topic's events) says `OWN_PLATFORM = True` and gets one of its own, with
    its `PLATFORM_SETTINGS` (CSP_...) if it has them."""
    if getattr(request.module, "OWN_PLATFORM", False):
        with started_platform(infra, **getattr(request.module, "PLATFORM_SETTINGS", {})) as started:
            yield started
    else:
        yield request.getfixturevalue("shared_platform")


@pytest.fixture(scope="package")
def shared_platform(infra: Infrastructure) -> Iterator[Platform]:
    """The platform the modules share (`platform`): starting one takes about 19 s."""
    with started_platform(infra) as started:
        yield started


@pytest.fixture(scope="package")
def county(infra: Infrastructure) -> Iterator[Platform]:
    """A demo county (deploy/demo) loaded through the public APIs on a platform of its own, for
    the modules that read a whole county (the dashboard, the returns). Loading one takes most
    of a minute, so they share it. They only read it: a test that records must use a platform of
    its own (`platform`), or the returns it changes would no longer be the county's."""
    from tests.e2e.journey import demo_county

    with started_platform(infra, CSP_RETURNS_CHECK="true") as started:  # its data quality shown
        asyncio.run(demo_county(started, seed=7, scale=0.04))
        yield started


@pytest.fixture(scope="package")
def partners_platform(infra: Infrastructure) -> Iterator[Platform]:
    """One platform for the two modules of the partner feeds (Kafka and HTTP): each counts
    only the children it records, and the HTTP feed is held equal to the whole topic."""
    with started_platform(infra) as started:
        yield started


@contextmanager
def started_platform(infra: Infrastructure, **settings: str) -> Iterator[Platform]:
    """A platform of its own (`platform`), for a module that needs a second one; `settings`
    (CSP_...) override the defaults. The returns' data-quality board is kept only where it is
    asked for (CSP_RETURNS_CHECK=true): the DfE's validators it runs on every change were the
    largest use of the cores while a county loaded."""
    namespace = new_namespace()
    passwords = infra.provision(namespace)
    logs = ARTIFACTS / "logs" / f"e2e-{namespace}"
    logs.mkdir(parents=True, exist_ok=True)
    env = infra.env(
        namespace,
        **{
            "CSP_DRIFT_CHECK_INTERVAL_S": "3600",
            # where a demo county loaded on it says how far it has got, as make run's does
            "CSP_DEMO_PROGRESS_FILE": str(logs / "demo-progress.json"),
            **settings,
        },
    )
    processes = {
        p.name: ServiceProcess(p.module, p.role, process_env(env, p, passwords), logs)
        for p in service_processes(0)
    }
    with running(wired(processes)):
        seeded(processes, infra, namespace)
        yield Platform(processes, namespace)
        check_reads_audited(processes, infra, namespace)


def seeded(processes: dict[str, ServiceProcess], infra: Infrastructure, namespace: str) -> None:
    """The council's reference data every test names (tests/reference_data.py), known to
    case events and to education's copy before the first test runs."""
    seed(processes["case_events_api"].url, infra.dsn(f"{namespace}education"))


@dataclass
class SecurePlatform:
    """Every process of the platform against a broker in secure mode (SASL/SCRAM over TLS,
    ACLs), each worker as its service's own Kafka user; a child and an escalation recorded."""

    processes: dict[str, ServiceProcess]
    namespace: str
    kafka: LocalStack
    child: str
    escalation: str

    def url(self, name: str) -> str:
        return self.processes[name].url

    def admin_kafka(self) -> dict[str, object]:
        """aiokafka options of the broker's admin (it reads every topic)."""
        from deploy.local import kafka_security
        from shared.settings import Settings

        return Settings(
            kafka_bootstrap_servers=f"127.0.0.1:{self.kafka.kafka_port}",
            kafka_security_protocol="SASL_SSL",
            kafka_username=kafka_security.ADMIN,
            kafka_password=self.kafka.credential("CSP_KAFKA_ADMIN_PASSWORD"),
            kafka_ssl_cafile=str(self.kafka.tls_dir / "ca.pem"),
        ).kafka_options()


@pytest.fixture(scope="package")
def secure(infra: Infrastructure) -> Iterator[SecurePlatform]:
    namespace = new_namespace()
    passwords = infra.provision(namespace)
    with secure_kafka(namespace) as kafka:
        env = infra.env(
            namespace,
            CSP_DRIFT_CHECK_INTERVAL_S="3600",
            CSP_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{kafka.kafka_port}",
            CSP_RATE_LIMIT="100000/second",
            # The matrix's calls without a token come faster than a client's sign-ins may fail.
            CSP_AUTH_FAILURE_RATE_LIMIT="100000/second",
        )  # the limits have tests of their own (tests/unit/test_api_protections.py)
        logs = ARTIFACTS / "logs" / f"secure-{namespace}"
        processes = {
            p.name: ServiceProcess(
                p.module,
                p.role,
                process_env(
                    env,
                    p,
                    passwords,
                    kafka.kafka_client_env(p.service) if p.role == "worker" else {},
                ),
                logs,
            )
            for p in service_processes(0)
        }
        with running(wired(processes)):
            seeded(processes, infra, namespace)
            yield SecurePlatform(processes, namespace, kafka, *_records(processes))
            assert check_reads_audited(processes, infra, namespace) > 20  # not vacuous


def _records(processes: dict[str, ServiceProcess]) -> tuple[str, str]:
    """A child in Exeter, known to every service, with an escalation: the ids the matrix's
    paths name."""
    manager = auth("manager")
    child = f"C-{uuid.uuid4().hex[:10]}"
    r = HTTP.post(
        f"{processes['case_events_api'].url}/children",
        headers=manager,
        json={"child_id": child, "date_of_birth": "2012-03-04", "locality": "Exeter"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    for service in ("accommodation", "education", "escalations"):
        url = f"{processes[f'{service}_api'].url}/children/{child}"

        def known(u: str = url) -> bool:
            return HTTP.get(u, headers=manager).status_code == 200

        poll_until(
            known,
            60,
            0.1,
            f"{service} to learn of the child through the secure broker",
        )
    escalation = f"E-{uuid.uuid4().hex[:8]}"
    r = HTTP.post(
        f"{processes['escalations_api'].url}/escalations",
        headers=manager,
        json={
            "escalation_id": escalation,
            "child_id": child,
            "raised_by": "IRO",
            "raised_on": (platform_today() - timedelta(days=1)).isoformat(),
            "reason": "permanence_planning",
        },
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return child, escalation

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from deploy.local.stack import ROOT, ports_part
from shared import tracing
from shared.migrations import EVENT_STORE_SQL, ensure_database, migrate, scripts_in
from shared.settings import Settings
from tests.infrastructure import (
    TEST_ISSUER,
    TEST_KEY_ENCRYPTION_KEY,
    Infrastructure,
    infrastructure,
    new_namespace,
)

ARTIFACTS = ROOT / "test-artifacts"
# tests/midnight.py: a test failing while London's date turns is run once more, on the new
# day; pytester runs a pytest inside a test (tests/unit/test_midnight.py).
pytest_plugins = ["tests.midnight", "pytester"]


# -- make test's parallel workers (pytest-xdist, `-n 2 --dist loadscope`) ----------------------
#
# One Kafka and one PostgreSQL for the whole run, started by the controlling process before its
# workers and stopped after them: each worker's `infra` finds them in the environment. Every
# test keeps to a namespace of its own (new_namespace), so the workers share them as the tests of
# one process always have. Each worker picks its servers' ports from a part of SERVER_PORTS of
# its own (CSP_SERVER_PORTS), so two never choose the same one before it is bound.

_SHARED_STACK = ExitStack()


def _parallel_controller(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", 0)) and not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        index, count = int(worker["workerid"].removeprefix("gw")), int(worker["workercount"])
        os.environ["CSP_SERVER_PORTS"] = ports_part(index, count + 1)
    elif _parallel_controller(config) and not os.environ.get("CSP_TEST_KAFKA_BOOTSTRAP"):
        count = int(config.option.numprocesses)
        os.environ["CSP_SERVER_PORTS"] = ports_part(count, count + 1)  # the last part
        found = _SHARED_STACK.enter_context(infrastructure())
        os.environ["CSP_TEST_POSTGRES_DSN_BASE"] = found.dsn("postgres").rsplit("/", 1)[0]
        os.environ["CSP_TEST_KAFKA_BOOTSTRAP"] = found.kafka_bootstrap
        del os.environ["CSP_SERVER_PORTS"]


def pytest_unconfigure(config: pytest.Config) -> None:
    _SHARED_STACK.close()


# The work units the workers take, each whole on one worker. The modules that share one of the
# e2e package's platforms built once a worker (the demo county and the secure broker, which
# test_permissions uses both; the partner feeds' platform) are one unit each; any other module
# is a unit of its own. They are taken in this order: the longest first, so that the two workers
# end together, then the other e2e modules, so that a worker leaves the e2e package (and tears
# its shared platforms down) once, then the rest.
SHARING = {
    "county": (
        "tests/e2e/test_accessibility.py",
        "tests/e2e/test_audit_and_erasure.py",
        "tests/e2e/test_board_pack.py",
        "tests/e2e/test_dashboard.py",
        "tests/e2e/test_dashboard_pictures.py",
        "tests/e2e/test_governance_audit.py",
        "tests/e2e/test_partner_kit.py",
        "tests/e2e/test_permissions.py",
        "tests/e2e/test_returns.py",
    ),
    "partners": ("tests/e2e/test_partner_feeds.py", "tests/e2e/test_partner_http_feed.py"),
}
SHARED_FIXTURES = {"county": "county", "secure": "county", "partners_platform": "partners"}
LONGEST_FIRST = (
    "county",
    "tests/integration/test_chaos_short.py",
    "tests/integration/test_bench_smoke.py",
    "tests/e2e/test_local_stack.py",
    "partners",
)


def work_unit(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    return next((unit for unit, modules in SHARING.items() if module in modules), module)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's scheduler by whole work units (its own xdist_group marks name a test's group
    by rewriting its id, which pytest 9 no longer lets a plugin do)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):
        return  # one process: the collection's own order
    for item in items:  # a module that shares a platform must be in its unit, or it builds two
        if not item.nodeid.startswith("tests/e2e/"):  # the package whose fixtures these are
            continue
        for fixture, unit in SHARED_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()) and work_unit(item.nodeid) != unit:
                raise pytest.UsageError(
                    f"{item.nodeid} uses the {fixture!r} fixture: add its module to"
                    f" SHARING[{unit!r}] in tests/conftest.py"
                )

    def rank(item: pytest.Item) -> tuple[int, int]:
        unit = work_unit(item.nodeid)
        if unit in LONGEST_FIRST:
            return (0, LONGEST_FIRST.index(unit))
        return (1, 0) if unit.startswith("tests/e2e/") else (2, 0)

    items.sort(key=rank)  # stable: the collection's order within each rank


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    with infrastructure() as found:
        yield found


@pytest.fixture
def namespace() -> str:
    return new_namespace()


@pytest.fixture
def log_dir(request: pytest.FixtureRequest) -> Path:
    return ARTIFACTS / "logs" / request.node.name.replace("/", "_")


def settings_for(infra: Infrastructure, service: str, namespace: str, **overrides: Any) -> Settings:
    return Settings(
        service=service,
        namespace=namespace,
        environment="test",
        postgres_host=infra.postgres_host,
        postgres_port=infra.postgres_port,
        postgres_user=infra.postgres_user,
        postgres_password=infra.postgres_password,
        kafka_bootstrap_servers=infra.kafka_bootstrap,
        auth_jwks=str(TEST_ISSUER.ensure().jwks_file),
        key_encryption_key=TEST_KEY_ENCRYPTION_KEY,
        **overrides,
    )


def fresh_event_store(
    infra: Infrastructure, namespace: str
) -> AbstractAsyncContextManager[asyncpg.Pool]:
    """A fresh, migrated event-store database of its own."""
    return fresh_database(infra, namespace, "case_events", EVENT_STORE_SQL)


@asynccontextmanager
async def fresh_database(
    infra: Infrastructure, namespace: str, service: str, *migrations: Path
) -> AsyncIterator[asyncpg.Pool]:
    """The service's database in the namespace, fresh and migrated with these folders."""
    settings = settings_for(infra, service, namespace)
    await ensure_database(settings.dsn("postgres"), settings.database)
    pool = await asyncpg.create_pool(settings.dsn(), min_size=2, max_size=20)
    assert pool is not None
    async with pool.acquire() as conn:
        await migrate(conn, scripts_in(*migrations))
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def event_store_pool(infra: Infrastructure, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    async with fresh_event_store(infra, namespace) as pool:
        yield pool


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for the test; off again after (shared/tracing.py)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield exporter
    finally:
        tracing.use(None)
        provider.shutdown()

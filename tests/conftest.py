from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from deploy.local.stack import ROOT
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


@asynccontextmanager
async def fresh_event_store(infra: Infrastructure, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    """A fresh, migrated event-store database of its own."""
    settings = settings_for(infra, "case_events", namespace)
    await ensure_database(settings.dsn("postgres"), settings.database)
    pool = await asyncpg.create_pool(settings.dsn(), min_size=2, max_size=20)
    assert pool is not None
    async with pool.acquire() as conn:
        await migrate(conn, scripts_in(EVENT_STORE_SQL))
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

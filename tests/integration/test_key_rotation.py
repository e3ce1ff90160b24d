"""Erasure reaches the backups once the key-encryption key (KEK) that wrapped the erased
child's key is destroyed: a backup taken before the erasure, restored after the KEK was
rotated and the old one destroyed, opens nothing with the keys the platform then holds. And
the other children's keys are re-wrapped online, so they stay readable throughout."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import asyncpg
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from deploy.local.stack import find_postgres_bin
from services.case_events.personal import (
    KeyRing,
    KeyVault,
    PersonalDataErased,
    RetiredKey,
    seal,
    unseal,
)
from shared.migrations import ensure_database, migrate, scripts_in
from shared.sealing import destroy_key
from tests.conftest import settings_for
from tests.infrastructure import Infrastructure

pytestmark = pytest.mark.integration

CHILD_KEYS_SQL = Path(__file__).resolve().parents[2] / "services" / "case_events" / "sql"
FIRST, SECOND = AESGCM(os.urandom(32)), AESGCM(os.urandom(32))


def ring(current: str, **keys: AESGCM) -> KeyRing:
    return KeyRing(current, {kek_id.removeprefix("k"): key for kek_id, key in keys.items()})


async def database(infra: Infrastructure, name: str) -> asyncpg.Pool:
    settings = settings_for(infra, "case_events", "", postgres_database=name)
    await ensure_database(settings.dsn("postgres"), name)
    pool = await asyncpg.create_pool(settings.dsn(), min_size=1, max_size=4)
    assert pool is not None
    return pool


@pytest.fixture
async def live(infra: Infrastructure, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await database(infra, f"{namespace}case_events")
    async with pool.acquire() as conn:
        await migrate(conn, scripts_in(CHILD_KEYS_SQL))
    yield pool
    await pool.close()


def postgres_tool(infra: Infrastructure, tool: str, *args: str) -> None:
    subprocess.run(
        [
            str(find_postgres_bin() / tool),
            "-h",
            infra.postgres_host,
            "-p",
            str(infra.postgres_port),
            "-U",
            infra.postgres_user,
            *args,
        ],
        env={**os.environ, "PGPASSWORD": infra.postgres_password},
        check=True,
        capture_output=True,
        timeout=120,
    )


async def test_a_backup_restored_after_erasure_and_rotation_reveals_nothing(
    infra: Infrastructure, namespace: str, live: asyncpg.Pool, tmp_path: Path
) -> None:
    before = KeyVault(live, ring("1", k1=FIRST))
    erased_key = await before.key("C-ERASED", create=True)
    kept_key = await before.key("C-KEPT", create=True)
    assert erased_key is not None and kept_key is not None
    sealed_name = seal(erased_key, "C-ERASED", "family_name", "Example")
    backup = tmp_path / "case_events.dump"
    postgres_tool(infra, "pg_dump", "-Fc", "-f", str(backup), f"{namespace}case_events")

    await before.erase("C-ERASED", by="information-governance")
    rotating = KeyVault(live, ring("2", k2=SECOND, k1=FIRST))  # the new KEK, the old retired
    assert await rotating.rotate(batch_size=1) == {"rewrapped": 1}
    after = KeyVault(live, ring("2", k2=SECOND))  # the old KEK destroyed
    assert await after.key("C-KEPT") == kept_key
    assert await after.key("C-ERASED") is None

    restored = await database(infra, f"{namespace}restored")
    try:
        postgres_tool(infra, "pg_restore", "-d", f"{namespace}restored", str(backup))
        with pytest.raises(RetiredKey, match="'1'"):
            await KeyVault(restored, ring("2", k2=SECOND)).key("C-ERASED")
        # Why the old KEK must be destroyed: while it is kept, the backup still opens.
        while_kept = await KeyVault(restored, ring("1", k1=FIRST)).key("C-ERASED")
        assert unseal(while_kept, "C-ERASED", "family_name", sealed_name) == "Example"
    finally:
        await restored.close()


async def test_keys_wrapped_before_kek_ids_open_with_the_first_key_and_rotate(
    live: asyncpg.Pool,
) -> None:
    key = AESGCM.generate_key(bit_length=256)
    await live.execute(
        "INSERT INTO child_keys (child_id, wrapped_key) VALUES ($1, $2)",
        "C-OLD",
        ring("1", k1=FIRST).wrap("C-OLD", key),
    )
    assert await KeyVault(live, ring("1", k1=FIRST)).key("C-OLD") == key
    assert (await KeyVault(live, ring("2", k2=SECOND, k1=FIRST)).rotate())["rewrapped"] == 1
    assert await KeyVault(live, ring("2", k2=SECOND)).key("C-OLD") == key


class _ErasedMeanwhile:
    """The vault's pool, with the child's erasure committing between the vault's look-up of
    the child's key (none yet) and its insert of a new one."""

    def __init__(self, pool: asyncpg.Pool, child_id: str) -> None:
        self.pool, self.child_id = pool, child_id

    async def fetchrow(self, query: str, *args: object) -> asyncpg.Record | None:
        return await self.pool.fetchrow(query, *args)

    async def execute(self, query: str, *args: object) -> str:
        if query.startswith("INSERT INTO child_keys (child_id, wrapped_key, kek_id)"):
            await destroy_key(self.pool, self.child_id, "ig-officer")
        return await self.pool.execute(query, *args)


async def test_an_erasure_between_the_look_up_and_the_new_key_is_refused_as_erased(
    live: asyncpg.Pool,
) -> None:
    """The new key's insert then did nothing (the tombstone was there), and the vault answered
    None for a key it was asked to make: sealing the child's details failed, a 500 where the
    erasure's 409 is due."""
    vault = KeyVault(cast(asyncpg.Pool, _ErasedMeanwhile(live, "C-RACE")), ring("1", k1=FIRST))
    with pytest.raises(PersonalDataErased, match="erased on"):
        await vault.key("C-RACE", create=True)
    assert await live.fetchval(
        "SELECT wrapped_key IS NULL FROM child_keys WHERE child_id = 'C-RACE'"
    )

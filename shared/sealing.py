"""Crypto-shredding: a subject's free text and personal fields are sealed with a key of their
own, and erasing the subject destroys the key.

`seal` and `unseal` are pure (AES-256-GCM from `cryptography`, the subject's id and the
field's name bound in as associated data, so a sealed value cannot be moved to another subject
or field). `KeyVault` keeps the keys, wrapped with a key-encryption key (KEK) named by its id,
in the service's own `child_keys` table (a subject is a child, or a record of its own where no
child is named); erasing a subject deletes its key, and from then on every sealed field of that
subject, in the event store, on the topic, in any copy, reads as ERASED.

Backups: a backup taken before an erasure still holds the subject's wrapped key. It opens only
with the KEK that wrapped it, so erasure reaches the backups when that KEK is destroyed:
`rotate-keys` re-wraps every live key with the current KEK (online, a batch at a time), after
which the retired KEK can be deleted from the secret store (docs/security.md says when).

In the kernel because two services seal (case events, the child's personal details; quality,
its findings and comments), each with its own keys in its own store.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Annotated

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Depends, Request
from starlette.datastructures import State

from shared.aggregate import AlreadyRecorded
from shared.settings import Settings

ERASED = "[erased]"
PREFIX = "sealed:v1:"


class PersonalDataErased(AlreadyRecorded):
    """The child's key was destroyed: nothing personal can be read or recorded again."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(key: bytes, child_id: str, field: str, value: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), f"{child_id}/{field}".encode())
    return PREFIX + _b64(nonce + sealed)


def unseal(key: bytes | None, child_id: str, field: str, value: str) -> str:
    """The plain value, or ERASED when the key is gone."""
    if key is None:
        return ERASED
    raw = _unb64(value.removeprefix(PREFIX))
    return AESGCM(key).decrypt(raw[:12], raw[12:], f"{child_id}/{field}".encode()).decode()


def _aes(name: str, encoded: str) -> AESGCM:
    raw = base64.b64decode(encoded)
    if len(raw) != 32:
        raise ValueError(f"{name} must be base64 of 32 bytes")
    return AESGCM(raw)


class KeyRing:
    """The key-encryption keys this process holds: the current one wraps every new child key;
    retired ones only unwrap, until `rotate-keys` has re-wrapped what they wrapped."""

    def __init__(self, current_id: str, keys: dict[str, AESGCM]) -> None:
        self.current_id, self.keys = current_id, keys

    @property
    def current(self) -> AESGCM:
        return self.keys[self.current_id]

    def wrap(self, child_id: str, key: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self.current.encrypt(nonce, key, child_id.encode())

    def unwrap(self, kek_id: str, child_id: str, wrapped: bytes) -> bytes:
        kek = self.keys.get(kek_id)
        if kek is None:
            raise RetiredKey(
                f"a child's key is wrapped with key-encryption key {kek_id!r}, "
                "which this process does not hold (destroyed, or not configured)"
            )
        try:
            return kek.decrypt(wrapped[:12], wrapped[12:], child_id.encode())
        except InvalidTag:
            raise RuntimeError(
                f"a child's key does not open with key-encryption key "
                f"{kek_id!r}: is it the key this database was made with?"
            ) from None


class RetiredKey(RuntimeError):
    """The key-encryption key a child's key needs is not held (it was destroyed)."""


def key_encryption_key(settings: Settings) -> KeyRing | None:
    """The KEK ring from CSP_KEY_ENCRYPTION_KEY (id CSP_KEY_ENCRYPTION_KEY_ID) and the retired
    keys in CSP_RETIRED_KEY_ENCRYPTION_KEYS ("id:base64,id:base64")."""
    if settings.key_encryption_key is None:
        return None
    keys = {
        settings.key_encryption_key_id: _aes(
            "CSP_KEY_ENCRYPTION_KEY", settings.key_encryption_key.get_secret_value()
        )
    }
    retired = settings.retired_key_encryption_keys
    for entry in retired.get_secret_value().split(",") if retired else []:
        kek_id, _, encoded = entry.strip().partition(":")
        if not kek_id or not encoded or kek_id in keys:
            raise ValueError(
                "CSP_RETIRED_KEY_ENCRYPTION_KEYS must be 'id:base64,...' with "
                "ids other than the current key's"
            )
        keys[kek_id] = _aes(f"retired key-encryption key {kek_id!r}", encoded)
    return KeyRing(settings.key_encryption_key_id, keys)


# Wrapped before key-encryption keys had ids (migration 002): the first key, id "1".
FIRST_KEK_ID = "1"


class KeyVault:
    def __init__(self, pool: asyncpg.Pool, ring: KeyRing | None) -> None:
        self.pool, self.ring = pool, ring

    def _ring(self) -> KeyRing:
        if self.ring is None:
            raise RuntimeError(
                "CSP_KEY_ENCRYPTION_KEY is not set: personal data cannot be sealed or read"
            )
        return self.ring

    async def key(self, child_id: str, create: bool = False) -> bytes | None:
        """The child's key (made on first use when `create`); None if there is none or it
        was erased. Raises PersonalDataErased when `create` and the key was erased."""
        row = await self.pool.fetchrow(
            "SELECT wrapped_key, kek_id, erased_at FROM child_keys WHERE child_id = $1", child_id
        )
        if row is None and create:
            ring = self._ring()
            wrapped = ring.wrap(child_id, AESGCM.generate_key(bit_length=256))
            await self.pool.execute(
                "INSERT INTO child_keys (child_id, wrapped_key, kek_id) VALUES ($1, $2, $3)"
                " ON CONFLICT (child_id) DO NOTHING",
                child_id,
                wrapped,
                ring.current_id,
            )
            # The insert did nothing if the child was erased meanwhile: refused as erased.
            return await self.key(child_id, create=True)
        if row is None:
            return None
        if row["wrapped_key"] is None:
            if create:
                raise PersonalDataErased(
                    f"this child's personal data was erased on {row['erased_at']:%Y-%m-%d}"
                )
            return None
        return self._ring().unwrap(row["kek_id"] or FIRST_KEK_ID, child_id, row["wrapped_key"])

    async def rotate(self, batch_size: int = 500) -> dict[str, int]:
        """Re-wrap every live child key not wrapped with the current KEK, a batch per
        transaction (online: a reader sees the old wrapping or the new, both open while the
        retired key is held). Returns how many were re-wrapped, and how many are still
        wrapped with each other KEK (0 everywhere: the retired keys may be destroyed)."""
        ring, rewrapped = self._ring(), 0
        while True:
            async with self.pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(
                    "SELECT child_id, wrapped_key, coalesce(kek_id, $2) AS kek_id"
                    " FROM child_keys WHERE wrapped_key IS NOT NULL"
                    " AND coalesce(kek_id, $2) <> $1 AND coalesce(kek_id, $2) = ANY($3::text[])"
                    " LIMIT $4 FOR UPDATE SKIP LOCKED",
                    ring.current_id,
                    FIRST_KEK_ID,
                    list(ring.keys),
                    batch_size,
                )
                for row in rows:
                    key = ring.unwrap(row["kek_id"], row["child_id"], row["wrapped_key"])
                    await conn.execute(
                        "UPDATE child_keys SET wrapped_key = $2, kek_id = $3 WHERE child_id = $1",
                        row["child_id"],
                        ring.wrap(row["child_id"], key),
                        ring.current_id,
                    )
            rewrapped += len(rows)
            if len(rows) < batch_size:
                break
        left = await self.pool.fetch(
            "SELECT coalesce(kek_id, $1) AS kek_id, count(*) AS n FROM child_keys"
            " WHERE wrapped_key IS NOT NULL GROUP BY 1",
            FIRST_KEK_ID,
        )
        return {
            "rewrapped": rewrapped,
            **{
                f"still wrapped with {r['kek_id']}": r["n"]
                for r in left
                if r["kek_id"] != ring.current_id
            },
        }

    async def erase(self, child_id: str, by: str) -> None:
        """Destroy the key (a tombstone row stays). VACUUM then drops the old row version."""
        await destroy_key(self.pool, child_id, by)
        await self.pool.execute("VACUUM child_keys")


async def destroy_key(db: asyncpg.Pool | asyncpg.Connection, subject_id: str, by: str) -> None:
    """Destroy the subject's key, leaving a tombstone (made if there was no key, so none is
    ever made for it again). Idempotent; runs in the caller's transaction when given one (a
    subscription's, with its offsets), where VACUUM cannot: the old row version then goes
    with autovacuum."""
    await db.execute(
        "INSERT INTO child_keys (child_id, wrapped_key, erased_at, erased_by)"
        " VALUES ($1, NULL, now(), $2) ON CONFLICT (child_id) DO UPDATE"
        " SET wrapped_key = NULL, erased_at = now(), erased_by = $2"
        " WHERE child_keys.erased_at IS NULL",
        subject_id,
        by,
    )


# -- a service that keeps subjects' keys: its API's vault, and `rotate-keys` ----------------


def open_key_vault(keys: KeyRing | None) -> Callable[[State], None]:
    """The key vault on the service's pool once it is open (the key-encryption key is read
    when the app is made, so a malformed one stops it at once)."""

    def on(state: State) -> None:
        state.vault = KeyVault(state.pool, keys)

    return on


async def vault_of(request: Request) -> KeyVault:
    vault: KeyVault = request.app.state.vault
    return vault


Vault = Annotated[KeyVault, Depends(vault_of)]


async def rotate_keys(settings: Settings) -> dict[str, int]:
    """Re-wrap the service's keys still wrapped with a retired key-encryption key
    (`python -m services.<service> rotate-keys`)."""
    pool = await asyncpg.create_pool(settings.dsn(), min_size=1, max_size=2)
    try:
        return await KeyVault(pool, key_encryption_key(settings)).rotate()
    finally:
        await pool.close()

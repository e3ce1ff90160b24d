"""Crypto-shredding: each child's personal fields are sealed with a key of their own.

`seal` and `unseal` are pure (AES-256-GCM from `cryptography`, the child's id and the field's
name bound in as associated data, so a sealed value cannot be moved to another child or
field). `KeyVault` keeps the keys, wrapped with the key-encryption key, in the service's
database; erasing a child deletes its key, and from then on every sealed field of that child,
in the event store, on the topic, in any copy, reads as ERASED.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts.case_events.events import PERSONAL_FIELDS, SealedPersonalDetails
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


def seal_details(key: bytes, child_id: str, details: Any) -> SealedPersonalDetails:
    return SealedPersonalDetails(**{
        f: seal(key, child_id, f, v) for f in PERSONAL_FIELDS
        if (v := getattr(details, f, None)) is not None})


def unseal_details(key: bytes | None, child_id: str, payload: dict[str, Any]
                   ) -> dict[str, str | None]:
    return {f: unseal(key, child_id, f, payload[f]) if payload.get(f) else None
            for f in PERSONAL_FIELDS}


def key_encryption_key(settings: Settings) -> AESGCM | None:
    if settings.key_encryption_key is None:
        return None
    raw = base64.b64decode(settings.key_encryption_key.get_secret_value())
    if len(raw) != 32:
        raise ValueError("CSP_KEY_ENCRYPTION_KEY must be base64 of 32 bytes")
    return AESGCM(raw)


class KeyVault:
    def __init__(self, pool: asyncpg.Pool, kek: AESGCM | None) -> None:
        self.pool, self.kek = pool, kek

    def _kek(self) -> AESGCM:
        if self.kek is None:
            raise RuntimeError("CSP_KEY_ENCRYPTION_KEY is not set: personal data cannot be "
                               "sealed or read")
        return self.kek

    async def key(self, child_id: str, create: bool = False) -> bytes | None:
        """The child's key (made on first use when `create`); None if there is none or it
        was erased. Raises PersonalDataErased when `create` and the key was erased."""
        row = await self.pool.fetchrow(
            "SELECT wrapped_key, erased_at FROM child_keys WHERE child_id = $1", child_id)
        if row is None and create:
            nonce, key = os.urandom(12), AESGCM.generate_key(bit_length=256)
            wrapped = nonce + self._kek().encrypt(nonce, key, child_id.encode())
            await self.pool.execute(
                "INSERT INTO child_keys (child_id, wrapped_key) VALUES ($1, $2)"
                " ON CONFLICT (child_id) DO NOTHING", child_id, wrapped)
            return await self.key(child_id)
        if row is None:
            return None
        if row["wrapped_key"] is None:
            if create:
                raise PersonalDataErased(
                    f"this child's personal data was erased on {row['erased_at']:%Y-%m-%d}")
            return None
        stored: bytes = row["wrapped_key"]
        try:
            return self._kek().decrypt(stored[:12], stored[12:], child_id.encode())
        except InvalidTag:
            raise RuntimeError("a child's key does not open with CSP_KEY_ENCRYPTION_KEY: "
                               "is it the key this database was made with?") from None

    async def erase(self, child_id: str, by: str) -> None:
        """Destroy the key (a tombstone row stays). VACUUM then drops the old row version."""
        await self.pool.execute(
            "INSERT INTO child_keys (child_id, wrapped_key, erased_at, erased_by)"
            " VALUES ($1, NULL, now(), $2) ON CONFLICT (child_id) DO UPDATE"
            " SET wrapped_key = NULL, erased_at = now(), erased_by = $2"
            " WHERE child_keys.erased_at IS NULL", child_id, by)
        await self.pool.execute("VACUUM child_keys")

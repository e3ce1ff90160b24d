"""A child's personal details, sealed field by field with the child's own key.

The crypto (seal, unseal, the key vault and its key-encryption keys) is the kernel's
(shared/sealing.py: the quality service seals with it too); its names are re-exported here,
where the case-events service and its tests have always found them.
"""

from __future__ import annotations

from typing import Any

from contracts.case_events.events import PERSONAL_FIELDS, SealedPersonalDetails
from shared.sealing import (
    ERASED,
    FIRST_KEK_ID,
    PREFIX,
    KeyRing,
    KeyVault,
    PersonalDataErased,
    RetiredKey,
    key_encryption_key,
    seal,
    unseal,
)

__all__ = [
    "ERASED",
    "FIRST_KEK_ID",
    "PREFIX",
    "KeyRing",
    "KeyVault",
    "PersonalDataErased",
    "RetiredKey",
    "key_encryption_key",
    "seal",
    "seal_details",
    "unseal",
    "unseal_details",
]


def seal_details(key: bytes, child_id: str, details: Any) -> SealedPersonalDetails:
    return SealedPersonalDetails(
        **{
            f: seal(key, child_id, f, v)
            for f in PERSONAL_FIELDS
            if (v := getattr(details, f, None)) is not None
        }
    )


def unseal_details(
    key: bytes | None, child_id: str, payload: dict[str, Any]
) -> dict[str, str | None]:
    return {
        f: unseal(key, child_id, f, payload[f]) if payload.get(f) else None for f in PERSONAL_FIELDS
    }

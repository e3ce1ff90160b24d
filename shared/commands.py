"""What every command model shares: frozen, unknown fields refused (a 422 naming the field),
and an example body for the OpenAPI document."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from pydantic import BaseModel, ConfigDict


def example(**fields: Any) -> ConfigDict:
    return ConfigDict(frozen=True, extra="forbid", json_schema_extra={"examples": [fields]})


class PersonalFields(BaseModel):
    """Fields about a person (names, an address, notes): sealed with the subject's own key
    before they are stored, and never hashed in the clear either, since the idempotency
    record of a command outlives an erasure."""


def hashed_body(body: BaseModel, personal_key: bytes | None) -> dict[str, Any]:
    """The body as its idempotency record hashes it: each personal part replaced by an HMAC
    under the subject's own key (so erasing the key leaves nothing to confirm a name against),
    or left out when the caller has no key to give."""
    dumped: dict[str, Any] = body.model_dump(mode="json")
    if isinstance(body, PersonalFields):
        return {"personal": _keyed(personal_key, dumped)}
    for name in type(body).model_fields:
        if isinstance(getattr(body, name), PersonalFields):
            dumped[name] = _keyed(personal_key, dumped[name])
    return dumped


def _keyed(key: bytes | None, value: Any) -> str | None:
    if key is None:
        return None
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()

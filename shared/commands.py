"""What every command model shares: frozen, unknown fields refused (a 422 naming the field),
and an example body for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict


def example(**fields: Any) -> ConfigDict:
    return ConfigDict(frozen=True, extra="forbid", json_schema_extra={"examples": [fields]})

"""A record on the agency's topic, read into the generated model of its type and version.

The record's value is the message (JSON); its headers say which message it is:
`event_type`, and `ce_type` (`csp.partner.<event type>.v<version>`), whose version picks
between the versions of one message type the contract holds. The class is
`<event type>V<version>` in models/<agency>.py (generate.py names them so).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ValidationError

from .generate import message_name

_CE_TYPE = re.compile(r"^csp\.partner\.(?P<event_type>\w+)\.v(?P<version>\d+)$")


@dataclass(frozen=True)
class Read:
    """A message read, or why it could not be (`model` None, `reason` set)."""

    event_type: str
    version: int
    model: BaseModel | None
    reason: str = ""


def event_type_and_version(value: dict[str, Any], headers: dict[str, str]) -> tuple[str, int]:
    """From the `ce_type` header; a record without it (sent before the header existed) is
    version 1 of the body's `event_type`."""
    ce_type = _CE_TYPE.match(headers.get("ce_type", ""))
    if ce_type:
        return ce_type["event_type"], int(ce_type["version"])
    return str(value.get("event_type") or headers.get("event_type", "")), 1


def read(models: ModuleType, value: bytes | None, headers: dict[str, str]) -> Read:
    try:
        body = json.loads(value or b"")
    except ValueError:
        return Read("", 0, None, "the value is not JSON")
    if not isinstance(body, dict):
        return Read("", 0, None, "the value is not a JSON object")
    event_type, version = event_type_and_version(body, headers)
    model: type[BaseModel] | None = getattr(models, message_name(event_type, version), None)
    if model is None:  # a message type or version released after these models were made
        why = f"no model of {event_type} v{version}: regenerate the models (README.md)"
        return Read(event_type, version, None, why)
    try:
        return Read(event_type, version, model.model_validate(body))
    except ValidationError as error:
        return Read(event_type, version, None, f"not a valid {model.__name__}: {error}")

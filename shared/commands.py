"""What every command model shares: frozen, unknown fields refused (a 422 naming the field),
an example body for the OpenAPI document, and the fields that must name the council's
reference data (`Referenced`)."""

from __future__ import annotations

import difflib
import functools
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict


def example(**fields: Any) -> ConfigDict:
    return ConfigDict(frozen=True, extra="forbid", json_schema_extra={"examples": [fields]})


class PersonalFields(BaseModel):
    """Fields about a person (names, an address, notes): sealed with the subject's own key
    before they are stored, and never hashed in the clear either, since the idempotency
    record of a command outlives an erasure."""


def hashed_content(body: BaseModel, personal_key: bytes | None) -> BaseModel | dict[str, Any]:
    """The body as its request hash sees it: the model itself when it has no personal part
    (serialized once, by pydantic-core: a feed of 10,000 marks), else `hashed_body`."""
    if isinstance(body, PersonalFields) or any(
        isinstance(getattr(body, name), PersonalFields) for name in type(body).model_fields
    ):
        return hashed_body(body, personal_key)
    return body


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


class Referenced:
    """Marks a command field whose value must be one of the council's reference data of this
    kind (its localities, schools, teams, social workers): the service answers 422 listing
    the known ones when a command names another (shared/reference_data.py). Metadata only:
    the schema is unchanged. In the kernel, not the contracts, because the kernel acts on it;
    contracts/ids.py publishes it with the ids it qualifies."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"Referenced({self.kind!r})"


@functools.cache
def referenced_fields(model: type[BaseModel]) -> dict[str, str]:
    """The model's fields that name reference data, each with its kind (looked up once per
    model: a command's endpoint asks on every request). A field may be optional, or a list."""
    found = {}
    for name, field in model.model_fields.items():
        kind = _kind_in(field.metadata) or _kind_in_annotation(field.annotation)
        if kind is not None:
            found[name] = kind
    return found


def _kind_in(metadata: Iterable[Any]) -> str | None:
    return next((m.kind for m in metadata if isinstance(m, Referenced)), None)


def _kind_in_annotation(annotation: Any) -> str | None:
    """The kind marked anywhere inside `X | None` or `list[X]`, where pydantic leaves it."""
    if get_origin(annotation) is Annotated:
        return _kind_in(annotation.__metadata__)
    return next(
        (k for a in get_args(annotation) if (k := _kind_in_annotation(a)) is not None), None
    )


# The most a refusal lists (a council has hundreds of schools and social workers).
LISTED = 30


def unknown_reference(kind: str, value: str, known: Mapping[str, date | None]) -> str:
    """Why `value` is not accepted as a `kind` (known: each item, with the day it was retired
    or None): the current ones listed, and the closest to a typo suggested."""
    what = kind.replace("_", " ")
    retired_on = known.get(value)
    current = sorted(k for k, retired in known.items() if retired is None)
    reason = (
        f"{what} {value!r} was retired on {retired_on.isoformat()}"
        if retired_on is not None
        else f"unknown {what} {value!r}"
    )
    if not current:
        return f"{reason}; no {what} is known yet"
    listed = ", ".join(current[:LISTED])
    more = f" and {len(current) - LISTED} more" if len(current) > LISTED else ""
    close = difflib.get_close_matches(value, current, n=1)
    suggestion = f"; did you mean {close[0]!r}?" if close and retired_on is None else ""
    return f"{reason}; known: {listed}{more}{suggestion}"

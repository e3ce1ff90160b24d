"""What the demo county sends: a command (a step) to one service's public API, and a journey,
the steps about one child (or family) that must be recorded in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass
class Step:
    service: str
    path: str
    body: dict[str, Any]
    # Reference data the platform may know already (another load, a test's fixture): a 409
    # ("already recorded") is what the load wanted.
    exists_ok: bool = False


@dataclass
class Journey:
    key: str
    steps: list[Step] = field(default_factory=list)

    def add(self, service: str, path: str, **body: Any) -> None:
        self.steps.append(Step(service, path, {k: _json(v) for k, v in body.items()}))


def _json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value

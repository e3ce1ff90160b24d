"""A schema evolution, as the next release of case-events would make it: `ChildRegistered` v2
adds a required field, `first_known_through` (how the child became known: a referral, a
transfer in from another authority, a migration from the old case-management system).

Events already stored and published stay v1 for ever (the log is immutable). The v2 code
reads them through an upcaster that fills the new field; a v1 payload without the upcaster
does not validate. The projection code is unchanged: v2 is still a `ChildRegistered`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from contracts.case_events.events import ChildRegistered
from contracts.topics import domain_events
from shared.envelope import EventRegistry


class ChildRegisteredV2(ChildRegistered):
    schema_version = 2

    first_known_through: Literal["referral", "transfer-in", "migration", "not recorded"] = Field(
        description="How the child became known to children's services."
    )


def registry_with_child_registered_v2(upcaster: bool = True) -> EventRegistry:
    """The projection service's registry as the v2 release has it."""
    current = domain_events()
    registry = EventRegistry()
    for name, cls in current.types().items():
        registry.event(ChildRegisteredV2 if name == "ChildRegistered" else cls)
    registry._upcasters.update(current._upcasters)
    if upcaster:

        @registry.upcaster("ChildRegistered", 1)
        def v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
            return {**payload, "first_known_through": "not recorded"}

    return registry

"""The released contract: every topic's message schemas, every version ever released, committed.

    python -m deploy.contracts check     # exit 1 on a breaking change, or a stale release
    python -m deploy.contracts release   # `make contracts`: release the current schemas
    python -m deploy.contracts release --accept-breaking   # a partner break agreed with them

`contracts/released/<topic>.json` holds, for each message type a topic carries, the JSON
Schema of every version released (pydantic's, of the typed envelope on a domain topic, of the
minimised message on a partner's): what consumers and partners code against. `release`
writes the current schemas into it, keeping every older version, and refuses a breaking change;
`check` (in `make lint`, and tests/unit/test_contract_compatibility.py in `make test`) fails
on a breaking change, naming each (topic, message, version, path, what broke), and on a
release that is merely behind the code (an additive change not yet released). What counts as
breaking is contracts/compatibility.py's; docs/contracts.md says how to change an event.

It lives in deploy/ because the partner messages are derived from the partner feed's tables
(services/partner_feeds/sharing.py), and the contracts layer must not import a service.

The `dead-letter` topic has no file: a dead letter's value is the failed record's bytes as
they were (any topic's message, or one that could not be decoded), so it has no schema of its
own; its headers are described in docs/operations.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

import contracts
from contracts.catalogue import typed_envelope
from contracts.compatibility import (
    Change,
    Current,
    Released,
    Schema,
    Upcasters,
    contract_changes,
    released_after,
)
from contracts.topics import EVENTS, PARTNER_TOPICS, TOPICS, domain_events
from services.partner_feeds.sharing import (
    DATES,
    ENTITLEMENTS,
    PURPOSE,
    Precision,
    coarsened,
    partner_topic,
    pseudonym,
)
from shared.envelope import Agency, DomainEvent, EventRegistry

RELEASED = Path(contracts.__file__).resolve().parent / "released"
ABOUT = (
    "The released contract of this topic: the JSON Schema of every version of every message "
    "it carries. Written by `make contracts` (python -m deploy.contracts release), checked by "
    "`make lint` and `make test`; never edited by hand; a version, once released, stays. "
    "Readers must ignore properties they do not know and tolerate codes they do not know "
    "(docs/contracts.md)."
)
SAMPLE_DAY = date(2026, 3, 2)
# What a date coarser than a day looks like (services/partner_feeds/sharing.py `coarsened`).
COARSE_PATTERNS = {
    Precision.WEEK: r"^[0-9]{4}-W[0-9]{2}$",
    Precision.MONTH: r"^[0-9]{4}-[0-9]{2}$",
    Precision.QUARTER: r"^[0-9]{4}-Q[1-4]$",
    Precision.YEAR: r"^[0-9]{4}$",
    Precision.ACADEMIC_YEAR: r"^[0-9]{4}/[0-9]{2}$",
}


# -- what the code publishes -----------------------------------------------------------------


def current(
    events: Mapping[str, EventRegistry] = EVENTS,
    partners: Mapping[str, Mapping[str, type[PartnerMessageModel]]] | None = None,
) -> Current:
    """topic -> message type -> (version, JSON Schema), as the code publishes them now."""
    out: dict[str, dict[str, tuple[int, Schema]]] = {}
    for topic in TOPICS:
        registry = events.get(topic.name)
        if registry is not None:
            out[topic.name] = {
                name: (cls.schema_version, message_schema(cls))
                for name, cls in registry.types().items()
            }
    for topic_name, models in (partner_messages() if partners is None else partners).items():
        out[topic_name] = {
            name: (model.schema_version, _json(model.model_json_schema()))
            for name, model in models.items()
        }
    return out


def message_schema(event: type[DomainEvent]) -> Schema:
    """The JSON Schema of an event's message on its domain topic: its typed envelope."""
    return _json(typed_envelope(event).model_json_schema())


def upcasters(events: Mapping[str, EventRegistry] = EVENTS) -> Upcasters:
    """topic -> the (event type, from version) steps its registry can upcast. A partner
    topic's messages are versioned by their events: theirs are every domain event's steps."""
    steps = {topic: registry.upcast_steps() for topic, registry in events.items()}
    every = frozenset().union(*steps.values())
    return {**steps, **{topic.name: every for topic in PARTNER_TOPICS}}


def _json(schema: Mapping[str, Any]) -> Schema:
    """As it reads back from the released file (tuples become lists, keys strings)."""
    loaded: Schema = json.loads(json.dumps(schema))
    return loaded


# -- the partner messages --------------------------------------------------------------------


class PartnerMessageModel(BaseModel):
    """A message on a partner's topic. Its version is that of the event it was derived from
    (the `ce_type` header names it: csp.partner.<event type>.v<version>): the facts are that
    version's fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: ClassVar[int] = 1


def partner_messages(
    entitlements: Mapping[Agency, Mapping[str, tuple[str, ...]]] = ENTITLEMENTS,
    dates: Mapping[Agency, Mapping[str, tuple[Precision, str]]] = DATES,
    events: EventRegistry | None = None,
) -> dict[str, dict[str, type[PartnerMessageModel]]]:
    """partner topic -> event type -> the model of the message the agency receives: the body
    `PartnerMessage.body()` sends, its facts exactly those `shares_of` derives (every listed
    field always present, null when the event's is; each date as precisely as DATES says)."""
    types = (domain_events() if events is None else events).types()
    return {
        partner_topic(agency): {
            event_type: partner_message_model(
                agency, types[event_type], fields, dates.get(agency, {})
            )
            for event_type, fields in entitled.items()
        }
        for agency, entitled in entitlements.items()
    }


def partner_message_model(
    agency: Agency,
    event: type[DomainEvent],
    fields: Sequence[str],
    dates: Mapping[str, tuple[Precision, str]],
) -> type[PartnerMessageModel]:
    name = f"{event.event_type}For{agency.value.title()}"
    received: dict[str, Any] = {}
    for field in fields:
        # A date nobody declared a precision for is withheld, as shares_of does.
        precision, _ = dates.get(f"{event.event_type}.{field}", (Precision.WITHHELD, ""))
        fact = _fact(event.model_fields[field], precision)
        if fact is not None:
            received[field] = fact
    facts = create_model(
        f"{name}Facts",
        __config__=ConfigDict(frozen=True, extra="forbid"),
        __doc__=f"What {agency.value} receives of {event.event_type}.",
        **received,
    )
    sample = pseudonym(b"sample", agency, "sample")
    prefix, _, digest = sample.partition("-")
    message: dict[str, Any] = {
        "message_id": (
            UUID,
            Field(
                description="The same for the same event and agency: a message re-sent after "
                "a restart has the id of the first; drop an id already seen."
            ),
        ),
        "subject": (
            str,
            Field(
                pattern=f"^{prefix}-[0-9a-f]{{{len(digest)}}}$",
                description=f"{agency.value}'s pseudonym of the child (of the audit, for a "
                "partnership audit's messages): stable on this topic, different for every "
                "agency (the Kafka key).",
            ),
        ),
        "event_type": (Literal[event.event_type], ...),
        "facts": (facts, ...),
        "purpose": (Literal[PURPOSE], Field(description="The lawful basis of the share.")),
    }
    versioned: type[PartnerMessageModel] = type(
        f"{name}Version", (PartnerMessageModel,), {"schema_version": event.schema_version}
    )
    return create_model(
        name,
        __base__=versioned,
        __doc__=" ".join((event.__doc__ or event.event_type).split()),
        **message,
    )


def _fact(info: FieldInfo, precision: Precision) -> tuple[Any, Any] | None:
    """A field of the facts as the agency receives it: always sent (null when the event's is),
    its date coarsened as DATES says; None if it is never sent."""
    annotation: Any = info.annotation
    description = info.description
    if _has_date(annotation) and precision is not Precision.DAY:
        if precision is Precision.WITHHELD:
            # shares_of withholds a date, but sends a null it finds in its place.
            nullable = type(None) in get_args(annotation)
            return (None, Field(None, description=description)) if nullable else None
        annotation = _coarse(annotation, precision)
        example = coarsened(SAMPLE_DAY, precision)
        description = (
            f"{(description or 'The date').rstrip('.')}, to the {precision.value}, as {example}."
        )
        return (annotation, Field(description=description))
    if info.metadata:
        annotation = Annotated[(annotation, *info.metadata)]
    return (annotation, Field(description=description))


def _has_date(annotation: Any) -> bool:
    if annotation is date:
        return True
    return any(_has_date(a) for a in get_args(annotation))


def _coarse(annotation: Any, precision: Precision) -> Any:
    """The type with its date replaced by the coarse string the agency receives."""
    if annotation is date:
        return Annotated[str, Field(pattern=COARSE_PATTERNS[precision])]
    origin = get_origin(annotation)
    if origin is Annotated:
        return _coarse(get_args(annotation)[0], precision)
    if origin is Union or origin is UnionType:
        return Union[tuple(_coarse(a, precision) for a in get_args(annotation))]  # noqa: UP007
    return annotation


# -- the released files ----------------------------------------------------------------------


def read(folder: Path = RELEASED) -> dict[str, dict[str, dict[int, Schema]]]:
    """topic -> message type -> version -> JSON Schema, as committed."""
    released: dict[str, dict[str, dict[int, Schema]]] = {}
    for path in sorted(folder.glob("*.json")):
        document = json.loads(path.read_text())
        if document.get("topic") != path.stem:
            raise ValueError(f"{path} names topic {document.get('topic')!r}, not {path.stem!r}")
        released[path.stem] = {
            message: {int(version): schema for version, schema in versions.items()}
            for message, versions in document["messages"].items()
        }
    return released


def document(topic: str, messages: Mapping[str, Mapping[int, Schema]]) -> str:
    """A topic's released file: sorted, one key a line, so a review reads the diff."""
    body = {
        "topic": topic,
        "about": ABOUT,
        "messages": {
            message: {str(version): versions[version] for version in sorted(versions)}
            for message, versions in sorted(messages.items())
        },
    }
    return json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write(folder: Path, released: Released) -> list[str]:
    """Write the files that changed, and say what was done. A topic's file goes only when the
    topic has gone from the contract (an accepted break: `release` keeps every other)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = []
    for path in sorted(folder.glob("*.json")):
        if path.stem not in released:
            path.unlink()
            done.append(f"removed {_shown(path)}")
    for topic, messages in released.items():
        path = folder / f"{topic}.json"
        text = document(topic, messages)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            done.append(f"released {_shown(path)}")
    return done


# -- check and release -----------------------------------------------------------------------


def changes(
    folder: Path = RELEASED,
    now: Current | None = None,
    steps: Upcasters | None = None,
) -> list[Change]:
    """Every change from the committed contract to the code's schemas."""
    return contract_changes(
        read(folder), current() if now is None else now, upcasters() if steps is None else steps
    )


def check(
    folder: Path = RELEASED, now: Current | None = None, steps: Upcasters | None = None
) -> int:
    found = changes(folder, now, steps)
    breaking = [c for c in found if c.breaking]
    if breaking:
        print(f"{len(breaking)} breaking change(s) to the released contract:", file=sys.stderr)
        for change in breaking:
            print(f"  BREAKING {change}", file=sys.stderr)
        print(
            "Undo it, or raise the event's schema_version with an upcaster from the released "
            "version; a partner message's break agreed with the agency: `python -m "
            "deploy.contracts release --accept-breaking` (docs/contracts.md).",
            file=sys.stderr,
        )
        return 1
    if found:
        print("The released contract is behind the code:", file=sys.stderr)
        for change in found:
            print(f"  {change}", file=sys.stderr)
        print("run `make contracts` to release it", file=sys.stderr)
        return 1
    print(f"the released contract in {_shown(folder)} is current")
    return 0


def release(
    folder: Path = RELEASED,
    now: Current | None = None,
    steps: Upcasters | None = None,
    *,
    accept_breaking: bool = False,
) -> int:
    """Write the current schemas into the released contract, unless one breaks it.

    `accept_breaking` is for a break of a partner message agreed with the agency (an
    entitlement withdrawn, a field no longer sent): the current schemas replace the released
    ones, and message types no longer sent are dropped. Never on a domain topic: the platform
    reads its stored events at their version for ever, so a domain event breaks only by a new
    version with an upcaster.
    """
    now = current() if now is None else now
    steps = upcasters() if steps is None else steps
    released = read(folder)
    breaking = [c for c in contract_changes(released, now, steps) if c.breaking]
    if breaking and accept_breaking and not {c.topic for c in breaking} & set(EVENTS):
        kept = {
            topic: {m: v for m, v in messages.items() if m in now[topic]}
            for topic, messages in released.items()
            if topic in now
        }
        accepted, breaking = (
            breaking,
            [c for c in contract_changes(released_after(kept, now), now, steps) if c.breaking],
        )
        if not breaking:
            for change in accepted:
                print(f"  accepted: BREAKING {change}", file=sys.stderr)
            released = kept
    if breaking:
        print("Not released: the code breaks the released contract:", file=sys.stderr)
        for change in breaking:
            print(f"  BREAKING {change}", file=sys.stderr)
        return 1
    done = write(folder, released_after(released, now))
    print("\n".join(done) or f"the released contract in {_shown(folder)} is current")
    return 0


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.contracts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=("check", "release"))
    parser.add_argument(
        "--accept-breaking",
        action="store_true",
        help="release: replace a partner topic's released schemas even where the change breaks"
        " them (a break agreed with the agency; never on a domain topic)",
    )
    parser.add_argument(
        "--folder", type=Path, default=RELEASED, help="the released contract (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(args.folder)
    return release(args.folder, accept_breaking=args.accept_breaking)


if __name__ == "__main__":
    sys.exit(main())

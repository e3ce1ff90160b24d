"""Whether a change to a published schema can break someone: pure comparisons, no I/O.

Two kinds of reader depend on a released schema. The platform itself reads every event it ever
stored, at the version it was stored with, forever (replays, rebuilds, a new projection): so a
schema must still accept every message it accepted when released. Partners and other consumers
validate what they receive against the schema they coded against: so a schema must not start
accepting messages the released one rejects. Together: for the same message type and version,
a change that alters which messages are valid is breaking, with two exceptions readers are told
to tolerate (docs/contracts.md): a new optional property (readers ignore unknown fields) and a
new code in an enumeration (readers tolerate codes they do not know). Anything else that
changes validation breaks: a property removed, newly required or no longer required, a type,
format, pattern, bound, const or default changed, a union alternative added or removed (null
among them), a code removed, additional properties tightened, a `$ref` that resolves to a
different shape. Titles, descriptions and examples are documentation: a change to them breaks
nothing (the release is merely stale).

Versions: a message type's released versions are never removed. Code may publish a version the
contract has not released yet only when every step from the last released version up has an
upcaster (so the stored old events still decode); old released versions keep their upcasters.

Why not a general JSON Schema diff library: the ones that compare schemas (jsoncompat, alpha,
"not all incompatible changes are detected") answer a different question (serializer or
deserializer role, by fuzzing), and none names the two changes this platform allows. The
schemas compared here are pydantic's, a small and regular subset of JSON Schema, and each
difference must be reported with the path a partner would recognise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from typing import Any

Schema = Mapping[str, Any]
# topic -> message type -> version -> the JSON Schema of that version's message
Released = Mapping[str, Mapping[str, Mapping[int, Schema]]]
# topic -> message type -> (the version the code publishes, its JSON Schema)
Current = Mapping[str, Mapping[str, tuple[int, Schema]]]
# topic -> {(message type, from version)} that have an upcaster to the next version
Upcasters = Mapping[str, Set[tuple[str, int]]]

# Keywords that document and never validate: a change to them breaks nothing.
ANNOTATIONS = frozenset(
    {"title", "description", "examples", "$comment", "deprecated", "readOnly", "writeOnly"}
)
# Keywords compared by their own rule below; any other keyword is compared for equality.
_STRUCTURE = frozenset(
    {
        "$ref",
        "$defs",
        "anyOf",
        "oneOf",
        "allOf",
        "discriminator",  # pydantic's hint for a tagged union; the alternatives are compared
        "properties",
        "required",
        "additionalProperties",
        "items",
        "prefixItems",
        "enum",
    }
)
# A cycle of $refs (a recursive model) is compared once per pair of definitions on a path.
_Seen = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Difference:
    """One difference between a released schema and the current one, at a path in messages."""

    path: str
    what: str
    breaking: bool


@dataclass(frozen=True)
class Change:
    """A difference in a topic's contract, named as `check` prints it."""

    topic: str
    message: str
    version: int | None
    path: str
    what: str
    breaking: bool

    def __str__(self) -> str:
        version = "" if self.version is None else f" v{self.version}"
        where = f" {self.path}" if self.path else ""
        return f"{self.topic} {self.message}{version}{where}: {self.what}"


def schema_differences(old: Schema, new: Schema) -> list[Difference]:
    """Every difference between two versions of one message's schema (each self-contained,
    its `$ref`s into its own `$defs`), breaking or not, in a stable order."""
    return list(_node(_Side(old, old), _Side(new, new), "$", frozenset()))


def contract_changes(released: Released, current: Current, upcasters: Upcasters) -> list[Change]:
    """Every change from the released contract to what the code now publishes. A breaking one
    fails the check; a non-breaking one means the release is stale (`make contracts`)."""
    changes: list[Change] = []
    for topic in sorted(set(released) | set(current)):
        changes += _topic_changes(
            topic, released.get(topic, {}), current.get(topic), upcasters.get(topic, frozenset())
        )
    return changes


def released_after(released: Released, current: Current) -> dict[str, dict[str, dict[int, Schema]]]:
    """The contract once the current schemas are released: every version ever released is
    kept, the current version of each message replaces or joins them."""
    merged: dict[str, dict[str, dict[int, Schema]]] = {
        topic: {message: dict(versions) for message, versions in messages.items()}
        for topic, messages in released.items()
    }
    for topic, messages in current.items():
        for message, (version, schema) in messages.items():
            merged.setdefault(topic, {}).setdefault(message, {})[version] = schema
    return merged


# -- versions --------------------------------------------------------------------------------


def _topic_changes(
    topic: str,
    released: Mapping[str, Mapping[int, Schema]],
    current: Mapping[str, tuple[int, Schema]] | None,
    upcasters: Set[tuple[str, int]],
) -> list[Change]:
    if current is None:
        return [Change(topic, "(topic)", None, "", "the topic was removed", breaking=True)]
    changes: list[Change] = []
    for message in sorted(set(released) - set(current)):
        changes.append(
            Change(topic, message, None, "", "the message type was removed", breaking=True)
        )
    for message in sorted(set(current) - set(released)):
        version = current[message][0]
        changes.append(Change(topic, message, version, "", "a new message type", breaking=False))
    for message in sorted(set(released) & set(current)):
        version, schema = current[message]
        changes += _message_changes(topic, message, released[message], version, schema, upcasters)
    return changes


def _message_changes(
    topic: str,
    message: str,
    versions: Mapping[int, Schema],
    version: int,
    schema: Schema,
    upcasters: Set[tuple[str, int]],
) -> list[Change]:
    def change(what: str, breaking: bool, path: str = "", at: int = version) -> Change:
        return Change(topic, message, at, path, what, breaking)

    changes: list[Change] = []
    latest = max(versions)
    if version < latest:
        changes.append(
            change(f"v{latest} is released but the code publishes v{version}", breaking=True)
        )
    # Every released version older than the code's must still decode: an upcaster for each step.
    for old in sorted(v for v in versions if v < version):
        missing = [v for v in range(old, version) if (message, v) not in upcasters]
        if missing:
            changes.append(
                change(
                    f"v{old} is released and the code is at v{version}, with no upcaster from"
                    f" v{missing[0]} (stored v{old} messages could not be read)",
                    breaking=True,
                    at=old,
                )
            )
    if version in versions:
        changes += [
            change(d.what, d.breaking, d.path)
            for d in schema_differences(versions[version], schema)
        ]
        if not changes and dict(versions[version]) != dict(schema):
            changes.append(change("titles or descriptions changed", breaking=False))
    elif version > latest:
        changes.append(change(f"v{version} is not released yet", breaking=False))
    return changes


# -- schemas ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Side:
    """A node of one schema and the root its `$ref`s resolve in."""

    node: Schema
    root: Schema

    def resolved(self) -> tuple[_Side, str | None]:
        """The node with its `$ref` (and a lone `allOf`) followed, and the definition's name."""
        node, name = dict(self.node), None
        while True:
            if "$ref" in node:
                ref = node.pop("$ref")
                name = ref
                node = {**_definition(self.root, ref), **node}
            elif "allOf" in node and len(node["allOf"]) == 1:
                node = {**node.pop("allOf")[0], **node}
            else:
                return _Side(node, self.root), name

    def alternatives(self) -> list[Schema]:
        """The union's alternatives (`anyOf`/`oneOf`), or the node itself."""
        for keyword in ("anyOf", "oneOf"):
            if keyword in self.node:
                return list(self.node[keyword])
        return [self.node]


def _definition(root: Schema, ref: str) -> Schema:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are compared, not {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return dict(node)


def _node(old: _Side, new: _Side, path: str, seen: _Seen) -> Iterator[Difference]:
    old, old_ref = old.resolved()
    new, new_ref = new.resolved()
    if old_ref is not None and new_ref is not None:
        if (old_ref, new_ref) in seen:
            return
        seen = seen | {(old_ref, new_ref)}
    old_alternatives, new_alternatives = old.alternatives(), new.alternatives()
    if len(old_alternatives) > 1 or len(new_alternatives) > 1:
        yield from _union(old, new, old_alternatives, new_alternatives, path, seen)
        return
    yield from _keywords(old.node, new.node, path)
    yield from _enum(old.node, new.node, path)
    yield from _object(old, new, path, seen)
    yield from _array(old, new, path, seen)


def _union(
    old: _Side,
    new: _Side,
    old_alternatives: list[Schema],
    new_alternatives: list[Schema],
    path: str,
    seen: _Seen,
) -> Iterator[Difference]:
    """A union's alternatives are paired by kind (`null`, `string`, an object by title...).
    One side may be a plain schema (a field made nullable): it is then its only alternative."""
    old_outer, old_alternatives = _beside_union(old.node, old_alternatives)
    new_outer, new_alternatives = _beside_union(new.node, new_alternatives)
    yield from _keywords(old_outer, new_outer, path)
    old_kinds = _by_kind(old, old_alternatives)
    new_kinds = _by_kind(new, new_alternatives)
    for kind in old_kinds.keys() - new_kinds.keys():
        yield Difference(path, f"no longer accepts {kind} (an alternative removed)", True)
    for kind in new_kinds.keys() - old_kinds.keys():
        yield Difference(
            path,
            f"now accepts {kind} too (an alternative added: readers of the released schema"
            " would reject it)",
            True,
        )
    for kind in sorted(old_kinds.keys() & new_kinds.keys()):
        yield from _node(
            _Side(old_kinds[kind], old.root), _Side(new_kinds[kind], new.root), path, seen
        )


def _beside_union(node: Schema, alternatives: list[Schema]) -> tuple[Schema, list[Schema]]:
    """What sits beside a union (a field's default) and its alternatives. pydantic puts a
    field's default beside its union, and inside the schema of a field that is no union."""
    if any(keyword in node for keyword in ("anyOf", "oneOf")):
        return {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}, alternatives
    outer = {k: v for k, v in node.items() if k == "default"}
    return outer, [{k: v for k, v in node.items() if k != "default"}]


def _by_kind(side: _Side, alternatives: list[Schema]) -> dict[str, Schema]:
    kinds: dict[str, Schema] = {}
    for index, alternative in enumerate(alternatives):
        resolved, _ = _Side(alternative, side.root).resolved()
        node = resolved.node
        kind = str(node.get("type", "any value"))
        if "const" in node:
            kind = f"the constant {node['const']!r}"
        elif kind == "object" and "title" in node:
            kind = f"an object {node['title']}"
        elif kind == "string" and "format" in node:
            kind = f"a string of format {node['format']}"
        elif kind == "null":
            kind = "null"
        elif not kind.startswith(("an ", "a ")):
            kind = f"a value of type {kind}"
        # Two alternatives of one kind (rare in pydantic's output) are told apart by place.
        kinds[kind if kind not in kinds else f"{kind} (alternative {index + 1})"] = alternative
    return kinds


def _keywords(old: Schema, new: Schema, path: str) -> Iterator[Difference]:
    """Every validating keyword that is not structure: type, format, pattern, bounds, const,
    default... Any change to one alters which messages are valid."""
    for keyword in sorted((old.keys() | new.keys()) - ANNOTATIONS - _STRUCTURE):
        before, after = old.get(keyword, _ABSENT), new.get(keyword, _ABSENT)
        if before == after:
            continue
        if before is _ABSENT:
            what = f"{keyword} {after!r} added"
        elif after is _ABSENT:
            what = f"{keyword} {before!r} removed"
        else:
            what = f"{keyword} changed from {before!r} to {after!r}"
        yield Difference(path, what, True)


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT: Any = _Absent()


def _enum(old: Schema, new: Schema, path: str) -> Iterator[Difference]:
    if "enum" not in old and "enum" not in new:
        return
    if "enum" not in new:
        yield Difference(path, "no longer restricted to a list of codes", True)
        return
    if "enum" not in old:
        yield Difference(path, "now restricted to a list of codes", True)
        return
    removed = [v for v in old["enum"] if v not in new["enum"]]
    added = [v for v in new["enum"] if v not in old["enum"]]
    if removed:
        yield Difference(path, f"code(s) removed: {', '.join(map(str, removed))}", True)
    if added:
        yield Difference(path, f"code(s) added: {', '.join(map(str, added))}", False)


def _object(old: _Side, new: _Side, path: str, seen: _Seen) -> Iterator[Difference]:
    old_properties = old.node.get("properties", {})
    new_properties = new.node.get("properties", {})
    old_required = set(old.node.get("required", ()))
    new_required = set(new.node.get("required", ()))
    for name in old_properties:
        where = f"{path}.{name}"
        if name not in new_properties:
            yield Difference(where, "property removed", True)
            continue
        if name in new_required and name not in old_required:
            yield Difference(where, "newly required (messages already written may lack it)", True)
        if name in old_required and name not in new_required:
            yield Difference(where, "no longer required (readers count on it)", True)
        yield from _node(
            _Side(old_properties[name], old.root),
            _Side(new_properties[name], new.root),
            where,
            seen,
        )
    for name in new_properties:
        if name in old_properties:
            continue
        if name in new_required:
            yield Difference(
                f"{path}.{name}",
                "new required property (messages already written lack it)",
                True,
            )
        else:
            yield Difference(f"{path}.{name}", "optional property added", False)
    yield from _additional(old, new, path, seen)


def _additional(old: _Side, new: _Side, path: str, seen: _Seen) -> Iterator[Difference]:
    """`additionalProperties`: absent or true allows any; false allows none; a schema allows
    values of that schema. Allowing more is fine (readers ignore unknown fields)."""
    before = old.node.get("additionalProperties", True)
    after = new.node.get("additionalProperties", True)
    if before == after or after is True:
        return
    if after is False:
        yield Difference(path, "additional properties no longer allowed", True)
    elif before is True:
        yield Difference(path, "additional properties now restricted to a schema", True)
    elif before is not False:
        yield from _node(_Side(before, old.root), _Side(after, new.root), f"{path}{{*}}", seen)


def _array(old: _Side, new: _Side, path: str, seen: _Seen) -> Iterator[Difference]:
    for keyword in ("items", "prefixItems"):
        before, after = old.node.get(keyword), new.node.get(keyword)
        if before is None and after is None:
            continue
        if before is None or after is None:
            yield Difference(path, f"{keyword} {'added' if before is None else 'removed'}", True)
            continue
        if keyword == "items":
            yield from _node(_Side(before, old.root), _Side(after, new.root), f"{path}[*]", seen)
            continue
        if len(before) != len(after):
            yield Difference(path, "the number of prefixItems changed", True)
        for index, (b, a) in enumerate(zip(before, after, strict=False)):
            yield from _node(_Side(b, old.root), _Side(a, new.root), f"{path}[{index}]", seen)

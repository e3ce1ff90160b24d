"""What each field of an agency's messages means, as a Markdown table, from the released
contract: the tables in docs/partners.md, so that they say what the schemas say.

    python -m deploy.partner_kit.fields docs/partners.md contracts/released/partner-*.json

rewrites the part of the page between `<!-- fields: generated -->` and `<!-- /fields -->`
(tests/unit/test_partner_kit.py fails when the page and the contract differ).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .generate import agency_of, versions

START, END = "<!-- fields: generated -->", "<!-- /fields -->"
EVERY = ("message_id", "subject", "event_type", "purpose")  # the same on every message


def fields_markdown(released: list[dict[str, Any]]) -> str:
    return "\n".join(_agency_table(r) for r in released)


def _agency_table(released: dict[str, Any]) -> str:
    agency = agency_of(released)
    lines = [
        f"### {agency}: `{released['topic']}`",
        "",
        "| message | field | type | meaning |",
        "|---|---|---|---|",
    ]
    messages = list(versions(released))
    _, _, first = messages[0]
    for name in EVERY:
        prop = first["properties"][name]
        kind = "the message's type (below)" if name == "event_type" else _type(prop, first)
        lines.append(f"| every message | `{name}` | {kind} | {_meaning(prop, first)} |")
    for event_type, version, schema in messages:
        facts = _resolved(schema["properties"]["facts"], schema)
        about = schema.get("description", "")  # pydantic writes the bare name when none is given
        about = "" if about == event_type else about
        lines.append(f"| **{event_type}** v{version} | | | {_text(about)} |")
        if not facts.get("properties"):
            lines.append(f"| {event_type} v{version} | `facts` | `{{}}` | none: the event alone |")
        for field, prop in facts.get("properties", {}).items():
            optional = "" if field in facts.get("required", []) else " (may be absent)"
            lines.append(
                f"| {event_type} v{version} | `facts.{field}` | {_type(prop, schema)}{optional}"
                f" | {_meaning(prop, schema)} |"
            )
    return "\n".join(lines) + "\n"


def _resolved(prop: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref", "")
    return schema["$defs"][ref.removeprefix("#/$defs/")] if ref else prop


def _type(prop: dict[str, Any], schema: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " or ".join(_type(p, schema) for p in prop["anyOf"])
    prop = _resolved(prop, schema)
    if "enum" in prop:
        return "code: " + ", ".join(f"`{c}`" for c in prop["enum"])
    if "const" in prop:
        return f"always `{prop['const']}`"
    if prop.get("format") in ("date", "uuid"):
        return {"date": "date `YYYY-MM-DD`", "uuid": "UUID"}[prop["format"]]
    if "pattern" in prop:
        return f"{prop['type']} matching `{_text(prop['pattern'])}`"
    if "minimum" in prop or "maximum" in prop:
        return f"{prop['type']} {prop.get('minimum', '')}..{prop.get('maximum', '')}"
    return str(prop.get("type", "any"))


def _meaning(prop: dict[str, Any], schema: dict[str, Any]) -> str:
    """The field's description, and the code list's where the field is one."""
    parts = [prop.get("description")]
    for p in [prop, *prop.get("anyOf", [])]:
        if "$ref" in p:
            parts.append(_resolved(p, schema).get("description"))
    return _text(" ".join(p for p in parts if p))


def _text(value: str | None) -> str:
    return (value or "").replace("|", "\\|").replace("\n", " ")


def write_into(page: Path, table: str) -> None:
    head, _, rest = page.read_text().partition(START)
    _, _, tail = rest.partition(END)
    page.write_text(f"{head}{START}\n{table}{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.partner_kit.fields")
    parser.add_argument("page", type=Path, help="docs/partners.md")
    parser.add_argument("released", type=Path, nargs="+", help="partner-<agency>.json")
    args = parser.parse_args()
    released = [json.loads(p.read_text()) for p in args.released]
    write_into(args.page, fields_markdown(released))


if __name__ == "__main__":
    main()

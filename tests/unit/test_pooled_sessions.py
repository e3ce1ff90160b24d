"""Pooled connections go back to the pool without a reset query (shared/db.py), so no code
may leave session state on one: a plain SET, a session advisory lock it does not release, a
LISTEN it does not remove, a temporary table, a prepared statement or a held cursor."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = [
    p
    for folder in ("shared", "services", "deploy")
    for p in sorted((ROOT / folder).rglob("*.py"))
    if "node_modules" not in p.parts
]

# Listeners on a connection of their own (asyncpg.connect), closed when the process stops.
OWN_CONNECTION = {"services/projections/listening.py", "services/partner_feeds/api.py"}

SESSION_STATE = [
    (
        re.compile(r"""(execute|fetch\w*)\(\s*f?["']\s*SET\s+(?!LOCAL\b)""", re.IGNORECASE),
        "a SET without LOCAL",
    ),
    (re.compile(r"set_config\([^)]*,\s*false\s*\)", re.IGNORECASE), "set_config(..., false)"),
    (re.compile(r"CREATE\s+(TEMP|TEMPORARY)\s+TABLE", re.IGNORECASE), "a temporary table"),
    (re.compile(r"""(execute|fetch\w*)\(\s*f?["']\s*PREPARE\s""", re.IGNORECASE), "an SQL PREPARE"),
    (re.compile(r"WITH\s+HOLD", re.IGNORECASE), "a cursor WITH HOLD"),
]


def test_the_code_scanned_is_the_platforms() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in CODE}
    assert {"shared/db.py", "shared/relay.py", "services/projections/builds.py"} <= names


def test_no_code_leaves_session_state_on_a_pooled_connection() -> None:
    found = []
    for path in CODE:
        text = path.read_text()
        name = path.relative_to(ROOT).as_posix()
        found += [f"{name}: {what}" for pattern, what in SESSION_STATE if pattern.search(text)]
        locks = len(re.findall(r"pg_(try_)?advisory_lock\(", text))
        unlocks = len(re.findall(r"pg_advisory_unlock\(", text))
        if locks != unlocks:
            found.append(f"{name}: {locks} session advisory locks, {unlocks} unlocks")
        listens = text.count("add_listener(")
        if listens != text.count("remove_listener(") and name not in OWN_CONNECTION:
            found.append(f"{name}: a listener that is not removed")
    assert found == []


def test_the_scan_finds_what_it_looks_for() -> None:
    offending = [
        'await conn.execute("SET search_path TO x")',
        "await conn.execute(\"SELECT set_config('a', 'b', false)\")",
        'await conn.execute("CREATE TEMP TABLE t (x int)")',
    ]
    for line in offending:
        assert any(pattern.search(line) for pattern, _ in SESSION_STATE), line
    assert not any(
        pattern.search('await conn.execute("SET LOCAL synchronous_commit TO off")')
        for pattern, _ in SESSION_STATE
    )

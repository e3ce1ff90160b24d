"""Declarations the security review asked for, without I/O: the council view's figures are of
the user's own localities; the answers naming children in information governance are audited
(the running services are held to it by tests/e2e/audit_check.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest
from fastapi import HTTPException, Request

from services.projections.routes.boards import council_locality
from shared.access import AUDITED, find_rule
from shared.auth import Principal, Role
from shared.envelope import Agency
from tests.apps import rules_for


def _request(localities: set[str] | None) -> Request:
    principal = Principal(
        "sw",
        Agency.COUNCIL,
        Role.PRACTITIONER,
        None if localities is None else frozenset(localities),
    )
    return cast(Request, SimpleNamespace(state=SimpleNamespace(principal=principal)))


def test_the_council_view_is_of_the_users_own_localities() -> None:
    assert council_locality(_request(None), None) is None  # every locality: the county
    assert council_locality(_request(None), "Exeter") == "Exeter"
    assert council_locality(_request({"North"}), None) == "North"  # their only one
    assert council_locality(_request({"North", "Exeter"}), "Exeter") == "Exeter"
    for mine, asked in (({"North"}, "Exeter"), ({"North", "Exeter"}, None), (set(), None)):
        with pytest.raises(HTTPException) as refused:
            council_locality(_request(mine), asked)
        assert refused.value.status_code == 403


@pytest.mark.parametrize(
    ("service", "method", "path"),
    [
        ("case_events", "GET", "/retention"),
        ("case_events", "POST", "/children/{child_id}/erasure"),
        ("partner_feeds", "GET", "/shares"),
        ("partner_feeds", "GET", "/audit"),
    ],
)
def test_information_governance_answers_naming_children_are_audited(
    service: str, method: str, path: str
) -> None:
    rule = find_rule(rules_for(service), method, path, {})
    assert rule is not None
    assert rule.permission in AUDITED and rule.lists_children  # recorded by the handler


def test_the_audit_check_reads_every_child_an_answer_names() -> None:
    from tests.e2e.audit_check import Seen, _children, _named

    answer = b'{"reads": [{"child_ids": ["C-1", "C-2"]}], "rows": [{"child_id": "C-3"}]}'
    assert _children(answer) == {"C-1", "C-2", "C-3"}
    erasure = Seen("POST", "http://x/children/C-9/erasure", 201, "ig", "a", False)
    assert _named(erasure) == {"C-9"}
    # A command other than an erasure names its child in its body (an acknowledgement):
    # `_note` keeps the children a command's body names.
    path = "http://x/attention/missing/I-1/acknowledgements"
    assert _named(Seen("POST", path, 201, "imt", "a", False, frozenset({"C-8"}))) == {"C-8"}

"""The information-governance answers that name children are audited like any person-level
read, and an erasure is in the access log as it happens: who, which child, why.

`/retention` gives each child's id with the 75th birthday (the date of birth), `/shares` each
child's id beside every agency's pseudonym, and `/audit` who read which child: each answer is
recorded with the children it names (and tests/e2e/audit_check.py holds every such answer of
every e2e test to its record when the platform stops)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import SecurePlatform
from tests.infrastructure import HTTP, auth, platform_today

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

GOVERNANCE = auth("information_governance", user="ig-auditor")
MANAGER = auth("manager", user="mgr-governance")


def _audit(platform: SecurePlatform, **params: str) -> list[dict[str, Any]]:
    r = HTTP.get(f"{platform.url('partner_feeds_api')}/audit", headers=GOVERNANCE, params=params)
    assert r.status_code == 200, r.text
    assert r.headers.get("x-audit-id")  # the query of the audit is itself audited
    reads: list[dict[str, Any]] = r.json()["reads"]
    return reads


def _register(platform: SecurePlatform, born: str) -> str:
    child = f"C-{uuid.uuid4().hex[:10]}"
    r = HTTP.post(
        f"{platform.url('case_events_api')}/children",
        headers=MANAGER,
        json={"child_id": child, "date_of_birth": born, "locality": "Exeter"},
    )
    assert r.status_code == 201, r.text
    return child


def test_the_retention_report_is_an_audited_read_of_the_children_it_lists(
    secure: SecurePlatform,
) -> None:
    old = _register(secure, "1948-03-01")
    r = HTTP.get(f"{secure.url('case_events_api')}/retention", headers=GOVERNANCE)
    assert r.status_code == 200 and old in {x["child_id"] for x in r.json()["records"]}
    audit_id = r.headers.get("x-audit-id")
    assert audit_id, "the retention report names children and their dates of birth: audited"
    record = next(a for a in _audit(secure, child_id=old) if a["audit_id"] == audit_id)
    assert record["action"] == "GET /retention" and record["user_id"] == "ig-auditor"
    assert set(record["child_ids"]) >= {x["child_id"] for x in r.json()["records"]}


def test_the_share_audit_and_the_access_audit_are_audited_reads(secure: SecurePlatform) -> None:
    feeds = secure.url("partner_feeds_api")
    shares = HTTP.get(f"{feeds}/shares", headers=GOVERNANCE, params={"child_id": secure.child})
    assert shares.status_code == 200, shares.text
    assert shares.headers.get("x-audit-id"), "ids beside pseudonyms: a person-level read"
    reads = _audit(secure, child_id=secure.child)
    mine = {a["audit_id"]: a for a in reads if a["user_id"] == "ig-auditor"}
    assert mine[shares.headers["x-audit-id"]]["action"] == "GET /shares"
    again = HTTP.get(f"{feeds}/audit", headers=GOVERNANCE, params={"child_id": secure.child})
    queried = {a["audit_id"]: a for a in again.json()["reads"]}
    # the first query of the audit for this child is in the second's answer, naming the child
    assert any(
        a["action"] == "GET /audit" and secure.child in a["child_ids"] for a in queried.values()
    )


def test_an_erasure_is_in_the_access_log_who_which_child_why(secure: SecurePlatform) -> None:
    child = _register(secure, "2012-04-01")
    erased = HTTP.post(
        f"{secure.url('case_events_api')}/children/{child}/erasure",
        headers={**GOVERNANCE, "X-Purpose": "ticket IG-42"},
        json={"erased_on": platform_today().isoformat(), "reason": "subject_request"},
    )
    assert erased.status_code == 201, erased.text
    audit_id = erased.headers.get("x-audit-id")
    assert audit_id, "an erasure is recorded in the access log"
    record = next(a for a in _audit(secure, child_id=child) if a["audit_id"] == audit_id)
    assert record["action"] == "POST /children/{child_id}/erasure"
    assert record["user_id"] == "ig-auditor" and record["child_ids"] == [child]
    assert "subject_request" in str(record["purpose"]) and "IG-42" in str(record["purpose"])

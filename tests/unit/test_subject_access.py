"""What a subject access export gives of other stores' records: pure parts, no I/O."""

from __future__ import annotations

from typing import Any

from services.case_events.governance import _mark, _opened, _sampled
from shared.sealing import ERASED, seal


def event(event_type: str, **payload: Any) -> dict[str, Any]:
    return {"event_type": event_type, "payload": payload, "actor": {"user": "sw-1"}}


def test_an_audit_that_sampled_the_child_names_only_that_child() -> None:
    opened = event("PartnershipAuditOpened", audit_id="PA-1", cases=["C-2", "C-1", "C-3"])
    given = _sampled(opened, "C-1")
    assert given["payload"]["cases"] == ["C-1"]
    assert given["payload"]["other_cases_sampled"] == 2
    assert "C-2" not in str(given) and "C-3" not in str(given)
    plain = event("PracticeEvaluationRecorded", child_id="C-1")
    assert _sampled(plain, "C-1") == plain


def test_a_quality_records_free_text_and_staff_are_marked_for_review() -> None:
    recorded = event(
        "PracticeEvaluationRecorded",
        child_id="C-1",
        auditor_id="AUD-1",
        practitioner_id="SW-9",
        findings="the mother said",
    )
    assert _mark("quality", recorded)["review"] == [
        "actor",
        "payload.findings",
        "payload.auditor_id",
        "payload.practitioner_id",
    ]
    # The same field names in another store's events are not the quality store's.
    assert _mark("escalations", recorded)["review"] == ["actor"]


def test_text_sealed_with_the_childs_key_opens_and_another_subjects_does_not() -> None:
    mine, theirs = bytes(32), bytes(range(32))
    payload = {
        "findings": seal(mine, "C-1", "findings", "kept informed"),
        "summary": seal(theirs, "partnership-audit/PA-1", "summary", "not the child's"),
        "grade": "good",
    }
    opened = _opened(mine, "C-1", payload)
    assert opened["findings"] == "kept informed"
    assert opened["summary"] != payload["summary"] and "not the child's" not in opened["summary"]
    assert opened["grade"] == "good"
    assert _opened(None, "C-1", payload)["findings"] == ERASED  # the child's key erased

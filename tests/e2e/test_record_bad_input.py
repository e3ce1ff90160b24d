"""Bad input to every command of the child's whole record (issue 14) gets a 4xx naming the
field, and records nothing: the child's stream version, in every service, is unchanged.

Each command is refused once for a code or shape the schema refuses, and once for a rule the
child's record decides (an open plan, a recorded referral, an allocated worker...), against a
child whose record has what those rules look at."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Platform
from tests.e2e.journey import Practitioner
from tests.e2e.test_bad_input import child, refused, versions
from tests.infrastructure import MANAGER

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

__all__ = ["child"]  # the plain child (nothing open) of test_bad_input, a fixture here too

# The prepared child's record: what the rules below look at.
PREPARED: list[tuple[str, dict[str, Any]]] = [
    ("/referrals", {"referral_id": "R1", "referral_date": "2024-01-08", "source": "6"}),
    (
        "/front-door-contacts",
        {"contact_id": "CT-1", "contact_date": "2024-01-05", "source": "2A", "outcome": "referral"},
    ),
    ("/assessments", {"assessment_id": "A1", "start_date": "2024-01-09"}),
    (
        "/social-worker-allocations",
        {"allocated_on": "2024-01-09", "worker_id": "SW-0001", "team_id": "T-EX-CIN"},
    ),
    (
        "/strategy-discussions",
        {"discussion_id": "SD-0", "discussion_date": "2024-02-01", "section_47_enquiry": False},
    ),
    (
        "/strategy-discussions",
        {"discussion_id": "SD-1", "discussion_date": "2024-02-01", "section_47_enquiry": True},
    ),
    (
        "/child-in-need-plans",
        {"plan_id": "CIN-1", "start_date": "2024-02-01", "primary_need": "N1"},
    ),
    ("/missing-episodes", {"started_on": "2024-05-03", "ended_on": "2024-05-05", "kind": "M"}),
    ("/periods-of-care", {"start_date": "2024-06-03", "legal_status": "C1"}),
]

OUTCOMES = {
    "recorded_on": "2025-03-31",
    "convicted": False,
    "health_check": True,
    "immunisations": True,
    "teeth_check": True,
    "health_assessment": True,
    "substance_misuse": False,
}
MATCH = {
    "matched_on": "2025-01-10",
    "adopted_by_foster_carer": False,
    "number_of_adopters": 2,
    "adopters_sex": "MF",
    "adopters_legal_status": "L11",
}
CHARACTERISTICS = {"recorded_on": "2024-01-09", "sex": "1", "ethnicity": "WBRI"}


@pytest.fixture(scope="module")
def prepared(platform: Platform) -> str:
    pr = Practitioner(platform)
    child_id = pr.register(dob="2012-05-14")
    for path, body in PREPARED:
        pr.child("case_events", child_id, path, **body)
    pr.wait_known(child_id)
    return child_id


def named(response: httpx.Response, field: str) -> bool:
    """Whether the refusal names the field (a list's item is named by the list and its index)."""
    return any(field in map(str, error["loc"]) for error in response.json()["detail"])


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/characteristics", {**CHARACTERISTICS, "sex": "5"}, "sex"),
        ("/characteristics", {**CHARACTERISTICS, "disabilities": ["NONE", "MOB"]}, "disabilities"),
        ("/characteristics", {**CHARACTERISTICS, "uasc_ceased_on": "2024-01-01"}, "uasc_ceased_on"),
        ("/births", {"date_of_birth": "2012-05-14"}, "date_of_birth"),
        (
            "/social-worker-allocations",
            {"allocated_on": "2024-03-01", "worker_id": "SW-0002", "team_id": "T-EX-CIN"},
            "reason",
        ),
        (
            "/social-worker-allocations",
            {
                "allocated_on": "2024-03-01",
                "worker_id": "SW-0001",
                "team_id": "T-EX-CIN",
                "reason": "MANAGE",
            },
            "worker_id",
        ),
        (
            "/social-worker-allocations",
            {
                "allocated_on": "2024-03-01",
                "worker_id": "SW-0002",
                "team_id": "T-EX-CIN",
                "reason": "BORED",
            },
            "reason",
        ),
        (
            "/social-worker-allocation-endings",
            {"ended_on": "2024-05-01", "worker_id": "SW-0002"},
            "worker_id",
        ),
        (
            "/statutory-visits",
            {"visit_date": "2024-03-01", "plan_type": "CP", "seen": True, "visitor_id": "SW-0001"},
            "plan_type",
        ),
        (
            "/statutory-visits",
            {
                "visit_date": "2024-03-01",
                "plan_type": "CIN",
                "seen": False,
                "seen_alone": True,
                "visitor_id": "SW-0001",
            },
            "seen_alone",
        ),
        (
            "/front-door-contacts",
            {"contact_id": "CT-1", "contact_date": "2024-01-05", "source": "2A", "outcome": "nfa"},
            "contact_id",
        ),
        (
            "/front-door-contacts",
            {"contact_id": "CT-2", "contact_date": "2024-01-05", "source": "2A", "outcome": "?"},
            "outcome",
        ),
        (
            "/referral-outcomes",
            {"referral_id": "R9", "decided_on": "2024-01-09", "outcome": "nfa"},
            "referral_id",
        ),
        (
            "/referral-outcomes",
            {"referral_id": "R1", "decided_on": "2024-01-07", "outcome": "nfa"},
            "decided_on",
        ),
        (
            "/section-47-outcomes",
            {"discussion_id": "SD-0", "concluded_on": "2024-02-14", "outcome": "nfa"},
            "discussion_id",
        ),
        (
            "/section-47-outcomes",
            {"discussion_id": "SD-1", "concluded_on": "2024-01-31", "outcome": "nfa"},
            "concluded_on",
        ),
        (
            "/assessment-completions",
            {"assessment_id": "A1", "completion_date": "2024-02-20", "factors": ["21", "3A"]},
            "factors",
        ),
        (
            "/assessment-completions",
            {"assessment_id": "A1", "completion_date": "2024-02-20", "factors": ["8A"]},
            "factors",
        ),
        ("/health-outcomes", {**OUTCOMES, "sdq_score": 14, "sdq_reason": "SDQ1"}, "sdq_reason"),
        ("/health-outcomes", {**OUTCOMES, "sdq_score": 41}, "sdq_score"),
        (
            "/return-home-interviews",
            {"missing_started_on": "2024-05-04", "offered_on": "2024-05-06", "accepted": True},
            "missing_started_on",
        ),
        (
            "/return-home-interviews",
            {"missing_started_on": "2024-05-03", "offered_on": "2024-05-04", "accepted": True},
            "offered_on",
        ),
        ("/adoption-decisions", {"decided_on": "2024-06-02"}, "decided_on"),
        (
            "/adoption-decision-reversals",
            {"reversed_on": "2025-01-20", "reason": "RD1"},
            "reversed_on",
        ),
        ("/adoption-decision-reversals", {"reversed_on": "2025-01-20", "reason": "RD9"}, "reason"),
        ("/adoption-matches", MATCH, "matched_on"),
        ("/adoption-matches", {**MATCH, "number_of_adopters": 3}, "number_of_adopters"),
        (
            "/previous-permanence",
            {"recorded_on": "2024-06-03", "arrangement": "P2", "order_date": "2024-07-01"},
            "order_date",
        ),
        (
            "/previous-permanence",
            {"recorded_on": "2024-06-03", "arrangement": "Z1", "local_authority": "878"},
            "local_authority",
        ),
        (
            "/previous-permanence",
            {"recorded_on": "2024-06-03", "arrangement": "P2", "local_authority": "87"},
            "local_authority",
        ),
        (
            "/deprivation-of-liberty",
            {"authorised_on": "2024-07-01", "basis": "s25", "expires_on": "2024-06-30"},
            "expires_on",
        ),
        ("/deprivation-of-liberty", {"authorised_on": "2024-07-01", "basis": "dols"}, "basis"),
        ("/deprivation-of-liberty-endings", {"ended_on": "2024-09-30"}, "ended_on"),
        (
            "/looked-after-reviews",
            {"review_date": "2024-06-28", "participation": "PN9"},
            "participation",
        ),
        (
            "/periods-of-care",
            {"start_date": "2024-07-01", "legal_status": "C1", "home_postcode": "ex4"},
            "home_postcode",
        ),
        ("/personal-details", {"upn": "R247962919251"}, "upn"),
    ],
)
def test_each_new_command_names_the_field_at_fault_and_records_nothing(
    platform: Platform, prepared: str, path: str, body: dict[str, Any], field: str
) -> None:
    before = versions(platform, prepared)
    response = refused(platform, "case_events", f"/children/{prepared}{path}", body)
    assert named(response, field), response.text
    assert versions(platform, prepared) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/health-outcomes", {**OUTCOMES, "sdq_score": 14}, "recorded_on"),
        ("/adoption-decisions", {"decided_on": "2024-06-02"}, "decided_on"),
        (
            "/statutory-visits",
            {"visit_date": "2024-03-01", "plan_type": "CLA", "seen": True, "visitor_id": "SW-0001"},
            "plan_type",
        ),
    ],
)
def test_what_is_for_a_child_in_care_is_refused_for_one_who_is_not(
    platform: Platform, child: str, path: str, body: dict[str, Any], field: str
) -> None:
    before = versions(platform, child)
    response = refused(platform, "case_events", f"/children/{child}{path}", body)
    assert named(response, field), response.text
    assert versions(platform, child) == before


def case_events_version(platform: Platform, child_id: str) -> int:
    found = MANAGER.get(f"{platform.case_events.url}/children/{child_id}")
    return 0 if found.status_code == 404 else int(found.json()["stream_version"])


def test_an_unborn_child_is_known_everywhere_and_refuses_what_needs_a_birth(
    platform: Platform,
) -> None:
    pr = Practitioner(platform)
    unborn = f"C-{uuid.uuid4().hex[:10]}"
    register = {"child_id": unborn, "expected_date_of_birth": "2099-01-01", "locality": "Exeter"}
    assert named(
        refused(platform, "case_events", "/unborn-children", register), "expected_date_of_birth"
    )
    bad_upn = {
        **register,
        "expected_date_of_birth": "2024-06-01",
        "personal": {"upn": "X428558133462"},
    }
    assert named(refused(platform, "case_events", "/unborn-children", bad_upn), "upn")
    assert case_events_version(platform, unborn) == 0  # nothing recorded: no such child
    pr.post("case_events", "/unborn-children", {**register, "expected_date_of_birth": "2024-06-01"})
    pr.wait_known(unborn)  # the other services count an unborn child as registered
    before = versions(platform, unborn)
    for path, body, field in [
        ("/births", {"date_of_birth": "2099-01-01"}, "date_of_birth"),
        ("/care-leaver-status", {"recorded_on": "2024-05-01", "status": "eligible"}, "recorded_on"),
        ("/health-passport-offers", {"offered_on": "2024-05-01", "milestone": "16"}, "offered_on"),
        ("/periods-of-care", {"start_date": "2024-05-01", "legal_status": "C2"}, "start_date"),
        ("/characteristics", {**CHARACTERISTICS, "disabilities": ["MOB", "MOB"]}, "disabilities"),
    ]:
        response = refused(platform, "case_events", f"/children/{unborn}{path}", body)
        assert named(response, field), f"{path}: {response.text}"
    assert versions(platform, unborn) == before

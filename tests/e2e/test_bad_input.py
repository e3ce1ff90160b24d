"""Bad input to every service gets a clear 4xx naming the field and the reason, and records
nothing: the child's stream version is unchanged afterwards (the quality service's record's,
for its commands: it keeps no stream per child)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from chaos.fuzz import unhappy_paths
from tests.e2e.conftest import Platform
from tests.e2e.journey import HEADERS, Practitioner
from tests.infrastructure import MANAGER, Infrastructure, auth, poll_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SERVICES = ("case_events", "accommodation", "education", "escalations")


@pytest.fixture(scope="module")
def child(platform: Platform) -> str:
    pr = Practitioner(platform)
    child_id = pr.register(dob="2012-05-14")
    pr.wait_known(child_id)
    return child_id


def versions(platform: Platform, child_id: str) -> dict[str, int]:
    return {
        s: MANAGER.get(f"{getattr(platform, s).url}/children/{child_id}").json()["stream_version"]
        for s in SERVICES
    }


def refused(
    platform: Platform, service: str, path: str, body: object, status: int = 422, **headers: str
) -> httpx.Response:
    url = f"{getattr(platform, service).url}{path}"
    content = body if isinstance(body, bytes) else None
    response = MANAGER.post(
        url,
        content=content,
        json=None if content else body,
        headers={**HEADERS, "Content-Type": "application/json", **headers},
        timeout=60,
    )
    assert response.status_code == status, f"{path}: {response.status_code} {response.text}"
    return response


def fields(response: httpx.Response) -> set[str]:
    return {str(error["loc"][-1]) for error in response.json()["detail"]}


@pytest.mark.parametrize(
    ("service", "path", "body", "field"),
    [
        (
            "case_events",
            "/child-protection-plans",
            {"plan_id": "P1", "category": "ABC", "start_date": "2024-01-01"},
            "category",
        ),
        (
            "case_events",
            "/referrals",
            {"referral_id": "R1", "referral_date": "2024-01-01", "source": "11"},
            "source",
        ),
        (
            "case_events",
            "/periods-of-care",
            {"start_date": "2024-01-01", "legal_status": "C9"},
            "legal_status",
        ),
        (
            "accommodation",
            "/placements",
            {
                "placement_id": "PL1",
                "start_date": "2024-01-01",
                "placement_type": "U9",
                "provider": "PR1",
                "in_council_area": True,
            },
            "placement_type",
        ),
        (
            "accommodation",
            "/care-leaver-accommodation",
            {"recorded_on": "2024-01-01", "accommodation": "Q", "suitability": "1"},
            "accommodation",
        ),
        (
            "education",
            "/eet-activities",
            {"recorded_on": "2024-01-01", "activity": "F9"},
            "activity",
        ),
        (
            "education",
            "/enrolments",
            {
                "enrolment_id": "E1",
                "school_urn": "12AB",
                "school_in_council_area": True,
                "start_date": "2024-01-01",
                "year_group": 7,
            },
            "school_urn",
        ),
        ("escalations", "/risk-ratings", {"rated_on": "2024-01-01", "rating": "PURPLE"}, "rating"),
    ],
)
def test_invalid_national_codes_are_refused(
    platform: Platform, child: str, service: str, path: str, body: dict, field: str
) -> None:
    before = versions(platform, child)
    assert field in fields(refused(platform, service, f"/children/{child}{path}", body))
    assert versions(platform, child) == before


@pytest.mark.parametrize(
    ("service", "path", "body", "field"),
    [
        (
            "case_events",
            "/child-protection-plans",
            {"plan_id": "P1", "category": "NEG", "start_date": "2099-01-01"},
            "start_date",
        ),
        (
            "case_events",
            "/child-protection-plans",
            {"plan_id": "P1", "category": "NEG", "start_date": "2024-02-30"},
            "start_date",
        ),
        (
            "case_events",
            "/child-protection-plan-endings",
            {"plan_id": "P-none", "end_date": "2024-01-01"},
            "plan_id",
        ),
        (
            "case_events",
            "/care-leaver-status",
            {"recorded_on": "2020-01-01", "status": "eligible"},
            "recorded_on",
        ),
        (
            "accommodation",
            "/placements",
            {
                "placement_id": "PL1",
                "start_date": "2010-01-01",
                "placement_type": "U4",
                "provider": "PR1",
                "in_council_area": True,
            },
            "start_date",
        ),
        ("accommodation", "/placement-endings", {"end_date": "2024-01-01"}, "end_date"),
        (
            "education",
            "/eet-activities",
            {"recorded_on": "2024-01-01", "activity": "F1"},
            "recorded_on",
        ),
        (
            "escalations",
            "/dip-samples",
            {"sampled_on": "2024-01-01", "manager_id": "TM1", "agreed": True},
            "sampled_on",
        ),
    ],
)
def test_impossible_dates_and_orders_are_refused(
    platform: Platform, child: str, service: str, path: str, body: dict, field: str
) -> None:
    before = versions(platform, child)
    assert field in fields(refused(platform, service, f"/children/{child}{path}", body))
    assert versions(platform, child) == before


@pytest.mark.parametrize(
    ("service", "path", "body"),
    [
        ("case_events", "/contacts", {"contact_date": "2024-01-01", "in_touch": "YES"}),
        (
            "accommodation",
            "/placements",
            {
                "placement_id": "PL1",
                "start_date": "2024-01-01",
                "placement_type": "U4",
                "provider": "PR1",
                "in_council_area": True,
            },
        ),
        ("education", "/eet-activities", {"recorded_on": "2024-01-01", "activity": "F1"}),
        ("escalations", "/risk-ratings", {"rated_on": "2024-01-01", "rating": "RED"}),
    ],
)
def test_unknown_children_are_404(platform: Platform, service: str, path: str, body: dict) -> None:
    response = refused(platform, service, f"/children/C-nobody-here{path}", body, 404)
    assert "C-nobody-here" in response.json()["detail"]
    url = getattr(platform, service).url
    assert MANAGER.get(f"{url}/children/C-nobody-here").status_code == 404


@pytest.mark.parametrize("service", SERVICES)
def test_malformed_json_is_refused(platform: Platform, child: str, service: str) -> None:
    path = {
        "case_events": "/contacts",
        "accommodation": "/placements",
        "education": "/eet-activities",
        "escalations": "/risk-ratings",
    }[service]
    before = versions(platform, child)
    response = refused(platform, service, f"/children/{child}{path}", b'{"broken": ', 422)
    assert response.json()["detail"][0]["type"] == "json_invalid"
    assert versions(platform, child) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"recorded_on": "2024-01-01", "activity": 1e400}', "activity"),
        (b'{"recorded_on": "2024-01-01", "activity": "\\ud800"}', "activity"),
    ],
)
def test_json_that_cannot_be_written_back_is_refused_naming_its_field(
    platform: Platform, child: str, body: bytes, field: str
) -> None:
    """A number beyond a float and a lone surrogate parse, but the 422 that quotes them could
    not be written: it was a 500."""
    before = versions(platform, child)
    response = refused(platform, "education", f"/children/{child}/eet-activities", body, 422)
    assert field in fields(response)
    assert versions(platform, child) == before


@pytest.fixture(scope="module")
def pupil(platform: Platform) -> str:
    """A child on school 113254's roll since September 2019 (a feed marks only its pupils)."""
    pr = Practitioner(platform)
    child_id = pr.register(dob="2012-05-14")
    pr.wait_known(child_id)
    pr.child(
        "education",
        child_id,
        "/enrolments",
        enrolment_id="EN-1",
        school_urn="113254",
        school_in_council_area=True,
        start_date="2019-09-04",
        year_group=2,
    )
    return child_id


def test_the_register_feed_refuses_unknown_children_future_dates_and_oversize(
    platform: Platform, pupil: str, child: str
) -> None:
    before, before_child = versions(platform, pupil), versions(platform, child)
    bad = refused(
        platform,
        "education",
        "/attendance/register-feed",
        {
            "school_urn": "113254",
            "marks": [
                {"child_id": pupil, "date": "2024-06-03", "session": "AM", "code": "/"},
                {"child_id": "C-unknown-x", "date": "2024-06-03", "session": "AM", "code": "/"},
                {"child_id": pupil, "date": "2099-06-03", "session": "AM", "code": "/"},
                {"child_id": pupil, "date": "2024-06-03", "session": "AM", "code": "N"},
                {"child_id": pupil, "date": "2024-06-04", "session": "AM", "code": "Q"},
            ],
        },
    )
    problems = {
        (e["loc"][2] if len(e["loc"]) > 2 else None, e["loc"][-1]) for e in bad.json()["detail"]
    }
    assert problems == {(4, "code")}  # the bad code fails validation before the rest
    bad = refused(
        platform,
        "education",
        "/attendance/register-feed",
        {
            "school_urn": "113254",
            "marks": [
                {"child_id": pupil, "date": "2024-06-03", "session": "AM", "code": "/"},
                {"child_id": "C-unknown-x", "date": "2024-06-03", "session": "AM", "code": "/"},
                {"child_id": pupil, "date": "2099-06-03", "session": "AM", "code": "/"},
                {"child_id": pupil, "date": "2024-06-03", "session": "AM", "code": "N"},
                # Known to the council, on no school's roll; and the pupil before its roll.
                {"child_id": child, "date": "2024-06-03", "session": "AM", "code": "/"},
                {"child_id": pupil, "date": "2019-09-03", "session": "AM", "code": "/"},
                {"child_id": pupil, "date": "2012-05-13", "session": "AM", "code": "/"},
            ],
        },
    )
    assert {(e["loc"][2], e["loc"][3], e["msg"]) for e in bad.json()["detail"]} == {
        (1, "child_id", "unknown child"),
        (2, "date", "is in the future"),
        (3, "session", "this child's session is marked twice in the feed"),
        (4, "child_id", "is not on this school's roll on that date"),
        (5, "child_id", "is not on this school's roll on that date"),
        (6, "date", "is before the child's date of birth"),
    }
    # The same feed from a school's own system: one refusal that names no mark, and no reason
    # that tells an unknown child from one on no roll, or gives a date of birth away.
    school = refused(
        platform,
        "education",
        "/attendance/register-feed",
        bad.request.read(),
        Authorization=auth("partner", "schools", schools=["113254"])["Authorization"],
    )
    [generic] = school.json()["detail"]
    assert generic["loc"] == ["body", "marks"]
    assert "unknown" not in generic["msg"] and "birth" not in generic["msg"]

    oversized = {
        "school_urn": "113254",
        "marks": [{"child_id": child, "date": "2024-06-03", "session": "AM", "code": "/"}] * 20_001,
    }
    assert (
        "at most"
        in refused(platform, "education", "/attendance/register-feed", oversized, 413).json()[
            "detail"
        ]
    )
    assert versions(platform, pupil) == before
    assert versions(platform, child) == before_child


def test_every_command_on_a_stream_it_cannot_belong_to_is_refused_and_records_nothing(
    platform: Platform, child: str, infra: Infrastructure
) -> None:
    """Each command endpoint with its documented example, on purpose: a stream never recorded,
    and the child's own id where another kind of record is expected (an escalation id that
    holds the child's risk record crashed with a 500 once)."""
    rated = MANAGER.post(
        f"{platform.escalations.url}/children/{child}/risk-ratings",
        json={"rated_on": "2024-04-02", "rating": "RED"},
        headers=HEADERS,
    )
    assert rated.status_code == 201, rated.text
    for service in SERVICES:
        seen = unhappy_paths(
            getattr(platform, service).url, infra.dsn(f"{platform.namespace}{service}"), child
        )
        assert seen["requests"] > 0, service
        assert seen["server_errors"] == [], seen
        assert seen["recorded_when_rejected"] == [], seen


@pytest.fixture(scope="module")
def evaluation(platform: Platform, child: str) -> str:
    """A practice evaluation of the child, evaluated on 2024-07-10, recorded once the quality
    service knows the child (from case-events: 404 until then)."""
    evaluation_id = f"PE-{uuid.uuid4().hex[:10]}"
    body = {
        "evaluation_id": evaluation_id,
        "child_id": child,
        "evaluated_on": "2024-07-10",
        "plan_type": "CIN",
        "auditor_id": "QA-1",
        "practitioner_id": "SW-1",
        "grade": "good",
        "findings": "The plan reflects the child's wishes.",
    }
    headers = {**HEADERS, "Idempotency-Key": evaluation_id}

    def recorded() -> bool:
        r = MANAGER.post(f"{platform.quality.url}/practice-evaluations", json=body, headers=headers)
        assert r.status_code in (200, 201, 404), r.text
        return r.status_code != 404

    poll_until(recorded, 30, 0.1, f"quality to know {child}")
    return evaluation_id


def quality_versions(platform: Platform, *evaluations: str) -> dict[str, int | None]:
    """Each evaluation's stream version (None: no such record)."""
    found: dict[str, int | None] = {}
    for evaluation_id in evaluations:
        r = MANAGER.get(f"{platform.quality.url}/practice-evaluations/{evaluation_id}")
        assert r.status_code in (200, 404), r.text
        found[evaluation_id] = r.json()["stream_version"] if r.status_code == 200 else None
    return found


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/moderations",
            {"moderated_on": "2024-07-17", "moderator_id": "QA-2", "grade": "satisfactory"},
            "grade",
        ),
        (
            "/moderations",
            {"moderated_on": "2024-07-09", "moderator_id": "QA-2", "grade": "good"},
            "moderated_on",
        ),
        (
            "/actions",
            {
                "action_id": "A-1",
                "agreed_on": "2024-07-10",
                "owner_id": "TM-1",
                "due_on": "2024-07-01",
                "summary": "Review the plan with the child.",
            },
            "due_on",
        ),
        ("", {"grade": "outstanding", "strands": [{"strand": "risk", "grade": "A*"}]}, "grade"),
        ("", {"evaluated_on": "2099-01-01"}, "evaluated_on"),
    ],
)
def test_the_quality_services_bad_input_is_refused_and_records_nothing(
    platform: Platform,
    child: str,
    evaluation: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    """On the evaluation's record (`path`), or a new evaluation of the same child ("": the
    body's fields over the evaluation's own, under a new id that must stay unrecorded)."""
    new = f"PE-{uuid.uuid4().hex[:10]}"
    before = versions(platform, child), quality_versions(platform, evaluation, new)
    if path:
        target = f"/practice-evaluations/{evaluation}{path}"
    else:
        target = "/practice-evaluations"
        body = {
            "evaluation_id": new,
            "child_id": child,
            "evaluated_on": "2024-07-10",
            "plan_type": "CIN",
            "auditor_id": "QA-1",
            "practitioner_id": "SW-1",
            "grade": "good",
            **body,
        }
    assert field in fields(refused(platform, "quality", target, body))
    assert (versions(platform, child), quality_versions(platform, evaluation, new)) == before
    assert before[1] == {evaluation: 1, new: None}

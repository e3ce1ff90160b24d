"""The council's reference data through the real services: a manager adds and retires
localities, schools, teams and social workers (each change an event); a command naming one
that is unknown or retired is refused with a 422 naming the field and listing the known ones,
and records nothing; education learns the schools from the case-events topic."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.conftest import Platform
from tests.e2e.journey import HEADERS, Practitioner
from tests.infrastructure import HTTP, MANAGER, Infrastructure, poll_until
from tests.reference_data import wait_retired

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def reference(
    platform: Platform, path: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return MANAGER.post(
        f"{platform.case_events.url}/reference/{path}", json=body, headers=headers, timeout=30
    )


def listed(platform: Platform, path: str) -> dict[str, Any]:
    r = HTTP.get(f"{platform.case_events.url}/reference/{path}", headers=HEADERS, timeout=30)
    assert r.status_code == 200, r.text  # a practitioner reads the lists
    return r.json()


def register(platform: Platform, locality: str) -> tuple[str, httpx.Response]:
    child = f"C-{uuid.uuid4().hex[:10]}"
    r = HTTP.post(
        f"{platform.case_events.url}/children",
        json={"child_id": child, "date_of_birth": "2015-02-03", "locality": locality},
        headers=HEADERS,
        timeout=30,
    )
    return child, r


def only_problem(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", field], problem
    return str(problem["msg"])


def unrecorded(platform: Platform, child: str) -> bool:
    return MANAGER.get(f"{platform.case_events.url}/children/{child}").status_code == 404


def test_a_locality_added_by_a_manager_is_named_at_once_and_only_managers_add(
    platform: Platform,
) -> None:
    assert (
        HTTP.post(
            f"{platform.case_events.url}/reference/localities",
            json={"name": "Teignbridge"},
            headers=HEADERS,
        ).status_code
        == 403
    )
    key = {"Idempotency-Key": "add-teignbridge"}
    first = reference(platform, "localities", {"name": "Teignbridge"}, **key)
    assert first.status_code == 201, first.text
    again = reference(platform, "localities", {"name": "Teignbridge"}, **key)
    assert again.status_code == 200 and again.json()["duplicate"]  # recorded once
    assert reference(platform, "localities", {"name": "Teignbridge"}).status_code == 409
    twin = reference(platform, "localities", {"name": "teignbridge"})
    assert "differs only in case" in only_problem(twin, "name")
    items = listed(platform, "localities")["items"]
    assert {"name": "Teignbridge", "retired_on": None} in items
    assert {"name": "Exeter", "retired_on": None} in items  # seeded by the fixture
    child, registered = register(platform, "Teignbridge")
    assert registered.status_code == 201, registered.text
    assert MANAGER.get(f"{platform.case_events.url}/children/{child}").json()["locality"] == (
        "Teignbridge"
    )


def test_a_typo_is_refused_listing_the_known_ones_and_records_nothing(platform: Platform) -> None:
    before = listed(platform, "localities")["stream_version"]
    child, typo = register(platform, "Exetre")
    message = only_problem(typo, "locality")
    assert message.startswith("unknown locality 'Exetre'; known: ")
    assert "Exeter, Mid Devon" in message and message.endswith("did you mean 'Exeter'?")
    assert unrecorded(platform, child)
    # The kernel's generated command routes check the same way (a family's triage here).
    family = f"{platform.case_events.url}/families/F-{uuid.uuid4().hex[:8]}/triage-discussions"
    triage = HTTP.post(
        family, json={"discussion_date": "2025-01-06", "locality": "Nroth"}, headers=HEADERS
    )
    assert only_problem(triage, "locality").startswith("unknown locality 'Nroth'; known: ")
    ok = HTTP.post(
        family, json={"discussion_date": "2025-01-06", "locality": "North"}, headers=HEADERS
    )
    assert ok.status_code == 201 and ok.json()["stream_version"] == 1  # the refusal left none
    assert listed(platform, "localities")["stream_version"] == before


def test_a_retired_locality_is_refused_for_new_records_and_kept_in_old_ones(
    platform: Platform,
) -> None:
    assert reference(platform, "localities", {"name": "Old Town"}).status_code == 201
    earlier, registered = register(platform, "Old Town")
    assert registered.status_code == 201
    retire = f"localities/{quote('Old Town')}/retirements"
    assert reference(platform, retire, {"retired_on": "2099-01-01"}).status_code == 422
    assert reference(platform, retire, {"retired_on": "2025-03-31"}).status_code == 201
    assert reference(platform, retire, {"retired_on": "2025-03-31"}).status_code == 409
    assert (
        reference(
            platform, "localities/Nowhere/retirements", {"retired_on": "2025-03-31"}
        ).status_code
        == 404
    )
    child, refused = register(platform, "Old Town")
    message = only_problem(refused, "locality")
    assert message.startswith("locality 'Old Town' was retired on 2025-03-31; known: ")
    assert unrecorded(platform, child)
    assert {"name": "Old Town", "retired_on": "2025-03-31"} in listed(platform, "localities")[
        "items"
    ]
    kept = MANAGER.get(f"{platform.case_events.url}/children/{earlier}")
    assert kept.status_code == 200 and kept.json()["locality"] == "Old Town"


def test_a_team_needs_a_current_locality_and_a_worker_a_current_team(platform: Platform) -> None:
    team = {"team_id": "T-E2E", "name": "E2E children in need"}
    wrong = reference(platform, "teams", {**team, "locality": "Exetre"})
    assert only_problem(wrong, "locality").startswith("unknown locality 'Exetre'; known: ")
    assert reference(platform, "teams", {**team, "locality": "Exeter"}).status_code == 201
    stray = reference(platform, "social-workers", {"worker_id": "SW-E2E", "team_id": "T-NONE"})
    assert "known: T-E2E" in only_problem(stray, "team_id")
    added = reference(platform, "social-workers", {"worker_id": "SW-E2E", "team_id": "T-E2E"})
    assert added.status_code == 201
    assert {"worker_id": "SW-E2E", "team_id": "T-E2E", "retired_on": None} in listed(
        platform, "social-workers"
    )["items"]
    assert {**team, "locality": "Exeter", "retired_on": None} in listed(platform, "teams")["items"]


def test_education_refuses_a_school_it_has_not_learned_of_then_takes_it(
    platform: Platform, infra: Infrastructure
) -> None:
    pr = Practitioner(platform)
    child = pr.register(dob="2012-05-14")
    pr.wait_known(child, ("education",))
    enrolments = f"{platform.education.url}/children/{child}/enrolments"
    enrolment = {
        "enrolment_id": "EN-1",
        "school_urn": "654321",
        "school_in_council_area": True,
        "start_date": "2024-09-04",
        "year_group": 7,
    }

    def enrol() -> httpx.Response:
        return HTTP.post(enrolments, json=enrolment, headers=HEADERS, timeout=30)

    message = only_problem(enrol(), "school_urn")
    assert message.startswith("unknown school '654321'; known: ") and "113254" in message
    record = f"{platform.education.url}/children/{child}"
    assert MANAGER.get(record).json()["stream_version"] == 0  # nothing recorded
    added = reference(platform, "schools", {"urn": "654321", "name": "New Free School"})
    assert added.status_code == 201
    # Education learns of the school from the case-events topic: a refused enrolment records
    # nothing, so it is simply sent again until it is taken.
    poll_until(lambda: enrol().status_code == 201, 60, 0.2, "education to learn of the school")
    assert MANAGER.get(record).json()["stream_version"] == 1
    # Retired (it closed): refused again once education learns of that, and in a register feed.
    assert (
        reference(platform, "schools/654321/retirements", {"retired_on": "2025-01-01"}).status_code
        == 201
    )
    other = pr.register(dob="2012-05-14")
    pr.wait_known(other, ("education",))
    # Posted before education learns of it, the enrolment would be taken: wait for its copy.
    wait_retired(infra.dsn(f"{platform.namespace}education"), "school", ["654321"])
    url = f"{platform.education.url}/children/{other}/enrolments"
    refused = HTTP.post(url, json=enrolment, headers=HEADERS, timeout=30)
    assert only_problem(refused, "school_urn").startswith(
        "school '654321' was retired on 2025-01-01"
    )
    other_record = f"{platform.education.url}/children/{other}"
    assert MANAGER.get(other_record).json()["stream_version"] == 0  # nothing recorded
    feed = HTTP.post(
        f"{platform.education.url}/attendance/register-feed",
        json={
            "school_urn": "654321",
            "marks": [{"child_id": child, "date": "2025-01-06", "session": "AM", "code": "/"}],
        },
        headers=HEADERS,
    )
    assert only_problem(feed, "school_urn").startswith("school '654321' was retired on")
    assert MANAGER.get(record).json()["stream_version"] == 1

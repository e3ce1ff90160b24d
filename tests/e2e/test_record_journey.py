"""The child's whole record, against the real stack: each new kind of fact recorded through
the case events API (and a placement through accommodation), then read back on the child's
chronology and on the boards that report it.

The child lives in a locality of its own (added as reference data by the test), so every
board asked for that locality counts this child's facts alone: the figures are exact.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from contracts.ids import upn_check_letter
from tests.e2e.conftest import Platform
from tests.e2e.journey import Practitioner
from tests.infrastructure import MANAGER, platform_today, poll_until
from tests.reference_data import seed

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

TODAY = platform_today()


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def a_upn(serial: int) -> str:
    body = f"8782001{serial:05d}"
    return upn_check_letter("?" + body) + body


def figure_of(board: dict[str, Any], key: str) -> int | None:
    """The count of the first figure with this key (a count over time: the whole period)."""
    for f in board["figures"]:
        if f["key"] == key:
            return f["count"]
    raise AssertionError(f"{board['board']} has no figure {key!r}")


def test_the_childs_whole_record_reaches_the_chronology_and_the_boards(
    platform: Platform,
) -> None:
    suffix = uuid.uuid4().hex[:6].translate(str.maketrans("0123456789", "abcdefghij"))
    locality = f"Record {suffix}"
    team, worker = f"T-{suffix}", f"SW-{suffix}"
    seed(
        platform.case_events.url,
        localities=[locality],
        schools={},
        teams={team: ("Record team", locality)},
        workers={worker: team},
    )
    pr = Practitioner(platform)
    child = pr.register(dob="2014-06-01", locality=locality)
    facts: list[tuple[str, dict[str, Any]]] = [
        ("/personal-details", {"upn": a_upn(1)}),
        (
            "/characteristics",
            {
                "recorded_on": ago(60),
                "sex": "2",
                "ethnicity": "WBRI",
                "disabilities": ["LD"],
            },
        ),
        (
            "/front-door-contacts",
            {"contact_id": "CT-1", "contact_date": ago(60), "source": "2A", "outcome": "referral"},
        ),
        ("/referrals", {"referral_id": "R-1", "referral_date": ago(59), "source": "2A"}),
        (
            "/referral-outcomes",
            {"referral_id": "R-1", "decided_on": ago(58), "outcome": "s47"},
        ),
        (
            "/strategy-discussions",
            {"discussion_id": "SD-1", "discussion_date": ago(58), "section_47_enquiry": True},
        ),
        ("/assessments", {"assessment_id": "A-1", "start_date": ago(58)}),
        (
            "/section-47-outcomes",
            {"discussion_id": "SD-1", "concluded_on": ago(52), "outcome": "icpc"},
        ),
        (
            "/initial-child-protection-conferences",
            {"conference_date": ago(50), "plan_required": True},
        ),
        (
            "/assessment-completions",
            {"assessment_id": "A-1", "completion_date": ago(50), "factors": ["11A", "3B"]},
        ),
        (
            "/child-protection-plans",
            {"plan_id": "CPP-1", "category": "NEG", "start_date": ago(50)},
        ),
        (
            "/social-worker-allocations",
            {"allocated_on": ago(50), "worker_id": worker, "team_id": team},
        ),
        (
            "/statutory-visits",
            {
                "visit_date": ago(5),
                "plan_type": "CP",
                "seen": True,
                "seen_alone": True,
                "visitor_id": worker,
            },
        ),
        ("/missing-episodes", {"started_on": ago(30), "ended_on": ago(29), "kind": "M"}),
        (
            "/return-home-interviews",
            {"missing_started_on": ago(30), "offered_on": ago(28), "accepted": True},
        ),
    ]
    for path, body in facts:
        pr.child("case_events", child, path, **body)

    # Chronology: every fact, in date order, with who recorded it.
    url = f"{platform.projections.url}/children/{child}/chronology"
    wanted = {
        "ChildRegistered",
        "PersonalDetailsRecorded",
        "ChildCharacteristicsRecorded",
        "FrontDoorContactReceived",
        "ReferralReceived",
        "ReferralOutcomeRecorded",
        "StrategyDiscussionHeld",
        "AssessmentStarted",
        "Section47EnquiryConcluded",
        "InitialChildProtectionConferenceHeld",
        "AssessmentCompleted",
        "ChildProtectionPlanStarted",
        "SocialWorkerAllocated",
        "StatutoryVisitRecorded",
        "MissingEpisodeRecorded",
        "ReturnHomeInterviewOffered",
    }

    def chronology(**params: str) -> dict[str, Any] | None:
        response = MANAGER.get(url, params=params)
        if response.status_code == 404:  # the registration not projected yet
            return None
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def complete() -> bool:
        found = chronology()
        return found is not None and wanted <= {e["event_type"] for e in found["entries"]}

    poll_until(complete, 60, 0.2, f"the chronology of {child} to have every fact")
    entries = chronology()["entries"]  # type: ignore[index]
    days = [e["occurred_on"] for e in entries]
    assert days == sorted(days)
    assert {e["recorded_by"]["user_id"] for e in entries} == {"sw-17"}
    assert {e["service"] for e in entries} == {"case_events"}
    sealed = next(e for e in entries if e["event_type"] == "PersonalDetailsRecorded")
    assert sealed["sealed"] == ["upn"]
    assert a_upn(1) not in str(entries)  # the UPN's name, never its value
    # As the record stood yesterday: nothing, however early the facts happened (all were
    # recorded today); one kind of fact only, when asked for.
    assert chronology(as_at=ago(1))["entries"] == []  # type: ignore[index]
    visits = chronology(kind="StatutoryVisitRecorded")["entries"]  # type: ignore[index]
    assert [(e["event_type"], e["occurred_on"]) for e in visits] == [
        ("StatutoryVisitRecorded", ago(5))
    ]

    # The boards, for the child's own locality.
    def board(name: str) -> dict[str, Any]:
        response = MANAGER.get(
            f"{platform.projections.url}/boards/{name}",
            params={"locality": locality, "view": "council"},
            timeout=30,
        )
        assert response.status_code == 200, f"{name}: {response.text}"
        body: dict[str, Any] = response.json()
        return body

    def reported() -> bool:
        return figure_of(board("missing"), "rhi_offered") == 1

    try:
        poll_until(reported, 60, 0.25, "the boards to report the return home interview")
    except TimeoutError as timeout:
        raise AssertionError(board("missing")["figures"]) from timeout
    front_door = board("front-door")
    assert figure_of(front_door, "contacts") == 1
    assert figure_of(front_door, "referrals") == 1
    assert figure_of(front_door, "re_referrals") == 0
    assert figure_of(front_door, "icpcs") == 1
    assert figure_of(front_door, "factor.11A") == 1
    workforce = board("workforce")
    assert figure_of(workforce, "sw.allocated") == 1
    assert figure_of(workforce, "in_need_unallocated") == 0
    visits = board("visits")
    assert figure_of(visits, "statutory.CP") == 1
    assert figure_of(visits, "statutory.CP.in_timescale") == 1
    missing = board("missing")
    assert figure_of(missing, "episodes") == 1
    assert figure_of(missing, "returned") == 1

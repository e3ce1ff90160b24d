"""A child's chronology through the running platform (real Kafka and PostgreSQL): facts
recorded in two services appear in date order with who recorded them and when; "as at" a day
hides what was recorded after it; the kind filter; council casework roles only, a child outside
the caller's localities answered as unknown; every read audited; a rebuild fills it again."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from deploy.local.stack import ROOT
from shared.clock import LONDON
from tests.e2e.conftest import Platform
from tests.e2e.journey import Practitioner
from tests.infrastructure import HTTP, auth, platform_today, poll_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

REFERRED, RATED = platform_today() - timedelta(days=10), platform_today() - timedelta(days=5)
PRACTITIONER = auth("practitioner", user="sw-17")  # the journey's practitioner
TEAM_MANAGER = auth("manager", user="tm-3")
GOVERNANCE = auth("information_governance", user="ig-chronology")


def chronology(
    platform: Platform, child: str, headers: dict[str, str] = TEAM_MANAGER, **params: Any
) -> httpx.Response:
    return HTTP.get(
        f"{platform.projections.url}/children/{child}/chronology",
        headers=headers,
        params=params,
        timeout=30,
    )


def london_date(instant: str) -> date:
    """The platform's day (London's) of an ISO instant such as an entry's `recorded_at`."""
    return datetime.fromisoformat(instant).astimezone(LONDON).date()


@pytest.fixture(scope="module")
def recorded(platform: Platform) -> tuple[str, date]:
    """`child`, and the day all its facts were recorded: a child recorded again if midnight
    passed meanwhile (its facts would fall on two days)."""
    while True:
        day = platform_today()
        child = _recorded_child(platform)
        if platform_today() == day:
            return child, day


@pytest.fixture(scope="module")
def child(recorded: tuple[str, date]) -> str:
    return recorded[0]


@pytest.fixture(scope="module")
def recorded_on(recorded: tuple[str, date]) -> date:
    return recorded[1]


def _recorded_child(platform: Platform) -> str:
    """An Exeter child with a backdated referral and personal details (case events, by a
    practitioner) and a risk rating (escalations, by a team manager), in the chronology."""
    pr = Practitioner(platform)
    child = pr.register(dob="2012-03-04", locality="Exeter")
    pr.wait_known(child, ("escalations",))
    pr.child(
        "case_events",
        child,
        "/referrals",
        referral_id="R-chrono-1",
        referral_date=REFERRED.isoformat(),
        source="2A",
    )
    rated = HTTP.post(
        f"{platform.escalations.url}/children/{child}/risk-ratings",
        headers=TEAM_MANAGER,
        json={"rated_on": RATED.isoformat(), "rating": "RED"},
        timeout=30,
    )
    assert rated.status_code == 201, rated.text
    pr.child(
        "case_events",
        child,
        "/personal-details",
        given_names="Chronology-Canary",
        address="1 Canary Street",
    )
    poll_until(
        lambda: (
            chronology(platform, child).status_code == 200
            and chronology(platform, child).json()["count"] == 4
        ),
        60,
        0.1,
        "the four facts to reach the chronology",
    )
    return child


def test_facts_from_two_services_in_date_order_with_who_recorded_them_and_when(
    platform: Platform, child: str, recorded_on: date
) -> None:
    asked_on = platform_today()
    r = chronology(platform, child)
    assert r.status_code == 200, r.text
    assert r.headers["x-audit-id"]  # the read is audited (checked in full when the platform stops)
    body = r.json()
    assert (body["child_id"], body["kinds"]) == (child, [])
    assert body["as_at"] in {asked_on.isoformat(), platform_today().isoformat()}  # as at today
    lines = body["entries"]
    assert [(e["occurred_on"], e["service"], e["event_type"]) for e in lines] == [
        (REFERRED.isoformat(), "case_events", "ReferralReceived"),
        (RATED.isoformat(), "escalations", "RiskRatingAssigned"),
        (recorded_on.isoformat(), "case_events", "ChildRegistered"),
        (recorded_on.isoformat(), "case_events", "PersonalDetailsRecorded"),
    ]
    by = [(e["recorded_by"]["user_id"], e["recorded_by"]["role"]) for e in lines]
    assert by == [
        ("sw-17", "practitioner"),
        ("tm-3", "manager"),
        ("sw-17", "practitioner"),
        ("sw-17", "practitioner"),
    ]
    assert {e["recorded_by"]["agency"] for e in lines} == {"council"}
    # Recorded today, whenever they happened; two facts of a day in the order recorded.
    assert {london_date(e["recorded_at"]) for e in lines} == {recorded_on}
    assert lines[2]["recorded_at"] < lines[3]["recorded_at"]
    assert lines[0]["details"] == {
        "referral_id": "R-chrono-1",
        "referral_date": REFERRED.isoformat(),
        "source": "2A",
    }
    assert lines[1]["summary"].startswith(f"rated on: {RATED.isoformat()}; rating: red")
    # Personal details: which fields were recorded, never their values, not even sealed.
    assert lines[3]["sealed"] == ["given_names", "address"] and lines[3]["details"] == {}
    assert "Canary" not in r.text and "sealed:" not in r.text
    assert {k["event_type"]: k["count"] for k in body["available"]} == {
        "ReferralReceived": 1,
        "RiskRatingAssigned": 1,
        "ChildRegistered": 1,
        "PersonalDetailsRecorded": 1,
    }


def test_as_at_a_day_hides_what_was_recorded_after_it(
    platform: Platform, child: str, recorded_on: date
) -> None:
    # The referral happened ten days ago but the platform learned of it today: as at
    # yesterday it was not known, nor anything else about the child.
    day_before = (recorded_on - timedelta(days=1)).isoformat()
    yesterday = chronology(platform, child, as_at=day_before)
    assert yesterday.status_code == 200
    assert (yesterday.json()["count"], yesterday.json()["entries"]) == (0, [])
    assert yesterday.json()["available"] == []
    assert chronology(platform, child, as_at=recorded_on.isoformat()).json()["count"] == 4
    # A day after today is refused (two days on: after today whatever the clock does meanwhile)
    future = chronology(platform, child, as_at=(platform_today() + timedelta(days=2)).isoformat())
    assert future.status_code == 422 and "as_at" in future.text


def test_the_kind_filter(platform: Platform, child: str) -> None:
    def types(*kinds: str) -> list[str]:
        r = chronology(platform, child, kind=list(kinds))
        assert r.status_code == 200, r.text
        assert r.json()["kinds"] == sorted(kinds)
        return [e["event_type"] for e in r.json()["entries"]]

    assert types("escalations") == ["RiskRatingAssigned"]
    assert types("ReferralReceived") == ["ReferralReceived"]
    assert types("ReferralReceived", "escalations") == ["ReferralReceived", "RiskRatingAssigned"]
    assert types("education") == []
    unknown = chronology(platform, child, kind=["visits"])
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["query", "kind"]


def test_the_csv_has_a_line_per_fact_and_is_audited(platform: Platform, child: str) -> None:
    r = chronology(platform, child, format="csv", kind=["case_events"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["x-audit-id"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["event_type"] for row in rows] == [
        "ReferralReceived",
        "ChildRegistered",
        "PersonalDetailsRecorded",
    ]
    assert {(row["recorded_by"], row["agency"], row["role"]) for row in rows} == {
        ("sw-17", "council", "practitioner")
    }
    assert "Canary" not in r.text


def test_council_casework_only_and_only_in_the_callers_localities(
    platform: Platform, child: str
) -> None:
    for role, agency in (
        ("partner", "police"),
        ("partner", "health"),
        ("board_member", "council"),
        ("operations", "council"),
    ):
        refused = chronology(platform, child, headers=auth(role, agency))
        assert refused.status_code == 403, (role, agency, refused.text)
    for role in ("practitioner", "manager", "iro"):
        assert chronology(platform, child, headers=auth(role)).status_code == 200, role
    # Outside the caller's localities the child is answered as one that does not exist.
    north = auth("practitioner", user="sw-north", localities=["North"])
    elsewhere = chronology(platform, child, headers=north)
    unknown = chronology(platform, "C-never-registered", headers=north)
    assert (elsewhere.status_code, unknown.status_code) == (404, 404)
    assert (
        elsewhere.json()["detail"].replace(child, "C-never-registered")
        == (unknown.json()["detail"])
    )
    assert "Exeter" not in elsewhere.text
    exeter = auth("practitioner", user="sw-exeter", localities=["Exeter"])
    assert chronology(platform, child, headers=exeter).status_code == 200


def test_every_read_is_in_the_audit(platform: Platform, child: str) -> None:
    r = chronology(platform, child, headers=auth("iro", user="iro-chronology"))
    assert r.status_code == 200
    page = HTTP.get(
        f"{platform.projections.url}/dashboard/children/{child}/chronology",
        headers=auth("iro", user="iro-chronology"),
        timeout=30,
    )
    assert page.status_code == 200 and page.headers["x-audit-id"]
    audit = HTTP.get(
        f"{platform.partner_feeds.url}/audit",
        headers=GOVERNANCE,
        params={"child_id": child},
        timeout=30,
    ).json()["reads"]
    mine = {a["audit_id"]: a for a in audit if a["user_id"] == "iro-chronology"}
    assert mine[r.headers["x-audit-id"]]["action"] == "GET /children/{child_id}/chronology"
    assert mine[page.headers["x-audit-id"]]["action"] == (
        "GET /dashboard/children/{child_id}/chronology"
    )
    assert all(a["child_ids"] == [child] and a["purpose"] for a in mine.values())


def test_a_rebuild_fills_the_chronology_as_the_live_build_has_it(
    platform: Platform, child: str
) -> None:
    before = chronology(platform, child).json()
    worker = platform.projections_worker
    rebuilt = subprocess.run(
        [sys.executable, "-m", "services.projections", "rebuild"],
        cwd=ROOT,
        env=worker.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    after = chronology(platform, child).json()  # answered from the rebuilt build
    assert after == before and after["count"] == 4

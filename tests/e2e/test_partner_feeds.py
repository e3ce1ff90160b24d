"""Partner feeds through the running platform: each agency's topic carries only what it is
entitled to, under its own pseudonym, and every share is in the audit exactly once."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from services.partner_feeds.sharing import ENTITLEMENTS, partner_topic, pseudonym
from shared.envelope import Agency
from tests.e2e.conftest import Platform
from tests.e2e.journey import Practitioner
from tests.infrastructure import (
    GOVERNANCE,
    TEST_PSEUDONYM_KEY,
    Infrastructure,
    platform_today,
    poll_until,
    read_topic,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.fixture(scope="module")
def platform(partners_platform: Platform) -> Platform:
    """The partner feeds' platform, shared with the other partner feed module."""
    return partners_platform


async def test_each_agency_receives_only_its_minimised_share_and_each_share_is_audited(
    platform: Platform, infra: Infrastructure
) -> None:
    pr = Practitioner(platform)
    child = pr.register(dob="2012-05-17", locality="Exeter")
    week_ago = (platform_today() - timedelta(days=7)).isoformat()
    pr.child(
        "case_events",
        child,
        "/strategy-discussions",
        discussion_id="SD-1",
        discussion_date=week_ago,
        section_47_enquiry=True,
    )
    pr.child(
        "case_events",
        child,
        "/child-protection-plans",
        plan_id="CP-1",
        category="NEG",
        start_date=week_ago,
    )
    pr.child("case_events", child, "/missing-episodes", started_on=week_ago, kind="M")

    year, week, _ = date.fromisoformat(week_ago).isocalendar()
    expected_facts = {  # agency -> event type -> the facts it receives
        Agency.POLICE: {
            "StrategyDiscussionHeld": {"discussion_date": week_ago, "section_47_enquiry": True},
            "ChildProtectionPlanStarted": {},  # in force from arrival: no date
            "MissingEpisodeRecorded": {"started_on": week_ago, "ended_on": None, "kind": "M"},
        },
        Agency.HEALTH: {
            "ChildRegistered": {"date_of_birth": "2012-05", "locality": "Exeter"},
            "ChildProtectionPlanStarted": {"category": "NEG"},
        },
        # Not ChildRegistered: a pupil's school hears of the child once it has a plan or a
        # social worker.
        Agency.SCHOOLS: {"ChildProtectionPlanStarted": {"start_date": f"{year}-W{week:02d}"}},
        Agency.CAREERS: {"ChildRegistered": {"date_of_birth": "2011/12"}},
    }

    audit = f"{platform.partner_feeds.url}/shares"
    expected = {  # agency -> event types it is entitled to, of the four recorded above
        Agency.POLICE: {
            "StrategyDiscussionHeld",
            "ChildProtectionPlanStarted",
            "MissingEpisodeRecorded",
        },
        Agency.HEALTH: {"ChildRegistered", "ChildProtectionPlanStarted"},
        Agency.SCHOOLS: {"ChildProtectionPlanStarted"},
        Agency.CAREERS: {"ChildRegistered"},
    }
    total = sum(map(len, expected.values()))
    shares = poll_until(
        lambda: (
            (r := GOVERNANCE.get(audit, params={"child_id": child}).json()["shares"])
            and len(r) >= total
            and r
        ),
        60,
        0.1,
        "every share in the audit",
    )
    assert len(shares) == total  # each once
    assert {(s["agency"], s["event_type"]) for s in shares} == {
        (a.value, t) for a, types in expected.items() for t in types
    }
    assert all(s["purpose"].startswith("safeguarding") for s in shares)

    for agency in Agency:
        if agency not in ENTITLEMENTS:
            continue
        topic = f"{platform.namespace}{partner_topic(agency)}"
        records = [
            r
            for r in await read_topic(infra.kafka_bootstrap, topic)
            if r.key == pseudonym(TEST_PSEUDONYM_KEY.encode(), agency, child).encode()
        ]
        received = {json.loads(r.value)["event_type"] for r in records}
        assert received == expected.get(agency, set()), agency
        for record in records:
            raw = record.value.decode()
            assert child not in raw  # never the council's id
            assert "2012-05-17" not in raw  # never the full date of birth
        received_facts = {
            json.loads(r.value)["event_type"]: json.loads(r.value)["facts"] for r in records
        }
        # Each date only as precisely as the agency needs (sharing.DATES): the facts several
        # agencies receive are coarsened apart so that their pseudonyms cannot be joined.
        assert received_facts == expected_facts.get(agency, {}), agency

    # The same child is a different person to each agency without the council's key.
    subjects = {s["agency"]: s["subject"] for s in shares}
    assert len(set(subjects.values())) == len(subjects)

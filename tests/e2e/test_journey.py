"""One young person's journey through all four services, against the real stack.

Referral, child protection, pre-proceedings and proceedings, care and placement moves,
leaving care, accommodation unsuitable then suitable, NEET then EET, an IRO escalation
raised and resolved, an EWO escalation raised by rule from the register feed, and drift
alerts raised by rule. Every event must be on its topic, in order.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import pytest

from tests.e2e.conftest import Platform
from tests.e2e.journey import Practitioner
from tests.infrastructure import (
    MANAGER,
    Infrastructure,
    eventually,
    poll_until,
    read_everything,
    read_topic,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def stream_on_topic(
    platform: Platform, bootstrap: str, topic: str, stream_id: str
) -> list[str]:
    records = await read_topic(bootstrap, f"{platform.namespace}{topic}")
    found = [json.loads(r.value) for r in records if r.key.decode() == stream_id]
    seen, firsts = set(), []
    for envelope in found:  # the relay may re-publish after a crash: keep the first of each
        if envelope["event_id"] not in seen:
            seen.add(envelope["event_id"])
            firsts.append(envelope)
    versions = [e["stream_version"] for e in firsts]
    assert versions == sorted(versions), f"{topic}: {stream_id} out of order: {versions}"
    return [e["event_type"] for e in firsts]


async def published(
    platform: Platform, bootstrap: str, topic: str, stream_id: str, expected: list[str]
) -> list[str]:
    """The stream's event types once the relay has published as many as `expected` (each
    command was accepted when its event was stored; publishing follows asynchronously)."""

    async def enough() -> list[str] | None:
        types = await stream_on_topic(platform, bootstrap, topic, stream_id)
        return types if len(types) >= len(expected) else None

    return await eventually(
        enough, 60, 0.25, what=f"{len(expected)} events of {stream_id} on {topic}"
    )


async def test_a_young_persons_journey_through_every_service(
    platform: Platform, infra: Infrastructure
) -> None:
    pr = Practitioner(platform)
    yp = pr.register(dob="2008-03-10", locality="Exeter")
    pr.wait_known(yp)

    # Referral to child protection, drifting to pre-proceedings and proceedings.
    pr.child(
        "case_events", yp, "/referrals", referral_id="R-1", referral_date="2020-01-06", source="6"
    )
    pr.child(
        "case_events",
        yp,
        "/strategy-discussions",
        discussion_id="SD-1",
        discussion_date="2020-01-08",
        section_47_enquiry=True,
    )
    pr.child(
        "case_events",
        yp,
        "/initial-child-protection-conferences",
        conference_date="2020-01-27",
        plan_required=True,
    )
    pr.child(
        "case_events",
        yp,
        "/child-protection-plans",
        plan_id="CPP-1",
        category="NEG",
        start_date="2020-01-27",
    )
    pr.child(
        "case_events",
        yp,
        "/child-protection-plan-reviews",
        plan_id="CPP-1",
        review_date="2020-04-20",
    )
    pr.child("case_events", yp, "/pre-proceedings", entered_on="2020-05-04")
    pr.child("case_events", yp, "/letters-before-proceedings", sent_on="2020-05-05")
    pr.child(
        "case_events", yp, "/pre-proceedings-outcomes", concluded_on="2020-06-29", outcome="issue"
    )
    pr.child(
        "case_events", yp, "/care-proceedings", proceedings_id="LJ20C1", issued_on="2020-07-06"
    )

    # Into care; placement moves.
    pr.child("case_events", yp, "/periods-of-care", start_date="2020-07-06", legal_status="C1")
    pr.child(
        "case_events", yp, "/child-protection-plan-endings", plan_id="CPP-1", end_date="2020-07-06"
    )
    pr.child(
        "accommodation",
        yp,
        "/placements",
        placement_id="PL-1",
        start_date="2020-07-06",
        placement_type="U6",
        provider="PR1",
        in_council_area=True,
    )
    pr.child("case_events", yp, "/looked-after-reviews", review_date="2020-07-27")
    pr.child(
        "case_events",
        yp,
        "/care-proceedings-conclusions",
        proceedings_id="LJ20C1",
        concluded_on="2021-01-11",
        order="care_order",
    )
    pr.child(
        "case_events", yp, "/legal-status-changes", change_date="2021-01-11", legal_status="C2"
    )
    pr.child(
        "case_events", yp, "/permanence-plans", recorded_on="2021-01-20", plan="long_term_fostering"
    )
    pr.child(
        "accommodation",
        yp,
        "/placement-changes",
        placement_id="PL-2",
        start_date="2021-03-01",
        placement_type="K2",
        provider="PR4",
        in_council_area=False,
        reason="CHILD",
    )
    pr.child(
        "accommodation",
        yp,
        "/placement-changes",
        placement_id="PL-3",
        start_date="2023-01-09",
        placement_type="U4",
        provider="PR1",
        in_council_area=True,
        reason="PLACE",
    )

    # An IRO escalation about permanence planning, raised and resolved.
    escalation = f"IRO-{uuid.uuid4().hex[:6]}"
    pr.post(
        "escalations",
        "/escalations",
        {
            "escalation_id": escalation,
            "child_id": yp,
            "raised_on": "2021-01-05",
            "raised_by": "IRO",
            "reason": "permanence_planning",
        },
    )
    for path, body in [
        ("/advancements", {"advanced_on": "2021-01-20", "stage": "formal"}),
        ("/responses", {"responded_on": "2021-01-25"}),
        ("/resolutions", {"resolved_on": "2021-02-01", "resolution": "plan_changed"}),
    ]:
        pr.post("escalations", f"/escalations/{escalation}{path}", body)

    # School, attendance that falls away (an EWO escalation by rule), Year 11 destination.
    pr.child(
        "education",
        yp,
        "/enrolments",
        enrolment_id="EN-1",
        school_urn="113254",
        school_in_council_area=True,
        start_date="2019-09-04",
        year_group=6,
    )
    marks = [
        {"child_id": yp, "date": day, "session": session, "code": "N"}
        for day in ("2024-11-04", "2024-11-05", "2024-11-06", "2024-11-07", "2024-11-08")
        for session in ("AM", "PM")
    ]
    pr.post(
        "education",
        "/attendance/register-feed",
        {"school_urn": "113254", "marks": marks},
        headers={"Idempotency-Key": f"feed-{uuid.uuid4()}"},
    )
    pr.child(
        "education",
        yp,
        "/year-11-intended-destinations",
        recorded_on="2025-01-15",
        destination="F2",
    )
    pr.child(
        "education",
        yp,
        "/year-11-confirmed-destinations",
        recorded_on="2025-06-30",
        destination="F2",
    )

    # Leaving care: care leaver, PA, pathway plan; accommodation unsuitable then suitable.
    pr.child("case_events", yp, "/care-leaver-status", recorded_on="2024-03-11", status="relevant")
    pr.child("case_events", yp, "/personal-advisers", allocated_on="2024-03-11", adviser_id="PA-7")
    pr.child("case_events", yp, "/pathway-plans", created_on="2024-03-15")
    pr.child("case_events", yp, "/pathway-plan-reviews", review_date="2024-09-10")
    pr.child("case_events", yp, "/period-of-care-endings", end_date="2026-03-10", reason="E17")
    pr.child("accommodation", yp, "/placement-endings", end_date="2026-03-10")
    pr.child(
        "accommodation",
        yp,
        "/care-leaver-accommodation",
        recorded_on="2026-03-10",
        accommodation="T",
        suitability="2",
    )
    pr.child(
        "accommodation",
        yp,
        "/suitability-reassessments",
        reassessed_on="2026-06-01",
        suitability="1",
    )

    # NEET, a NEET panel, then an apprenticeship.
    pr.child("education", yp, "/eet-activities", recorded_on="2026-04-01", activity="G5")
    pr.child(
        "education", yp, "/neet-panel-reviews", review_date="2026-04-15", action="careers_referral"
    )
    pr.child("education", yp, "/eet-activities", recorded_on="2026-09-01", activity="F4")

    bootstrap = infra.kafka_bootstrap

    expected = [
        "ChildRegistered",
        "ReferralReceived",
        "StrategyDiscussionHeld",
        "InitialChildProtectionConferenceHeld",
        "ChildProtectionPlanStarted",
        "ChildProtectionPlanReviewed",
        "PreProceedingsEntered",
        "LetterBeforeProceedingsSent",
        "PreProceedingsConcluded",
        "CareProceedingsIssued",
        "PeriodOfCareStarted",
        "ChildProtectionPlanEnded",
        "LookedAfterReviewHeld",
        "CareProceedingsConcluded",
        "LegalStatusChanged",
        "PermanencePlanRecorded",
        "CareLeaverStatusRecorded",
        "PersonalAdviserAllocated",
        "PathwayPlanCreated",
        "PathwayPlanReviewed",
        "PeriodOfCareEnded",
    ]
    assert await published(platform, bootstrap, "case-events", yp, expected) == expected
    expected = [
        "PlacementStarted",
        "PlacementChanged",
        "PlacementChanged",
        "PlacementEnded",
        "CareLeaverAccommodationRecorded",
        "SuitabilityReassessed",
    ]
    assert await published(platform, bootstrap, "accommodation-events", yp, expected) == expected
    expected = [
        "SchoolEnrolled",
        *["AttendanceRecorded"] * 5,
        "Year11DestinationIntended",
        "Year11DestinationConfirmed",
        "EETActivityRecorded",
        "NEETPanelReviewed",
        "EETActivityRecorded",
    ]
    assert await published(platform, bootstrap, "education-events", yp, expected) == expected

    # Drift rules: the pathway plan review (due 2025-03-10) is overdue, and nobody has
    # recorded contact with this care leaver: both raise alerts once the worker has seen them.
    # A drift check acts on what the worker has read: wait until it has read everything
    # the journey recorded (all of it on the topics, above), or a check before it has read
    # the pathway plan's review alerts on the plan's first, overdue watch too.
    await read_everything(
        platform.escalations_worker.url,
        ["drift-watch", "attendance"],
        60,
        "the escalations worker to read the journey",
    )

    async def alerts() -> list[str] | None:
        url = f"{platform.escalations.url}/drift-checks"
        await asyncio.to_thread(MANAGER.post, url, timeout=30)
        types = await stream_on_topic(platform, bootstrap, "escalation-events", yp)
        raised = types.count("DriftAlertRaised") == 2
        return types if raised and "EWOAttendanceEscalationRaised" in types else None

    risk = await eventually(alerts, 60, 0.5, what="drift alerts and the EWO escalation")

    expected = [
        "EscalationRaised",
        "EscalationAdvanced",
        "EscalationResponded",
        "EscalationResolved",
    ]
    assert (
        await published(platform, bootstrap, "escalation-events", escalation, expected) == expected
    )
    assert sorted(risk) == sorted(
        ["EWOAttendanceEscalationRaised", "DriftAlertRaised", "DriftAlertRaised"]
    )

    records = await read_topic(bootstrap, f"{platform.namespace}escalation-events")
    raised = [json.loads(r.value) for r in records if r.key.decode() == yp]
    ewo = next(e for e in raised if e["event_type"] == "EWOAttendanceEscalationRaised")
    assert ewo["payload"]["sessions_missed"] == 10
    assert ewo["causation_id"] is not None  # caused by the attendance event that tipped it
    rules = sorted(e["payload"]["rule"] for e in raised if e["event_type"] == "DriftAlertRaised")
    assert rules == ["no_contact", "pathway_plan_review_overdue"]


async def test_a_requests_correlation_id_is_answered_recorded_on_its_events_and_logged(
    platform: Platform, infra: Infrastructure
) -> None:
    """A command's X-Correlation-Id (a hand-written endpoint's, the registration, and a
    generated one's, a referral) comes back in the response, is recorded on the events it
    caused (as the relay published them), and is on the service's access log line, which
    names the route's template and never the child."""
    pr = Practitioner(platform)
    child = f"C-{uuid.uuid4().hex[:10]}"
    registered_as, referred_as = str(uuid.uuid4()), str(uuid.uuid4())
    body = {"child_id": child, "date_of_birth": "2012-03-04", "locality": "Exeter"}
    answer = pr.post("case_events", "/children", body, headers={"X-Correlation-Id": registered_as})
    assert answer.headers["X-Correlation-Id"] == registered_as
    referral = {"referral_id": "R-cid-1", "referral_date": "2024-01-08", "source": "6"}
    answer = pr.post(
        "case_events",
        f"/children/{child}/referrals",
        referral,
        headers={"X-Correlation-Id": referred_as},
    )
    assert answer.headers["X-Correlation-Id"] == referred_as

    async def both_published() -> dict[str, str] | None:
        records = await read_topic(infra.kafka_bootstrap, f"{platform.namespace}case-events")
        found = [json.loads(r.value) for r in records if r.key.decode() == child]
        by_type = {e["event_type"]: e["correlation_id"] for e in found}
        return by_type if {"ChildRegistered", "ReferralReceived"} <= set(by_type) else None

    by_type = await eventually(both_published, 60, 0.25, what=f"{child}'s events on the topic")
    assert by_type == {"ChildRegistered": registered_as, "ReferralReceived": referred_as}

    def logged() -> list[str] | None:
        """The lines of the two requests (the processes log in the console format here)."""
        text = platform.case_events.log_path.read_text(errors="replace")
        ids = (f"correlation_id={registered_as}", f"correlation_id={referred_as}")
        lines = [line for line in text.splitlines() if any(i in line for i in ids)]
        return lines if sum("[http.access]" in line for line in lines) == 2 else None

    lines = poll_until(logged, 30, 0.1, what="the two requests' access log lines")
    fields = [dict(re.findall(r"(\w+)=(\S+)", x)) for x in lines if "[http.access]" in x]
    access = [
        (x["correlation_id"], x["method"], x["path"], x["status"], x["role"], x["agency"])
        for x in fields
    ]
    assert access == [
        (registered_as, "POST", "/children", "201", "practitioner", "council"),
        (referred_as, "POST", "/children/{child_id}/referrals", "201", "practitioner", "council"),
    ]
    assert not [line for line in lines if child in line]

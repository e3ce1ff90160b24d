"""Personal data, end to end, on the platform in secure mode.

The canary: a child registered with a unique marker in every personal field, and a UPN of its
own. The marker and the UPN are read back by a practitioner (the key opens them) but never
appear in plain text on any Kafka topic, in a dump of any database, or in any service's log.
The child's record holds, besides, a value in every field no partner agency is ever sent
(services/partner_feeds/sharing.py, NEVER_SHARED): its characteristics, the postcode of the
home it came into care from and of its placement, its social worker and team, who visited;
none of them reaches any partner's topic, and every message about the child carries only the
fields its agency is entitled to. Its quality assurance (a practice evaluation, a partnership
audit police take part in, a parent's feedback, a serious incident, the improvement plan) has
the marker in every free-text field, sealed by the quality service: police receive their part
of the audit, and nothing else of it, under the audit's own pseudonym. After the child's data
is erased, the subject access export shows the sealed fields as erased while the statutory
facts remain. Every read along the way is in the audit.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import uuid
from datetime import timedelta
from typing import Any, NamedTuple

import httpx
import pytest

from contracts.ids import upn_check_letter
from contracts.topics import TOPICS
from deploy.local.stack import find_postgres_bin, service_processes
from services.case_events.personal import ERASED
from services.partner_feeds.sharing import (
    AUDIT_SUBJECTS,
    ENTITLEMENTS,
    NEVER_SHARED,
    partner_topic,
    pseudonym,
)
from shared.envelope import Agency
from tests.e2e.conftest import SecurePlatform
from tests.infrastructure import (
    HTTP,
    TEST_PSEUDONYM_KEY,
    Infrastructure,
    auth,
    eventually,
    platform_today,
    read_topic,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PRACTITIONER = auth("practitioner", user="sw-canary")
MANAGER = auth("manager", user="mgr-canary")
GOVERNANCE = auth("information_governance", user="ig-officer")


def databases(platform: SecurePlatform) -> list[str]:
    services = {p.service for p in service_processes(0)}
    return sorted(f"{platform.namespace}{s}" for s in services)


def new_upn() -> str:
    """A UPN no other record has, with its DfE check letter (the command refuses a wrong one)."""
    digits = f"{secrets.randbelow(10**12):012d}"
    return upn_check_letter(f"?{digits}") + digits


def dump(infra: Infrastructure, database: str) -> bytes:
    """pg_dump of a whole database (schema and data), as a backup would hold it."""
    result = subprocess.run(
        [str(find_postgres_bin() / "pg_dump"), "--no-owner", infra.dsn(database)],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return result.stdout


async def test_the_canary_never_leaks_and_is_erased_everywhere(
    secure: SecurePlatform,
    infra: Infrastructure,
) -> None:
    async with httpx.AsyncClient(timeout=60, base_url=secure.url("case_events_api")) as api:
        await canary(api, secure, infra)


async def canary(api: httpx.AsyncClient, secure: SecurePlatform, infra: Infrastructure) -> None:
    marker, upn = f"CANARY{uuid.uuid4().hex}", new_upn()
    child = f"C-{uuid.uuid4().hex[:10]}"
    me = f"/children/{child}"
    r = await api.post(
        "/children",
        headers=PRACTITIONER,
        json={
            "child_id": child,
            "date_of_birth": "2011-02-03",
            "locality": "Exeter",
            "personal": {"given_names": marker, "family_name": f"{marker}-family"},
        },
    )
    assert r.status_code == 201, r.text
    r = await api.post(
        f"{me}/personal-details",
        headers=PRACTITIONER,
        json={
            "address": f"1 {marker} Street",
            "notes": f"lives with {marker}'s aunt",
            "upn": upn,
        },
    )
    assert r.status_code == 201, r.text
    missing = (platform_today() - timedelta(days=3)).isoformat()
    r = await api.post(
        f"{me}/missing-episodes", headers=PRACTITIONER, json={"started_on": missing, "kind": "M"}
    )
    assert r.status_code == 201, r.text
    never_shared = await record_the_whole_record(api, secure, child)
    audit, in_quality = await record_quality_assurance(secure, child, marker)
    never_shared.values.extend(in_quality)

    # The key opens it for the practitioner (and the read is audited).
    details = await api.get(f"{me}/personal-details", headers=PRACTITIONER)
    assert details.status_code == 200 and details.json()["given_names"] == marker
    assert details.json()["notes"] == f"lives with {marker}'s aunt"
    assert details.json()["upn"] == upn
    read_id = details.headers["X-Audit-Id"]

    # Everything has flowed: the case-events topic has the child's events, and the partners
    # have the child's last case event (schools) and last accommodation event (housing): a
    # child's events keep their order on one partition, so the feed has read all before them.
    ns = secure.namespace
    kafka = secure.admin_kafka()
    awaited = {
        Agency.POLICE: "MissingEpisodeRecorded",
        Agency.HEALTH: "PeriodOfCareStarted",  # where the home's postcode would have gone
        Agency.SCHOOLS: "SocialWorkerAllocationEnded",
        Agency.HOUSING: "HomelessnessPreventionReferred",
    }

    async def on_topics() -> dict[Agency, list[dict[str, Any]]] | None:
        events = await read_topic("", f"{ns}case-events", kafka_options=kafka)
        feeds = await partner_messages(secure, child)
        arrived = all(any(m["event_type"] == t for m in feeds[a]) for a, t in awaited.items())
        return feeds if arrived and sum(child.encode() == r.key for r in events) >= 9 else None

    feeds = await eventually(on_topics, 90, 0.2, what="the child's events on the topics")
    assert feeds is not None

    async def police_on_the_audit() -> list[dict[str, Any]] | None:
        messages = await audit_messages(secure, audit, Agency.POLICE)
        return messages if len(messages) == len(POLICE_OF_THE_AUDIT) else None

    police_audit = await eventually(
        police_on_the_audit, 90, 0.2, what="police's part of the audit on their topic"
    )
    assert police_audit is not None
    assert [m["event_type"] for m in police_audit] == POLICE_OF_THE_AUDIT
    assert await audit_messages(secure, audit, Agency.HEALTH) == []  # not taking part
    leaks = partner_leaks(
        {**feeds, Agency.POLICE: feeds[Agency.POLICE] + police_audit}, never_shared
    )
    for topic in (f"{ns}{t.name}" for t in TOPICS):
        for record in await read_topic("", topic, kafka_options=kafka):
            raw = b"".join(
                [record.key or b"", record.value or b"", *(v for _, v in record.headers or ())]
            )
            leaks += [
                f"topic {topic} offset {record.offset}" for v in (marker, upn) if v.encode() in raw
            ]
            if topic.startswith(f"{ns}partner-"):
                leaks += [f"{v} on {topic}" for v in never_shared.values if v.encode() in raw]
    sealed = [
        json.loads(r.value)
        for r in await read_topic("", f"{ns}case-events", kafka_options=kafka)
        if r.key == child.encode() and b"PersonalDetailsRecorded" in r.value
    ]
    assert len(sealed) == 2 and all(
        v.startswith("sealed:v1:") for e in sealed for v in e["payload"].values() if v
    )
    for database in databases(secure):
        dumped = dump(infra, database)
        leaks += [f"database {database}" for v in (marker, upn) if v.encode() in dumped]
    logs = [p.log_path for p in secure.processes.values()]
    logs += list((secure.kafka.state_dir / "logs").glob("*.log"))  # the broker's own
    for path in logs:
        text = path.read_text(errors="replace")
        leaks += [f"log {path.name}" for v in (marker, upn) if v in text]
    assert len(logs) > len(secure.processes)
    assert not leaks, f"the marker, the UPN or a never-shared value leaked: {leaks}"

    # Subject access before erasure: everything, unsealed, with third-party fields marked.
    before = await api.get(f"{me}/subject-access", headers=GOVERNANCE)
    assert before.status_code == 200, before.text
    export = before.json()
    personal = [
        e
        for e in export["held_by_service"]["case_events"]
        if e["event_type"] == "PersonalDetailsRecorded"
    ]
    assert personal[0]["payload"]["given_names"] == marker
    assert personal[1]["payload"]["upn"] == upn
    assert "payload.notes" in personal[1]["review"] and "actor" in personal[1]["review"]
    assert any(s["agency"] == "police" for s in export["shared_with_partners"])
    assert any(r["user_id"] == "sw-canary" for r in export["read_by"])
    # The quality store's text sealed with the child's key is opened too (the evaluation's
    # findings and its action's summary); the audit that sampled the child is listed, and
    # its findings, sealed with the audit's own key, are not the child's to be given.
    quality = export["held_by_service"]["quality"]
    said = f"{marker} said so"
    assert quality_texts(quality) == [
        ("PracticeEvaluationRecorded", "findings", said),
        ("QualityActionAgreed", "summary", said),
        ("FeedbackResponseRecorded", "comment", said),
        ("LearningPointRecorded", "learning", said),
    ]
    assert "PartnershipAuditOpened" in {e["event_type"] for e in quality}
    assert "PartnershipAuditFindingRecorded" not in {e["event_type"] for e in quality}

    # An erasure the domain refuses (dated in the future) destroys nothing: it used to take
    # the key first and answer 422 after, with no event recorded.
    future = (platform_today() + timedelta(days=2)).isoformat()
    refused_erasure = await api.post(
        f"{me}/erasure", headers=GOVERNANCE, json={"erased_on": future, "reason": "subject_request"}
    )
    assert refused_erasure.status_code == 422, refused_erasure.text
    kept = await api.get(f"{me}/personal-details", headers=PRACTITIONER)
    assert kept.json()["given_names"] == marker

    # Erasure: the key is destroyed; the fields read as erased, the statutory facts remain.
    erasure = {"erased_on": platform_today().isoformat(), "reason": "subject_request"}
    once = {**GOVERNANCE, "Idempotency-Key": f"erase-{child}"}
    erased = await api.post(f"{me}/erasure", headers=once, json=erasure)
    assert erased.status_code == 201, erased.text
    again_erased = await api.post(f"{me}/erasure", headers=once, json=erasure)
    assert again_erased.status_code == 200, again_erased.text  # the same erasure, once
    assert again_erased.json()["duplicate"] is True
    assert again_erased.json()["stream_version"] == erased.json()["stream_version"]

    async def erased_everywhere() -> dict[str, Any] | None:
        # The quality service erases its key for the child when its worker reads the erasure
        # from case-events: the export shows the quality text erased once it has.
        export: dict[str, Any] = (await api.get(f"{me}/subject-access", headers=GOVERNANCE)).json()
        texts = quality_texts(export["held_by_service"]["quality"])
        return export if texts and {text for _, _, text in texts} == {ERASED} else None

    after = await eventually(erased_everywhere, 60, 0.2, what="the quality store to erase")
    assert after is not None
    assert after["personal_data_erased_at"] is not None
    assert marker not in json.dumps(after) and upn not in json.dumps(after)
    held = after["held_by_service"]["case_events"]
    assert [e["payload"] for e in held if e["event_type"] == "PersonalDetailsRecorded"] == [
        {"given_names": ERASED, "family_name": ERASED, "address": None, "notes": None, "upn": None},
        {
            "given_names": None,
            "family_name": None,
            "address": ERASED,
            "notes": ERASED,
            "upn": ERASED,
        },
    ]
    assert {"ChildRegistered", "MissingEpisodeRecorded", "ChildPersonalDataErased"} <= {
        e["event_type"] for e in held
    }
    again = await api.get(f"{me}/personal-details", headers=PRACTITIONER)
    assert again.json()["given_names"] == ERASED and again.json()["upn"] == ERASED
    refused = await api.post(
        f"{me}/personal-details", headers=PRACTITIONER, json={"given_names": "new"}
    )
    assert refused.status_code == 409  # no new key is ever made for an erased child
    record = (await api.get(me, headers=PRACTITIONER)).json()
    assert record["personal_data_erased_on"] == platform_today().isoformat()

    # The auditor sees who read the child's data, and why.
    audit = (
        await api.get(
            f"{secure.url('partner_feeds_api')}/audit",
            headers=GOVERNANCE,
            params={"child_id": child},
        )
    ).json()["reads"]
    assert {(a["user_id"], a["action"]) for a in audit} >= {
        ("sw-canary", "GET /children/{child_id}/personal-details"),
        ("ig-officer", "GET /children/{child_id}/subject-access"),
    }
    assert read_id in {a["audit_id"] for a in audit}
    assert all(a["purpose"] for a in audit)


class NeverShared(NamedTuple):
    """What the child's record holds in fields no partner is ever sent."""

    values: list[str]  # unique to this test: looked for on every partner topic
    codes: list[str]  # postcodes, ethnicity, disabilities: looked for in the child's messages


async def record_the_whole_record(
    api: httpx.AsyncClient, secure: SecurePlatform, child: str
) -> NeverShared:
    """The child's facts with a value in every field no partner may be sent: its
    characteristics, the home it came into care from, its social worker and team (added to
    the council's reference data first), who visited, its placement's postcode. Each stream
    ends with a fact a partner receives (schools: the end of the social worker's allocation;
    housing: a homelessness referral), so that the partner's message shows the feed has read
    what came before it."""
    suffix = uuid.uuid4().hex[:10]
    team, worker, visitor = f"T-cnry-{suffix}", f"SW-cnry-{suffix}", f"SW-visit-{suffix}"
    two_days_ago, yesterday, today = (
        (platform_today() - timedelta(days=n)).isoformat() for n in (2, 1, 0)
    )
    reference: list[tuple[str, dict[str, Any]]] = [
        ("/reference/teams", {"team_id": team, "name": "Canary team", "locality": "Exeter"}),
        ("/reference/social-workers", {"worker_id": worker, "team_id": team}),
    ]
    locality = await api.post("/reference/localities", headers=MANAGER, json={"name": "Exeter"})
    assert locality.status_code in (201, 409), locality.text  # 409: current already
    for path, body in reference:
        r = await api.post(path, headers=MANAGER, json=body)
        assert r.status_code == 201, r.text
    facts: list[tuple[str, dict[str, Any]]] = [
        (
            "/characteristics",
            {
                "recorded_on": two_days_ago,
                "sex": "2",
                "ethnicity": "WROM",
                "disabilities": ["HEAR", "AUT"],
                "unaccompanied_asylum_seeking": True,
            },
        ),
        (
            "/periods-of-care",
            {"start_date": two_days_ago, "legal_status": "C2", "home_postcode": "EX4"},
        ),
        (
            "/social-worker-allocations",
            {"allocated_on": two_days_ago, "worker_id": worker, "team_id": team},
        ),
        (
            "/statutory-visits",
            {
                "visit_date": yesterday,
                "plan_type": "CLA",
                "seen": True,
                "seen_alone": True,
                "visitor_id": visitor,
            },
        ),
        ("/social-worker-allocation-endings", {"ended_on": today, "worker_id": worker}),
    ]
    for path, body in facts:
        r = await api.post(f"/children/{child}{path}", headers=PRACTITIONER, json=body)
        assert r.status_code == 201, (path, r.text)

    accommodation = f"{secure.url('accommodation_api')}/children/{child}"

    async def known() -> bool:
        return (await api.get(accommodation, headers=PRACTITIONER)).status_code == 200

    await eventually(known, 60, 0.1, what="accommodation to learn of the child")
    placement: dict[str, Any] = {
        "placement_id": f"PL-{suffix}",
        "start_date": two_days_ago,
        "placement_type": "U4",
        "provider": "PR1",
        "in_council_area": True,
        "postcode": "EX2",
    }
    for path, body in (
        ("/placements", placement),
        ("/homelessness-prevention-referrals", {"referred_on": yesterday}),
    ):
        r = await api.post(f"{accommodation}{path}", headers=PRACTITIONER, json=body)
        assert r.status_code == 201, (path, r.text)
    return NeverShared(
        [team, worker, visitor, f"PL-{suffix}"], ["EX4", "EX2", "WROM", "HEAR", "AUT"]
    )


# What police receive of the audit below, in order: they take part, and have a finding and
# an action (completed); the council's own action and the conclusion reach no partner.
POLICE_OF_THE_AUDIT = [
    "PartnershipAuditOpened",
    "PartnershipAuditFindingRecorded",
    "QualityActionAgreed",
    "QualityActionCompleted",
]


def quality_texts(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """The free text in the quality records of a subject access export, in order."""
    fields = ("findings", "summary", "finding", "comment", "learning", "decisions")
    return [
        (e["event_type"], f, e["payload"][f]) for e in events for f in fields if e["payload"].get(f)
    ]


async def record_quality_assurance(
    secure: SecurePlatform, child: str, marker: str
) -> tuple[str, list[str]]:
    """The child's quality assurance through the quality service, with the marker in every
    free-text field (findings, action summaries, a finding for police, a parent's comment,
    learning, a surgery's decisions): the audit's id, and the values no partner may be sent
    (the auditors', the practitioner's and the owners' ids, the records' ids, the audit's
    theme)."""
    suffix = uuid.uuid4().hex[:10]
    two_days_ago, yesterday, today = (
        (platform_today() - timedelta(days=n)).isoformat() for n in (2, 1, 0)
    )
    due = (platform_today() + timedelta(days=28)).isoformat()
    auditor, moderator, practitioner, owner = (
        f"SW-{who}-{suffix}" for who in ("audit", "moderate", "practise", "own")
    )
    evaluation, audit, survey = f"EV-{suffix}", f"PA-{suffix}", f"SV-{suffix}"
    theme = f"Missing children and exploitation {suffix}"
    incident, plan = f"SI-{suffix}", f"PLAN-{suffix}"
    text = f"{marker} said so"
    action = {"agreed_on": yesterday, "owner_id": owner, "due_on": due, "summary": text}
    commands: list[tuple[str, dict[str, Any]]] = [
        (
            "/practice-evaluations",
            {
                "evaluation_id": evaluation,
                "child_id": child,
                "evaluated_on": two_days_ago,
                "plan_type": "CLA",
                "auditor_id": auditor,
                "practitioner_id": practitioner,
                "grade": "requires_improvement",
                "strands": [{"strand": "voice_of_the_child", "grade": "good"}],
                "findings": text,
            },
        ),
        (
            f"/practice-evaluations/{evaluation}/moderations",
            {"moderated_on": yesterday, "moderator_id": moderator, "grade": "good"},
        ),
        (f"/practice-evaluations/{evaluation}/actions", {"action_id": f"A-{suffix}", **action}),
        (
            "/partnership-audits",
            {
                "audit_id": audit,
                "opened_on": two_days_ago,
                "theme": theme,
                "cases": [child],
                "agencies": ["social_care", "police"],
            },
        ),
        (
            f"/partnership-audits/{audit}/findings",
            {
                "finding_id": f"F-{suffix}",
                "recorded_on": yesterday,
                "agency": "police",
                "finding": text,
            },
        ),
        (
            f"/partnership-audits/{audit}/actions",
            {"action_id": f"PA-A-{suffix}", "agency": "police", **action},
        ),
        (
            f"/partnership-audits/{audit}/actions",
            {"action_id": f"PA-B-{suffix}", "agency": "social_care", **action},
        ),
        (
            f"/partnership-audits/{audit}/action-completions",
            {"action_id": f"PA-A-{suffix}", "completed_on": today},
        ),
        (f"/partnership-audits/{audit}/conclusions", {"concluded_on": today}),
        (
            "/feedback-surveys",
            {
                "survey_id": survey,
                "title": "Parents' survey",
                "opens_on": two_days_ago,
                "closes_on": today,
                "questions": [{"question_id": "Q1", "text": "Were you kept informed?"}],
            },
        ),
        (
            f"/feedback-surveys/{survey}/responses",
            {
                "response_id": f"R-{suffix}",
                "responded_on": yesterday,
                "respondent": "parent",
                "answers": [{"question_id": "Q1", "answer": "partly"}],
                "child_id": child,
                "service": "CLA",
                "comment": text,
            },
        ),
        (
            "/serious-incidents",
            {
                "incident_id": incident,
                "child_id": child,
                "aware_on": two_days_ago,
                "notified_on": yesterday,
            },
        ),
        (
            f"/serious-incidents/{incident}/rapid-reviews",
            {"completed_on": today, "decision": "no_review"},
        ),
        (
            f"/serious-incidents/{incident}/learning-points",
            {"learning_id": f"L-{suffix}", "recorded_on": today, "learning": text},
        ),
        (
            f"/improvement-plans/{plan}/priorities",
            {"priority_id": f"P-{suffix}", "added_on": two_days_ago, "title": "Care leavers"},
        ),
        (
            f"/improvement-plans/{plan}/surgeries",
            {
                "surgery_id": f"S-{suffix}",
                "held_on": yesterday,
                "figures": [{"board": "care-leavers", "figure": "all.in_touch"}],
                "decisions": text,
            },
        ),
        (
            f"/improvement-plans/{plan}/actions",
            {"action_id": f"P-A-{suffix}", "priority_id": f"P-{suffix}", **action},
        ),
    ]
    async with httpx.AsyncClient(timeout=60, base_url=secure.url("quality_api")) as quality:
        for n, (path, body) in enumerate(commands):
            once = {**MANAGER, "Idempotency-Key": f"canary-{suffix}-{n}"}

            async def recorded(
                path: str = path, body: dict[str, Any] = body, once: dict[str, str] = once
            ) -> bool:
                r = await quality.post(path, headers=once, json=body)
                # 404: the quality service has not learnt of the child yet (its own copy).
                assert r.status_code in (200, 201, 404), (path, r.text)
                return r.status_code != 404

            await eventually(recorded, 60, 0.2, what=f"the quality service to record {path}")
    ids = [auditor, moderator, practitioner, owner, evaluation, audit, survey, incident, plan]
    return audit, [*ids, theme]  # the theme is free text, never sent


async def audit_messages(
    secure: SecurePlatform, audit: str, agency: Agency
) -> list[dict[str, Any]]:
    """The messages about a partnership audit on an agency's topic (its subject is the
    agency's pseudonym of the audit)."""
    subject = pseudonym(TEST_PSEUDONYM_KEY.encode(), agency, f"{AUDIT_SUBJECTS}:{audit}")
    topic = f"{secure.namespace}{partner_topic(agency)}"
    records = await read_topic("", topic, kafka_options=secure.admin_kafka())
    return [json.loads(r.value) for r in records if r.key == subject.encode()]


async def partner_messages(
    secure: SecurePlatform, child: str
) -> dict[Agency, list[dict[str, Any]]]:
    """Every message about the child on each partner's topic, found by the agency's pseudonym
    (as only the council, holding the key, can)."""
    kafka = secure.admin_kafka()
    feeds: dict[Agency, list[dict[str, Any]]] = {}
    for agency in ENTITLEMENTS:
        subject = pseudonym(TEST_PSEUDONYM_KEY.encode(), agency, child).encode()
        topic = f"{secure.namespace}{partner_topic(agency)}"
        records = await read_topic("", topic, kafka_options=kafka)
        feeds[agency] = [json.loads(r.value) for r in records if r.key == subject]
    return feeds


def partner_leaks(
    feeds: dict[Agency, list[dict[str, Any]]], never_shared: NeverShared
) -> list[str]:
    """What any message about the child carries beyond its agency's entitlement: a field the
    agency is not entitled to (or no agency ever is), or one of the child's never-shared
    codes (a postcode, the ethnicity, a disability) among its facts."""
    leaks = []
    for agency, messages in feeds.items():
        for message in messages:
            event_type, facts = message["event_type"], message["facts"]
            entitled = set(ENTITLEMENTS[agency].get(event_type, ("(not entitled)",)))
            beyond = (set(facts) - entitled) | (set(facts) & set(NEVER_SHARED))
            shown = json.dumps(facts)
            codes = [c for c in never_shared.codes if f'"{c}"' in shown]
            if event_type not in ENTITLEMENTS[agency] or beyond or codes:
                leaks.append(f"{agency.value} {event_type}: {sorted(beyond)} {codes}")
    return leaks


def test_the_retention_report_lists_records_past_their_date(secure: SecurePlatform) -> None:
    case_events = secure.url("case_events_api")
    old, adopted = f"C-{uuid.uuid4().hex[:10]}", f"C-{uuid.uuid4().hex[:10]}"
    for child, born in ((old, "1949-06-01"), (adopted, "2010-01-01")):
        assert (
            HTTP.post(
                f"{case_events}/children",
                headers=PRACTITIONER,
                json={"child_id": child, "date_of_birth": born, "locality": "Exeter"},
            ).status_code
            == 201
        )
    for path, body in (
        ("/periods-of-care", {"start_date": "2011-01-01", "legal_status": "C2"}),
        ("/period-of-care-endings", {"end_date": "2012-05-01", "reason": "E11"}),
    ):
        r = HTTP.post(f"{case_events}/children/{adopted}{path}", headers=PRACTITIONER, json=body)
        assert r.status_code == 201, r.text
    report = HTTP.get(f"{case_events}/retention", headers=GOVERNANCE).json()
    due = {r["child_id"]: r for r in report["records"]}
    assert due[old]["keep_until"] == "2024-06-01" and "75th birthday" in due[old]["basis"]
    assert adopted not in due  # kept 100 years from the adoption
    later = HTTP.get(
        f"{case_events}/retention", headers=GOVERNANCE, params={"as_at": "2112-05-02"}
    ).json()
    assert {r["child_id"]: r["keep_until"] for r in later["records"]}[adopted] == "2112-05-01"
    assert HTTP.get(f"{case_events}/retention", headers=PRACTITIONER).status_code == 403

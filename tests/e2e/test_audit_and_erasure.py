"""Personal data, end to end, on the platform in secure mode.

The canary: a child registered with a unique marker in every personal field. The marker is
read back by a practitioner (the key opens it) but never appears in plain text on any Kafka
topic, in a dump of any database, or in any service's log. After the child's data is erased,
the subject access export shows those fields as erased while the statutory facts remain. Every
read along the way is in the audit.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import date, timedelta

import httpx
import pytest

from contracts.topics import TOPICS
from deploy.local.stack import find_postgres_bin, service_processes
from services.case_events.personal import ERASED
from tests.e2e.conftest import SecurePlatform
from tests.infrastructure import Infrastructure, auth, eventually, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PRACTITIONER = auth("practitioner", user="sw-canary")
GOVERNANCE = auth("information_governance", user="ig-officer")


def databases(platform: SecurePlatform) -> list[str]:
    services = {p.service for p in service_processes(0)}
    return sorted(f"{platform.namespace}{s}" for s in services)


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
    marker = f"CANARY{uuid.uuid4().hex}"
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
        json={"address": f"1 {marker} Street", "notes": f"lives with {marker}'s aunt"},
    )
    assert r.status_code == 201, r.text
    missing = (date.today() - timedelta(days=3)).isoformat()
    r = await api.post(
        f"{me}/missing-episodes", headers=PRACTITIONER, json={"started_on": missing, "kind": "M"}
    )
    assert r.status_code == 201, r.text

    # The key opens it for the practitioner (and the read is audited).
    details = await api.get(f"{me}/personal-details", headers=PRACTITIONER)
    assert details.status_code == 200 and details.json()["given_names"] == marker
    assert details.json()["notes"] == f"lives with {marker}'s aunt"
    read_id = details.headers["X-Audit-Id"]

    # Everything has flowed: the case-events topic has the child's events, the police theirs.
    ns = secure.namespace
    kafka = secure.admin_kafka()

    async def on_topics() -> bool:
        events = await read_topic("", f"{ns}case-events", kafka_options=kafka)
        police = await read_topic("", f"{ns}partner-police", kafka_options=kafka)
        return sum(child.encode() == r.key for r in events) >= 4 and any(
            b"MissingEpisodeRecorded" in r.value for r in police
        )

    await eventually(on_topics, 90, 0.2, what="the child's events on the topics")
    leaks = []
    for topic in (f"{ns}{t.name}" for t in TOPICS):
        for record in await read_topic("", topic, kafka_options=kafka):
            raw = b"".join(
                [record.key or b"", record.value or b"", *(v for _, v in record.headers or ())]
            )
            if marker.encode() in raw:
                leaks.append(f"topic {topic} offset {record.offset}")
    sealed = [
        json.loads(r.value)
        for r in await read_topic("", f"{ns}case-events", kafka_options=kafka)
        if r.key == child.encode() and b"PersonalDetailsRecorded" in r.value
    ]
    assert len(sealed) == 2 and all(
        v.startswith("sealed:v1:") for e in sealed for v in e["payload"].values() if v
    )
    for database in databases(secure):
        if marker.encode() in dump(infra, database):
            leaks.append(f"database {database}")
    logs = [p.log_path for p in secure.processes.values()]
    logs += list((secure.kafka.state_dir / "logs").glob("*.log"))  # the broker's own
    for path in logs:
        if marker in path.read_text(errors="replace"):
            leaks.append(f"log {path.name}")
    assert len(logs) > len(secure.processes)
    assert not leaks, f"the marker is in plain text in: {leaks}"

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
    assert "payload.notes" in personal[1]["review"] and "actor" in personal[1]["review"]
    assert any(s["agency"] == "police" for s in export["shared_with_partners"])
    assert any(r["user_id"] == "sw-canary" for r in export["read_by"])

    # An erasure the domain refuses (dated in the future) destroys nothing: it used to take
    # the key first and answer 422 after, with no event recorded.
    future = (date.today() + timedelta(days=2)).isoformat()
    refused_erasure = await api.post(
        f"{me}/erasure", headers=GOVERNANCE, json={"erased_on": future, "reason": "subject_request"}
    )
    assert refused_erasure.status_code == 422, refused_erasure.text
    kept = await api.get(f"{me}/personal-details", headers=PRACTITIONER)
    assert kept.json()["given_names"] == marker

    # Erasure: the key is destroyed; the fields read as erased, the statutory facts remain.
    erasure = {"erased_on": date.today().isoformat(), "reason": "subject_request"}
    once = {**GOVERNANCE, "Idempotency-Key": f"erase-{child}"}
    erased = await api.post(f"{me}/erasure", headers=once, json=erasure)
    assert erased.status_code == 201, erased.text
    again_erased = await api.post(f"{me}/erasure", headers=once, json=erasure)
    assert again_erased.status_code == 200, again_erased.text  # the same erasure, once
    assert again_erased.json()["duplicate"] is True
    assert again_erased.json()["stream_version"] == erased.json()["stream_version"]
    after = (await api.get(f"{me}/subject-access", headers=GOVERNANCE)).json()
    assert after["personal_data_erased_at"] is not None
    assert marker not in json.dumps(after)
    held = after["held_by_service"]["case_events"]
    assert [e["payload"] for e in held if e["event_type"] == "PersonalDetailsRecorded"] == [
        {"given_names": ERASED, "family_name": ERASED, "address": None, "notes": None},
        {"given_names": None, "family_name": None, "address": ERASED, "notes": ERASED},
    ]
    assert {"ChildRegistered", "MissingEpisodeRecorded", "ChildPersonalDataErased"} <= {
        e["event_type"] for e in held
    }
    again = await api.get(f"{me}/personal-details", headers=PRACTITIONER)
    assert again.json()["given_names"] == ERASED
    refused = await api.post(
        f"{me}/personal-details", headers=PRACTITIONER, json={"given_names": "new"}
    )
    assert refused.status_code == 409  # no new key is ever made for an erased child
    record = (await api.get(me, headers=PRACTITIONER)).json()
    assert record["personal_data_erased_on"] == date.today().isoformat()

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


def test_the_retention_report_lists_records_past_their_date(secure: SecurePlatform) -> None:
    case_events = secure.url("case_events_api")
    old, adopted = f"C-{uuid.uuid4().hex[:10]}", f"C-{uuid.uuid4().hex[:10]}"
    for child, born in ((old, "1949-06-01"), (adopted, "2010-01-01")):
        assert (
            httpx.post(
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
        r = httpx.post(f"{case_events}/children/{adopted}{path}", headers=PRACTITIONER, json=body)
        assert r.status_code == 201, r.text
    report = httpx.get(f"{case_events}/retention", headers=GOVERNANCE).json()
    due = {r["child_id"]: r for r in report["records"]}
    assert due[old]["keep_until"] == "2024-06-01" and "75th birthday" in due[old]["basis"]
    assert adopted not in due  # kept 100 years from the adoption
    later = httpx.get(
        f"{case_events}/retention", headers=GOVERNANCE, params={"as_at": "2112-05-02"}
    ).json()
    assert {r["child_id"]: r["keep_until"] for r in later["records"]}[adopted] == "2112-05-01"
    assert httpx.get(f"{case_events}/retention", headers=PRACTITIONER).status_code == 403

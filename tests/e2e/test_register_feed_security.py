"""The register feed against the running platform: a school sends only its own register, for
the children on its roll; what it is told of a refused feed says nothing about any child; the
refusal is in the access audit; its idempotency keys are its own; and feeds naming the same
children sent at the same time are all recorded, each mark once, while a true repeat is a 409
that names its sessions."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import Platform
from tests.e2e.journey import Practitioner
from tests.infrastructure import GOVERNANCE, HTTP, MANAGER, Infrastructure, auth

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SCHOOL, OTHER = "113254", "100001"
SCHOOL_A = auth("partner", "schools", user="mis-113254", schools=[SCHOOL])
SCHOOL_B = auth("partner", "schools", user="mis-100001", schools=[OTHER])
NO_SCHOOL = auth("partner", "schools", user="mis-none")
FEED = "/attendance/register-feed"


@pytest.fixture(scope="module")
def children(platform: Platform) -> dict[str, str]:
    """A pupil of each school (on the roll from September 2020), and a child on no roll."""
    pr = Practitioner(platform)
    ids = {name: pr.register(dob="2012-05-14") for name in ("a", "b", "none")}
    for child_id in ids.values():
        pr.wait_known(child_id, ("education",))
    for name, school in (("a", SCHOOL), ("b", OTHER)):
        pr.child(
            "education",
            ids[name],
            "/enrolments",
            enrolment_id="EN-1",
            school_urn=school,
            school_in_council_area=True,
            start_date="2020-09-01",
            year_group=3,
        )
    return ids


def mark(child_id: str, day: str = "2024-06-03", session: str = "AM") -> dict[str, str]:
    return {"child_id": child_id, "date": day, "session": session, "code": "N"}


def send(
    platform: Platform,
    headers: dict[str, str],
    marks: list[dict[str, str]],
    school: str = SCHOOL,
    key: str | None = None,
) -> httpx.Response:
    return HTTP.post(
        f"{platform.education.url}{FEED}",
        json={"school_urn": school, "marks": marks},
        headers={**headers, **({"Idempotency-Key": key} if key else {})},
        timeout=60,
    )


def version(platform: Platform, child_id: str) -> int:
    record = MANAGER.get(f"{platform.education.url}/children/{child_id}").json()
    return int(record["stream_version"])


def audit_of(platform: Platform, user: str) -> list[dict[str, Any]]:
    answer = GOVERNANCE.get(f"{platform.partner_feeds.url}/audit", params={"user_id": user})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["reads"])


def test_a_partner_gets_one_answer_whatever_is_wrong_and_nothing_is_recorded(
    platform: Platform, children: dict[str, str]
) -> None:
    pupil, elsewhere, nowhere = children["a"], children["b"], children["none"]
    before = {c: version(platform, c) for c in children.values()}
    answers = [
        send(platform, SCHOOL_A, [mark(pupil), bad])
        for bad in (
            mark(nowhere),  # known to the council, on no roll
            mark(elsewhere),  # another school's pupil
            mark(f"C-{uuid.uuid4().hex[:10]}"),  # unknown to the council
            mark(nowhere, "2011-01-03"),  # before its date of birth
            mark(pupil, "2011-01-03", "PM"),  # its own pupil, before its date of birth
            mark(pupil, "2099-01-05", "PM"),  # in the future
        )
    ]
    assert {a.status_code for a in answers} == {422}
    assert len({a.text for a in answers}) == 1, [a.text for a in answers]
    [problem] = answers[0].json()["detail"]
    assert problem["loc"] == ["body", "marks"]  # no mark's index
    for word in ("unknown", "birth", nowhere, "2012"):
        assert word not in answers[0].text
    assert {c: version(platform, c) for c in children.values()} == before
    # The school's own pupil on a day on its roll is recorded.
    recorded = send(platform, SCHOOL_A, [mark(pupil, "2024-06-04")])
    assert recorded.status_code == 201, recorded.text
    assert version(platform, pupil) == before[pupil] + 1


def test_a_partner_sends_only_the_schools_its_token_names(
    platform: Platform, children: dict[str, str]
) -> None:
    pupil = children["a"]
    before = version(platform, pupil)
    for headers, school in ((SCHOOL_B, SCHOOL), (NO_SCHOOL, SCHOOL), (SCHOOL_A, OTHER)):
        refused = send(platform, headers, [mark(pupil, "2024-06-05")], school)
        assert refused.status_code == 403, refused.text
        assert f"may not send school {school}'s register" in refused.json()["detail"]
    assert version(platform, pupil) == before


def test_a_council_user_is_held_to_the_roll_and_told_each_marks_reason(
    platform: Platform, children: dict[str, str]
) -> None:
    pupil, elsewhere, nowhere = children["a"], children["b"], children["none"]
    refused = send(
        platform,
        MANAGER.headers,
        [
            mark(pupil, "2024-06-06"),
            mark(elsewhere, "2024-06-06"),
            mark("C-unknown-x", "2024-06-06"),
            mark(nowhere, "2011-01-03"),
            mark(pupil, "2020-08-28"),  # before the enrolment
        ],
    )
    assert refused.status_code == 422, refused.text
    assert {(p["loc"][2], p["loc"][3], p["msg"]) for p in refused.json()["detail"]} == {
        (1, "child_id", "is not on this school's roll on that date"),
        (2, "child_id", "unknown child"),
        (3, "date", "is before the child's date of birth"),
        (4, "child_id", "is not on this school's roll on that date"),
    }
    # For another school's pupil, a council user sends that school's register.
    assert (
        send(platform, MANAGER.headers, [mark(elsewhere, "2024-06-06")], OTHER).status_code == 201
    )


def test_refused_feeds_are_in_the_access_audit_with_their_reasons(
    platform: Platform, children: dict[str, str]
) -> None:
    user = f"mis-{uuid.uuid4().hex[:8]}"
    prober = auth("partner", "schools", user=user, schools=[SCHOOL])
    nowhere, unknown = children["none"], f"C-{uuid.uuid4().hex[:10]}"
    first = send(platform, prober, [mark(nowhere), mark(unknown)])
    second = send(platform, prober, [mark(nowhere)], OTHER)
    assert (first.status_code, second.status_code) == (422, 403)
    rows = {
        r["audit_id"]: r
        for r in audit_of(platform, user)
        if r["action"].startswith("POST /attendance/register-feed refused")
    }
    assert set(rows) == {first.headers["X-Audit-Id"], second.headers["X-Audit-Id"]}
    refusal = rows[first.headers["X-Audit-Id"]]
    assert refusal["action"] == "POST /attendance/register-feed refused (422)"
    assert refusal["agency"] == "schools" and refusal["service"] == "education"
    assert f"school_urn={SCHOOL}: 2 marks, 2 refused" in refusal["request"]
    assert "unknown child" in refusal["request"]  # the reasons the school was not told
    assert "is not on this school's roll" in refusal["request"]
    assert set(refusal["child_ids"]) == {nowhere, unknown}
    wrong_school = rows[second.headers["X-Audit-Id"]]
    assert wrong_school["action"] == "POST /attendance/register-feed refused (403)"
    assert f"school_urn={OTHER}" in wrong_school["request"]
    # An information-governance officer finds the probe by the child too.
    by_child = GOVERNANCE.get(
        f"{platform.partner_feeds.url}/audit", params={"child_id": unknown}
    ).json()["reads"]
    probes = [r for r in by_child if r["action"].startswith("POST /attendance/register-feed")]
    assert [r["audit_id"] for r in probes] == [first.headers["X-Audit-Id"]]
    # Besides the probe, only reads of the audit that named the child (audited themselves).
    assert all(r["action"].startswith("GET /audit") for r in by_child if r not in probes)


def test_one_schools_idempotency_key_is_not_anothers(
    platform: Platform, children: dict[str, str]
) -> None:
    key = f"feed-{uuid.uuid4()}"
    a, b = children["a"], children["b"]
    first = send(platform, SCHOOL_A, [mark(a, "2024-06-07")], SCHOOL, key)
    assert first.status_code == 201, first.text
    # The other school's feed under the same key is its own: recorded, not the first's result
    # (nor refused as the key's reuse).
    other = send(platform, SCHOOL_B, [mark(b, "2024-06-07")], OTHER, key)
    assert other.status_code == 201, other.text
    assert not other.json()["duplicate"]
    assert other.json()["event_ids"] != first.json()["event_ids"]
    # Each school's retry is its own first result.
    again = send(platform, SCHOOL_A, [mark(a, "2024-06-07")], SCHOOL, key)
    assert again.status_code == 200 and again.json()["duplicate"], again.text
    assert again.json()["stream_id"] == first.json()["stream_id"]


# -- feeds sent at the same time ---------------------------------------------------------------

WEEK = ["2024-06-03", "2024-06-04", "2024-06-05", "2024-06-06", "2024-06-07"]
MOVED_ON = "2024-06-05"  # the day the pupil who moves starts at the other school


@pytest.fixture(scope="module")
def week(platform: Platform) -> dict[str, Any]:
    """Three of SCHOOL's pupils, and a pupil who leaves it for OTHER mid-week; each school's
    register feed for each day of the week (its pupils' AM and PM marks), one feed a day."""
    pr = Practitioner(platform)
    pupils = [pr.register(dob="2012-05-14") for _ in range(3)]
    mover = pr.register(dob="2012-05-14")
    for child_id in [*pupils, mover]:
        pr.wait_known(child_id, ("education",))
        pr.child("education", child_id, "/enrolments", enrolment_id="EN-1", school_urn=SCHOOL,
                 school_in_council_area=True, start_date="2020-09-01", year_group=3)  # fmt: skip
    pr.child("education", mover, "/school-leavings", enrolment_id="EN-1", left_on=MOVED_ON)
    pr.child("education", mover, "/enrolments", enrolment_id="EN-2", school_urn=OTHER,
             school_in_council_area=True, start_date=MOVED_ON, year_group=3)  # fmt: skip
    feeds = [
        (headers, school, [mark(c, day, s) for c in children for s in ("AM", "PM")])
        for day in WEEK
        for headers, school, children in (
            (SCHOOL_A, SCHOOL, [*pupils, *([mover] if day < MOVED_ON else [])]),
            (SCHOOL_B, OTHER, [mover] if day >= MOVED_ON else []),
        )
        if children
    ]
    return {"children": [*pupils, mover], "feeds": feeds}


async def send_at_once(
    platform: Platform, feeds: list[tuple[dict[str, str], str, list[dict[str, str]], str]]
) -> list[httpx.Response]:
    """Each (headers, school, marks, Idempotency-Key) posted at the same time."""
    async with httpx.AsyncClient(base_url=platform.education.url, timeout=120) as client:
        return await asyncio.gather(
            *(
                client.post(
                    FEED,
                    json={"school_urn": school, "marks": marks},
                    headers={**headers, "Idempotency-Key": key},
                )
                for headers, school, marks, key in feeds
            )
        )


def attendance_recorded(
    infra: Infrastructure, platform: Platform, children: list[str]
) -> Counter[tuple[str, str, str, str]]:
    """Each (school, child, day, session) in the education event store, with how often. The
    store is what a 201 answers for (the events are committed before it), so no waiting; the
    streams' versions are checked to run 1, 2, 3... with no gap."""

    async def read() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(infra.dsn(f"{platform.namespace}education"))
        try:
            return list(
                await conn.fetch(
                    "SELECT stream_id, stream_version, event_type, payload::text FROM events"
                    " WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version",
                    children,
                )
            )
        finally:
            await conn.close()

    rows = asyncio.run(read())
    for child_id in children:
        versions = [r["stream_version"] for r in rows if r["stream_id"] == child_id]
        assert versions == list(range(1, len(versions) + 1)), (child_id, versions)
    marks: Counter[tuple[str, str, str, str]] = Counter()
    for r in rows:
        if r["event_type"] == "AttendanceRecorded":
            payload = json.loads(r["payload"])
            for m in payload["marks"]:
                marks[
                    (
                        payload["school_urn"],
                        r["stream_id"],
                        payload["attendance_date"],
                        m["session"],
                    )
                ] += 1
    return marks


def sent(
    feeds: list[tuple[dict[str, str], str, list[dict[str, str]]]],
) -> Counter[tuple[str, str, str, str]]:
    return Counter(
        (school, m["child_id"], m["date"], m["session"])
        for _, school, marks in feeds
        for m in marks
    )


def this_week(marks: Counter[tuple[str, str, str, str]]) -> Counter[tuple[str, str, str, str]]:
    return Counter({k: n for k, n in marks.items() if k[2] in WEEK})


def test_feeds_naming_the_same_children_sent_at_once_are_all_recorded_each_mark_once(
    platform: Platform, infra: Infrastructure, week: dict[str, Any]
) -> None:
    """A school sending its week's registers at once, and the school its pupil moved to
    sending theirs at the same time: every feed names the same children."""
    keyed = [(*feed, f"week-{uuid.uuid4()}") for feed in week["feeds"]]
    answers = asyncio.run(send_at_once(platform, keyed))
    assert [a.status_code for a in answers] == [201] * len(keyed), [a.text for a in answers]
    assert not any(a.json()["duplicate"] for a in answers)
    assert this_week(attendance_recorded(infra, platform, week["children"])) == sent(week["feeds"])
    # Each delivered again under its own key, all at once: its first result, nothing new.
    again = asyncio.run(send_at_once(platform, keyed))
    assert [(a.status_code, a.json()["duplicate"]) for a in again] == [(200, True)] * len(keyed)
    assert [a.json()["stream_id"] for a in again] == [a.json()["stream_id"] for a in answers]
    assert this_week(attendance_recorded(infra, platform, week["children"])) == sent(week["feeds"])


def test_a_true_repeat_is_a_409_naming_its_sessions_even_when_sent_at_once(
    platform: Platform, infra: Infrastructure, week: dict[str, Any]
) -> None:
    pupil = week["children"][0]
    friday = [mark(pupil, "2024-06-14", s) for s in ("AM", "PM")]
    # The same register sent twice at the same time under two keys (a school's system that
    # timed out and sent it again as new): one is recorded, the other is the repeat.
    answers = asyncio.run(
        send_at_once(
            platform, [(SCHOOL_A, SCHOOL, friday, f"fri-{n}-{uuid.uuid4()}") for n in (1, 2)]
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    [repeat] = [a for a in answers if a.status_code == 409]
    assert "expected_version" not in repeat.json()  # not a conflict to send again as it is
    assert [(p["loc"], p["date"], p["session"]) for p in repeat.json()["detail"]] == [
        (["body", "marks", 0, "session"], "2024-06-14", "AM"),
        (["body", "marks", 1, "session"], "2024-06-14", "PM"),
    ]
    assert "already recorded" in repeat.json()["detail"][0]["msg"]
    recorded = attendance_recorded(infra, platform, [pupil])
    assert [recorded[(SCHOOL, pupil, "2024-06-14", s)] for s in ("AM", "PM")] == [1, 1]
    # A later feed with a new session and a recorded one: only that one is named, and nothing
    # of the feed is recorded until it is sent again without it.
    later = [mark(pupil, "2024-06-17", "AM"), mark(pupil, "2024-06-14", "PM")]
    refused = send(platform, SCHOOL_A, later, SCHOOL, f"later-{uuid.uuid4()}")
    assert refused.status_code == 409, refused.text
    assert [(p["loc"], p["date"], p["session"]) for p in refused.json()["detail"]] == [
        (["body", "marks", 1, "session"], "2024-06-14", "PM")
    ]
    assert attendance_recorded(infra, platform, [pupil]) == recorded
    assert send(platform, SCHOOL_A, later[:1], SCHOOL, f"later-{uuid.uuid4()}").status_code == 201
    assert attendance_recorded(infra, platform, [pupil])[(SCHOOL, pupil, "2024-06-17", "AM")] == 1

"""The quality API in this test's process on the real PostgreSQL: every rule refused through
HTTP with its status and the field it names, the free text stored sealed (never in the clear
in the events table) and read back unsealed by the record's route, and a child's erasure on
case-events (the worker's policy) leaving the child's findings readable as erased only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from contracts.case_events.events import ChildPersonalDataErased
from services.quality.api import create_app
from services.quality.policies import ChildErasure
from shared.envelope import Actor, Agency, Envelope, new_event_id
from tests.conftest import settings_for
from tests.infrastructure import Infrastructure, auth

pytestmark = pytest.mark.integration

FINDINGS = "Mum said nobody explained the plan to her; the child's wishes are not recorded."
PRACTITIONER = auth("practitioner")
EXETER = auth("practitioner", user="sw-exeter", localities=["Exeter"])
LOCALITIES = ("Exeter", "North")


@pytest.fixture
async def api(infra: Infrastructure, namespace: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for(infra, "quality", namespace))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://q") as http,
    ):
        http.app = app  # type: ignore[attr-defined]
        for child, locality in (("C-Q1", "Exeter"), ("C-Q2", "Exeter"), ("C-Q3", "North")):
            await app.state.pool.execute(
                "INSERT INTO known_children (child_id, date_of_birth, locality)"
                " VALUES ($1, '2015-01-01', $2)",
                child,
                locality,
            )
        for locality in LOCALITIES:  # the council's, as the worker copies them from case-events
            await app.state.pool.execute(
                "INSERT INTO reference_data (kind, item) VALUES ('locality', $1)", locality
            )
        yield http


async def post(http: httpx.AsyncClient, path: str, body: dict[str, Any], **headers: str) -> Any:
    return await http.post(path, json=body, headers={**PRACTITIONER, **headers})


def evaluation(
    evaluation_id: str = "PE-1", child_id: str = "C-Q1", **fields: Any
) -> dict[str, Any]:
    return {
        "evaluation_id": evaluation_id,
        "child_id": child_id,
        "evaluated_on": "2024-07-10",
        "plan_type": "CP",
        "auditor_id": "QA-1",
        "practitioner_id": "SW-1",
        "grade": "requires_improvement",
        "strands": [{"strand": "voice_of_the_child", "grade": "inadequate"}],
        **fields,
    }


async def given_records(http: httpx.AsyncClient) -> None:
    """One record of each kind, for the refusals to be refused on."""
    for path, body in (
        ("/practice-evaluations", evaluation(findings=FINDINGS)),
        (
            "/partnership-audits",
            {
                "audit_id": "PA-1",
                "opened_on": "2024-06-03",
                "theme": "Neglect",
                "cases": ["C-Q1"],
                "agencies": ["social_care", "health"],
            },
        ),
        (
            "/feedback-surveys",
            {
                "survey_id": "FS-1",
                "title": "Conferences",
                "opens_on": "2020-04-01",
                "closes_on": "2020-07-31",
                "questions": [{"question_id": "Q1", "text": "Were your views listened to?"}],
            },
        ),
        (
            "/serious-incidents",
            {
                "incident_id": "SI-1",
                "child_id": "C-Q2",
                "aware_on": "2024-03-04",
                "notified_on": "2024-03-07",
            },
        ),
        (
            "/improvement-plans/PLAN-1/priorities",
            {"priority_id": "P1", "added_on": "2024-04-01", "title": "Timely plans"},
        ),
    ):
        response = await post(http, path, body)
        assert response.status_code == 201, (path, response.text)


ACTION = {"action_id": "A-1", "agreed_on": "2024-07-10", "owner_id": "TM-1", "due_on": "2024-08-10"}
ANSWER = {"response_id": "R-1", "responded_on": "2020-05-01", "respondent": "parent"}
# (path, body, status, the field named): each rule of the design, refused through HTTP.
REFUSED: list[tuple[str, dict[str, Any], int, str]] = [
    ("/practice-evaluations", evaluation(grade="satisfactory"), 422, "grade"),
    (
        "/practice-evaluations",
        evaluation(
            "PE-2",
            strands=[
                {"strand": "risk", "grade": "good"},
                {"strand": "risk", "grade": "good"},
            ],
        ),
        422,
        "strands[1].strand",
    ),
    ("/practice-evaluations", evaluation("PE-3", evaluated_on="2999-01-01"), 422, "evaluated_on"),
    ("/practice-evaluations", evaluation("PE-4", child_id="C-NEVER"), 404, ""),
    ("/practice-evaluations", evaluation(), 409, ""),
    (
        "/practice-evaluations/PE-1/moderations",
        {"moderated_on": "2024-07-17", "moderator_id": "QA-1", "grade": "good"},
        422,
        "moderator_id",
    ),
    (
        "/practice-evaluations/PE-1/moderations",
        {"moderated_on": "2024-07-09", "moderator_id": "QA-2", "grade": "good"},
        422,
        "moderated_on",
    ),
    ("/practice-evaluations/PE-1/actions", {**ACTION, "due_on": "2024-07-01"}, 422, "due_on"),
    (
        "/practice-evaluations/PE-1/action-completions",
        {"action_id": "A-9", "completed_on": "2024-08-01"},
        422,
        "action_id",
    ),
    (
        "/partnership-audits/PA-1/findings",
        {"finding_id": "F-1", "recorded_on": "2024-06-20", "agency": "police"},
        422,
        "agency",
    ),
    ("/partnership-audits/PA-1/actions", {**ACTION, "agency": "police"}, 422, "agency"),
    ("/partnership-audits/PA-1/actions", ACTION, 422, "agency"),
    (
        "/feedback-surveys",
        {
            "survey_id": "FS-2",
            "title": "t",
            "opens_on": "2020-04-01",
            "closes_on": "2020-03-01",
            "questions": [{"question_id": "Q1", "text": "q"}],
        },
        422,
        "closes_on",
    ),
    (
        "/feedback-surveys/FS-1/responses",
        {**ANSWER, "answers": [{"question_id": "Q9", "answer": "yes"}]},
        422,
        "answers[0].question_id",
    ),
    (
        "/feedback-surveys/FS-1/responses",
        {
            **ANSWER,
            "answers": [
                {"question_id": "Q1", "answer": "yes"},
                {"question_id": "Q1", "answer": "no"},
            ],
        },
        422,
        "answers[1].question_id",
    ),
    (
        "/feedback-surveys/FS-1/responses",
        {
            **ANSWER,
            "responded_on": "2020-08-01",
            "answers": [{"question_id": "Q1", "answer": "no"}],
        },
        422,
        "responded_on",
    ),
    (
        "/serious-incidents",
        {
            "incident_id": "SI-2",
            "child_id": "C-Q2",
            "aware_on": "2024-03-04",
            "notified_on": "2024-03-01",
        },
        422,
        "notified_on",
    ),
    (
        "/serious-incidents/SI-1/rapid-reviews",
        {"completed_on": "2024-03-06", "decision": "local_review"},
        422,
        "completed_on",
    ),
    (
        "/serious-incidents/SI-1/practice-reviews",
        {"commissioned_on": "2024-03-20"},
        422,
        "commissioned_on",
    ),
    (
        "/serious-incidents/SI-1/practice-review-publications",
        {"published_on": "2024-04-20"},
        422,
        "published_on",
    ),
    (
        "/improvement-plans/PLAN-1/measures",
        {
            "measure_id": "M1",
            "priority_id": "P9",
            "set_on": "2024-04-02",
            "measure": {"board": "practice-evaluations", "figure": "good_or_better"},
            "target": 60,
            "direction": "higher_is_better",
        },
        422,
        "priority_id",
    ),
    ("/improvement-plans/PLAN-1/actions", ACTION, 422, "priority_id"),
    ("/partnership-audits/PA-NONE/conclusions", {"concluded_on": "2024-07-01"}, 404, ""),
]


def field_of(loc: list[Any]) -> str:
    """A 422's location as the rules name it: ["body", "answers", 0, "question_id"] (pydantic)
    and ["body", "answers[0].question_id"] (a domain rule) are both answers[0].question_id."""
    name = ""
    for part in loc[1:]:
        name += f"[{part}]" if isinstance(part, int) else f"{'.' if name else ''}{part}"
    return name


async def test_every_rule_is_refused_through_http_naming_its_field(api: httpx.AsyncClient) -> None:
    await given_records(api)
    wrong = []
    for path, body, status, field in REFUSED:
        response = await post(api, path, body)
        detail = response.json()["detail"]
        named = {field_of(e["loc"]) for e in detail} if isinstance(detail, list) else set()
        if response.status_code != status or (field and field not in named):
            wrong.append(f"{path} {body}: {response.status_code} {response.text}")
    assert not wrong, "\n".join(wrong)


async def test_a_command_repeated_with_its_key_is_recorded_once(api: httpx.AsyncClient) -> None:
    await given_records(api)
    key = str(uuid.uuid4())
    body = {**ACTION, "summary": "Record the child's views at the next visit."}
    first = await post(api, "/practice-evaluations/PE-1/actions", body, **{"Idempotency-Key": key})
    again = await post(api, "/practice-evaluations/PE-1/actions", body, **{"Idempotency-Key": key})
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["duplicate"]
    assert again.json()["stream_version"] == first.json()["stream_version"]
    other = {**body, "summary": "Something else"}
    reused = await post(
        api, "/practice-evaluations/PE-1/actions", other, **{"Idempotency-Key": key}
    )
    assert reused.status_code == 422, reused.text


async def test_free_text_is_stored_sealed_and_read_back_unsealed_until_the_child_is_erased(
    api: httpx.AsyncClient,
) -> None:
    await given_records(api)
    pool = api.app.state.pool  # type: ignore[attr-defined]
    stored = await pool.fetchval(
        "SELECT payload->>'findings' FROM events WHERE stream_id = 'PE-1' AND stream_version = 1"
    )
    assert stored.startswith("sealed:v1:")
    in_clear = await pool.fetchval(
        "SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%'", "nobody explained"
    )
    assert in_clear == 0
    commands = await pool.fetchval(
        "SELECT count(*) FROM commands WHERE row_to_json(commands)::text LIKE '%nobody explained%'"
    )
    assert commands == 0

    read = await api.get("/practice-evaluations/PE-1", headers=PRACTITIONER)
    assert read.status_code == 200, read.text
    assert read.json()["events"][0]["findings"] == FINDINGS
    assert read.headers["X-Audit-Id"] and read.headers["ETag"] == '"1"'
    north = auth("practitioner", user="sw-north", localities=["North"])
    assert (await api.get("/practice-evaluations/PE-1", headers=north)).status_code == 404
    partner = auth("partner", "police")
    assert (await api.get("/practice-evaluations/PE-1", headers=partner)).status_code == 403

    erased = ChildPersonalDataErased(erased_on=date(2024, 9, 1), reason="subject_request")
    envelope = Envelope(
        event_id=new_event_id(),
        event_type=erased.event_type,
        schema_version=1,
        stream_id="C-Q1",
        stream_version=9,
        occurred_at=datetime.now(UTC),
        recorded_at=datetime.now(UTC),
        actor=Actor(user_id="ig-1", agency=Agency.COUNCIL, role="information_governance"),
        correlation_id=new_event_id(),
        payload=erased.model_dump(mode="json"),
    )
    async with pool.acquire() as conn, conn.transaction():
        await ChildErasure().apply(conn, envelope, erased)
    async with pool.acquire() as conn, conn.transaction():  # redelivered: nothing changes
        await ChildErasure().apply(conn, envelope, erased)

    after = (await api.get("/practice-evaluations/PE-1", headers=PRACTITIONER)).json()
    assert after["events"][0]["findings"] == "[erased]"
    assert after["events"][0]["grade"] == "requires_improvement"  # the countable facts stay
    refused = await post(
        api, "/practice-evaluations", evaluation("PE-5", findings="More about the child.")
    )
    assert refused.status_code == 409, refused.text  # nothing personal recorded again
    counted = await post(api, "/practice-evaluations", evaluation("PE-6"))
    assert counted.status_code == 201, counted.text  # the grade alone is still recorded
    # Another subject's text is untouched: the audit's own key.
    finding = await post(
        api,
        "/partnership-audits/PA-1/findings",
        {"finding_id": "F-1", "recorded_on": "2024-06-20", "agency": "health", "finding": "Late"},
    )
    assert finding.status_code == 201, finding.text
    audit = (await api.get("/partnership-audits/PA-1", headers=PRACTITIONER)).json()
    assert audit["events"][-1]["finding"] == "Late"


AUDIT = {
    "audit_id": "PA-2",
    "opened_on": "2024-06-03",
    "theme": "Exploitation",
    "cases": ["C-Q1", "C-Q3"],
    "agencies": ["social_care", "police"],
}


async def versions(http: httpx.AsyncClient) -> dict[str, int]:
    """Every stream's version in the store: what a refused command must leave alone."""
    pool = http.app.state.pool  # type: ignore[attr-defined]
    rows = await pool.fetch("SELECT stream_id, max(stream_version) AS v FROM events GROUP BY 1")
    return {r["stream_id"]: r["v"] for r in rows}


async def test_an_audit_is_the_whole_councils_not_for_a_user_of_some_localities(
    api: httpx.AsyncClient,
) -> None:
    """An audit samples children of every locality (C-Q3 is North's) and holds every agency's
    findings: a practitioner limited to Exeter may neither read one nor act on one."""
    await given_records(api)
    assert (await post(api, "/partnership-audits", AUDIT)).status_code == 201
    before = await versions(api)
    for path, body in (
        ("/partnership-audits", {**AUDIT, "audit_id": "PA-3", "cases": ["C-Q1"]}),
        (
            "/partnership-audits/PA-2/findings",
            {"finding_id": "F-1", "recorded_on": "2024-06-20", "agency": "police", "finding": "x"},
        ),
        ("/partnership-audits/PA-2/actions", {**ACTION, "agency": "police"}),
        ("/partnership-audits/PA-2/conclusions", {"concluded_on": "2024-07-01"}),
    ):
        refused = await api.post(path, json=body, headers=EXETER)
        assert refused.status_code == 403, (path, refused.text)
        assert "whole council" in refused.json()["detail"]
    read = await api.get("/partnership-audits/PA-2", headers=EXETER)
    assert read.status_code == 403, read.text
    assert "C-Q3" not in read.text
    assert await versions(api) == before
    whole = await api.get("/partnership-audits/PA-2", headers=PRACTITIONER)
    assert whole.status_code == 200, whole.text
    assert whole.json()["events"][0]["cases"] == ["C-Q1", "C-Q3"]
    # A record about one child is still the child's locality's (Exeter's PE-1, C-Q1's).
    assert (await api.get("/practice-evaluations/PE-1", headers=EXETER)).status_code == 200


async def test_an_audits_cases_are_children_known_to_the_service(api: httpx.AsyncClient) -> None:
    before = await versions(api)
    unknown = await post(api, "/partnership-audits", {**AUDIT, "cases": ["C-Q1", "C-NEVER"]})
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["detail"] == "cases[1]: no record of 'C-NEVER'"
    malformed = await post(api, "/partnership-audits", {**AUDIT, "cases": ["C-Q1", "not an id!"]})
    assert malformed.status_code == 422, malformed.text
    assert [field_of(e["loc"]) for e in malformed.json()["detail"]] == ["cases[1]"]
    assert await versions(api) == before
    assert (await post(api, "/partnership-audits", AUDIT)).status_code == 201


async def test_a_response_names_one_of_the_councils_localities(api: httpx.AsyncClient) -> None:
    await given_records(api)
    before = await versions(api)
    body = {**ANSWER, "answers": [{"question_id": "Q1", "answer": "yes"}], "comment": "Fine"}
    unknown = await post(api, "/feedback-surveys/FS-1/responses", {**body, "locality": "Exter"})
    assert unknown.status_code == 422, unknown.text
    [error] = unknown.json()["detail"]
    assert (field_of(error["loc"]), error["type"]) == ("locality", "unknown_reference")
    assert "known: Exeter, North" in error["msg"] and "did you mean 'Exeter'?" in error["msg"]
    assert await versions(api) == before
    pool = api.app.state.pool  # type: ignore[attr-defined]
    made = "SELECT count(*) FROM child_keys WHERE child_id = 'feedback-response/R-1'"
    assert await pool.fetchval(made) == 0  # no key is made for a refused command's text
    known = await post(api, "/feedback-surveys/FS-1/responses", {**body, "locality": "Exeter"})
    assert known.status_code == 201, known.text


async def test_the_sealed_routes_take_if_match_as_the_generated_ones_do(
    api: httpx.AsyncClient,
) -> None:
    await given_records(api)
    path, body = "/practice-evaluations/PE-1/actions", {**ACTION, "summary": "Visit again."}
    stale = await post(api, path, body, **{"If-Match": '"7"'})
    assert stale.status_code == 409, stale.text
    assert (stale.json()["expected_version"], stale.json()["actual_version"]) == (7, 1)
    malformed = await post(api, path, body, **{"If-Match": "latest"})
    assert malformed.status_code == 422, malformed.text
    assert malformed.json()["detail"][0]["loc"] == ["header", "If-Match"]
    assert (await versions(api))["PE-1"] == 1
    current = await post(api, path, body, **{"If-Match": '"1"'})
    assert current.status_code == 201, current.text
    parameters = {
        (path, p["name"])
        for path, operations in api.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        for method, operation in operations.items()
        if method == "post"
        for p in operation.get("parameters", [])
    }
    posts = {
        path
        for path, operations in api.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        if "post" in operations
    }
    assert {p for p in posts if (p, "If-Match") not in parameters} == set()

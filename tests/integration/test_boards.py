"""Every board through the real stack: the scenario's events on the real topics, the real
projections worker and API, exact figures now and as at past dates (worked out by hand from
tests/integration/scenario.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from contracts.accommodation import events as acc
from contracts.case_events import events as ce
from services.projections.boards import disclosure
from services.projections.boards.answering import compute, council_sheet, inputs_of
from services.projections.boards.declarations import BOARDS, DECLARED, Asked
from services.projections.boards.totals import TOTALLED, year_before
from services.projections.builds import reading
from shared.settings import Settings
from tests.conftest import ARTIFACTS, settings_for
from tests.infrastructure import (
    MANAGER,
    Infrastructure,
    ServiceProcess,
    auth,
    eventually,
    holds_within,
    new_namespace,
    platform_today,
)
from tests.integration.scenario import D, county, registered
from tests.publisher import Log

pytestmark = pytest.mark.integration
KEPT_WINDOW = 5000  # days: back to the scenario's 2024 from any date this suite will run on
Figures = dict[tuple[str, str | None], tuple[int | None, int | None, float | None]]


@contextmanager
def boards_running(
    infra: Infrastructure, log: Log, name: str, repeat_every: int = 0
) -> Iterator[tuple[str, Settings]]:
    """`log` published to the real topics of a fresh namespace, the projections worker and API
    running on it, and every message consumed: yields the API's URL and the settings. The
    scenario is in 2024, so the window of kept board days reaches back to it."""
    namespace = new_namespace()
    settings = settings_for(infra, "projections", namespace)
    sent = asyncio.run(log.publish(settings, repeat_every=repeat_every))
    logs = ARTIFACTS / "logs" / f"{name}-{namespace}"
    env = infra.env(namespace, CSP_BOARD_DAYS_KEPT=str(KEPT_WINDOW))
    worker = ServiceProcess("services.projections", "worker", env, logs)
    api = ServiceProcess("services.projections", "api", env, logs)
    try:
        worker.start().wait_healthy()
        api.start().wait_healthy()
        asyncio.run(_consumed_all(infra.dsn(settings.database), sent))
        yield api.url, settings
    finally:
        api.stop()
        worker.stop()


@pytest.fixture(scope="module")
def boards_stack(infra: Infrastructure) -> Iterator[tuple[str, Settings]]:
    with boards_running(infra, county(), "boards", repeat_every=7) as running:  # duplicates
        yield running


@pytest.fixture(scope="module")
def boards_api(boards_stack: tuple[str, Settings]) -> str:
    return boards_stack[0]


async def _consumed_all(dsn: str, sent: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:

        async def done() -> bool:
            schema = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
            return (
                schema is not None
                and await conn.fetchval(
                    f'SELECT coalesce(sum(next_offset), 0) FROM "{schema}".projection_offsets'
                )
                == sent
            )

        await eventually(done, 90, 0.1, what="the worker to consume the scenario")
    finally:
        await conn.close()


def board(url: str, name: str, **params: Any) -> Figures:
    response = MANAGER.get(f"{url}/boards/{name}", params={"view": "council", **params}, timeout=30)
    assert response.status_code == 200, response.text
    return {
        (f["key"], f["period"]): (f["count"], f["denominator"], f["percentage"])
        for f in response.json()["figures"]
    }


def test_priority_cohort(boards_api: str) -> None:
    body = MANAGER.get(
        f"{boards_api}/boards/priority-cohort", params={"view": "council", "as_at": "2024-06-30"}
    ).json()
    assert body["rows"] == [
        {
            "child_id": "CH-E",
            "locality": "Exeter",
            "reason": "unsuitable_accommodation",
            "age": 18,
            "accommodation": "T2",
            "accommodation_suitable": False,
            "activity": "G5",
            "personal_adviser": "PA-7",
            "last_contact": "2024-06-01",
            "days_since_contact": 29,
            "rag": "RED",
            "open_escalations": 0,
            "plan": "care leaver (former_relevant)",
        }
    ]
    figures = board(boards_api, "priority-cohort", as_at="2024-06-30")
    assert figures[("cohort", None)] == (1, None, None)
    assert figures[("suitable_accommodation", None)] == (0, 1, 0.0)
    later = board(boards_api, "priority-cohort", as_at="2024-12-31")
    assert later[("suitable_accommodation", None)] == (1, 1, 100.0)  # T1 from 2024-09-01
    assert later[("eet", None)] == (1, 1, 100.0)  # F4 from 2024-07-01
    assert board(boards_api, "priority-cohort", as_at="2024-04-30")[("cohort", None)][0] == 0


def test_care_leavers(boards_api: str) -> None:
    june = board(boards_api, "care-leavers", as_at="2024-06-30")
    assert june[("all.care_leavers", None)][0] == 2
    assert june[("17-18.care_leavers", None)][0] == 1  # E, 18
    assert june[("19-21.care_leavers", None)][0] == 1  # F, 21
    assert june[("all.in_touch", None)] == (1, 2, 50.0)  # E YES; F NO
    assert june[("all.eet", None)] == (1, 2, 50.0)  # F at university; E NEET (G5)
    assert june[("17-18.suitable_accommodation", None)] == (0, 1, 0.0)  # T2
    assert june[("17-18.pathway_plan_in_date", None)] == (1, 1, 100.0)  # due 2024-08-01
    assert june[("all.pa_allocated", None)] == (1, 2, 50.0)
    assert june[("all.health_passport_accepted", None)] == (1, 2, 50.0)
    december = board(boards_api, "care-leavers", as_at="2024-12-31")
    assert december[("17-18.suitable_accommodation", None)] == (1, 1, 100.0)
    assert december[("17-18.pathway_plan_in_date", None)] == (0, 1, 0.0)  # overdue
    assert december[("all.eet", None)] == (2, 2, 100.0)
    north = board(boards_api, "care-leavers", as_at="2024-06-30", locality="North")
    assert north[("all.care_leavers", None)][0] == 1


def test_attendance_of_vulnerable_groups(boards_api: str) -> None:
    f = board(boards_api, "attendance", as_at="2024-06-04", dates="2024-06-03,2024-06-04")
    assert f[("cp_plan", "2024-06-03")] == (1, 2, 50.0)  # A attended, B did not
    assert f[("cp_plan", "2024-06-04")] == (1, 2, 50.0)  # B attended, A did not
    assert f[("cic", "2024-06-03")] == (1, 2, 50.0)  # C attended a session; D ill
    assert f[("cic", "2024-06-04")] == (2, 2, 100.0)
    assert f[("cic_own_schools", "2024-06-03")] == (1, 1, 100.0)
    assert f[("ehcp", "2024-06-03")] == (0, 1, 0.0)
    assert f[("rag_red", "2024-06-03")] == (0, 2, 0.0)  # B (missed) and E (no school)
    before_care = board(boards_api, "attendance", as_at="2024-06-04", dates="2023-05-31")
    assert before_care[("cic", "2023-05-31")] == (0, 0, None)


def test_risk(boards_api: str) -> None:
    june = board(boards_api, "risk", as_at="2024-06-30")
    assert june[("rag.red", None)] == (2, 4, 50.0)  # B and E
    assert june[("rag.amber", None)] == (2, 4, 50.0)  # A, and C moderated from GREEN
    assert june[("rag.green", None)] == (0, 4, 0.0)
    assert june[("assessment_completion", None)] == (3, 4, 75.0)  # D in care, not rated
    period = "2023-07-01/2024-06-30"
    assert june[("dip_samples", period)] == (2, None, None)
    assert june[("dip_sample_agreement", period)] == (1, 2, 50.0)
    assert june[("moderated.GREEN_to_AMBER", period)] == (1, 2, 50.0)
    march = board(boards_api, "risk", as_at="2024-03-31")
    assert march[("rag.green", None)] == (1, 3, 33.33)  # C before moderation; A, B rated


def test_early_help_triage(boards_api: str) -> None:
    f = board(boards_api, "early-help-triage", as_at="2024-03-31", since="2024-03-01")
    assert f[("families_discussed", "2024-03")] == (3, 2, 50.0)  # F1 counted once in 2023
    exeter = board(
        boards_api, "early-help-triage", as_at="2024-03-31", since="2024-03-01", locality="Exeter"
    )
    assert exeter[("families_discussed", "2024-03")] == (2, 1, 100.0)


def test_timeliness(boards_api: str) -> None:
    june = board(boards_api, "timeliness", as_at="2024-06-30")
    assert june[("cp_plans_open", None)][0] == 2
    assert june[("cp_plans.3_to_6_months", None)] == (1, 2, 50.0)  # A since 2024-01-10
    assert june[("cp_plans.9_months_or_more", None)] == (1, 2, 50.0)  # B since 2023-03-01
    assert june[("cp_plans.repeat", None)] == (1, 2, 50.0)
    assert june[("cp_reviews_overdue", None)] == (2, 2, 100.0)
    assert june[("la_reviews_overdue", None)] == (2, 2, 100.0)
    assert june[("pre_proceedings_over_12_weeks", None)] == (1, 1, 100.0)
    march = board(boards_api, "timeliness", as_at="2024-03-31")
    assert march[("cp_plans.under_3_months", None)] == (1, 2, 50.0)
    assert march[("cp_reviews_overdue", None)] == (1, 2, 50.0)  # A's due 2024-04-10
    assert march[("pre_proceedings_over_12_weeks", None)] == (0, 1, 0.0)
    assert board(boards_api, "timeliness", as_at="2024-12-31")[("cp_plans_open", None)][0] == 1


def test_children_in_care(boards_api: str) -> None:
    june = board(boards_api, "children-in-care", as_at="2024-06-30")
    assert june[("in_care", None)][0] == 2
    assert june[("permanence_plan", None)] == (1, 2, 50.0)
    assert june[("placement.H5", None)] == (1, 2, 50.0)
    assert june[("under_16_unregulated", None)] == (1, 2, 50.0)  # D, aged 11, in H5
    assert june[("year_11_confirmed_destination", None)] == (1, 1, 100.0)
    assert board(boards_api, "children-in-care", as_at="2024-06-15")[
        ("year_11_confirmed_destination", None)
    ] == (0, 1, 0.0)
    assert board(boards_api, "children-in-care", as_at="2024-12-31")[
        ("under_16_unregulated", None)
    ] == (0, 2, 0.0)  # D moved to U6 on 2024-09-01


def test_iro_escalations(boards_api: str) -> None:
    june = board(boards_api, "iro-escalations", as_at="2024-06-30")
    period = "2023-07-01/2024-06-30"
    assert june[("raised", period)] == (2, None, None)
    assert june[("open", None)] == (1, None, None)  # ESC-2
    assert june[("resolved", period)] == (1, 2, 50.0)
    assert june[("resolved.drift_in_cp_plan", period)] == (1, 1, 100.0)
    assert june[("raised_in_month", "2024-04")] == (1, None, None)
    december = board(boards_api, "iro-escalations", as_at="2024-12-31")
    assert december[("open", None)] == (2, None, None)  # ESC-2 and ESC-3


def test_ewo_and_red(boards_api: str) -> None:
    f = board(boards_api, "ewo-and-red", as_at="2024-06-30", since="2024-05-01")
    assert f[("ewo_escalations", "2024-05-01/2024-06-30")] == (1, None, None)
    assert f[("ewo_in_month", "2024-06")] == (1, None, None)
    assert f[("rated_red", "2024-05-31")] == (2, 4, 50.0)
    later = board(boards_api, "ewo-and-red", as_at="2024-08-31", since="2024-08-01")
    assert later[("rated_red", "2024-08-31")] == (1, 4, 25.0)  # B re-rated GREEN


def test_partnership_view_suppresses_small_numbers_and_rows(boards_api: str) -> None:
    body = MANAGER.get(
        f"{boards_api}/boards/priority-cohort", params={"as_at": "2024-06-30"}
    ).json()
    assert body["view"] == "partnership" and body["rows"] is None
    cohort = next(f for f in body["figures"] if f["key"] == "cohort")
    assert (cohort["count"], cohort["suppressed"]) == (None, True)


def test_csv_and_bad_requests(boards_api: str) -> None:
    csv = MANAGER.get(
        f"{boards_api}/boards/timeliness",
        params={"as_at": "2024-06-30", "view": "council", "format": "csv"},
    )
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("board,as_at,locality,view,key")
    assert (
        "timeliness,2024-06-30,,council,cp_plans_open,Child protection plans open,,2," in csv.text
    )
    assert MANAGER.get(f"{boards_api}/boards/nonsense").status_code == 404
    assert (
        MANAGER.get(f"{boards_api}/boards/risk", params={"as_at": "2999-01-01"}).status_code == 422
    )
    assert (
        MANAGER.get(f"{boards_api}/boards/risk", params={"as_at": "yesterday"}).status_code == 422
    )


async def test_the_live_feed_pushes_a_change_to_a_watching_client(
    boards_stack: tuple[str, Settings],
) -> None:
    url, settings = boards_stack
    received: list[tuple[str, str]] = []
    async with (
        httpx.AsyncClient(timeout=30, headers=auth()) as client,
        client.stream("GET", f"{url}/boards/live") as stream,
    ):
        lines = stream.aiter_lines()
        event = ""
        async for line in lines:  # wait until the server says it is listening
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            if event == "ready":
                break
        await (
            Log()
            .add(
                "case-events",
                "CH-LIVE",
                ce.ChildRegistered(
                    child_id="CH-LIVE", date_of_birth=date(2016, 2, 2), locality="North"
                ),
            )
            .publish(settings)
        )
        published = time.monotonic()

        async def changed() -> None:
            current = ""
            async for line in lines:
                if line.startswith("event:"):
                    current = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and current == "changed":
                    received.append((current, line))
                    return

        await asyncio.wait_for(changed(), timeout=20)
    assert "ChildRegistered" in received[0][1]
    print(f"\nlive feed: change delivered {time.monotonic() - published:.2f}s after publishing")


async def _from_facts(
    dsn: str, board_name: str, day: str, locality: str | None
) -> list[dict[str, Any]]:
    """The board computed from every child's facts (the definitions), not from totals."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction(readonly=True):
            schema = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
            await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
            result = await compute(conn, board_name, date.fromisoformat(day), locality)
        return list(result.model_dump(mode="json")["figures"])
    finally:
        await conn.close()


async def _partnership_from_facts(
    dsn: str, board_name: str, day: str, locality: str | None, threshold: int
) -> list[dict[str, Any]]:
    """The board's partnership view worked out from every child's facts (the definition over
    the county's inputs, every locality with records), not from totals."""
    as_at = date.fromisoformat(day)
    start = year_before(as_at).replace(day=1)
    declared = DECLARED[board_name]
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction(readonly=True):
            schema = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
            await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
            inputs = await inputs_of(conn, declared, Asked(as_at, None, start))
    finally:
        await conn.close()
    places = disclosure.localities_in(list(inputs)) | ({locality} if locality else set())
    sheet = disclosure.partnership(declared.figures, inputs, as_at, places, threshold, start)
    return list(sheet[locality].model_dump(mode="json")["figures"])


async def _live(dsn: str, sql: str) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        schema = await conn.fetchval("SELECT schema_name FROM board_builds WHERE live")
        return await conn.fetch(sql.format(schema=f'"{schema}"'))
    finally:
        await conn.close()


def test_a_council_page_reads_every_locality_at_once_as_each_alone(
    infra: Infrastructure, boards_stack: tuple[str, Settings]
) -> None:
    """A page of every locality's trend in the council view reads the county once and splits
    it by locality (`council_sheet`): each place's board must equal the board read for that
    place alone (the definition over its facts), figures and rows, on every board."""
    _, settings = boards_stack
    dsn = infra.dsn(settings.database)
    places: list[str | None] = [None, "Exeter", "North", "Nowhere"]  # Nowhere: no records

    async def compare() -> list[tuple[str, str, str | None]]:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        differ = []
        try:
            for name in BOARDS:
                for day in ("2024-03-31", "2024-06-30", "2024-12-31"):
                    as_at = date.fromisoformat(day)
                    sheet = await council_sheet(
                        pool, name, as_at, places, today=platform_today(), window=KEPT_WINDOW
                    )
                    async with reading(pool) as conn:
                        for place in places:
                            alone = await compute(conn, name, as_at, place)
                            if DECLARED[name].kept_as_totals:
                                alone = sheet[place]  # read a place at a time: itself
                            if sheet[place] != alone:
                                differ.append((name, day, place))
        finally:
            await pool.close()
        return differ

    assert asyncio.run(compare()) == []


def test_kept_totals_follow_late_backdated_and_out_of_order_events(infra: Infrastructure) -> None:
    """Days kept as totals, then events that change them: new children (one with its
    accommodation on the topic before its registration), and backdated changes to children
    already counted. Every kept board must equal its definition over the facts."""
    log = county()
    case, acco = "case-events", "accommodation-events"
    days = ["2024-06-30", "2024-12-31"]
    with boards_running(infra, log, "totals") as (url, settings):
        dsn = infra.dsn(settings.database)
        before = {day: board(url, "children-in-care", as_at=day) for day in days}
        kept = {
            (r["board"], str(r["day"]))
            for r in asyncio.run(
                _live(dsn, "SELECT board, day FROM {schema}.board_days WHERE NOT keeping")
            )
        }
        assert {(b, day) for b in TOTALLED for day in days} <= kept

        log.add(
            acco,
            "CH-N2",
            acc.CareLeaverAccommodationRecorded(
                recorded_on=D("2024-05-06"), accommodation="T", suitability="1", code="T1"
            ),
        )
        log.add(
            case,
            "CH-N1",
            registered("CH-N1", "2009-01-01", "Exeter"),
            ce.PeriodOfCareStarted(
                start_date=D("2024-03-01"), legal_status="C2", first_review_due=D("2024-03-29")
            ),
        )
        log.add(
            acco,
            "CH-N1",
            acc.PlacementStarted(
                placement_id="N1",
                start_date=D("2024-03-01"),
                placement_type="H5",
                provider="PR4",
                in_council_area=False,
            ),
        )
        log.add(
            case,
            "CH-N2",
            registered("CH-N2", "2006-05-05", "Westward"),
            ce.CareLeaverStatusRecorded(recorded_on=D("2024-05-06"), status="former_relevant"),
            ce.PersonalAdviserAllocated(allocated_on=D("2024-05-06"), adviser_id="PA-9"),
        )
        # Backdated changes to children already counted: C left care on 2024-05-01; A's plan
        # was reviewed on 2024-04-01 (its review no longer overdue on 2024-06-30).
        log.add(case, "CH-C", ce.PeriodOfCareEnded(end_date=D("2024-05-01"), reason="E13"))
        log.add(
            case,
            "CH-A",
            ce.ChildProtectionPlanReviewed(
                plan_id="PA", review_date=D("2024-04-01"), next_review_due=D("2024-10-01")
            ),
        )
        consumed = sum(
            r["next_offset"]
            for r in asyncio.run(_live(dsn, "SELECT next_offset FROM {schema}.projection_offsets"))
        )
        sent = asyncio.run(log.publish(settings))
        asyncio.run(_consumed_all(dsn, consumed + sent))

        def totals_moved() -> None:
            moved = asyncio.run(
                _live(
                    dsn,
                    "SELECT count(*) AS n FROM {schema}.board_totals WHERE locality = 'Westward'",
                )
            )[0]["n"]
            assert moved > 0  # the new locality's totals came from the projection's moves
            for day in days:
                for name in sorted(TOTALLED):
                    for locality in (None, "Exeter", "North", "Westward"):
                        response = MANAGER.get(
                            f"{url}/boards/{name}",
                            params={
                                "view": "council",
                                "as_at": day,
                                **({"locality": locality} if locality else {}),
                            },
                        )
                        assert response.status_code == 200, response.text
                        assert response.json()["figures"] == asyncio.run(
                            _from_facts(dsn, name, day, locality)
                        ), (name, day, locality)
            june = board(url, "children-in-care", as_at="2024-06-30")
            in_care_before = before["2024-06-30"][("in_care", None)][0]
            assert june[("in_care", None)][0] == in_care_before  # +N1 -C
            assert june[("under_16_unregulated", None)][0] == 2  # D and N1, both in H5
            assert board(url, "timeliness", as_at="2024-06-30")[("cp_reviews_overdue", None)] == (
                1,
                2,
                50.0,
            )  # B only, now that A's review is recorded
            assert board(url, "care-leavers", as_at="2024-06-30", locality="Westward")[
                ("all.suitable_accommodation", None)
            ] == (1, 1, 100.0)

        holds_within(totals_moved, 30)

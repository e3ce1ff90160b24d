"""The boards answered before (services/projections/boards/memo.py) through the real stack:
every board, both views, as at three past days, read twice (the second from the memo), then
backdated events published to the real topics. A change dated D must reach every board as at D
or after at once, and leave the boards before it where they were (still read from the memo);
a child registered reaches every day. After each change every answer of the API (its memo in
use) equals the board worked out afresh: the definition over the facts (council view), and the
partnership view computed without a memo."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import asyncpg
import pytest

from contracts.accommodation import events as acc
from contracts.case_events import events as ce
from services.projections.boards.answering import partnership_sheet
from services.projections.boards.declarations import BOARDS, DECLARED
from shared.settings import Settings
from tests.infrastructure import (
    HTTP,
    MANAGER,
    Infrastructure,
    auth,
    holds_within,
    platform_today,
)
from tests.integration.scenario import D, county, registered
from tests.integration.test_boards import _consumed_all, _from_facts, _live, boards_running

pytestmark = pytest.mark.integration

MARCH, JUNE, DECEMBER = "2024-03-31", "2024-06-30", "2024-12-31"
DAYS = (MARCH, JUNE, DECEMBER)
COMPUTED = [b for b in BOARDS if not DECLARED[b].reads_boards]  # by their definition alone
VIEWS = ("council", "partnership")


def answered(url: str, name: str, view: str, day: str) -> list[dict[str, Any]]:
    response = MANAGER.get(f"{url}/boards/{name}", params={"view": view, "as_at": day}, timeout=60)
    assert response.status_code == 200, (name, view, day, response.text)
    return list(response.json()["figures"])


def every_board(url: str, days: tuple[str, ...]) -> dict[tuple[str, str, str], Any]:
    return {
        (name, view, day): answered(url, name, view, day)
        for name in BOARDS
        for view in VIEWS
        for day in days
    }


def hits(url: str) -> float:
    """The API's count of board reads answered from the memo."""
    text = HTTP.get(f"{url}/metrics", timeout=10, headers=auth("operations")).text
    for line in text.splitlines():
        if line.startswith('csp_board_memo_answers_total{result="hit"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def afresh(dsn: str, settings: Settings, name: str, view: str, day: str) -> Any:
    """The board worked out now from the read model, with no memo."""
    if view == "council":
        return await _from_facts(dsn, name, day, None)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    try:
        sheet = await partnership_sheet(
            pool,
            name,
            date.fromisoformat(day),
            None,
            today=platform_today(),
            window=settings.board_days_kept,
            threshold=settings.small_number_threshold,
        )
        return sheet[None].model_dump(mode="json")["figures"]
    finally:
        await pool.close()


def held_to_afresh(url: str, dsn: str, settings: Settings) -> dict[tuple[str, str, str], Any]:
    now = every_board(url, DAYS)
    for (name, view, day), figures in now.items():
        if name in COMPUTED or view == "partnership":
            assert figures == asyncio.run(afresh(dsn, settings, name, view, day)), (name, view, day)
    return now


async def publish_and_wait(log: Any, settings: Settings, dsn: str) -> None:
    consumed = sum(
        r["next_offset"]
        for r in await _live(dsn, "SELECT next_offset FROM {schema}.projection_offsets")
    )
    sent = await log.publish(settings)
    await _consumed_all(dsn, consumed + sent)


def test_a_backdated_change_reaches_the_boards_from_its_day_at_once_and_no_earlier(
    infra: Infrastructure,
) -> None:
    log = county()
    with boards_running(infra, log, "memo") as (url, settings):
        dsn = infra.dsn(settings.database)
        first = every_board(url, DAYS)
        before = hits(url)
        assert every_board(url, DAYS) == first
        assert hits(url) - before >= len(first)  # the second reading came from the memo

        # One batch with no child registered: a triage discussion in May and a child
        # leaving care on 1 May, both recorded late. March stays; June and December move.
        log.add(
            "case-events",
            "FAM-MEMO",
            ce.EarlyHelpTriageDiscussed(discussion_date=D("2024-05-15"), locality="Exeter"),
        )
        log.add("case-events", "CH-C", ce.PeriodOfCareEnded(end_date=D("2024-05-01"), reason="E13"))
        asyncio.run(publish_and_wait(log, settings, dsn))
        before = hits(url)
        march = every_board(url, (MARCH,))
        assert hits(url) - before >= len(march)  # March's boards were not forgotten
        assert march == {k: v for k, v in first.items() if k[2] == MARCH}
        later = holds_within(lambda: held_to_afresh(url, dsn, settings), 30)
        moved = {k for k in later if later[k] != first[k]}
        assert ("children-in-care", "council", JUNE) in moved
        assert ("early-help-triage", "council", JUNE) in moved
        assert not {k for k in moved if k[2] == MARCH}

        # A child registered (its placement from 2023): every day's boards are forgotten.
        log.add(
            "case-events",
            "CH-MEMO",
            registered("CH-MEMO", "2010-01-01", "North"),
            ce.PeriodOfCareStarted(
                start_date=D("2023-03-01"), legal_status="C2", first_review_due=D("2023-03-29")
            ),
        )
        log.add(
            "accommodation-events",
            "CH-MEMO",
            acc.PlacementStarted(
                placement_id="MEMO",
                start_date=D("2023-03-01"),
                placement_type="H5",
                provider="PR4",
                in_council_area=False,
            ),
        )
        asyncio.run(publish_and_wait(log, settings, dsn))
        last = holds_within(lambda: held_to_afresh(url, dsn, settings), 30)
        assert (
            last[("children-in-care", "council", MARCH)]
            != later[("children-in-care", "council", MARCH)]
        )

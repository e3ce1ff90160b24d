"""Which days the totalled boards stay kept on (services/projections/boards/kept.py,
`keep_days`), on a real PostgreSQL: keeping a day lets go of the days before today that are
kept no more, and keeps the month ends every twelve-month trend reads."""

from __future__ import annotations

from datetime import date

import pytest

from services.projections.boards.kept import keep_days, kept_board
from services.projections.boards.totals import TOTALLED
from tests.infrastructure import Infrastructure
from tests.integration.read_model import read_model

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 27)


async def test_the_trends_month_ends_stay_kept_and_other_past_days_go(
    infra: Infrastructure, namespace: str
) -> None:
    conn = await read_model(
        infra, f"{namespace}kept", "001_board_facts.sql", "002_board_totals.sql"
    )
    try:
        boards = sorted(TOTALLED)
        days = [
            date(2025, 11, 30),  # a month end before the trend
            date(2025, 12, 31),  # the trend's first month end
            date(2026, 9, 29),  # before the window, not a month end
            date(2026, 9, 30),  # a month end of the trend
            date(2026, 11, 1),  # in the window
            date(2026, 12, 15),  # after today (kept by a clock ahead of this one)
        ]
        # Each kept as at itself, the latest first: keeping one lets go only of days before
        # it, so none goes until today's is kept.
        for day in sorted(days, reverse=True):
            async with conn.transaction():
                assert await keep_days(conn, boards, day, day, 31) == boards
        assert {r["day"] for r in await conn.fetch("SELECT day FROM board_days")} == set(days)
        async with conn.transaction():
            assert await keep_days(conn, boards, TODAY, TODAY, 31) == boards

        kept = {r["day"] for r in await conn.fetch("SELECT DISTINCT day FROM board_days")}
        assert kept == {
            date(2025, 12, 31),
            date(2026, 9, 30),
            date(2026, 11, 1),
            date(2026, 12, 15),
            TODAY,
        }
        board = await kept_board(conn, "children-in-care", date(2026, 9, 30), None)
        assert board is not None and board.as_at == date(2026, 9, 30)
        assert await kept_board(conn, "children-in-care", date(2026, 9, 29), None) is None
    finally:
        await conn.close()

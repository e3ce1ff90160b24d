"""The snapshots of a day shared by the boards of one request (services/projections/boards/
queries.py, `SharedSnapshots`), on a real PostgreSQL: given again while no change to the day
has been told, read afresh once one has; never shared under the keeping lock (`share=False`)
or while the memo is not listening."""

from __future__ import annotations

from datetime import date

import pytest

from services.projections.boards.memo import BoardMemo
from services.projections.boards.queries import SHARED, SharedSnapshots, snapshot
from tests.infrastructure import Infrastructure
from tests.integration.read_model import read_model

pytestmark = pytest.mark.integration

DAY = date(2024, 3, 31)


async def test_a_requests_boards_share_a_days_snapshot_until_a_change_to_the_day_is_told(
    infra: Infrastructure, namespace: str
) -> None:
    conn = await read_model(infra, f"{namespace}snapshots", "001_board_facts.sql")
    memo = BoardMemo()
    memo.listen()
    token = SHARED.set(SharedSnapshots(lambda: memo.generation, memo.fresh))
    try:
        seq = iter(range(1, 100))

        async def record(attribute: str, day: str) -> None:  # not told to the memo
            await conn.execute(
                "INSERT INTO child_facts VALUES ($1, 'C1', $2, $3, 'Y')",
                attribute,
                date.fromisoformat(day),
                next(seq),
            )

        async def facts(share: bool = True) -> dict[str, str]:
            (child,) = await snapshot(conn, DAY, None, share=share)
            return dict(child.facts)

        await record("cp_plan", "2024-03-01")
        first = await snapshot(conn, DAY, None)
        assert [dict(c.facts) for c in first] == [{"cp_plan": "Y"}]

        await record("cla", "2024-03-10")
        again = await snapshot(conn, DAY, None)
        assert again == first and again is not first  # shared, as a list of the board's own
        assert await facts(share=False) == {"cp_plan": "Y", "cla": "Y"}  # read under a lock

        memo.changed(date(2024, 4, 1))  # a change after the day leaves it as it was
        assert await facts() == {"cp_plan": "Y"}
        memo.changed(date(2024, 3, 10))  # the change to the day is told: read afresh
        assert await facts() == {"cp_plan": "Y", "cla": "Y"}

        await record("missing", "2024-03-20")
        assert await facts() == {"cp_plan": "Y", "cla": "Y"}
        memo.lost()  # no change can be told any more: nothing is shared
        assert await facts() == {"cp_plan": "Y", "cla": "Y", "missing": "Y"}
    finally:
        SHARED.reset(token)
        await conn.close()

"""A board's definition is applied off the projections API's event loop
(services/projections/boards/answering.py, `off_the_loop`), on a real PostgreSQL: while a
board is worked out (seconds at a county's size) the loop goes on serving other requests.

Shown without timing anything: the definition, in its thread, waits for a coroutine on the
loop to let it go on. Applied on the loop itself it would hold the loop, the coroutine would
never run, and the definition would give up after its deadline and fail the board."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import threading
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest

from services.projections.boards import answering, totals
from services.projections.boards.declarations import DECLARED
from services.projections.boards.kept import keep
from services.projections.boards.model import Board
from services.projections.builds import reading
from tests.infrastructure import Infrastructure, eventually
from tests.integration.read_model import live_build

pytestmark = pytest.mark.integration

DAY = date(2024, 3, 31)
GIVE_UP_S = 30  # the definition's deadline: only reached when the loop is held


class Held:
    """A function made to wait, in whichever thread calls it, until `release_from_the_loop`."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.threads: list[int] = []
        self._released = threading.Event()

        @functools.wraps(function)  # the same signature: a board's inputs are read from it
        def waiting(*args: Any, **kwargs: Any) -> Any:
            self.threads.append(threading.get_ident())
            if not self._released.wait(GIVE_UP_S):
                raise AssertionError(f"the event loop did not run while {function.__name__} ran")
            return function(*args, **kwargs)

        self.function = waiting

    async def release_from_the_loop(self) -> None:
        async def started() -> bool:
            return bool(self.threads)

        await eventually(started, GIVE_UP_S, 0.01, what="the held function to start")
        self._released.set()

    def ran_off_the_loop(self) -> bool:
        return bool(self.threads) and threading.get_ident() not in self.threads


BOARD = "placement-stability"  # worked out from the facts when asked, on any day
ASKED: dict[str, Callable[[Any], Awaitable[Any]]] = {
    "council": lambda pool: answering.board_on(pool, BOARD, DAY, None, today=DAY, window=7),
    "council-sheet": lambda pool: answering.council_sheet(
        pool, BOARD, DAY, [None, "North"], today=DAY, window=7
    ),
    "partnership": lambda pool: answering.partnership_sheet(
        pool, BOARD, DAY, "North", today=DAY, window=7, threshold=1
    ),
}


@pytest.mark.parametrize("view", sorted(ASKED))
async def test_a_board_is_worked_out_while_the_loop_serves_other_work(
    infra: Infrastructure, namespace: str, monkeypatch: pytest.MonkeyPatch, view: str
) -> None:
    async with live_build(infra, f"{namespace}{view.replace('-', '')}") as (pool, schema):
        await pool.execute(
            f"INSERT INTO \"{schema}\".children VALUES ('C2', 'South', '2012-06-01')"
        )
        await pool.execute(
            f"INSERT INTO \"{schema}\".child_facts VALUES ('in_care', 'C1', '2024-01-10', 1, 'C2')"
        )
        async with reading(pool) as conn:
            expected = await answering.compute(conn, BOARD, DAY, None)
        held = Held(DECLARED[BOARD].figures)
        monkeypatch.setitem(
            DECLARED, BOARD, dataclasses.replace(DECLARED[BOARD], figures=held.function)
        )

        answer, _ = await asyncio.gather(ASKED[view](pool), held.release_from_the_loop())

        assert held.ran_off_the_loop()
        county = answer if isinstance(answer, Board) else answer[None]
        figures = {f.key: f.count for f in county.figures}
        assert figures == {f.key: f.count for f in expected.figures}
        assert figures["in_care"] == 1  # the board of the day, not an empty one


async def test_the_totals_of_a_kept_day_are_worked_out_off_the_loop(
    infra: Infrastructure, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keeping a day's totals (its first request, at a county's size the slowest) too."""
    async with live_build(infra, f"{namespace}kept") as (pool, _):
        held = Held(totals.by_locality)
        monkeypatch.setattr(totals, "by_locality", held.function)

        kept, _ = await asyncio.gather(
            keep(pool, DAY, today=DAY, window=7), held.release_from_the_loop()
        )

        assert kept == sorted(totals.TOTALLED)
        assert held.ran_off_the_loop()

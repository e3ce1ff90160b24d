"""The boards answered before (services/projections/boards/memo.py), in memory: what a change
dated D forgets (every board as at D or after, none before), an answer worked out while a
change to its day arrived is not kept, and nothing is kept without a listener. That the
projections say the right first day, and a page shows a backdated change at once, is
tests/integration/test_board_memo.py."""

from __future__ import annotations

import asyncio
from datetime import date

from prometheus_client import REGISTRY

from services.projections.boards.memo import (
    EVERY_DAY,
    BoardMemo,
    first_day_of,
    payload_of,
)
from tests.infrastructure import eventually

JAN, FEB, MAR = date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)


class Counting:
    """A board worked out: how many times, and the answer it gives (its number)."""

    def __init__(self) -> None:
        self.times = 0

    async def __call__(self) -> int:
        self.times += 1
        return self.times


class Gated:
    """A board whose working out waits for `release`: how many times it was begun (`started`
    set each time), each answering its own number, or raising `fails` if given."""

    def __init__(self, fails: Exception | None = None) -> None:
        self.times = 0
        self.started, self.release = asyncio.Event(), asyncio.Event()
        self.fails = fails

    async def __call__(self) -> int:
        self.times += 1
        mine = self.times  # which working out this is
        self.started.set()
        await self.release.wait()
        if self.fails is not None:
            raise self.fails
        return mine


def shared() -> float:
    """How many reads so far waited for a board another was working out."""
    return REGISTRY.get_sample_value("csp_board_memo_answers_total", {"result": "shared"}) or 0.0


async def waited_on(before: float) -> bool:
    """Whether one more read than `before` waits for a board another is working out."""
    return shared() == before + 1


async def read(memo: BoardMemo, key: str, as_at: date, work_out: Counting) -> int:
    return await memo.answer(key, as_at, work_out)


def listening(capacity: int = 1024) -> BoardMemo:
    memo = BoardMemo(capacity)
    memo.listen()
    return memo


async def test_an_answer_is_worked_out_once_until_a_change_reaches_its_day() -> None:
    memo, jan, mar = listening(), Counting(), Counting()
    assert [await read(memo, "jan", JAN, jan) for _ in range(3)] == [1, 1, 1]
    await read(memo, "mar", MAR, mar)
    memo.changed(FEB)  # a fact from February on: March's board may change, January's not
    assert await read(memo, "jan", JAN, jan) == 1
    assert await read(memo, "mar", MAR, mar) == 2
    memo.changed(MAR)  # a change on the day itself reaches it
    assert await read(memo, "mar", MAR, mar) == 3
    memo.changed(None)  # a child registered: every day
    assert await read(memo, "jan", JAN, jan) == 2
    assert (jan.times, mar.times) == (2, 3)


async def test_an_answer_worked_out_while_its_day_changed_is_not_kept() -> None:
    memo, slow = listening(), Gated()
    reading = asyncio.create_task(memo.answer("mar", MAR, slow))
    await slow.started.wait()
    memo.changed(FEB)  # committed while the read was in flight: it may predate it
    slow.release.set()
    assert await reading == 1
    assert len(memo) == 0
    assert await memo.answer("mar", MAR, slow) == 2  # worked out again

    # A change to a later day only does not spoil an earlier day's answer in flight.
    slow.started.clear()
    slow.release.clear()
    reading = asyncio.create_task(memo.answer("jan", JAN, slow))
    await slow.started.wait()
    memo.changed(MAR)
    slow.release.set()
    assert await reading == 3
    assert await memo.answer("jan", JAN, slow) == 3  # kept (March's went with the change)
    assert len(memo) == 1


async def test_more_changes_in_flight_than_remembered_spoil_the_answer() -> None:
    memo, slow = BoardMemo(history=2), Gated()
    memo.listen()
    reading = asyncio.create_task(memo.answer("jan", JAN, slow))
    await slow.started.wait()
    for _ in range(3):  # all after January, but one more than the memo remembers
        memo.changed(MAR)
    slow.release.set()
    await reading
    assert len(memo) == 0


async def test_nothing_is_kept_without_a_listener_and_losing_it_forgets_everything() -> None:
    memo, jan = BoardMemo(), Counting()
    assert [await read(memo, "jan", JAN, jan) for _ in range(2)] == [1, 2]  # not listening
    memo.listen()
    await read(memo, "jan", JAN, jan)
    assert len(memo) == 1
    memo.lost()  # the listening connection closed: changes would be missed
    assert len(memo) == 0
    assert [await read(memo, "jan", JAN, jan) for _ in range(2)] == [4, 5]


async def test_the_least_recently_read_goes_first_when_full() -> None:
    memo, boards = listening(capacity=2), {k: Counting() for k in "abc"}
    await read(memo, "a", JAN, boards["a"])
    await read(memo, "b", JAN, boards["b"])
    await read(memo, "a", JAN, boards["a"])  # a read again: b is now the least recent
    await read(memo, "c", JAN, boards["c"])
    assert len(memo) == 2
    await read(memo, "a", JAN, boards["a"])
    await read(memo, "b", JAN, boards["b"])
    assert (boards["a"].times, boards["b"].times) == (1, 2)


def test_the_notification_says_the_first_day_or_every_day() -> None:
    assert payload_of(FEB) == "2026-02-28" and first_day_of("2026-02-28") == FEB
    assert payload_of(None) == EVERY_DAY and first_day_of(EVERY_DAY) is None
    assert first_day_of("") is None and first_day_of("not a day") is None  # the worst assumed
    memo, jan = listening(), Counting()
    memo.notify(None, 0, "board_days_changed", "2026-01-01")
    asyncio.run(read(memo, "jan", JAN, jan))
    memo.notify(None, 0, "board_days_changed", "2026-02-01")
    asyncio.run(read(memo, "jan", JAN, jan))
    assert jan.times == 1
    memo.notify(None, 0, "board_days_changed", "garbled")
    asyncio.run(read(memo, "jan", JAN, jan))
    assert jan.times == 2


async def test_the_same_board_asked_again_while_worked_out_waits_for_that_answer() -> None:
    memo, slow = listening(), Gated()
    first = asyncio.create_task(memo.answer("jan", JAN, slow))
    await slow.started.wait()
    before = shared()
    second = asyncio.create_task(memo.answer("jan", JAN, slow))  # ten people at once: one
    await eventually(
        lambda: waited_on(before), 5, 0.001, what="the second waiting on the first's work"
    )
    slow.release.set()
    assert (await first, await second, slow.times) == (1, 1, 1)

    # A change to its day while it is worked out: whoever asks after the change works it out
    # afresh, never waiting for an answer that may predate the change.
    slow.started.clear()
    slow.release.clear()
    memo.changed(None)
    before_change = asyncio.create_task(memo.answer("jan", JAN, slow))
    await slow.started.wait()
    memo.changed(JAN)
    slow.started.clear()
    after_change = asyncio.create_task(memo.answer("jan", JAN, slow))
    await slow.started.wait()  # the one asking after the change works it out itself
    slow.release.set()
    assert (await before_change, await after_change, slow.times) == (2, 3, 3)


async def test_a_failure_reaches_everyone_waiting_and_nothing_is_kept() -> None:
    memo, failing = listening(), Gated(fails=LookupError("no board build yet"))
    first = asyncio.create_task(memo.answer("jan", JAN, failing))
    await failing.started.wait()
    before = shared()
    second = asyncio.create_task(memo.answer("jan", JAN, failing))
    await eventually(
        lambda: waited_on(before), 5, 0.001, what="the second waiting on the first's work"
    )
    failing.release.set()
    for waiting in (first, second):
        try:
            await waiting
        except LookupError:
            continue
        raise AssertionError("the failure was not passed on")
    assert failing.times == 1
    assert len(memo) == 0 and await memo.answer("jan", JAN, Counting()) == 1

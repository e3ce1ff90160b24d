"""How many snapshots a request holds for its other boards (services/projections/boards/
queries.py, `SharedSnapshots.keep`): the last `capacity` read, none once its answer starts."""

from __future__ import annotations

from datetime import date

from services.projections.boards.model import Child
from services.projections.boards.queries import SharedSnapshots


def shared(capacity: int = 3) -> SharedSnapshots:
    return SharedSnapshots(lambda: 0, lambda _generation, _day: True, capacity)


def day(n: int) -> tuple[str, date, None]:
    return ("boards_x", date(2024, 1, n), None)


CHILDREN = [Child("C1", "North", date(2015, 1, 1), {})]


def test_the_last_three_read_are_held_and_the_one_read_longest_ago_goes_first() -> None:
    s = shared()
    for n in (1, 2, 3):
        s.keep(day(n), 0, CHILDREN)
    s.keep(day(1), 1, CHILDREN)  # read again: now the newest
    s.keep(day(4), 0, CHILDREN)
    assert list(s.held) == [day(3), day(1), day(4)]
    assert s.held[day(1)][0] == 1


def test_none_is_held_once_the_answer_has_started() -> None:
    s = shared(capacity=0)  # what the API sets as the answer starts
    s.keep(day(1), 0, CHILDREN)
    assert s.held == {}

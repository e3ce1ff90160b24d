"""Boards that read part of each child's record: the children with the attributes their
definitions read (`declarations.children_with`), or a cohort's members (`snapshot(having=)`).
For any children, any day and anything that happened, each board's definition over the part
it reads must equal its definition over every child's whole record."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.projections.boards import casework, oversight
from services.projections.boards.definitions import COHORT_ATTRIBUTE, priority_cohort
from services.projections.boards.model import Board, Child, Happened
from tests.unit.test_board_totals import DAYS, children


def with_attributes(kids: Sequence[Child], attributes: tuple[str, ...]) -> list[Child]:
    """What `snapshot(attributes=...)` reads: those attributes alone, of the children with
    one of them."""
    read = []
    for c in kids:
        facts = {k: v for k, v in c.facts.items() if k in attributes}
        if facts:
            read.append(Child(c.child_id, c.locality, c.date_of_birth, facts))
    return read


def having(kids: Sequence[Child], attribute: str) -> list[Child]:
    """What `snapshot(having=...)` reads: the children with the attribute, whole."""
    return [c for c in kids if c.get(attribute)]


@st.composite
def happenings(draw: st.DrawFn, kids: list[Child]) -> list[Happened]:
    if not kids:
        return []
    found = []
    for _ in range(draw(st.integers(0, 20))):
        child = draw(st.sampled_from(kids))
        found.append(
            Happened(
                draw(st.sampled_from(["placement_move", "neet_panel", "summer_school"])),
                child.child_id,
                draw(DAYS),
                child.locality,
                outcome=draw(st.sampled_from(["training_offer", "referral", None])),
                year_group=draw(st.sampled_from([5, 10, None])),
            )
        )
    return sorted(found, key=lambda h: (h.day, h.subject_id))


Read = Callable[[list[Child], list[Happened], dict[str, int], date, date], Board]

BOARDS: dict[str, tuple[Read, Callable[[list[Child]], list[Child]]]] = {
    "workforce": (
        lambda kids, _, __, as_at, ___: casework.workforce(kids, as_at, None),
        lambda kids: with_attributes(kids, casework.WORKFORCE_ATTRIBUTES),
    ),
    "placement-stability": (
        lambda kids, moves, _, as_at, __: oversight.placement_stability(kids, moves, as_at, None),
        lambda kids: with_attributes(kids, oversight.STABILITY_ATTRIBUTES),
    ),
    "education-support": (
        lambda kids, seen, _, as_at, since: oversight.education_support(
            kids, seen, as_at, None, since
        ),
        lambda kids: with_attributes(kids, oversight.SUPPORT_ATTRIBUTES),
    ),
    "priority-cohort": (
        lambda kids, _, open_escalations, as_at, __: priority_cohort(
            kids, open_escalations, as_at, None
        ),
        lambda kids: having(kids, COHORT_ATTRIBUTE),
    ),
}


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), kids=children(), as_at=DAYS, months=st.integers(0, 14))
def test_a_board_over_the_part_of_the_record_it_reads_is_its_board_over_every_child(
    data: Any, kids: list[Child], as_at: date, months: int
) -> None:
    seen = data.draw(happenings(kids))
    open_escalations = {c.child_id: i % 3 for i, c in enumerate(kids)}
    since = as_at - timedelta(days=30 * months)
    for name, (board, read) in BOARDS.items():
        whole = board(kids, seen, open_escalations, as_at, since)
        assert board(read(kids), seen, open_escalations, as_at, since) == whole, name

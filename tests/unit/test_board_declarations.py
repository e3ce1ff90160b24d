"""Each board is declared once, and what is derived from the declarations agrees with them."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.projections.boards import totals
from services.projections.boards.answering import compute
from services.projections.boards.casework import workforce, workforce_counts, workforce_from
from services.projections.boards.declarations import (
    BOARD_DECLARATIONS,
    BOARDS,
    DOCS,
    HEADLINES,
    PERSON_LEVEL,
    RISK_KINDS,
    BoardDeclaration,
    Split,
    Tallied,
    children_and_occurrences_of,
    children_as_at,
    children_with,
)
from services.projections.boards.definitions import risk, risk_dip_samples, risk_ratings


class EmptyReadModel:
    """A connection to a read model with no rows: enough to run every board's reads."""

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        return []


@pytest.mark.parametrize("declared", BOARD_DECLARATIONS, ids=lambda b: b.name)
async def test_a_board_answers_with_its_declared_name_title_and_definition_link(
    declared: BoardDeclaration,
) -> None:
    board = await compute(EmptyReadModel(), declared.name, date(2024, 6, 30), None)
    assert (board.board, board.title) == (declared.name, declared.title)
    assert all(f.definition == declared.definition for f in board.figures)
    # What the index leads with (attendance has no figures before the first attendance day).
    assert not board.figures or HEADLINES[declared.name] in {f.key for f in board.figures}


def test_the_lists_the_api_and_the_totals_use_are_derived_from_the_declarations() -> None:
    assert list(BOARDS) == [b.name for b in BOARD_DECLARATIONS]
    assert sorted(PERSON_LEVEL) == ["priority-cohort"]
    kept_whole = {"care-leavers", "timeliness", "children-in-care", "visits", "workforce"}
    in_two_parts = {"risk", "pre-proceedings", "housing"}
    assert set(totals.TOTALLED) == kept_whole | in_two_parts
    assert {b.name for b in BOARD_DECLARATIONS if b.split} == in_two_parts


def test_only_a_board_of_children_as_at_the_day_can_be_kept_as_totals() -> None:
    BoardDeclaration("x", "X", risk, children_as_at, kept_as_totals=True)
    BoardDeclaration("x", "X", risk, children_with(("rag",)), kept_as_totals=True)
    reads = children_and_occurrences_of(RISK_KINDS)
    with pytest.raises(ValueError, match="reads only children_as_at"):
        BoardDeclaration("x", "X", risk, reads, kept_as_totals=True)
    with pytest.raises(ValueError, match="whole or in two parts"):
        BoardDeclaration(
            "x",
            "X",
            risk,
            children_as_at,
            kept_as_totals=True,
            split=Split(risk_ratings, RISK_KINDS, risk_dip_samples),
        )
    with pytest.raises(ValueError, match="tallied is kept as totals"):
        BoardDeclaration(
            "x", "X", workforce, children_as_at, tallied=Tallied(workforce_counts, workforce_from)
        )


@pytest.mark.parametrize(
    "declared", [b for b in BOARD_DECLARATIONS if b.split], ids=lambda b: b.name
)
def test_the_counted_part_of_a_board_in_two_parts_is_its_board(
    declared: BoardDeclaration,
) -> None:
    """Its kept totals are assembled on the counted part's empty board: the same board."""
    assert declared.split is not None
    empty = declared.split.counted([], date(2024, 6, 30), "Exeter")
    assert (empty.board, empty.title, empty.locality) == (declared.name, declared.title, "Exeter")
    assert empty.figures and all(f.period is None for f in empty.figures)


def test_every_board_has_its_section_in_the_definitions() -> None:
    """Each figure links to `docs/boards.md#<board>`: the section must be there."""
    docs = (Path(__file__).parents[2] / DOCS).read_text()
    missing = [b.name for b in BOARD_DECLARATIONS if f'<a id="{b.name}"></a>' not in docs]
    assert missing == []

"""What a board answers with, and the inputs the board functions take. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel

from shared.calendar import age_on


@dataclass(frozen=True)
class Child:
    """A child's record as at a date: locality, date of birth, and each attribute that held."""

    child_id: str
    locality: str
    date_of_birth: date
    facts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # `get` is the facts' own: the boards ask it of every child for every figure, and a
        # method of ours around it cost a sixth of working out a board (a Python frame each).
        object.__setattr__(self, "get", self.facts.get)

    def age_on(self, day: date) -> int:
        return age_on(self.date_of_birth, day)

    def get(self, attribute: str) -> str | None:  # replaced by the facts' own in __post_init__
        return self.facts.get(attribute)

    def date_of(self, attribute: str) -> date | None:
        value = self.facts.get(attribute)
        return date.fromisoformat(value) if value else None


class Local:
    """A record of one locality (None: of the whole county), as the quality boards read them:
    the partnership view gives each locality's board the records of that locality."""

    locality: str | None


@dataclass(frozen=True)
class Happened:
    """An occurrence: `kind` on `day` for `subject_id`, with its locality when known (for a
    triage discussion, where it was held) and the details of its kind (`facts.Occurrence`)."""

    kind: str
    subject_id: str
    day: date
    locality: str | None
    source: str | None = None
    breach: str | None = None
    accommodation: str | None = None
    age: int | None = None
    school_urn: str | None = None
    sessions_attended: int | None = None
    sessions_missed: int | None = None
    rating: str | None = None
    moderated_to: str | None = None
    agreed: bool | None = None
    reason: str | None = None
    child_id: str | None = None
    outcome: str | None = None
    within_timescale: bool | None = None
    duration: int | None = None
    factors: str | None = None
    stage: str | None = None
    missing_kind: str | None = None
    started_on: date | None = None
    ended_on: date | None = None
    accepted: bool | None = None
    tenure: str | None = None
    planned: bool | None = None
    year_group: int | None = None


class Figure(BaseModel):
    key: str
    label: str
    count: int | None
    denominator: int | None = None
    percentage: float | None = None
    period: str | None = None
    suppressed: bool = False
    definition: str = ""
    # A measure of the improvement plan: its target, which way is better, and whether the
    # figure meets it (hidden with the figure when suppressed).
    target: float | None = None
    direction: str | None = None
    on_target: bool | None = None

    def hidden(self) -> Figure:
        """The figure suppressed: every number it gives, and what they would tell, hidden."""
        return self.model_copy(
            update={
                "count": None,
                "denominator": None,
                "percentage": None,
                "on_target": None,
                "suppressed": True,
            }
        )


class Board(BaseModel):
    board: str
    title: str
    as_at: date
    locality: str | None
    view: str = "council"
    figures: list[Figure]
    rows: list[dict[str, Any]] | None = None


def figure(
    key: str,
    label: str,
    count: int,
    denominator: int | None = None,
    period: str | None = None,
    definition: str = "",
) -> Figure:
    percentage = round(100 * count / denominator, 2) if denominator else None
    return Figure(
        key=key,
        label=label,
        count=count,
        denominator=denominator,
        percentage=percentage,
        period=period,
        definition=definition,
    )


def change(key: str, label: str, count: int, before: int, period: str, definition: str) -> Figure:
    """A count against the same period a year before: `percentage` is the change."""
    pct = round(100 * (count - before) / before, 2) if before else None
    return Figure(
        key=key,
        label=label,
        count=count,
        denominator=before,
        percentage=pct,
        period=period,
        definition=definition,
    )


# Figures whose key starts so name a member of the council's workforce (a worker's caseload):
# in the council view only, never in the partnership view.
COUNCIL_ONLY = "worker."


def followed_by(board: Board, figures: list[Figure]) -> Board:
    """The board with these figures after its own: a board in two parts (`declarations.Split`)
    as one."""
    return board.model_copy(update={"figures": [*board.figures, *figures]})


def shared_only(board: Board) -> Board:
    """The board without the figures the council view alone shows (`COUNCIL_ONLY`)."""
    figures = [f for f in board.figures if not f.key.startswith(COUNCIL_ONLY)]
    if len(figures) == len(board.figures):
        return board
    return board.model_copy(update={"figures": figures})


def suppress(board: Board, threshold: int) -> Board:
    """Primary suppression of one board: no person-level rows, and any count (or denominator)
    from 1 to threshold-1 hidden with the percentage it would give. The partnership view the
    API serves adds what keeps them hidden (`disclosure.py`): this alone can be undone from
    totals, other localities and other days."""

    def hide(f: Figure) -> Figure:
        small = any(v is not None and 0 < v < threshold for v in (f.count, f.denominator))
        return f.hidden() if small else f

    return board.model_copy(
        update={
            "figures": [hide(f) for f in shared_only(board).figures],
            "rows": None,
            "view": "partnership",
        }
    )

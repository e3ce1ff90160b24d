"""Quality assurance's records as the boards read them (from sql/020_assurance.sql). No I/O.

Each is a `Local` record (its locality, None for the county's): the partnership view gives
each locality's board its own. A record holds every day it has, later ones included: a board
as at D counts only what had happened by D (`open_on`, `moderated_by`...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from services.projections.boards.model import Local


@dataclass(frozen=True)
class Evaluation(Local):
    evaluation_id: str
    evaluated_on: date
    plan_type: str
    grade: str
    locality: str | None
    strands: tuple[tuple[str, str], ...] = ()
    moderated_on: date | None = None
    agreed: bool | None = None

    def moderated_by(self, day: date) -> bool:
        return self.moderated_on is not None and self.moderated_on <= day


@dataclass(frozen=True)
class Action(Local):
    """An action of a record (`of`: an evaluation, an audit, an incident, the plan)."""

    record_id: str
    action_id: str
    of: str
    agreed_on: date
    due_on: date
    locality: str | None
    completed_on: date | None = None
    agency: str | None = None

    def open_on(self, day: date) -> bool:
        """Agreed by the day and not completed by it."""
        return self.agreed_on <= day and (self.completed_on is None or self.completed_on > day)

    def overdue_on(self, day: date) -> bool:
        """Open on the day, and due before it."""
        return self.open_on(day) and self.due_on < day


@dataclass(frozen=True)
class Question:
    survey_id: str
    question_id: str
    text: str


@dataclass(frozen=True)
class Answer(Local):
    """One question's answer in one response."""

    survey_id: str
    response_id: str
    question_id: str
    respondent: str
    responded_on: date
    answer: str
    locality: str | None
    service: str | None = None


@dataclass(frozen=True)
class Period:
    """A period of days, both ends included."""

    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @property
    def name(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


@dataclass(frozen=True)
class Incident(Local):
    incident_id: str
    aware_on: date
    notified_on: date
    locality: str | None
    reviewed_on: date | None = None
    decision: str | None = None
    commissioned_on: date | None = None
    published_on: date | None = None
    learning: tuple[date, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Measure:
    """A measure of the improvement plan as at a day: the latest target set by then."""

    measure_id: str
    priority: str
    board: str
    figure: str
    use: str
    target: float
    direction: str
    set_on: date

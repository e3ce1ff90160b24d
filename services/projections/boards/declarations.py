"""The boards, each declared once: its name (its URL and its section of docs/boards.md), its
title, its figures (the pure definition in `definitions.py`), what it reads from the read model
as at the day to give them, and whether it is kept as totals. The board list the API serves,
the dispatch of `answering.compute` and the totalled boards of `totals.py` all come from here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date

import asyncpg

from contracts.quality.codes import Direction
from services.projections.boards import casework, definitions, oversight
from services.projections.boards.assurance import figures as assurance
from services.projections.boards.assurance import queries as recorded
from services.projections.boards.assurance.records import Action, Measure, Period
from services.projections.boards.model import Board, Child, Figure, Happened
from services.projections.boards.queries import happened, snapshot
from shared.calendar import add_months, month_end, months_between

DOCS = "docs/boards.md"


@dataclass(frozen=True)
class Asked:
    """What a board is asked for: the day, the locality, and the start of the period that
    counts over time and trends cover (`dates`: the attendance board's days, if chosen;
    `compare`: the period the feedback board compares with, if chosen)."""

    as_at: date
    locality: str | None
    since: date
    dates: list[date] | None = None
    compare: Period | None = None


Figures = Callable[..., Board]
Reads = Callable[[asyncpg.Connection, Figures, Asked], Awaitable[Board]]


@dataclass(frozen=True)
class Split:
    """A board in two parts: `counted`, the figures that count children one by one as at the
    day (kept as totals, as a board counting nothing else is), followed by `happened`, the
    figures of what happened of `kinds` in the period (read when asked: a few rows of
    occurrences, not a snapshot of every child). The board's definition is the two together
    (`model.followed_by`), and the board reads `children_and_occurrences_of(kinds)`."""

    counted: Callable[[Sequence[Child], date, str | None], Board]
    kinds: tuple[str, ...]
    happened: Callable[[Sequence[Happened], date, date], list[Figure]]


@dataclass(frozen=True)
class Tallied:
    """A board kept as totals whose figures are worked out from sums over children but are not
    all such sums themselves (the workforce board: its workers and their caseload bands count
    workers, from each worker's caseload, which is a sum over children). `counts` gives the
    sums, kept as totals as a board counting children is; `board` the board from them. The
    board's definition is the two in turn."""

    counts: Callable[[Sequence[Child], date, str | None], Board]
    board: Callable[[Board], Board]


@dataclass(frozen=True)
class BoardDeclaration:
    name: str
    title: str
    figures: Figures
    reads: Reads
    kept_as_totals: bool = False
    person_level: bool = False
    headline: str = ""  # the figure the dashboard leads with (default: the first)
    reads_boards: bool = False  # its figures are other boards' (`plan_as_at`, `readings_of`)
    # Which way the headline should move (the dashboard's index says whether it does); None
    # where neither way is better in itself (a count of demand, such as referrals).
    better: Direction | None = None
    split: Split | None = None  # its counted part kept as totals, the rest read when asked
    tallied: Tallied | None = None  # kept as totals of the sums its figures are worked out from

    def __post_init__(self) -> None:
        # Totals are sums of what each child adds: a board reading anything else (occurrences,
        # other days) could not be kept that way.
        if self.kept_as_totals and not (
            self.reads is children_as_at or isinstance(self.reads, ChildrenWith)
        ):
            raise ValueError(f"{self.name}: a board kept as totals reads only children_as_at")
        if self.kept_as_totals and self.split is not None:
            raise ValueError(f"{self.name}: a board is kept whole or in two parts, not both")
        if self.tallied is not None and not self.kept_as_totals:
            raise ValueError(f"{self.name}: a board tallied is kept as totals")

    @property
    def definition(self) -> str:
        return f"{DOCS}#{self.name}"


# -- what each board reads, handed to its figures -------------------------------------------


async def children_as_at(conn: asyncpg.Connection, figures: Figures, asked: Asked) -> Board:
    """Every child's record as at the day, and nothing else: what a board kept as totals may
    read, since its figures must then be a sum of what each child adds."""
    return figures(await snapshot(conn, asked.as_at, asked.locality), asked.as_at, asked.locality)


async def cohort_and_open_escalations(
    conn: asyncpg.Connection, figures: Figures, asked: Asked
) -> Board:
    """The children in the cohort as at the day (their whole records), and the escalations
    still open then, counted by child."""
    as_at, locality = asked.as_at, asked.locality
    children = await snapshot(conn, as_at, locality, having=definitions.COHORT_ATTRIBUTE)
    raised = await happened(conn, ["escalation_raised"], date.min, as_at, locality)
    resolved = {
        h.subject_id
        for h in await happened(conn, ["escalation_resolved"], date.min, as_at, locality)
    }
    open_by_child = Counter(
        h.child_id for h in raised if h.subject_id not in resolved and h.child_id
    )
    return figures(children, dict(open_by_child), as_at, locality)


async def attendance_days(conn: asyncpg.Connection, figures: Figures, asked: Asked) -> Board:
    """The days asked for, else the last ten with attendance on or before the day."""
    dates = asked.dates
    if not dates:
        rows = await conn.fetch(
            "SELECT DISTINCT day FROM occurrences WHERE kind = 'attendance'"
            " AND day <= $1 ORDER BY day DESC LIMIT 10",
            asked.as_at,
        )
        dates = sorted(r["day"] for r in rows)
    days = []
    for day in dates:
        marks = await happened(conn, ["attendance"], day, day, asked.locality)
        days.append((day, await snapshot(conn, day, asked.locality), marks))
    return figures(days, asked.as_at, asked.locality)


async def triage_discussions(conn: asyncpg.Connection, figures: Figures, asked: Asked) -> Board:
    """From a year before the period: each month is compared with the same month then."""
    since = asked.since
    discussions = await happened(
        conn, ["triage"], since.replace(year=since.year - 1), asked.as_at, asked.locality
    )
    return figures(discussions, asked.as_at, asked.locality, since)


async def escalations_to_date(conn: asyncpg.Connection, figures: Figures, asked: Asked) -> Board:
    as_at, locality = asked.as_at, asked.locality
    return figures(
        await happened(conn, ["escalation_raised"], date.min, as_at, locality),
        await happened(conn, ["escalation_resolved"], date.min, as_at, locality),
        as_at,
        locality,
        asked.since,
    )


async def ewo_escalations_and_month_ends(
    conn: asyncpg.Connection, figures: Figures, asked: Asked
) -> Board:
    """The children rated as at each month's last day (or the day asked, for its own month):
    the board counts by the rating alone, so only the ratings are read."""
    as_at, locality = asked.as_at, asked.locality
    month_ends: list[tuple[date, list[Child]]] = []
    for month in months_between(asked.since, as_at):
        end = min(month_end(month), as_at)
        month_ends.append((end, await snapshot(conn, end, locality, attributes=["rag"])))
    return figures(
        await happened(conn, ["ewo"], asked.since, as_at, locality),
        month_ends,
        as_at,
        locality,
        asked.since,
    )


def occurrences_of(kinds: tuple[str, ...], months_before: int = 0, ever: bool = False) -> Reads:
    """What happened of these kinds up to the day: from the start of the period (or
    `months_before` it, or `ever`)."""

    async def reads(conn: asyncpg.Connection, figures: Figures, asked: Asked) -> Board:
        since = date.min if ever else add_months(asked.since, -months_before)
        return figures(
            await happened(conn, list(kinds), since, asked.as_at, asked.locality),
            asked.as_at,
            asked.locality,
            asked.since,
        )

    return reads


def children_with(attributes: tuple[str, ...]) -> Reads:
    """The children that had one of these attributes as at the day, with those alone: for a
    board whose definition reads nothing else of a child, and counts no child without one
    (a property test holds each such board to its definition over every child)."""
    return ChildrenWith(attributes)


@dataclass(frozen=True)
class ChildrenWith:
    """`children_with`'s read: children as at the day, as `children_as_at`'s but fewer, so a
    board reading it may be kept as totals too."""

    attributes: tuple[str, ...]

    async def __call__(self, conn: asyncpg.Connection, figures: Figures, asked: Asked) -> Board:
        return figures(
            await snapshot(conn, asked.as_at, asked.locality, attributes=self.attributes),
            asked.as_at,
            asked.locality,
        )


def children_and_occurrences_of(
    kinds: tuple[str, ...], attributes: tuple[str, ...] | None = None
) -> Reads:
    """Every child as at the day (or those with one of `attributes`, with those alone, as
    `children_with` reads them), and what happened of these kinds in the period."""

    async def reads(conn: asyncpg.Connection, figures: Figures, asked: Asked) -> Board:
        as_at, locality = asked.as_at, asked.locality
        return figures(
            await snapshot(conn, as_at, locality, attributes=attributes),
            await happened(conn, list(kinds), asked.since, as_at, locality),
            as_at,
            locality,
            asked.since,
        )

    return reads


async def children_and_moves_in_year(
    conn: asyncpg.Connection, figures: Figures, asked: Asked
) -> Board:
    """The children in care as at the day, and the placement moves of the 12 months to it."""
    as_at, locality = asked.as_at, asked.locality
    return figures(
        await snapshot(conn, as_at, locality, attributes=oversight.STABILITY_ATTRIBUTES),
        await happened(
            conn,
            ["placement_move"],
            add_months(as_at, -oversight.STABILITY_MONTHS),
            as_at,
            locality,
        ),
        as_at,
        locality,
    )


async def evaluations_and_actions(
    conn: asyncpg.Connection, figures: Figures, asked: Asked
) -> Board:
    """The practice evaluations of the period, and their actions agreed by the day."""
    as_at, locality = asked.as_at, asked.locality
    return figures(
        await recorded.evaluations(conn, asked.since, as_at, locality),
        await recorded.actions(conn, "practice_evaluation", as_at, locality),
        as_at,
        locality,
        asked.since,
    )


async def answers_of_two_periods(conn: asyncpg.Connection, figures: Figures, asked: Asked) -> Board:
    """The answers of the period and of the one it is compared with (asked for, else as many
    whole months just before; in whole months, to the day asked at the latest), and the
    questions of the surveys running in either that had opened by the day."""
    as_at, since = asked.as_at, asked.since
    asked_for = asked.compare or assurance.comparison_before(since, as_at)
    compare = assurance.whole_months(asked_for.start, asked_for.end, as_at)
    start = min(compare.start, since)
    return figures(
        await recorded.answers(conn, start, as_at, asked.locality),
        await recorded.questions(conn, start, as_at),
        compare,
        as_at,
        asked.locality,
        since,
    )


async def incidents_and_learning_actions(
    conn: asyncpg.Connection, figures: Figures, asked: Asked
) -> Board:
    as_at, locality = asked.as_at, asked.locality
    return figures(
        await recorded.incidents(conn, as_at, locality),
        await recorded.actions(conn, "serious_incident", as_at, locality),
        as_at,
        locality,
        asked.since,
    )


@dataclass(frozen=True)
class Plan:
    """The improvement plan as at a day: its measures (each with the latest target set by
    then) and its actions (the county's)."""

    measures: list[Measure]
    actions: list[Action]

    def board(
        self, figures: Figures, readings: dict[tuple[str, str], Figure | None], asked: Asked
    ) -> Board:
        return figures(self.measures, readings, self.actions, asked.as_at, asked.locality)


async def plan_as_at(conn: asyncpg.Connection, as_at: date) -> Plan:
    return Plan(
        await recorded.measures(conn, as_at),
        await recorded.actions(conn, "improvement_plan", as_at, None),
    )


async def readings_of(
    measures: list[Measure], read_board: Callable[[str], Awaitable[Board]]
) -> dict[tuple[str, str], Figure | None]:
    """Each measure's figure, from its board as `read_board` reads it: the board's last
    figure of that key (over its default period where it has one). Each board is read once;
    an unknown board, or one of measures itself, reads nothing."""
    boards: dict[str, Board] = {}
    readings: dict[tuple[str, str], Figure | None] = {}
    for m in measures:
        declared = DECLARED.get(m.board)
        if declared is None or declared.reads_boards:
            continue
        if m.board not in boards:
            boards[m.board] = await read_board(m.board)
        found = [f for f in boards[m.board].figures if f.key == m.figure]
        readings[(m.board, m.figure)] = found[-1] if found else None
    return readings


async def measures_read_from_the_boards(
    conn: asyncpg.Connection, figures: Figures, asked: Asked
) -> Board:
    """Each measure as at the day, with its figure read from its board as at the day and for
    the locality asked, from the same read model on the same connection (the council view;
    the partnership view reads the plan, lets the connection go, then reads each board in its
    partnership view: `answering.partnership_sheet`), and the plan's actions (the county's,
    whatever the locality)."""
    as_at, locality = asked.as_at, asked.locality
    plan = await plan_as_at(conn, as_at)

    async def read_board(name: str) -> Board:
        declared = DECLARED[name]
        year = add_months(as_at.replace(day=1), -11)
        return await declared.reads(conn, declared.figures, Asked(as_at, locality, year))

    return plan.board(figures, await readings_of(plan.measures, read_board), asked)


# -- the boards -----------------------------------------------------------------------------

RISK_KINDS = ("dip_sample",)
PRE_PROCEEDINGS_KINDS = ("pre_proceedings_concluded",)

BOARD_DECLARATIONS: tuple[BoardDeclaration, ...] = (
    BoardDeclaration(
        "priority-cohort",
        "Priority cohort weekly tracker",
        definitions.priority_cohort,
        cohort_and_open_escalations,
        person_level=True,
        headline="cohort",
    ),
    BoardDeclaration(
        "care-leavers",
        "Care leavers",
        definitions.care_leavers,
        children_as_at,
        kept_as_totals=True,
        headline="all.in_touch",
        better=Direction.HIGHER_IS_BETTER,
    ),
    BoardDeclaration(
        "attendance",
        "School attendance of vulnerable groups",
        definitions.attendance,
        attendance_days,
        headline="cic",
        better=Direction.HIGHER_IS_BETTER,
    ),
    BoardDeclaration(
        "risk",
        "Risk ratings and moderation",
        definitions.risk,
        children_and_occurrences_of(RISK_KINDS),
        headline="rag.red",
        better=Direction.LOWER_IS_BETTER,
        split=Split(definitions.risk_ratings, RISK_KINDS, definitions.risk_dip_samples),
    ),
    BoardDeclaration(
        "early-help-triage",
        "Early help triage",
        definitions.early_help_triage,
        triage_discussions,
        headline="families_discussed",
    ),
    BoardDeclaration(
        "timeliness",
        "Timeliness: plans and proceedings",
        definitions.timeliness,
        children_as_at,
        kept_as_totals=True,
        headline="cp_plans.9_months_or_more",
        better=Direction.LOWER_IS_BETTER,
    ),
    BoardDeclaration(
        "children-in-care",
        "Children in care",
        definitions.children_in_care,
        children_as_at,
        kept_as_totals=True,
        headline="in_care",
    ),
    BoardDeclaration(
        "iro-escalations",
        "IRO and CP chair escalations",
        definitions.iro_escalations,
        escalations_to_date,
        headline="open",
        better=Direction.LOWER_IS_BETTER,
    ),
    BoardDeclaration(
        "ewo-and-red",
        "EWO escalations and RED ratings",
        definitions.ewo_and_red,
        ewo_escalations_and_month_ends,
        headline="ewo_escalations",
    ),
    BoardDeclaration(
        "visits",
        "Visits",
        casework.visits,
        children_as_at,
        kept_as_totals=True,
        headline="within_frequency",
        better=Direction.HIGHER_IS_BETTER,
    ),
    BoardDeclaration(
        "front-door",
        "The front door",
        casework.front_door,
        occurrences_of(casework.FRONT_DOOR_KINDS, months_before=casework.RE_REFERRAL_MONTHS),
        headline="referrals",
    ),
    BoardDeclaration(
        "workforce",
        "Workforce: caseloads and allocation",
        casework.workforce,
        children_with(casework.WORKFORCE_ATTRIBUTES),
        kept_as_totals=True,
        tallied=Tallied(casework.workforce_counts, casework.workforce_from),
        headline="in_need_unallocated",
        better=Direction.LOWER_IS_BETTER,
    ),
    BoardDeclaration(
        "missing",
        "Missing children",
        casework.missing,
        occurrences_of(("missing", "return_interview")),
        headline="rhi_within_72_hours",
        better=Direction.HIGHER_IS_BETTER,
    ),
    BoardDeclaration(
        "escalation-stages",
        "IRO and CP chair escalations: stages and response times",
        oversight.escalation_stages,
        occurrences_of(oversight.ESCALATION_KINDS, ever=True),
        headline="open",
        better=Direction.LOWER_IS_BETTER,
    ),
    BoardDeclaration(
        "pre-proceedings",
        "Pre-proceedings: outcomes and durations",
        oversight.pre_proceedings,
        children_and_occurrences_of(PRE_PROCEEDINGS_KINDS),
        headline="concluded",
        split=Split(
            oversight.pre_proceedings_open,
            PRE_PROCEEDINGS_KINDS,
            oversight.pre_proceedings_concluded,
        ),
    ),
    BoardDeclaration(
        "placement-stability",
        "Placement stability",
        oversight.placement_stability,
        children_and_moves_in_year,
        headline="moves_3_or_more",
        better=Direction.LOWER_IS_BETTER,
    ),
    BoardDeclaration(
        "housing",
        "Housing: homelessness prevention and tenancies",
        oversight.housing,
        children_and_occurrences_of(oversight.HOUSING_KINDS),
        headline="homelessness_open",
        split=Split(oversight.housing_now, oversight.HOUSING_KINDS, oversight.housing_in_period),
    ),
    BoardDeclaration(
        "education-support",
        "Education support: NEET panels and summer school",
        oversight.education_support,
        children_and_occurrences_of(oversight.SUPPORT_KINDS, oversight.SUPPORT_ATTRIBUTES),
        headline="neet_reviewed",
        better=Direction.HIGHER_IS_BETTER,
    ),
    BoardDeclaration(
        assurance.PRACTICE_EVALUATIONS,
        "Practice evaluations",
        assurance.practice_evaluations,
        evaluations_and_actions,
        headline="good_or_better",
        better=Direction.HIGHER_IS_BETTER,
    ),
    BoardDeclaration(
        assurance.FEEDBACK,
        "Feedback",
        assurance.feedback,
        answers_of_two_periods,
        headline="responses",
    ),
    BoardDeclaration(
        assurance.SERIOUS_INCIDENTS,
        "Serious incidents",
        assurance.serious_incidents,
        incidents_and_learning_actions,
        headline="notified_in_5_working_days",
        better=Direction.HIGHER_IS_BETTER,
    ),
    BoardDeclaration(
        assurance.IMPROVEMENT_PLAN,
        "Improvement plan",
        assurance.improvement_plan,
        measures_read_from_the_boards,
        headline="measures_on_target",
        better=Direction.HIGHER_IS_BETTER,
        reads_boards=True,
    ),
)

DECLARED: dict[str, BoardDeclaration] = {b.name: b for b in BOARD_DECLARATIONS}
BOARDS: dict[str, str] = {b.name: b.title for b in BOARD_DECLARATIONS}  # what the API lists
PERSON_LEVEL: frozenset[str] = frozenset(b.name for b in BOARD_DECLARATIONS if b.person_level)
# The figure each board leads with (the dashboard's index and live page).
HEADLINES: dict[str, str] = {b.name: b.headline for b in BOARD_DECLARATIONS}

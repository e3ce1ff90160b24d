"""The boards of what was recorded and reported nowhere before: escalation stages and response
times, pre-proceedings outcomes and durations, placement stability, housing (homelessness
prevention and tenancies), and education support (NEET panels and summer school). Pure
functions; each defined in docs/boards.md (one section per board, linked from every figure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from contracts.accommodation.codes import HomelessnessOutcome, Tenure
from contracts.case_events.codes import PreProceedingsOutcome
from contracts.education.codes import NEETPanelAction
from contracts.escalations.codes import Stage
from services.projections.boards.casework import breakdown, over_time, window_of
from services.projections.boards.definitions import NEET
from services.projections.boards.model import (
    Board,
    Child,
    Figure,
    Happened,
    figure,
    followed_by,
)
from shared.calendar import add_months, working_days_between

DOCS = "docs/boards.md"

# -- escalation stages and response times -------------------------------------------------

ESCALATION_KINDS = (
    "escalation_raised",
    "escalation_advanced",
    "escalation_responded",
    "escalation_resolved",
)
RESPONSE_BANDS = (
    ("within_5_working_days", 0, 5),
    ("6_to_10_working_days", 6, 10),
    ("over_10_working_days", 11, 1_000_000),
)


def stage_on(advances: Sequence[Happened], day: date) -> str:
    """The stage an escalation had reached on the day: its latest advance on or before it
    (in the order they happened), else informal."""
    reached = [h.stage for h in advances if h.day <= day and h.stage]
    return reached[-1] if reached else Stage.INFORMAL.value


def response_days(raised: date, advances: Sequence[Happened], responded: date) -> int:
    """Working days from the escalation's latest step (raised, or advanced to a stage) on or
    before the response, to the response."""
    asked = max([raised, *(h.day for h in advances if h.day <= responded)])
    return working_days_between(asked, responded)


def escalation_stages(
    happenings: Sequence[Happened], as_at: date, locality: str | None, since: date
) -> Board:
    """`happenings`: every escalation's steps up to `as_at`."""
    doc = f"{DOCS}#escalation-stages"
    period = window_of(since, as_at)
    steps: dict[str, dict[str, list[Happened]]] = defaultdict(lambda: defaultdict(list))
    for h in happenings:
        if h.day <= as_at:
            steps[h.subject_id][h.kind].append(h)
    open_stages = [
        stage_on(s["escalation_advanced"], as_at)
        for s in steps.values()
        if s["escalation_raised"] and not s["escalation_resolved"]
    ]
    stages = [s.value for s in Stage]
    advanced = [h.stage for s in steps.values() for h in s["escalation_advanced"] if since <= h.day]
    figures = [figure("open", "Open escalations", len(open_stages), definition=doc)]
    figures += breakdown("open", "Open, at stage", open_stages, stages, doc)
    figures.append(figure("advanced", "Advanced to a stage", len(advanced), None, period, doc))
    figures += breakdown("advanced", "Advanced to", advanced, stages, doc, period)
    times = [
        response_days(s["escalation_raised"][0].day, s["escalation_advanced"], h.day)
        for s in steps.values()
        if s["escalation_raised"]
        for h in s["escalation_responded"]
        if since <= h.day
    ]
    figures.append(figure("responses", "Responses", len(times), None, period, doc))
    figures += [
        figure(
            f"responses.{band}",
            f"Responses {band.replace('_', ' ')}",
            sum(low <= t <= high for t in times),
            len(times),
            period,
            doc,
        )
        for band, low, high in RESPONSE_BANDS
    ]
    return Board(
        board="escalation-stages",
        title="IRO and CP chair escalations: stages and response times",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


# -- pre-proceedings ------------------------------------------------------------------------

PRE_PROCEEDINGS_WEEKS = (
    ("up_to_12", 0, 12),
    ("13_to_16", 13, 16),
    ("17_to_26", 17, 26),
    ("over_26", 27, 1_000_000),
)


def pre_proceedings(
    children: Sequence[Child],
    concluded: Sequence[Happened],
    as_at: date,
    locality: str | None,
    since: date,
) -> Board:
    return followed_by(
        pre_proceedings_open(children, as_at, locality),
        pre_proceedings_concluded(concluded, as_at, since),
    )


def pre_proceedings_open(children: Sequence[Child], as_at: date, locality: str | None) -> Board:
    """The pre-proceedings board's count of children as at the day (kept as totals)."""
    figures = [
        figure(
            "open",
            "Pre-proceedings open",
            sum(bool(c.get("pre_proceedings")) for c in children),
            definition=f"{DOCS}#pre-proceedings",
        )
    ]
    return Board(
        board="pre-proceedings",
        title="Pre-proceedings: outcomes and durations",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


def pre_proceedings_concluded(
    concluded: Sequence[Happened], as_at: date, since: date
) -> list[Figure]:
    """The pre-proceedings concluded in the period: when, how, and after how long."""
    doc = f"{DOCS}#pre-proceedings"
    period = window_of(since, as_at)
    done = [
        h for h in concluded if h.kind == "pre_proceedings_concluded" and since <= h.day <= as_at
    ]
    figures = over_time(
        "concluded", "Pre-proceedings concluded", (h.day for h in done), since, as_at, doc
    )
    figures += breakdown(
        "concluded",
        "Concluded",
        [h.outcome for h in done],
        list(PreProceedingsOutcome),
        doc,
        period,
    )
    figures += [
        figure(
            f"weeks.{band}",
            f"Concluded in {band.replace('_', ' ')} weeks",
            sum(low <= (h.duration or 0) <= high for h in done),
            len(done),
            period,
            doc,
        )
        for band, low, high in PRE_PROCEEDINGS_WEEKS
    ]
    return figures


# -- placement stability ------------------------------------------------------------------

STABILITY_MONTHS = 12
STABILITY_ATTRIBUTES = ("in_care",)  # all the board reads of a child (`children_with`)


def moves_in_year(moves: Sequence[Happened], as_at: date) -> dict[str, int]:
    """Placement moves of each child in the 12 months to the day (after the day a year
    before, up to and including the day)."""
    start = add_months(as_at, -STABILITY_MONTHS)
    counts: dict[str, int] = defaultdict(int)
    for h in moves:
        if h.kind == "placement_move" and start < h.day <= as_at:
            counts[h.subject_id] += 1
    return counts


def placement_stability(
    children: Sequence[Child], moves: Sequence[Happened], as_at: date, locality: str | None
) -> Board:
    doc = f"{DOCS}#placement-stability"
    cic = [c for c in children if c.get("in_care")]
    moved = moves_in_year(moves, as_at)
    n = len(cic)
    figures = [
        figure("in_care", "Children in care", n, definition=doc),
        figure(
            "moves",
            "Placement moves of children in care in the last 12 months",
            sum(moved.get(c.child_id, 0) for c in cic),
            definition=doc,
        ),
        figure(
            "moved",
            "Children in care who moved in the last 12 months",
            sum(moved.get(c.child_id, 0) >= 1 for c in cic),
            n,
            definition=doc,
        ),
        figure(
            "moves_3_or_more",
            "Children in care with 3 or more moves in the last 12 months",
            sum(moved.get(c.child_id, 0) >= 3 for c in cic),
            n,
            definition=doc,
        ),
    ]
    return Board(
        board="placement-stability",
        title="Placement stability",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


# -- housing ------------------------------------------------------------------------------

HOUSING_KINDS = (
    "homelessness_referral",
    "homelessness_outcome",
    "tenancy_started",
    "tenancy_ended",
)


def housing(
    children: Sequence[Child],
    happenings: Sequence[Happened],
    as_at: date,
    locality: str | None,
    since: date,
) -> Board:
    return followed_by(
        housing_now(children, as_at, locality), housing_in_period(happenings, as_at, since)
    )


def housing_now(children: Sequence[Child], as_at: date, locality: str | None) -> Board:
    """The housing board's figures that count children one by one as at the day (kept as
    totals): prevention open, and tenancies by tenure."""
    doc = f"{DOCS}#housing"
    tenancies = [c.get("tenancy") for c in children if c.get("tenancy")]
    figures = [
        figure(
            "homelessness_open",
            "Homelessness prevention open",
            sum(bool(c.get("homelessness")) for c in children),
            definition=doc,
        ),
        figure("in_tenancy", "Young people in a tenancy", len(tenancies), definition=doc),
        *breakdown("in_tenancy", "In a tenancy", tenancies, list(Tenure), doc),
    ]
    return Board(
        board="housing",
        title="Housing: homelessness prevention and tenancies",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


def housing_in_period(happenings: Sequence[Happened], as_at: date, since: date) -> list[Figure]:
    """What happened in the period: referrals and their outcomes, tenancies started and
    ended."""
    doc = f"{DOCS}#housing"
    period = window_of(since, as_at)
    of: dict[str, list[Happened]] = defaultdict(list)
    for h in happenings:
        if since <= h.day <= as_at:
            of[h.kind].append(h)
    outcomes = [h.outcome for h in of["homelessness_outcome"]]
    ended = of["tenancy_ended"]
    return [
        figure(
            "homelessness_referrals",
            "Homelessness prevention referrals",
            len(of["homelessness_referral"]),
            None,
            period,
            doc,
        ),
        figure("homelessness_outcomes", "Prevention outcomes", len(outcomes), None, period, doc),
        *breakdown(
            "homelessness_outcomes", "Outcome", outcomes, list(HomelessnessOutcome), doc, period
        ),
        figure(
            "tenancies_started", "Tenancies started", len(of["tenancy_started"]), None, period, doc
        ),
        figure("tenancies_ended", "Tenancies ended", len(ended), None, period, doc),
        figure(
            "tenancies_ended_unplanned",
            "Tenancies ended unplanned",
            sum(h.planned is False for h in ended),
            len(ended),
            period,
            doc,
        ),
    ]


# -- education support ----------------------------------------------------------------------

SUPPORT_KINDS = ("neet_panel", "summer_school")
SUPPORT_ATTRIBUTES = ("activity",)  # all the board reads of a child (`children_with`)
NEET_AGES = (16, 25)
SUMMER_SCHOOL_YEARS = (5, 10)  # preparing for Years 6 and 11


def education_support(
    children: Sequence[Child],
    happenings: Sequence[Happened],
    as_at: date,
    locality: str | None,
    since: date,
) -> Board:
    doc = f"{DOCS}#education-support"
    period = window_of(since, as_at)
    panels = [h for h in happenings if h.kind == "neet_panel" and since <= h.day <= as_at]
    sign_ups = [h for h in happenings if h.kind == "summer_school" and since <= h.day <= as_at]
    low, high = NEET_AGES
    neet = [c for c in children if c.get("activity") in NEET and low <= c.age_on(as_at) <= high]
    reviewed = {h.subject_id for h in panels}
    figures: list[Figure] = [
        figure("neet", "Young people (16 to 25) NEET", len(neet), definition=doc),
        figure(
            "neet_reviewed",
            "NEET young people reviewed at a NEET panel in the period",
            sum(c.child_id in reviewed for c in neet),
            len(neet),
            period,
            doc,
        ),
        figure("neet_panel_reviews", "NEET panel reviews", len(panels), None, period, doc),
        *breakdown(
            "neet_panel_reviews",
            "Panel action",
            [h.outcome for h in panels],
            list(NEETPanelAction),
            doc,
            period,
        ),
        figure("young_people_reviewed", "Young people reviewed", len(reviewed), None, period, doc),
        figure("summer_school", "Summer school sign-ups", len(sign_ups), None, period, doc),
        *breakdown(
            "summer_school",
            "Signed up in year",
            [str(h.year_group) for h in sign_ups],
            [str(y) for y in SUMMER_SCHOOL_YEARS],
            doc,
            period,
        ),
    ]
    return Board(
        board="education-support",
        title="Education support: NEET panels and summer school",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )

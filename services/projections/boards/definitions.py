"""The first nine boards, as pure functions of the children's records as at a date and of what
happened (the boards of the child's whole record are in `casework.py` and `oversight.py`).
Definitions (what is counted, the denominator, which events move it) are in docs/boards.md,
one section per board, linked from every figure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from services.projections.boards.cohorts import COHORTS, in_cohort, in_need
from services.projections.boards.model import (
    Board,
    Child,
    Figure,
    Happened,
    change,
    figure,
    followed_by,
)
from shared.calendar import months_between

NEET = {"G4", "G5", "G6"}
UNREGULATED = {"P2", "H5"}
DOCS = "docs/boards.md"


def _doc(board: str) -> str:
    return f"{DOCS}#{board}"


def _in_month(day: date, month: date) -> bool:
    return (day.year, day.month) == (month.year, month.month)


def _year_ago(month: date) -> date:
    return month.replace(year=month.year - 1)


# -- 1. priority cohort ---------------------------------------------------------------------


COHORT_ATTRIBUTE = "priority"  # its members: the children with it (`snapshot(having=...)`)


def priority_cohort(
    children: Sequence[Child], open_escalations: dict[str, int], as_at: date, locality: str | None
) -> Board:
    doc = _doc("priority-cohort")
    cohort = [c for c in children if c.get(COHORT_ATTRIBUTE)]
    rows: list[dict[str, Any]] = []
    suitable = recent = 0
    for c in sorted(cohort, key=lambda c: (c.locality, c.child_id)):
        accommodation = c.get("accommodation")
        last_contact = c.date_of("last_contact")
        since_contact = (as_at - last_contact).days if last_contact else None
        drift = sum(1 for k in c.facts if k.startswith("drift:"))
        suitable += bool(accommodation and accommodation[1:] == "1")
        recent += since_contact is not None and since_contact <= 7
        rows.append(
            {
                "child_id": c.child_id,
                "locality": c.locality,
                "reason": c.get("priority"),
                "age": c.age_on(as_at),
                "accommodation": accommodation or c.get("placement"),
                "accommodation_suitable": (accommodation[1:] == "1") if accommodation else None,
                "activity": c.get("activity"),
                "personal_adviser": c.get("personal_adviser"),
                "last_contact": last_contact,
                "days_since_contact": since_contact,
                "rag": c.get("rag"),
                "open_escalations": open_escalations.get(c.child_id, 0)
                + (1 if c.get("ewo_open") else 0)
                + drift,
                "plan": _plan_status(c),
            }
        )
    eet = sum(1 for c in cohort if _in_eet(c))
    n = len(cohort)
    return Board(
        board="priority-cohort",
        title="Priority cohort weekly tracker",
        as_at=as_at,
        locality=locality,
        rows=rows,
        figures=[
            figure("cohort", "Young people in the priority cohort", n, definition=doc),
            figure(
                "suitable_accommodation", "In suitable accommodation", suitable, n, definition=doc
            ),
            figure("eet", "In education, employment or training", eet, n, definition=doc),
            figure("contact_last_7_days", "In touch in the last 7 days", recent, n, definition=doc),
        ],
    )


def _plan_status(c: Child) -> str:
    if c.get("cp_plan"):
        return "child protection plan"
    if c.get("in_care"):
        return f"in care ({c.get('in_care')})"
    if c.get("care_leaver"):
        return f"care leaver ({c.get('care_leaver')})"
    if c.get("cin_plan"):
        return "child in need plan"
    return "none open"


def _in_eet(c: Child) -> bool:
    activity = c.get("activity")
    return activity is not None and activity not in NEET and activity != "0"


# -- 2. care leavers ------------------------------------------------------------------------

AGE_BANDS = (("17-18", 17, 18), ("19-21", 19, 21), ("22-25", 22, 25))


def care_leavers(children: Sequence[Child], as_at: date, locality: str | None) -> Board:
    doc = _doc("care-leavers")
    figures: list[Figure] = []
    leavers = [c for c in children if c.get("care_leaver") and 17 <= c.age_on(as_at) <= 25]
    for band, low, high in (("all", 17, 25), *AGE_BANDS):
        group = [c for c in leavers if low <= c.age_on(as_at) <= high]
        n = len(group)
        due = [c.date_of("pathway_review_due") for c in group]
        measures = {
            "in_touch": (
                "In touch (latest contact code YES)",
                sum(c.get("in_touch") == "YES" for c in group),
            ),
            "suitable_accommodation": (
                "In suitable accommodation",
                sum((c.get("accommodation") or "")[1:] == "1" for c in group),
            ),
            "eet": ("In education, employment or training", sum(_in_eet(c) for c in group)),
            "pathway_plan_in_date": (
                "Pathway plan in date",
                sum(1 for d in due if d is not None and d >= as_at),
            ),
            "pa_allocated": (
                "Personal adviser allocated",
                sum(bool(c.get("personal_adviser")) for c in group),
            ),
            "health_passport_offered": (
                "Health passport offered",
                sum(bool(c.get("passport_offered")) for c in group),
            ),
            "health_passport_accepted": (
                "Health passport taken up",
                sum(bool(c.get("passport_accepted")) for c in group),
            ),
        }
        figures.append(
            figure(f"{band}.care_leavers", f"Care leavers aged {band}", n, definition=doc)
        )
        figures += [
            figure(f"{band}.{key}", f"{label} ({band})", count, n, definition=doc)
            for key, (label, count) in measures.items()
        ]
    return Board(
        board="care-leavers", title="Care leavers", as_at=as_at, locality=locality, figures=figures
    )


# -- 3. attendance of vulnerable groups -----------------------------------------------------

ATTENDANCE_GROUPS: tuple[tuple[str, str], ...] = (
    ("cic", "Children in care, any school"),
    ("cic_own_schools", "Children in care in the council's schools"),
    ("ehcp", "Children with an EHCP"),
    ("cp_plan", "Children on a child protection plan"),
    ("cin_all", "Children in need (all: CIN plan, CP plan or in care)"),
    ("cin_allocated", "Children in need with an allocated social worker"),
    ("cin_plan", "Children in need with a plan"),
    ("rag_red", "Rated RED"),
    ("rag_amber", "Rated AMBER"),
    ("rag_green", "Rated GREEN"),
    *((f"cut.{key}", label) for key, label in COHORTS if key != "under_1"),
)


def in_group(c: Child, group: str, day: date) -> bool:
    match group:
        case "cic":
            return bool(c.get("in_care"))
        case "cic_own_schools":
            return bool(c.get("in_care")) and c.get("school") == "own"
        case "ehcp":
            return bool(c.get("ehcp"))
        case "cp_plan":
            return bool(c.get("cp_plan"))
        case "cin_all":
            return in_need(c)
        case "cin_allocated":
            return in_need(c) and bool(c.get("social_worker"))
        case "cin_plan":
            return bool(c.get("cin_plan"))
    if group.startswith("cut."):
        return in_cohort(c, group[4:], day)
    return group.startswith("rag_") and c.get("rag") == group[4:].upper()


def attendance(
    days: Iterable[tuple[date, Sequence[Child], Sequence[Happened]]],
    as_at: date,
    locality: str | None,
) -> Board:
    """For each day: children in each group that day, and how many attended at least one
    session (the seed's "attendance for one day")."""
    doc = _doc("attendance")
    figures = []
    for day, children, marks in days:
        attended = {h.subject_id for h in marks if (h.sessions_attended or 0) > 0}
        for group, label in ATTENDANCE_GROUPS:
            members = [c for c in children if in_group(c, group, day)]
            figures.append(
                figure(
                    group,
                    label,
                    sum(c.child_id in attended for c in members),
                    len(members),
                    period=day.isoformat(),
                    definition=doc,
                )
            )
    return Board(
        board="attendance",
        title="School attendance of vulnerable groups",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


# -- 4. risk ------------------------------------------------------------------------------


def risk(
    children: Sequence[Child],
    dip_samples: Sequence[Happened],
    as_at: date,
    locality: str | None,
    since: date,
) -> Board:
    return followed_by(
        risk_ratings(children, as_at, locality), risk_dip_samples(dip_samples, as_at, since)
    )


def risk_ratings(children: Sequence[Child], as_at: date, locality: str | None) -> Board:
    """The risk board's figures that count children one by one as at the day (kept as
    totals); the dip samples of the period follow them."""
    doc = _doc("risk")
    rated = [c for c in children if c.get("rag")]
    open_cases = [
        c
        for c in children
        if c.get("cin_plan") or c.get("cp_plan") or c.get("in_care") or c.get("assessment")
    ]
    figures = [
        figure(
            f"rag.{r.lower()}",
            f"Rated {r}",
            sum(c.get("rag") == r for c in rated),
            len(rated),
            definition=doc,
        )
        for r in ("RED", "AMBER", "GREEN")
    ]
    figures.append(
        figure(
            "assessment_completion",
            "Open cases with a risk rating",
            sum(bool(c.get("rag")) for c in open_cases),
            len(open_cases),
            definition=doc,
        )
    )
    figures += risk_cuts(rated, as_at, doc)
    return Board(
        board="risk",
        title="Risk ratings and moderation",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


def risk_dip_samples(dip_samples: Sequence[Happened], as_at: date, since: date) -> list[Figure]:
    """The dip samples done in the period (`since` to `as_at`), and what they found."""
    doc = _doc("risk")
    period = f"{since.isoformat()}/{as_at.isoformat()}"
    done = [h for h in dip_samples if since <= h.day <= as_at]
    figures = [
        figure("dip_samples", "Dip samples done", len(done), period=period, definition=doc),
        figure(
            "dip_sample_agreement",
            "Dip samples agreeing with the rating",
            sum(h.agreed is True for h in done),
            len(done),
            period=period,
            definition=doc,
        ),
    ]
    moderations = Counter(
        (h.rating, h.moderated_to) for h in done if h.agreed is False and h.moderated_to
    )
    for (before, after), count in sorted(moderations.items()):
        figures.append(
            figure(
                f"moderated.{before}_to_{after}",
                f"Moderated {before} to {after}",
                count,
                len(done),
                period=period,
                definition=doc,
            )
        )
    return figures


def risk_cuts(rated: Sequence[Child], as_at: date, doc: str) -> list[Figure]:
    """For each vulnerability cut: its children with a rating, and the share rated RED."""
    figures = []
    for cohort, label in COHORTS:
        group = [c for c in rated if in_cohort(c, cohort, as_at)]
        figures += [
            figure(f"cut.{cohort}.rated", f"{label}: rated", len(group), definition=doc),
            figure(
                f"cut.{cohort}.rag.red",
                f"{label}: rated RED",
                sum(c.get("rag") == "RED" for c in group),
                len(group),
                definition=doc,
            ),
        ]
    return figures


# -- 5. early-help triage -----------------------------------------------------------------


def early_help_triage(
    discussions: Sequence[Happened], as_at: date, locality: str | None, since: date
) -> Board:
    doc = _doc("early-help-triage")
    # Families discussed in the month, each family once however often it was discussed.
    per_month = Counter(
        first
        for first, _family in {
            (h.day.replace(day=1), h.subject_id) for h in discussions if h.day <= as_at
        }
    )
    figures = []
    for month in months_between(since, as_at):
        figures.append(
            change(
                "families_discussed",
                "Families discussed at triage",
                per_month[month],
                per_month[_year_ago(month)],
                period=month.strftime("%Y-%m"),
                definition=doc,
            )
        )
    return Board(
        board="early-help-triage",
        title="Early help triage",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


# -- 6. timeliness --------------------------------------------------------------------------

CP_DURATION_BANDS = (
    ("under_3_months", 0, 3),
    ("3_to_6_months", 3, 6),
    ("6_to_9_months", 6, 9),
    ("9_months_or_more", 9, 10_000),
)


def _months_open(start: date, as_at: date) -> int:
    months = (as_at.year - start.year) * 12 + as_at.month - start.month
    return months - (as_at.day < start.day)


def timeliness(children: Sequence[Child], as_at: date, locality: str | None) -> Board:
    doc = _doc("timeliness")
    plans = [c for c in children if c.get("cp_plan")]
    n = len(plans)
    figures = [figure("cp_plans_open", "Child protection plans open", n, definition=doc)]
    for key, low, high in CP_DURATION_BANDS:
        count = 0
        for c in plans:
            started = c.date_of("cp_started")
            if started is not None and low <= _months_open(started, as_at) < high:
                count += 1
        figures.append(
            figure(f"cp_plans.{key}", f"Open {key.replace('_', ' ')}", count, n, definition=doc)
        )
    figures.append(
        figure(
            "cp_plans.repeat",
            "Open plans that are repeat plans",
            sum(c.get("cp_repeat") == "1" for c in plans),
            n,
            definition=doc,
        )
    )
    figures.append(
        figure(
            "cp_reviews_overdue",
            "Open plans with the review overdue",
            sum(1 for c in plans if (d := c.date_of("cp_review_due")) and d < as_at),
            n,
            definition=doc,
        )
    )
    in_care = [c for c in children if c.get("in_care")]
    figures.append(
        figure(
            "la_reviews_overdue",
            "Children in care with the review overdue",
            sum(1 for c in in_care if (d := c.date_of("la_review_due")) and d < as_at),
            len(in_care),
            definition=doc,
        )
    )
    pre = [c.date_of("pre_proceedings") for c in children if c.get("pre_proceedings")]
    figures.append(
        figure(
            "pre_proceedings_over_12_weeks",
            "Pre-proceedings open over 12 weeks",
            sum(1 for d in pre if d and (as_at - d).days > 84),
            len(pre),
            definition=doc,
        )
    )
    issued = [c.date_of("proceedings") for c in children if c.get("proceedings")]
    figures.append(
        figure(
            "proceedings_over_26_weeks",
            "Care proceedings open over 26 weeks",
            sum(1 for d in issued if d and (as_at - d).days > 182),
            len(issued),
            definition=doc,
        )
    )
    figures += counts_by_cut(plans, "cp_plans_open", "child protection plans open", as_at, doc)
    return Board(
        board="timeliness",
        title="Timeliness: plans and proceedings",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


def counts_by_cut(
    group: Sequence[Child], key: str, what: str, as_at: date, doc: str
) -> list[Figure]:
    """The children of `group` in each vulnerability cut (`cut.<cut>.<key>`)."""
    return [
        figure(
            f"cut.{cohort}.{key}",
            f"{label}: {what}",
            sum(in_cohort(c, cohort, as_at) for c in group),
            definition=doc,
        )
        for cohort, label in COHORTS
    ]


# -- 7. children in care --------------------------------------------------------------------


def year_11_cohort(c: Child, as_at: date) -> bool:
    """In Year 11 in the academic year (1 September to 31 August) containing `as_at`."""
    start_year = as_at.year if as_at.month >= 9 else as_at.year - 1
    return date(start_year - 16, 9, 1) <= c.date_of_birth <= date(start_year - 15, 8, 31)


def children_in_care(children: Sequence[Child], as_at: date, locality: str | None) -> Board:
    doc = _doc("children-in-care")
    cic = [c for c in children if c.get("in_care")]
    n = len(cic)
    figures = [
        figure("in_care", "Children in care", n, definition=doc),
        figure(
            "permanence_plan",
            "With a permanence plan recorded",
            sum(bool(c.get("permanence_plan")) for c in cic),
            n,
            definition=doc,
        ),
    ]
    for plan, count in sorted(
        Counter(c.get("permanence_plan") for c in cic if c.get("permanence_plan")).items()
    ):
        figures.append(
            figure(f"permanence_plan.{plan}", f"Permanence plan: {plan}", count, n, definition=doc)
        )
    for code, count in sorted(
        Counter(c.get("placement") for c in cic if c.get("placement")).items()
    ):
        figures.append(
            figure(f"placement.{code}", f"Placement type {code}", count, n, definition=doc)
        )
    figures.append(
        figure(
            "under_16_unregulated",
            "Under-16s in unregulated placements (must be 0)",
            sum(1 for c in cic if c.get("placement") in UNREGULATED and c.age_on(as_at) < 16),
            n,
            definition=doc,
        )
    )
    year_11 = [c for c in cic if year_11_cohort(c, as_at)]
    figures.append(
        figure(
            "year_11_confirmed_destination",
            "Year 11 in care with a confirmed destination",
            sum(bool(c.get("y11_confirmed")) for c in year_11),
            len(year_11),
            definition=doc,
        )
    )
    figures += counts_by_cut(cic, "in_care", "in care", as_at, doc)
    return Board(
        board="children-in-care",
        title="Children in care",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


# -- 8. IRO escalations ---------------------------------------------------------------------


def iro_escalations(
    raised: Sequence[Happened],
    resolved: Sequence[Happened],
    as_at: date,
    locality: str | None,
    since: date,
) -> Board:
    doc = _doc("iro-escalations")
    resolved_by = {h.subject_id: h.day for h in resolved if h.day <= as_at}
    up_to = [h for h in raised if h.day <= as_at]
    in_period = [h for h in up_to if h.day >= since]
    period = f"{since.isoformat()}/{as_at.isoformat()}"
    figures = [
        figure("raised", "Escalations raised", len(in_period), period=period, definition=doc),
        figure("open", "Open", sum(h.subject_id not in resolved_by for h in up_to), definition=doc),
        figure(
            "resolved",
            "Raised in the period and resolved",
            sum(h.subject_id in resolved_by for h in in_period),
            len(in_period),
            period=period,
            definition=doc,
        ),
    ]
    for reason in sorted({h.reason for h in in_period if h.reason}):
        of_reason = [h for h in in_period if h.reason == reason]
        figures.append(
            figure(
                f"raised.{reason}",
                f"Raised: {reason}",
                len(of_reason),
                period=period,
                definition=doc,
            )
        )
        figures.append(
            figure(
                f"resolved.{reason}",
                f"Resolved: {reason}",
                sum(h.subject_id in resolved_by for h in of_reason),
                len(of_reason),
                period=period,
                definition=doc,
            )
        )
    for month in months_between(since, as_at):
        figures.append(
            figure(
                "raised_in_month",
                "Raised in the month",
                sum(_in_month(h.day, month) for h in up_to),
                period=month.strftime("%Y-%m"),
                definition=doc,
            )
        )
    return Board(
        board="iro-escalations",
        title="IRO and CP chair escalations",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


# -- 9. EWO escalations and RED ratings over time -----------------------------------------


def ewo_and_red(
    ewo: Sequence[Happened],
    month_ends: Iterable[tuple[date, Sequence[Child]]],
    as_at: date,
    locality: str | None,
    since: date,
) -> Board:
    doc = _doc("ewo-and-red")
    period = f"{since.isoformat()}/{as_at.isoformat()}"
    in_period = [h for h in ewo if since <= h.day <= as_at]
    figures = [
        figure(
            "ewo_escalations",
            "EWO attendance escalations raised",
            len(in_period),
            period=period,
            definition=doc,
        )
    ]
    for month in months_between(since, as_at):
        figures.append(
            figure(
                "ewo_in_month",
                "EWO escalations raised in the month",
                sum(_in_month(h.day, month) for h in in_period),
                period=month.strftime("%Y-%m"),
                definition=doc,
            )
        )
    for day, children in month_ends:
        rated = [c for c in children if c.get("rag")]
        figures.append(
            figure(
                "rated_red",
                "Share of rated children rated RED",
                sum(c.get("rag") == "RED" for c in rated),
                len(rated),
                period=day.isoformat(),
                definition=doc,
            )
        )
    return Board(
        board="ewo-and-red",
        title="EWO escalations and RED ratings",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )

"""The boards of the casework the child's whole record holds: visits, the workforce, the front
door and missing children. Pure functions of the children's records as at a day and of what
happened; each defined in docs/boards.md (one section per board, linked from every figure)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.case_events.codes import (
    AssessmentFactor,
    ContactOutcome,
    ReferralOutcome,
    Section47Outcome,
)
from contracts.escalations.codes import RAG, VISITING_FREQUENCY_DAYS
from services.projections.boards.cohorts import COHORTS, in_cohort, in_need
from services.projections.boards.model import (
    COUNCIL_ONLY,
    Board,
    Child,
    Figure,
    Happened,
    figure,
)
from shared.calendar import add_months, add_working_days, month_end, months_between

DOCS = "docs/boards.md"


def window_of(since: date, as_at: date) -> str:
    """The `period` of a count over the period asked for."""
    return f"{since.isoformat()}/{as_at.isoformat()}"


def over_time(
    key: str,
    label: str,
    days: Iterable[date],
    since: date,
    as_at: date,
    doc: str,
    of: Iterable[date] | None = None,
) -> list[Figure]:
    """A count over the period (`since` to `as_at`) and in each of its months (`period`
    YYYY-MM), of the days given; `of`: the days of what it is a share of, in the same period."""
    counted, base = list(days), None if of is None else list(of)
    figures = []
    spans = [(window_of(since, as_at), since, as_at)]
    for month in months_between(since, as_at):
        spans.append((month.strftime("%Y-%m"), max(month, since), min(month_end(month), as_at)))
    for period, first, last in spans:
        figures.append(
            figure(
                key,
                label,
                sum(first <= d <= last for d in counted),
                None if base is None else sum(first <= d <= last for d in base),
                period=period,
                definition=doc,
            )
        )
    return figures


def breakdown(
    prefix: str,
    label: str,
    values: Sequence[str | None],
    codes: Iterable[str],
    doc: str,
    period: str | None = None,
) -> list[Figure]:
    """How many of `values` are each code (`<prefix>.<code>`), each a share of them all."""
    counts = Counter(values)
    return [
        figure(
            f"{prefix}.{code}",
            f"{label}: {code}",
            counts[code],
            len(values),
            period=period,
            definition=doc,
        )
        for code in codes
    ]


# -- visits -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timescale:
    """How often a child on a plan of this type is seen on a statutory visit: within
    `working_days` (or `days`) of the last visit the child was seen on, or of the plan's start
    (the attribute `since` holds it) before the first."""

    plan_type: str
    label: str
    on_plan: Callable[[Child, date], bool]
    since: str
    working_days: int = 0
    days: int = 0

    def due(self, last: date) -> date:
        if self.working_days:
            return add_working_days(last, self.working_days)
        return last + timedelta(days=self.days)

    def in_time(self, c: Child, as_at: date) -> bool:
        starts = [d for d in (c.date_of(f"seen:{self.plan_type}"), c.date_of(self.since)) if d]
        return bool(starts) and as_at <= self.due(max(starts))


STATUTORY: tuple[Timescale, ...] = (
    Timescale(
        "CP",
        "Children on a child protection plan",
        lambda c, _: bool(c.get("cp_plan")),
        "cp_started",
        working_days=10,
    ),
    Timescale(
        "CIN",
        "Children on a child in need plan",
        lambda c, _: bool(c.get("cin_plan")),
        "cin_started",
        working_days=20,
    ),
    Timescale(
        "CLA", "Children in care", lambda c, _: bool(c.get("in_care")), "care_started", days=42
    ),
    Timescale(
        "CL",
        "Care leavers (to 25)",
        lambda c, day: bool(c.get("care_leaver")) and c.age_on(day) <= 25,
        "care_leaver_since",
        days=56,
    ),
)
NOT_SEEN_DAYS = (7, 14, 28, 42)


def visit_every(c: Child) -> int:
    """The visiting frequency the child's rating sets (the rating's event says it; the
    national default for a rating recorded before it did)."""
    every = c.get("visit_every")
    return int(every) if every else VISITING_FREQUENCY_DAYS[RAG(c.get("rag") or RAG.GREEN)]


def seen_within_frequency(c: Child, as_at: date) -> bool:
    """Seen within the rating's frequency: the last visit the child was seen on, or the day
    the rating took its value (the first visit under it is due a frequency later), is no more
    than the frequency before the day."""
    starts = [d for d in (c.date_of("last_seen"), c.date_of("rating_since")) if d]
    return bool(starts) and (as_at - max(starts)).days <= visit_every(c)


def not_seen_for(c: Child, as_at: date, days: int) -> bool:
    last = c.date_of("last_seen")
    return last is None or (as_at - last).days > days


def visits(children: Sequence[Child], as_at: date, locality: str | None) -> Board:
    doc = f"{DOCS}#visits"
    rated = [c for c in children if c.get("rag")]
    by_rating = {r.value.lower(): [c for c in rated if c.get("rag") == r.value] for r in RAG}
    figures = [figure("rated", "Children with a RAG rating", len(rated), definition=doc)]
    figures += [
        figure(f"rated.{r}", f"Rated {r.upper()}", len(group), definition=doc)
        for r, group in by_rating.items()
    ]
    figures.append(_within_frequency("within_frequency", "", rated, as_at, doc))
    figures += [
        _within_frequency(f"within_frequency.{r}", f" ({r.upper()})", group, as_at, doc)
        for r, group in by_rating.items()
    ]
    for t in STATUTORY:
        on_plan = [c for c in children if t.on_plan(c, as_at)]
        figures += [
            figure(f"statutory.{t.plan_type}", t.label, len(on_plan), definition=doc),
            figure(
                f"statutory.{t.plan_type}.in_timescale",
                f"{t.label}: statutory visits within timescale",
                sum(t.in_time(c, as_at) for c in on_plan),
                len(on_plan),
                definition=doc,
            ),
        ]
    open_cases = [c for c in children if in_need(c)]
    figures.append(
        figure(
            "open_cases",
            "Children in need (CIN plan, CP plan or in care)",
            len(open_cases),
            definition=doc,
        )
    )
    figures += [
        figure(
            f"not_seen.{n}",
            f"Children in need not seen in the last {n} days",
            sum(not_seen_for(c, as_at, n) for c in open_cases),
            len(open_cases),
            definition=doc,
        )
        for n in NOT_SEEN_DAYS
    ]
    for cohort, label in COHORTS:
        group = [c for c in rated if in_cohort(c, cohort, as_at)]
        figures += [
            figure(f"cut.{cohort}.rated", f"{label}: rated", len(group), definition=doc),
            _within_frequency(f"cut.{cohort}.within_frequency", f" ({label})", group, as_at, doc),
        ]
    return Board(board="visits", title="Visits", as_at=as_at, locality=locality, figures=figures)


def _within_frequency(key: str, of: str, group: Sequence[Child], as_at: date, doc: str) -> Figure:
    return figure(
        key,
        f"Seen within the frequency their rating sets{of}",
        sum(seen_within_frequency(c, as_at) for c in group),
        len(group),
        definition=doc,
    )


# -- workforce ----------------------------------------------------------------------------

CASELOAD_BANDS = (
    ("1_to_10", 1, 10),
    ("11_to_15", 11, 15),
    ("16_to_20", 16, 20),
    ("21_to_25", 21, 25),
    ("over_25", 26, 1_000_000),
)
PA_UP_TO_AGE = 25


def with_adviser(c: Child, as_at: date) -> bool:
    """A care leaver (to 25) with a personal adviser: a PA's caseload."""
    return (
        bool(c.get("personal_adviser") and c.get("care_leaver")) and c.age_on(as_at) <= PA_UP_TO_AGE
    )


# All the workforce board reads of a child (`declarations.children_with`).
WORKFORCE_ATTRIBUTES = (
    "social_worker",
    "sw_team",
    "personal_adviser",
    "care_leaver",
    "cin_plan",
    "cp_plan",
    "in_care",
)


# Each worker's caseload and each team's children, the figures the workforce board is worked
# out from (`workforce_counts`): in the council view only (`COUNCIL_ONLY`).
SW_CASELOAD = f"{COUNCIL_ONLY}sw."
PA_CASELOAD = f"{COUNCIL_ONLY}pa."
BY_TEAM = f"{COUNCIL_ONLY}team"


def workforce(children: Sequence[Child], as_at: date, locality: str | None) -> Board:
    return workforce_from(workforce_counts(children, as_at, locality))


def workforce_counts(children: Sequence[Child], as_at: date, locality: str | None) -> Board:
    """What the workforce board is worked out from, each a sum of what every child adds:
    the children in need (and those of them unallocated), the children allocated by team, and
    each worker's caseload. So it is kept as totals (`declarations.Tallied`), though the
    workers and their caseload bands, which count workers, are not sums over children."""
    doc = f"{DOCS}#workforce"
    allocated = [c for c in children if c.get("social_worker")]
    teams = [c.get("sw_team") for c in allocated]
    in_need_now = [c for c in children if in_need(c)]
    figures = [
        figure(
            "sw.allocated", "Children allocated to social workers", len(allocated), definition=doc
        ),
        figure(
            "in_need",
            "Children in need (CIN plan, CP plan or in care)",
            len(in_need_now),
            definition=doc,
        ),
        figure(
            "in_need_unallocated",
            "Children in need without an allocated social worker",
            sum(not c.get("social_worker") for c in in_need_now),
            len(in_need_now),
            definition=doc,
        ),
    ]
    figures += breakdown(
        BY_TEAM, "Children allocated, by team", teams, sorted({t for t in teams if t}), doc
    )
    for prefix, caseloads in (
        (SW_CASELOAD, Counter(c.get("social_worker") for c in allocated)),
        (
            PA_CASELOAD,
            Counter(c.get("personal_adviser") for c in children if with_adviser(c, as_at)),
        ),
    ):
        figures += [
            figure(f"{prefix}{worker}", f"Caseload of {worker}", n, definition=doc)
            for worker, n in sorted(caseloads.items(), key=lambda wn: str(wn[0]))
        ]
    return Board(
        board="workforce",
        title="Workforce: caseloads and allocation",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


def workforce_from(counts: Board) -> Board:
    """The workforce board from its counts (`workforce_counts`): the workers with an open
    allocation and their caseload bands worked out from each worker's caseload."""
    doc = f"{DOCS}#workforce"
    count = {f.key: f.count or 0 for f in counts.figures}

    def caseloads(prefix: str) -> Counter[str | None]:
        return Counter(
            {k.removeprefix(prefix): n for k, n in count.items() if k.startswith(prefix)}
        )

    # Unary + drops a worker whose kept caseload has come down to none (all reallocated).
    social_workers, advisers = +caseloads(SW_CASELOAD), +caseloads(PA_CASELOAD)
    figures = _caseloads("sw", "Social workers", social_workers, doc)
    figures += sorted(  # the council view only: a team of one is a worker's caseload
        (f for f in counts.figures if f.key.startswith(f"{BY_TEAM}.") and f.count),
        key=lambda f: f.key,
    )
    figures += _caseloads("pa", "Personal advisers", advisers, doc)
    figures += [f for f in counts.figures if f.key in ("in_need", "in_need_unallocated")]
    for prefix, caseloads_of in ((SW_CASELOAD, social_workers), (PA_CASELOAD, advisers)):
        figures += [  # the council view only (`COUNCIL_ONLY`)
            figure(f"{prefix}{worker}", f"Caseload of {worker}", n, definition=doc)
            for worker, n in sorted(caseloads_of.items(), key=lambda wn: str(wn[0]))
        ]
    return counts.model_copy(update={"figures": figures})


def _caseloads(kind: str, label: str, caseloads: Counter[str | None], doc: str) -> list[Figure]:
    """Workers with an open allocation, the children allocated, and the workers by caseload
    band (each a share of the workers)."""
    workers = len(caseloads)
    figures = [
        figure(f"{kind}.workers", f"{label} with an open allocation", workers, definition=doc),
        figure(
            f"{kind}.allocated",
            f"Children allocated to {label.lower()}",
            sum(caseloads.values()),
            definition=doc,
        ),
    ]
    for band, low, high in CASELOAD_BANDS:
        figures.append(
            figure(
                f"{kind}.caseload.{band}",
                f"{label} with a caseload of {band.replace('_', ' ')}",
                sum(low <= n <= high for n in caseloads.values()),
                workers,
                definition=doc,
            )
        )
    return figures


# -- the front door -----------------------------------------------------------------------

FRONT_DOOR_KINDS = (
    "contact",
    "referral",
    "referral_outcome",
    "assessment_completed",
    "s47",
    "s47_concluded",
    "icpc",
)
RE_REFERRAL_MONTHS = 12


def re_referrals(referrals: Iterable[Happened]) -> list[Happened]:
    """Referrals of a child with another referral of the child on an earlier day within the
    12 months before (CIN census), whatever order they were recorded in."""
    days: dict[str, list[date]] = defaultdict(list)
    for h in referrals:
        days[h.subject_id].append(h.day)
    found = []
    for h in referrals:
        earlier = [d for d in days[h.subject_id] if d < h.day]
        if earlier and max(earlier) >= add_months(h.day, -RE_REFERRAL_MONTHS):
            found.append(h)
    return found


def front_door(
    happenings: Sequence[Happened], as_at: date, locality: str | None, since: date
) -> Board:
    """`happenings`: the front door's occurrences from 12 months before `since` (an earlier
    referral makes a re-referral) to `as_at`."""
    doc = f"{DOCS}#front-door"
    of: dict[str, list[Happened]] = defaultdict(list)
    for h in happenings:
        if h.day <= as_at:
            of[h.kind].append(h)
    assessments, icpcs = of["assessment_completed"], of["icpc"]
    series = (
        ("contacts", "Contacts", of["contact"], None),
        ("referrals", "Referrals", of["referral"], None),
        ("re_referrals", "Re-referrals within 12 months", re_referrals(of["referral"]), "r"),
        ("assessments", "Assessments completed", assessments, None),
        (
            "assessments_in_45_days",
            "Assessments completed within 45 working days",
            [h for h in assessments if h.within_timescale],
            "a",
        ),
        ("s47_enquiries", "Section 47 enquiries started", of["s47"], None),
        ("icpcs", "Initial child protection conferences", icpcs, None),
        (
            "icpcs_in_15_days",
            "ICPCs within 15 working days of the strategy discussion",
            [h for h in icpcs if h.within_timescale],
            "i",
        ),
    )
    bases = {"r": of["referral"], "a": assessments, "i": icpcs}
    figures: list[Figure] = []
    for key, label, counted, base in series:
        figures += over_time(
            key,
            label,
            (h.day for h in counted),
            since,
            as_at,
            doc,
            None if base is None else (h.day for h in bases[base]),
        )
    figures += _front_door_outcomes(of, since, as_at, doc)
    return Board(
        board="front-door",
        title="The front door",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


def _front_door_outcomes(
    of: dict[str, list[Happened]], since: date, as_at: date, doc: str
) -> list[Figure]:
    """Over the period: what contacts, referrals and S47 enquiries led to, and the factors
    assessments identified."""
    period = window_of(since, as_at)

    def outcomes(kind: str) -> list[str | None]:
        return [h.outcome for h in of[kind] if since <= h.day]

    decided = outcomes("referral_outcome")
    concluded = outcomes("s47_concluded")
    figures = breakdown(
        "contacts", "Contacts", outcomes("contact"), list(ContactOutcome), doc, period
    )
    figures.append(
        figure("referral_outcomes", "Referral outcomes decided", len(decided), None, period, doc)
    )
    figures += breakdown(
        "referral_outcomes", "Referral outcomes", decided, list(ReferralOutcome), doc, period
    )
    figures.append(
        figure("s47_concluded", "S47 enquiries concluded", len(concluded), None, period, doc)
    )
    figures += breakdown(
        "s47_concluded", "S47 enquiries concluded", concluded, list(Section47Outcome), doc, period
    )
    factors = [
        f
        for h in of["assessment_completed"]
        if since <= h.day
        for f in (h.factors or "").split(",")
        if f
    ]
    assessed = sum(since <= h.day for h in of["assessment_completed"])
    counts = Counter(factors)
    figures += [
        figure(
            f"factor.{code.value}",
            f"Assessments identifying {code.name.lower().replace('_', ' ')}",
            counts[code.value],
            assessed,
            period,
            doc,
        )
        for code in AssessmentFactor
        if counts[code.value]
    ]
    return figures


# -- missing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Episode:
    child_id: str
    started_on: date
    kind: str | None
    ended_on: date | None
    locality: str | None


def episodes_of(recorded: Iterable[Happened]) -> list[Episode]:
    """Missing episodes, one per child and start (an episode recorded again, e.g. with its
    end, is one episode: its latest kind, and its end when any record has one)."""
    merged: dict[tuple[str, date], Episode] = {}
    for h in recorded:
        was = merged.get((h.subject_id, h.day))
        ended = h.ended_on or (was.ended_on if was else None)
        merged[(h.subject_id, h.day)] = Episode(
            h.subject_id, h.day, h.missing_kind, ended, h.locality
        )
    return sorted(merged.values(), key=lambda e: (e.started_on, e.child_id))


def missing(
    happenings: Sequence[Happened], as_at: date, locality: str | None, since: date
) -> Board:
    """`happenings`: missing episodes and return home interviews from `since` to `as_at`."""
    doc = f"{DOCS}#missing"
    period = window_of(since, as_at)
    episodes = [
        e
        for e in episodes_of(h for h in happenings if h.kind == "missing")
        if since <= e.started_on <= as_at
    ]
    interviews: dict[tuple[str, date], list[Happened]] = defaultdict(list)
    for h in happenings:
        if h.kind == "return_interview" and h.day <= as_at and h.started_on:
            interviews[(h.subject_id, h.started_on)].append(h)
    figures = over_time(
        "episodes", "Missing episodes", (e.started_on for e in episodes), since, as_at, doc
    )
    figures += breakdown(
        "episodes", "Episodes", [e.kind for e in episodes], ("M", "A"), doc, period
    )
    figures += _children_missing(episodes, since, as_at, doc)
    returned = [
        e
        for e in episodes
        if (e.ended_on and e.ended_on <= as_at) or interviews[(e.child_id, e.started_on)]
    ]
    offered = [e for e in returned if interviews[(e.child_id, e.started_on)]]
    figures += [
        figure("returned", "Episodes ended (the child returned)", len(returned), None, period, doc),
        figure(
            "rhi_offered",
            "Return home interview offered",
            len(offered),
            len(returned),
            period,
            doc,
        ),
        figure(
            "rhi_within_72_hours",
            "Return home interview offered within 72 hours",
            sum(
                any(h.within_timescale for h in interviews[(e.child_id, e.started_on)])
                for e in returned
            ),
            len(returned),
            period,
            doc,
        ),
        figure(
            "rhi_accepted",
            "Return home interview accepted",
            sum(any(h.accepted for h in interviews[(e.child_id, e.started_on)]) for e in offered),
            len(offered),
            period,
            doc,
        ),
    ]
    return Board(
        board="missing",
        title="Missing children",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


def _children_missing(
    episodes: Sequence[Episode], since: date, as_at: date, doc: str
) -> list[Figure]:
    """Children with an episode starting in the period, and in each month (a child missing
    in two months counts in both, and once in the period)."""
    figures = [
        figure(
            "children",
            "Children missing",
            len({e.child_id for e in episodes}),
            period=window_of(since, as_at),
            definition=doc,
        )
    ]
    for month in months_between(since, as_at):
        figures.append(
            figure(
                "children",
                "Children missing",
                len(
                    {
                        e.child_id
                        for e in episodes
                        if (e.started_on.year, e.started_on.month) == (month.year, month.month)
                    }
                ),
                period=month.strftime("%Y-%m"),
                definition=doc,
            )
        )
    return figures

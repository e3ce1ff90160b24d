"""The demo county (deploy/demo): every command it sends is one the services take, and it
records every kind of fact the boards need, within its budget (no I/O: the county's commands
are decided by the real aggregates in memory, as the case events service would decide them)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date, timedelta
from functools import cache
from itertools import pairwise
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from contracts.ids import UPN_PATTERN, upn_check_letter
from deploy.demo.county import Plan, Step, plan, waited_out
from deploy.returns import rehearsal
from services.case_events.routes.reference import KIND_ROUTES
from services.projections.boards import casework, definitions
from services.projections.boards.declarations import BOARDS
from services.quality.domain import commands as qc
from services.quality.domain.audit import PartnershipAudit
from services.quality.domain.evaluation import PracticeEvaluation
from services.quality.domain.incident import SeriousIncident
from services.quality.domain.plan import ImprovementPlan
from services.quality.domain.record import QualityRecord
from services.quality.domain.survey import FeedbackSurvey
from shared.aggregate import AlreadyRecorded, Decision, DomainRuleViolation, KnownChild
from shared.calendar import add_months, add_working_days, age_on, is_working_day
from shared.commands import referenced_fields

END = date(2026, 3, 31)
# The first load of `make run` (scale 0.25) sent 15,147 commands before the child's whole
# record; it may take at most about 1.7 times as long.
BEFORE = 15_147
HAND_WRITTEN = {"/escalations", "/attendance/register-feed"}


@cache
def county(scale: float = 0.25, seed: int = 7) -> Plan:
    return plan(seed, scale, END)


def steps(work: Plan) -> list[Step]:
    return [s for j in work.journeys + work.later for s in j.steps]


def reference_items(work: Plan) -> dict[str, set[str]]:
    kinds = {f"/reference/{k.path}": k for k in KIND_ROUTES}
    items: dict[str, set[str]] = defaultdict(set)
    for level in work.reference:
        for step in level:
            kind = kinds[step.path]
            items[kind.kind].add(step.body[kind.key])
    return items


def model_of(step: Step) -> type[BaseModel] | None:
    return None if step.path in HAND_WRITTEN else rehearsal.model_of(step)


def test_every_command_is_well_formed_and_names_known_reference_data() -> None:
    work = county()
    known = reference_items(work)
    for step in steps(work):
        model = model_of(step)
        if model is None:
            continue
        command = model.model_validate(step.body)  # the service's own body model
        for field, kind in referenced_fields(model).items():
            value = getattr(command, field)
            for item in value if isinstance(value, list) else [value]:
                assert item is None or item in known[kind], f"{step.path}: {field}={item!r}"


def test_every_command_is_accepted_by_the_aggregate_that_decides_it() -> None:
    """Each journey's commands, decided in order by the real aggregates (the child's record in
    each service, an escalation, a family), as each service would: none is refused."""
    work = county()
    decided = rehearsal.Rehearsal(END)
    for step in steps(work):
        if step.path != "/attendance/register-feed":
            decided.decide(step)  # raises Refused, naming the command, field and reason


def test_allocations_name_a_worker_of_the_team() -> None:
    work = county()
    teams = {
        s.body["worker_id"]: s.body["team_id"]
        for level in work.reference
        for s in level
        if s.path == "/reference/social-workers"
    }
    allocations = [s for s in steps(work) if s.path.endswith("/social-worker-allocations")]
    assert allocations
    assert all(teams[s.body["worker_id"]] == s.body["team_id"] for s in allocations)


def test_every_new_kind_of_fact_is_recorded() -> None:
    work = county()
    sent = Counter(s.path.rsplit("/", 1)[-1] for s in steps(work))
    for kind in (
        "characteristics",
        "unborn-children",
        "births",
        "social-worker-allocations",
        "social-worker-allocation-endings",
        "statutory-visits",
        "front-door-contacts",
        "referral-outcomes",
        "section-47-outcomes",
        "health-outcomes",
        "missing-episodes",
        "return-home-interviews",
        "adoption-decisions",
        "adoption-matches",
        "previous-permanence",
        "deprivation-of-liberty",
        # what no board reported before: escalation stages and responses, pre-proceedings
        # outcomes, housing, NEET panels, summer school
        "responses",
        "advancements",
        "letters-before-proceedings",
        "pre-proceedings-outcomes",
        "care-proceedings",
        "tenancies",
        "homelessness-prevention-referrals",
        "homelessness-prevention-outcomes",
        "neet-panel-reviews",
        "summer-school-sign-ups",
        # what the statutory returns ask of a record: episodes of need closed, placement
        # orders, care leavers' care ended
        "episode-of-need-closures",
        "legal-status-changes",
        "period-of-care-endings",
        "placement-endings",
    ):
        assert sent[kind] > 0, kind
    bodies = [s.body for s in steps(work)]
    assert any(b.get("reason") for b in bodies if "worker_id" in b)  # changed, with a reason
    assert any(b.get("unaccompanied_asylum_seeking") for b in bodies)
    assert any(b.get("participation") for b in bodies)
    assert any(b.get("postcode") for b in bodies) and any(b.get("home_postcode") for b in bodies)
    assert any({"24A", "11A"} & set(b.get("factors", [])) for b in bodies)  # exploitation
    outcomes = {b["outcome"] for b in bodies if "decided_on" in b and "outcome" in b}
    assert outcomes == {"nfa", "assessment", "s47"}
    visits = [b for b in bodies if "visit_date" in b]
    assert {b["plan_type"] for b in visits} == {"CIN", "CP", "CLA", "CL"}
    assert {b["seen"] for b in visits} == {True, False}


def test_some_children_move_three_times_or_more_in_a_year() -> None:
    moves: dict[str, list[date]] = defaultdict(list)
    for step in steps(county()):
        if step.path.endswith("/placement-changes"):
            moves[step.path.split("/")[2]].append(date.fromisoformat(step.body["start_date"]))
    assert any(
        sum(0 <= (last - day).days < 365 for day in days) >= 3
        for days in moves.values()
        for last in days
    )


def test_some_children_in_need_are_at_the_demo_school() -> None:
    """The attendance board's children in need with a plan (and their cuts) have pupils."""
    work = county()
    pupils = {s.path.split("/")[2] for s in steps(work) if s.path.endswith("/enrolments")}
    plans = {s.path.split("/")[2] for s in steps(work) if s.path.endswith("/child-in-need-plans")}
    assert pupils & plans


def test_some_children_in_need_wait_for_a_social_worker() -> None:
    work = county()
    plans = {s.path.split("/")[2] for s in steps(work) if s.path.endswith("/child-in-need-plans")}
    allocated = {
        s.path.split("/")[2] for s in steps(work) if s.path.endswith("/social-worker-allocations")
    }
    assert 0 < len(plans - allocated) < len(plans) / 5


def test_upns_carry_their_check_letter() -> None:
    upns = [s.body["personal"].get("upn") for s in steps(county()) if s.path == "/children"]
    assert sum(u is not None for u in upns) > len(upns) / 3  # the children of school age
    for upn in filter(None, upns):
        assert re.fullmatch(UPN_PATTERN, upn) and upn[0] == upn_check_letter(upn)


def test_no_fact_is_dated_after_the_end() -> None:
    """Only what is expected may be later: a birth, an order's expiry."""
    for step in steps(county()):
        for name, value in step.body.items():
            if name.endswith(("_on", "_date")) and name not in (
                "expires_on",
                "expected_date_of_birth",
            ):
                assert date.fromisoformat(value) <= END, (step.path, name, value)


def test_the_county_is_the_same_for_the_same_seed() -> None:
    def sent(work: Plan) -> list[tuple[str, str, dict[str, Any]]]:
        return [(s.service, s.path, s.body) for s in steps(work)]

    assert sent(plan(3, 0.02, END)) == sent(plan(3, 0.02, END))
    assert sent(plan(3, 0.02, END)) != sent(plan(4, 0.02, END))


def test_make_runs_first_load_stays_within_its_budget() -> None:
    """`make run` loads scale 0.25: at most 1.7 times the commands it sent before."""
    assert county(0.25).total <= 1.7 * BEFORE


@pytest.mark.parametrize(
    ("service", "status", "body", "wait"),
    [
        ("case_events", 409, {"detail": "stream at version 2", "expected_version": 1}, 0),
        ("escalations", 409, {"detail": "stream at version 2", "expected_version": 1}, 0),
        ("case_events", 409, {"detail": "locality 'Exeter' is already known"}, None),
        ("education", 404, {"detail": "DC7000001"}, 0),  # not known there yet
        ("case_events", 404, {"detail": "DC7000001"}, None),  # never registered
        ("education", 422, {"detail": [{"type": "unknown_reference", "msg": "unknown"}]}, 0),
        ("case_events", 422, {"detail": [{"type": "unknown_reference", "msg": "unknown"}]}, None),
        ("education", 422, {"detail": [{"type": "domain_rule", "msg": "a rule"}]}, None),
    ],
)
def test_a_load_waits_out_only_what_is_transient(
    service: str, status: int, body: dict[str, Any], wait: float | None
) -> None:
    step = Step(service, "/children/DC7000001/enrolments", {})
    assert waited_out(step, httpx.Response(status, json=body)) == wait


def test_a_load_waits_as_long_as_the_rate_limit_says() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "3"})
    assert waited_out(Step("case_events", "/children", {}), limited) == 3.0


# -- what the DfE's validators ask of the record (the statutory returns) ----------------------


def by_child(work: Plan) -> dict[str, list[Step]]:
    """Each child's steps (to any service), in the order they are sent."""
    found: dict[str, list[Step]] = defaultdict(list)
    for step in steps(work):
        parts = step.path.split("/")
        if step.path in rehearsal.REGISTRATIONS:
            found[step.body["child_id"]].append(step)
        elif len(parts) > 2 and parts[1] == "children":
            found[parts[2]].append(step)
    return found


def kind(step: Step) -> str:
    return step.path.rsplit("/", 1)[-1]


def day_of(step: Step, name: str) -> date:
    return date.fromisoformat(step.body[name])


def born(record: list[Step]) -> date | None:
    for step in record:
        if "date_of_birth" in step.body:
            return day_of(step, "date_of_birth")
    return None


def test_child_ids_are_letters_and_digits() -> None:
    """The CIN census's LAchildID (rule 1580) and SSDA903's CHILD: at most 20 of them."""
    for child in by_child(county()):
        assert re.fullmatch(r"[A-Za-z0-9]{1,20}", child), child


def test_every_episode_of_need_begins_with_a_referral() -> None:
    """Before a period of care or a strategy discussion, the referral that began it."""
    for child, record in by_child(county()).items():
        referrals: list[date] = []
        for step in record:
            if kind(step) == "referrals":
                referrals.append(day_of(step, "referral_date"))
            elif kind(step) in ("periods-of-care", "strategy-discussions"):
                on = day_of(step, "start_date" if "start_date" in step.body else "discussion_date")
                assert referrals and referrals[-1] <= on, (child, step.path, on)


def test_an_episode_of_need_closes_before_the_next_referral() -> None:
    """Rules 8815, 8816, 8820: a referral closed with no further action, or an episode closed
    (by the end of its child in need plan, or recorded closed) before the next one."""
    for child, record in by_child(county()).items():
        closed: dict[str, date] = {}
        referrals: list[tuple[str, date]] = []
        for step in record:
            if kind(step) == "referrals":
                referrals.append((step.body["referral_id"], day_of(step, "referral_date")))
            elif kind(step) == "referral-outcomes" and step.body["outcome"] == "nfa":
                closed[step.body["referral_id"]] = day_of(step, "decided_on")
            elif kind(step) == "episode-of-need-closures":
                closed[step.body["referral_id"]] = day_of(step, "closed_on")
            elif kind(step) == "child-in-need-plan-endings" and referrals:
                closed.setdefault(referrals[-1][0], day_of(step, "end_date"))
        for (earlier, _), (_, next_on) in pairwise(referrals):
            assert earlier in closed and closed[earlier] < next_on, (child, earlier, next_on)


def episodes(record: list[Step]) -> dict[str, list[Step]]:
    """A child's steps by the referral whose episode of need they belong to (those between it
    and the next referral; a closure by the referral it names)."""
    found: dict[str, list[Step]] = defaultdict(list)
    current = ""
    for step in record:
        if kind(step) == "referrals":
            current = step.body["referral_id"]
        found[step.body.get("referral_id", current)].append(step)
    return found


def test_assessments_find_a_need_and_no_factors_closes_the_case() -> None:
    """Every assessment records the primary need; one that found no factors ("21") leads to
    no plan: the case closes with no further action or to early help (rule 8873Q), which an
    episode with a section 47 enquiry never does (rule 2990)."""
    work = county()
    for child, record in by_child(work).items():
        for referral, episode in episodes(record).items():
            completions = [s for s in episode if kind(s) == "assessment-completions"]
            assert all(s.body.get("primary_need") for s in completions), child
            closures = {s.body["reason"] for s in episode if "closed_on" in s.body}
            if any(s.body["factors"] == ["21"] for s in completions):
                assert closures & {"RC8", "RC9"}, (child, referral)
                assert not any(kind(s) == "child-in-need-plans" for s in episode), child
            if any(kind(s) == "strategy-discussions" for s in episode):
                assert not closures & {"RC8", "RC9"}, (child, referral)
    reasons = Counter(s.body["reason"] for s in steps(work) if "closed_on" in s.body)
    assert set(reasons) >= {"RC7", "RC8", "RC9"}


def test_section_47_enquiries_have_their_assessment() -> None:
    """Rule 2991Q: an enquiry's episode has an assessment, authorised after the enquiry."""
    for child, record in by_child(county()).items():
        enquiries = [s for s in record if kind(s) == "strategy-discussions"]
        completed = [
            day_of(s, "completion_date") for s in record if kind(s) == "assessment-completions"
        ]
        for enquiry in enquiries:
            held = day_of(enquiry, "discussion_date")
            assert any(done >= held for done in completed), (child, held)


@pytest.mark.parametrize(
    "end",
    [END, date(2026, 12, 5), date(2026, 12, 6), date(2026, 12, 28)],
    ids=["a Tuesday", "a Saturday", "a Sunday", "a bank holiday"],
)
def test_initial_conferences_are_held_on_working_days(end: date) -> None:
    """Rule 8875: never on a weekend (nor, here, a bank holiday), and never after the county's
    last day: whatever day it is loaded on (a conference planned on its last day, a Saturday,
    was held that day, and the CIN census of a county loaded on a Saturday failed 8875)."""
    work = county() if end == END else plan(7, 0.04, end)
    conferences = [
        day_of(s, "conference_date")
        for s in steps(work)
        if kind(s) == "initial-child-protection-conferences"
    ]
    assert conferences and all(is_working_day(d) and d <= end for d in conferences)


@pytest.mark.parametrize("end", [END, date(2026, 12, 5)], ids=str)
def test_no_missing_episode_is_open_at_the_end_of_a_collection_year(end: date) -> None:
    """The DfE's validator flags an episode open at 31 March (rules 575 and 577, run with
    every other rule), though its return is as the DfE asks: the county has none (the
    county of 5 December 2026 had one, 31 March to 1 April)."""
    work = county() if end == END else plan(7, 0.04, end)
    episodes = [
        (day_of(s, "started_on"), day_of(s, "ended_on"))
        for s in steps(work)
        if kind(s) == "missing-episodes"
    ]
    assert episodes
    for started, ended in episodes:
        year_end = date(started.year + (started.month >= 4), 3, 31)
        assert ended <= year_end, (started, ended)


def test_care_and_placements_carry_what_ssda903_asks() -> None:
    """A period of care's category of need (N1 to N8); a placement's provider URN where its
    type needs one (rule 218) and none where not; no unregistered or independent living
    placement (H5, P2: not codes from April 2025, rule 146); a placement with each period."""
    work = county()
    for child, record in by_child(work).items():
        periods = [s for s in record if kind(s) == "periods-of-care"]
        placements = [s for s in record if kind(s) in ("placements", "placement-changes")]
        assert all(s.body["category_of_need"] in {f"N{i}" for i in range(1, 9)} for s in periods)
        assert len(periods) == sum(kind(s) == "placements" for s in placements), child
        for s in placements:
            assert s.body["placement_type"] not in ("H5", "P2"), (child, s.body)
            needs_urn = s.body["placement_type"] not in ("P1", "P3", "R1", "R2", "R5")
            assert (s.body.get("urn") is not None) == needs_urn, (child, s.body)
            assert s.body["provider"] != "PR1" or s.body["in_council_area"], (child, s.body)


def test_girls_looked_after_record_whether_they_are_mothers() -> None:
    """Rules 393, 607: MOTHER for every girl looked after, from when care began; a few older
    girls are mothers, with their first child's birth (not before 15)."""
    mothers = 0
    for child, record in by_child(county()).items():
        started = [day_of(s, "start_date") for s in record if kind(s) == "periods-of-care"]
        traits = [s for s in record if kind(s) == "characteristics"]
        if not started or traits[-1].body["sex"] != "2":
            continue
        after = [s for s in traits if day_of(s, "recorded_on") >= started[0]]
        assert after and all("mother" in s.body for s in after), child
        if traits[-1].body["mother"]:
            mothers += 1
            first = day_of(traits[-1], "first_child_born_on")
            dob = born(record)
            assert dob is not None and age_on(dob, first) >= 15, child
    assert mothers > 0


def periods_of(record: list[Step]) -> list[tuple[date, date | None]]:
    starts = [day_of(s, "start_date") for s in record if kind(s) == "periods-of-care"]
    ends = [day_of(s, "end_date") for s in record if kind(s) == "period-of-care-endings"]
    return [(start, ends[i] if i < len(ends) else None) for i, start in enumerate(starts)]


def test_health_outcomes_every_year_in_care() -> None:
    """Rules 191, 543, 545, 186, 197B: for each collection year (from 1 April) a child was in
    care at its start, the health outcomes recorded in the year (this year's and last's)."""
    first = date(END.year - (2 if END.month < 4 else 1), 4, 1)
    for child, record in by_child(county()).items():
        recorded = [day_of(s, "recorded_on") for s in record if kind(s) == "health-outcomes"]
        for start, end in periods_of(record):
            year = first
            while year <= END:
                if start <= year and (end is None or end > year):
                    following = date(year.year + 1, 4, 1)
                    assert any(year <= d < following for d in recorded), (child, year)
                year = date(year.year + 1, 4, 1)


def test_children_entering_care_have_their_previous_permanence() -> None:
    """Rule 630: recorded for every child coming into care in the county's history (Z1 where
    there was no order)."""
    work = county()
    start = END - timedelta(days=730)
    arrangements: Counter[str] = Counter()
    for child, record in by_child(work).items():
        recorded = [day_of(s, "recorded_on") for s in record if kind(s) == "previous-permanence"]
        for began, _ in periods_of(record):
            if began >= start:
                assert began in recorded, (child, began)
        arrangements.update(s.body["arrangement"] for s in record if "arrangement" in s.body)
    assert arrangements["Z1"] > sum(arrangements.values()) / 2 and len(arrangements) > 2


def test_placement_orders_follow_the_decision_to_place_for_adoption() -> None:
    """Rules 553, 554: legal status E1 only after an adoption decision (never at the start)."""
    changes = 0
    for child, record in by_child(county()).items():
        assert all(s.body["legal_status"] != "E1" for s in record if kind(s) == "periods-of-care")
        decided: list[date] = []
        for step in record:
            if kind(step) == "adoption-decisions":
                decided.append(day_of(step, "decided_on"))
            elif kind(step) == "legal-status-changes" and step.body["legal_status"] == "E1":
                changes += 1
                assert decided and decided[-1] <= day_of(step, "change_date"), child
    assert changes > 0


def test_care_leavers_left_care_between_16_and_18() -> None:
    """Rules 1001, 1002: a care leaver was looked after (13 weeks from 14, and at 16 or over),
    placed, and left care at 16 to 18 with a reason, before their status was recorded; their
    accommodation is with former foster carers (Z) only from 18."""
    leavers = 0
    for child, record in by_child(county()).items():
        status = [day_of(s, "recorded_on") for s in record if kind(s) == "care-leaver-status"]
        if not status:
            continue
        leavers += 1
        dob = born(record)
        [(entered, left)] = periods_of(record)
        assert dob is not None and left is not None, child
        assert 16 <= age_on(dob, left) <= 18 and left <= status[0], child
        assert (left - max(entered, add_months(dob, 14 * 12))).days >= 91, child
        assert any(kind(s) == "placements" for s in record), child
        for s in record:
            if kind(s) == "care-leaver-accommodation" and s.body["accommodation"] == "Z":
                assert age_on(dob, day_of(s, "recorded_on")) >= 18, child
    assert leavers > 0


def test_care_leavers_are_in_touch_around_their_birthdays() -> None:
    """Rules 131 to 133: a contact from three months before to a month after each 17th to 21st
    birthday in this year's and last year's returns (once the window has opened, after
    care), and an activity and accommodation recorded by then."""
    first = date(END.year - (2 if END.month < 4 else 1), 4, 1)
    for child, record in by_child(county()).items():
        if not any(kind(s) == "care-leaver-status" for s in record):
            continue
        dob = born(record)
        [(_, left)] = periods_of(record)
        assert dob is not None and left is not None
        contacts = [day_of(s, "contact_date") for s in record if kind(s) == "contacts"]
        for age in range(17, 22):
            birthday = add_months(dob, age * 12)
            year_end = date(birthday.year + (birthday.month >= 4), 3, 31)
            opens = max(add_months(birthday, -3), left + timedelta(days=1))
            closes = min(add_months(birthday, 1), year_end, END)
            if birthday < first or birthday <= left or opens > closes:
                continue
            assert any(opens <= d <= closes for d in contacts), (child, birthday)
            for what in ("eet-activities", "care-leaver-accommodation"):
                assert any(
                    kind(s) == what and day_of(s, "recorded_on") <= closes for s in record
                ), (child, birthday, what)


def test_first_contact_is_only_a_first_allocation() -> None:
    """SSDA903 SW10a, SW10b: FCONTA for a child's first social worker (or the first after a
    gap), never for a change of worker, which has its own reason."""
    for child, record in by_child(county()).items():
        allocated = False
        for step in record:
            if kind(step) == "social-worker-allocations":
                first = step.body.get("reason") == "FCONTA"
                assert first != allocated, (child, step.body)
                allocated = True
            elif kind(step) == "social-worker-allocation-endings":
                allocated = False


# -- a year of quality assurance (deploy/demo/quality.py) ---------------------------------------

# path (the stream's id as {}) -> (the record's aggregate, its method, the command, the field
# the route seals, or None): the quality service's routes (services/quality/routes).
QUALITY_ROUTES: dict[str, tuple[type[QualityRecord], str, type[BaseModel], str | None]] = {
    "/practice-evaluations": (
        PracticeEvaluation,
        "record",
        qc.RecordPracticeEvaluation,
        "findings",
    ),
    "/practice-evaluations/{}/moderations": (
        PracticeEvaluation,
        "moderate",
        qc.ModeratePracticeEvaluation,
        None,
    ),
    "/practice-evaluations/{}/actions": (
        PracticeEvaluation,
        "agree_action",
        qc.AgreeEvaluationAction,
        "summary",
    ),
    "/practice-evaluations/{}/action-completions": (
        PracticeEvaluation,
        "complete_action",
        qc.CompleteEvaluationAction,
        None,
    ),
    "/partnership-audits": (PartnershipAudit, "open", qc.OpenPartnershipAudit, None),
    "/partnership-audits/{}/findings": (
        PartnershipAudit,
        "record_finding",
        qc.RecordAuditFinding,
        "finding",
    ),
    "/partnership-audits/{}/actions": (
        PartnershipAudit,
        "agree_action",
        qc.AgreeAuditAction,
        "summary",
    ),
    "/partnership-audits/{}/action-completions": (
        PartnershipAudit,
        "complete_action",
        qc.CompleteAuditAction,
        None,
    ),
    "/partnership-audits/{}/conclusions": (
        PartnershipAudit,
        "conclude",
        qc.ConcludePartnershipAudit,
        None,
    ),
    "/feedback-surveys": (FeedbackSurvey, "launch", qc.LaunchFeedbackSurvey, None),
    "/feedback-surveys/{}/responses": (
        FeedbackSurvey,
        "respond",
        qc.RecordFeedbackResponse,
        "comment",
    ),
    "/serious-incidents": (SeriousIncident, "notify", qc.NotifySeriousIncident, None),
    "/serious-incidents/{}/rapid-reviews": (
        SeriousIncident,
        "complete_rapid_review",
        qc.CompleteRapidReview,
        None,
    ),
    "/serious-incidents/{}/practice-reviews": (
        SeriousIncident,
        "commission_review",
        qc.CommissionPracticeReview,
        None,
    ),
    "/serious-incidents/{}/practice-review-publications": (
        SeriousIncident,
        "publish_review",
        qc.PublishPracticeReview,
        None,
    ),
    "/serious-incidents/{}/learning-points": (
        SeriousIncident,
        "record_learning",
        qc.RecordLearningPoint,
        "learning",
    ),
    "/serious-incidents/{}/actions": (
        SeriousIncident,
        "agree_action",
        qc.AgreeIncidentAction,
        "summary",
    ),
    "/serious-incidents/{}/action-completions": (
        SeriousIncident,
        "complete_action",
        qc.CompleteIncidentAction,
        None,
    ),
    "/improvement-plans/{}/priorities": (
        ImprovementPlan,
        "add_priority",
        qc.AddImprovementPriority,
        None,
    ),
    "/improvement-plans/{}/measures": (
        ImprovementPlan,
        "set_measure",
        qc.SetImprovementMeasure,
        None,
    ),
    "/improvement-plans/{}/surgeries": (
        ImprovementPlan,
        "hold_surgery",
        qc.HoldPerformanceSurgery,
        "decisions",
    ),
    "/improvement-plans/{}/actions": (
        ImprovementPlan,
        "agree_action",
        qc.AgreePlanAction,
        "summary",
    ),
    "/improvement-plans/{}/action-completions": (
        ImprovementPlan,
        "complete_action",
        qc.CompletePlanAction,
        None,
    ),
}
# A new record's id, in its body.
STARTED_BY = {
    "/practice-evaluations": "evaluation_id",
    "/partnership-audits": "audit_id",
    "/feedback-surveys": "survey_id",
    "/serious-incidents": "incident_id",
}


def quality_steps(work: Plan) -> list[Step]:
    return [s for j in work.quality for s in j.steps]


def route_and_stream(step: Step) -> tuple[str, str]:
    if step.path in STARTED_BY:
        return step.path, step.body[STARTED_BY[step.path]]
    parts = step.path.split("/")
    return "/".join([*parts[:2], "{}", *parts[3:]]), parts[2]


def known_children(work: Plan) -> dict[str, KnownChild]:
    return {
        s.body["child_id"]: KnownChild(
            s.body["child_id"], date.fromisoformat(s.body["date_of_birth"]), s.body["locality"]
        )
        for s in steps(work)
        if s.path == "/children"
    }


def test_every_quality_command_is_accepted_by_the_quality_services_aggregates() -> None:
    """Each quality journey's commands, validated by the service's own command models and
    decided in order by its aggregates as at the county's last day (the free text sealed as
    the route would): none is refused."""
    work = county()
    children = known_children(work)
    records: dict[str, QualityRecord] = {}
    for step in quality_steps(work):
        route, stream = route_and_stream(step)
        aggregate_type, method, model, sealed = QUALITY_ROUTES[route]
        command = model.model_validate(step.body)
        assert step.service == "quality", step.path
        record = records.setdefault(stream, aggregate_type(stream))
        assert type(record) is aggregate_type, (step.path, stream)  # one kind per id
        child_id = step.body.get("child_id")
        decision = Decision(today=END, child=children[child_id] if child_id else None)
        if child_id is not None:
            assert child_id in children, step.path
        extra = ("sealed:v1:demo",) if sealed else ()
        try:
            events = getattr(record, method)(command, decision, *extra)
        except (DomainRuleViolation, AlreadyRecorded) as refused:
            pytest.fail(f"{step.path} {step.body}: {refused}")
        for event in events:
            record.when(event)
            record.version += 1


def test_quality_commands_keep_the_rules() -> None:
    """Nothing after the last day (but a due day, a survey's close); actions due after their
    record; moderation by another auditor; responses within their survey, to its questions."""
    work = county()
    opened: dict[str, date] = {}
    auditors: dict[str, str] = {}
    surveys: dict[str, tuple[date, date, set[str]]] = {}
    for step in quality_steps(work):
        route, stream = route_and_stream(step)
        for name, value in step.body.items():
            if name.endswith("_on") and name not in ("due_on", "closes_on"):
                assert date.fromisoformat(value) <= END, (step.path, name, value)
        for name in ("evaluated_on", "opened_on", "aware_on"):
            if name in step.body:
                opened[stream] = day_of(step, name)
        if route == "/practice-evaluations":
            auditors[stream] = step.body["auditor_id"]
        elif route.endswith("/moderations"):
            assert step.body["moderator_id"] != auditors[stream], step.body
        elif route.endswith("/actions"):
            since = opened.get(stream) or day_of(step, "agreed_on")
            assert day_of(step, "due_on") > day_of(step, "agreed_on") >= since, step.body
        elif route == "/feedback-surveys":
            asked = {q["question_id"] for q in step.body["questions"]}
            surveys[stream] = (day_of(step, "opens_on"), day_of(step, "closes_on"), asked)
        elif route.endswith("/responses"):
            opens, closes, asked = surveys[stream]
            assert opens <= day_of(step, "responded_on") <= closes, step.body
            answered = [a["question_id"] for a in step.body["answers"]]
            assert set(answered) <= asked and len(set(answered)) == len(answered), step.body


def test_every_quality_board_has_a_year_of_data() -> None:
    work = county()
    sent = quality_steps(work)
    evaluations = [s.body for s in sent if s.path == "/practice-evaluations"]
    months = {b["evaluated_on"][:7] for b in evaluations}
    assert len(months) >= 12  # every month of the year
    grades = Counter(b["grade"] for b in evaluations)
    assert set(grades) == {"outstanding", "good", "requires_improvement", "inadequate"}
    assert grades["good"] + grades["requires_improvement"] > 0.8 * len(evaluations)
    assert {b["plan_type"] for b in evaluations} == {"CIN", "CP", "CLA", "CL"}
    assert all(b["strands"] for b in evaluations)
    graded = {b["evaluation_id"]: b["grade"] for b in evaluations}
    moderated = [(s.path.split("/")[2], s.body["grade"]) for s in sent if kind(s) == "moderations"]
    assert {graded[e] == g for e, g in moderated} == {True, False}  # agreed, and not
    # Actions: most completed, some overdue (due before the last day, not completed).
    agreed = {
        (s.path.split("/")[2], s.body["action_id"]): s.body for s in sent if kind(s) == "actions"
    }
    done = {
        (s.path.split("/")[2], s.body["action_id"]) for s in sent if kind(s) == "action-completions"
    }
    overdue = [a for a, b in agreed.items() if a not in done and day_of_body(b, "due_on") < END]
    assert len(done) > len(agreed) / 2 and overdue
    assert {s.path.split("/")[1] for s in sent if kind(s) == "actions"} == {
        "practice-evaluations",
        "partnership-audits",
        "serious-incidents",
        "improvement-plans",
    }
    # Partnership audits: each agency taking part has a finding and an action.
    for audit in (s for s in sent if s.path == "/partnership-audits"):
        mine = [
            s for s in sent if s.path.startswith(f"/partnership-audits/{audit.body['audit_id']}/")
        ]
        taking_part = set(audit.body["agencies"])
        assert len(taking_part) >= 3 and "social_care" in taking_part and audit.body["cases"]
        assert {s.body["agency"] for s in mine if kind(s) == "findings"} == taking_part
        assert {s.body["agency"] for s in mine if kind(s) == "actions"} == taking_part
    # Feedback: two surveys' periods, the seed's four questions, some skipped.
    surveys = [s.body for s in sent if s.path == "/feedback-surveys"]
    assert len(surveys) == 2 and all(len(b["questions"]) == 4 for b in surveys)
    responses = Counter(s.path.split("/")[2] for s in sent if kind(s) == "responses")
    assert set(responses) == {b["survey_id"] for b in surveys}
    answers = Counter(
        a["answer"] for s in sent if kind(s) == "responses" for a in s.body["answers"]
    )
    assert set(answers) == {"yes", "partly", "no", "not_answered"}
    assert answers["not_answered"] < answers["yes"] / 4
    # Serious incidents: the clocks mostly kept, one of each kept late; reviews.
    incidents = [s for s in sent if s.path.startswith("/serious-incidents")]
    notified = [
        add_working_days(day_of(s, "aware_on"), 5) >= day_of(s, "notified_on")
        for s in incidents
        if s.path == "/serious-incidents"
    ]
    assert notified.count(True) > notified.count(False) > 0
    aware = {
        s.body["incident_id"]: day_of(s, "aware_on") for s in incidents if "aware_on" in s.body
    }
    reviews = [
        add_working_days(aware[s.path.split("/")[2]], 15) >= day_of(s, "completed_on")
        for s in incidents
        if kind(s) == "rapid-reviews"
    ]
    assert reviews.count(True) > reviews.count(False) > 0
    assert Counter(kind(s) for s in incidents)["practice-review-publications"] == 1
    assert Counter(kind(s) for s in incidents)["practice-reviews"] == 2  # one still open
    assert any(kind(s) == "learning-points" for s in incidents)
    # The improvement plan: measures on board figures, a surgery a month.
    plan_steps = [s for s in sent if s.path.startswith("/improvement-plans/")]
    assert Counter(kind(s) for s in plan_steps)["surgeries"] == 12
    measured = {
        (s.body["measure"]["board"], s.body["measure"]["figure"])
        for s in plan_steps
        if kind(s) == "measures"
    }
    assert {board for board, _ in measured} >= {"care-leavers", "visits", "practice-evaluations"}


def day_of_body(body: dict[str, Any], name: str) -> date:
    return date.fromisoformat(body[name])


def test_the_improvement_plans_measures_name_real_board_figures() -> None:
    """Each measure of the plan on a board of today's names a figure that board gives (the
    quality boards' own are checked by their names: services/projections)."""
    as_at = END
    givers = {
        "care-leavers": definitions.care_leavers([], as_at, None),
        "timeliness": definitions.timeliness([], as_at, None),
        "visits": casework.visits([], as_at, None),
    }
    for step in quality_steps(county()):
        if kind(step) != "measures":
            continue
        board, figure = step.body["measure"]["board"], step.body["measure"]["figure"]
        assert board in BOARDS or board == "practice-evaluations", board
        if board in givers:
            assert figure in {f.key for f in givers[board].figures}, (board, figure)


def test_quality_assurance_is_the_seeds_scale_and_within_its_budget() -> None:
    """At full scale about 45 evaluations a month (the seed's July), and at most about 2,000
    commands for the year's quality assurance."""
    full = plan(7, 1.0, END)
    per_month = Counter(
        s.body["evaluated_on"][:7] for s in quality_steps(full) if s.path == "/practice-evaluations"
    )
    assert len(per_month) == 12 and all(35 <= n <= 55 for n in per_month.values()), per_month
    assert len(quality_steps(full)) <= 2_000


def test_the_quality_year_is_the_same_for_the_same_seed() -> None:
    def sent(work: Plan) -> list[tuple[str, str, dict[str, Any]]]:
        return [(s.service, s.path, s.body) for s in quality_steps(work)]

    assert sent(plan(3, 0.02, END)) == sent(plan(3, 0.02, END))
    assert sent(plan(3, 0.02, END)) != sent(plan(4, 0.02, END))
    # The rest of the county is as it was without it: its own generator.
    assert [j.key for j in plan(3, 0.02, END).journeys] == [
        j.key for j in plan(3, 0.02, END).journeys
    ]

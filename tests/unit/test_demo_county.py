"""The demo county (deploy/demo): every command it sends is one the services take, and it
records every kind of fact the boards need, within its budget (no I/O: the county's commands
are decided by the real aggregates in memory, as the case events service would decide them)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from contracts.ids import UPN_PATTERN, upn_check_letter
from deploy.demo.county import Plan, Step, plan, waited_out
from services.accommodation.domain.accommodation import Accommodation
from services.accommodation.routes.children import COMMANDS as ACCOMMODATION
from services.case_events.domain import commands as c
from services.case_events.domain.child import Child, Family
from services.case_events.routes.commands import CHILD_COMMANDS, FAMILY_COMMANDS
from services.case_events.routes.reference import KIND_ROUTES
from services.education.domain.learner import Learner
from services.education.routes.children import COMMANDS as EDUCATION
from services.escalations.domain.commands import RaiseEscalation
from services.escalations.domain.escalation import Escalation
from services.escalations.domain.risk import ChildRisk
from services.escalations.routes.children import COMMANDS as ESCALATIONS_OF_CHILDREN
from services.escalations.routes.escalations import COMMANDS as ESCALATIONS
from shared.aggregate import Aggregate, Decision, KnownChild
from shared.commands import referenced_fields
from shared.envelope import DomainEvent
from shared.routes import CommandRoute

END = date(2026, 3, 31)
TODAY = Decision(today=END)
# The first load of `make run` (scale 0.25) sent 15,147 commands before the child's whole
# record; it may take at most about 1.7 times as long.
BEFORE = 15_147
ROUTES: dict[str, dict[str, CommandRoute]] = {
    "case_events": {r.path: r for r in CHILD_COMMANDS + FAMILY_COMMANDS},
    "accommodation": {r.path: r for r in ACCOMMODATION},
    "education": {r.path: r for r in EDUCATION},
    "escalations": {r.path: r for r in ESCALATIONS_OF_CHILDREN + ESCALATIONS},
}
AGGREGATES: dict[str, type[Aggregate]] = {
    "case_events": Child,
    "accommodation": Accommodation,
    "education": Learner,
    "escalations": ChildRisk,
}
# The endpoints written by hand rather than declared as a CommandRoute.
REGISTRATIONS: dict[str, type[BaseModel]] = {
    "/children": c.RegisterChild,
    "/unborn-children": c.RegisterUnbornChild,
}
HAND_WRITTEN = {"/escalations", "/attendance/register-feed"}


@cache
def county(scale: float = 0.25, seed: int = 7) -> Plan:
    return plan(seed, scale, END)


def steps(work: Plan) -> list[Step]:
    return [s for j in work.journeys + work.later for s in j.steps]


def route_of(step: Step) -> CommandRoute:
    """The command route a step is posted to: /children/{id}/referrals is /referrals."""
    parts = step.path.split("/")
    return ROUTES[step.service]["/" + "/".join(parts[3:])]


def reference_items(work: Plan) -> dict[str, set[str]]:
    kinds = {f"/reference/{k.path}": k for k in KIND_ROUTES}
    items: dict[str, set[str]] = defaultdict(set)
    for level in work.reference:
        for step in level:
            kind = kinds[step.path]
            items[kind.kind].add(step.body[kind.key])
    return items


def model_of(step: Step) -> type[BaseModel] | None:
    if step.path in REGISTRATIONS:
        return REGISTRATIONS[step.path]
    if step.path in HAND_WRITTEN:
        return None
    return route_of(step).command


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
    streams: dict[tuple[str, str], Aggregate] = {}
    known: dict[str, KnownChild] = {}
    for step in steps(work):
        if step.path == "/attendance/register-feed":
            continue
        aggregate, events = decided(step, streams, known)
        for event in events:
            aggregate.when(event)
            aggregate.version += 1


def decided(
    step: Step, streams: dict[tuple[str, str], Aggregate], known: dict[str, KnownChild]
) -> tuple[Aggregate, Sequence[DomainEvent]]:
    """The aggregate a step is decided by (made on its stream's first command), and what it
    decided; `known`: the children other services have heard of, as they learn them."""
    if step.path in REGISTRATIONS:
        command: Any = REGISTRATIONS[step.path].model_validate(step.body)
        child = streams["case_events", command.child_id] = Child(command.child_id)
        if step.path == "/children":
            born = KnownChild(command.child_id, command.date_of_birth, command.locality)
            known[command.child_id] = born
            return child, child.register(command, TODAY)
        return child, child.register_unborn(command, TODAY)
    if step.path == "/escalations":
        command = RaiseEscalation.model_validate(step.body)
        escalation = Escalation(command.escalation_id)
        streams["escalations", command.escalation_id] = escalation
        return escalation, escalation.raise_(command, Decision(END, known[command.child_id]))
    _, kind, stream, _ = step.path.split("/", 3)
    made = {"families": Family, "escalations": Escalation}.get(kind, AGGREGATES[step.service])
    aggregate = streams.setdefault((step.service, stream), made(stream))
    route = route_of(step)
    decision = Decision(END, known.get(stream))
    return aggregate, route.decide(aggregate, route.command.model_validate(step.body), decision)


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
        ("education", 404, {"detail": "DC-7-000001"}, 0),  # not known there yet
        ("case_events", 404, {"detail": "DC-7-000001"}, None),  # never registered
        ("education", 422, {"detail": [{"type": "unknown_reference", "msg": "unknown"}]}, 0),
        ("case_events", 422, {"detail": [{"type": "unknown_reference", "msg": "unknown"}]}, None),
        ("education", 422, {"detail": [{"type": "domain_rule", "msg": "a rule"}]}, None),
    ],
)
def test_a_load_waits_out_only_what_is_transient(
    service: str, status: int, body: dict[str, Any], wait: float | None
) -> None:
    step = Step(service, "/children/DC-7-000001/enrolments", {})
    assert waited_out(step, httpx.Response(status, json=body)) == wait


def test_a_load_waits_as_long_as_the_rate_limit_says() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "3"})
    assert waited_out(Step("case_events", "/children", {}), limited) == 3.0

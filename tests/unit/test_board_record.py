"""The boards of the child's whole record as pure functions: what each new event means for the
boards (facts.py), the vulnerability cuts, and each new board's figures worked out by hand."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts.accommodation import events as acc
from contracts.case_events import events as ce
from contracts.case_events.codes import AssessmentFactor as F
from contracts.education import events as edu
from contracts.escalations import events as esc
from contracts.escalations.codes import RAG, RatingSource
from services.projections.boards import casework as cw
from services.projections.boards import definitions as d
from services.projections.boards import disclosure
from services.projections.boards import oversight as ov
from services.projections.boards.cohorts import COHORTS, in_cohort
from services.projections.boards.facts import Fact, Occurrence, board_changes
from services.projections.boards.model import Board, Child, Happened, suppress
from shared.envelope import EARLIEST_DAY

D = date.fromisoformat
CSE = F.CHILD_SEXUAL_EXPLOITATION.value
CCE = F.CHILD_CRIMINAL_EXPLOITATION.value
DA = F.DOMESTIC_ABUSE_PARENT.value
MH = F.MENTAL_HEALTH_PARENT.value
SM = F.DRUG_MISUSE_PARENT.value


def kid(cid: str, born: str = "2010-09-15", locality: str = "Exeter", **facts: str) -> Child:
    return Child(cid, locality, D(born), facts)


def figures(board: Board) -> dict[tuple[str, str | None], tuple[int | None, int | None]]:
    return {(f.key, f.period): (f.count, f.denominator) for f in board.figures}


def at(kind: str, child: str, day: str, locality: str = "Exeter", **details: Any) -> Happened:
    return Happened(kind, child, D(day), locality, **details)


# -- what the new events mean for the boards --------------------------------------------------


def test_an_unborn_child_is_unborn_from_the_start_of_time_until_born() -> None:
    unborn = ce.UnbornChildRegistered(
        child_id="CH-U", expected_date_of_birth=D("2024-08-01"), locality="Exeter"
    )
    assert board_changes(unborn) == [Fact("unborn", EARLIEST_DAY, "1")]
    born = ce.ChildBorn(date_of_birth=D("2024-07-20"))
    assert board_changes(born) == [Fact("unborn", D("2024-07-20"), None)]


def test_characteristics_replace_the_last_and_a_uasc_status_ends_when_it_ceased() -> None:
    def recorded(**kw: Any) -> list[Fact | Occurrence]:
        return board_changes(
            ce.ChildCharacteristicsRecorded(
                recorded_on=D("2024-03-01"), sex="2", ethnicity="WBRI", **kw
            )
        )

    plain = recorded(disabilities=["NONE"])
    assert Fact("disabilities", D("2024-03-01"), None) in plain  # NONE is not a disability
    assert Fact("uasc", D("2024-03-01"), None) in plain
    assert Fact("sex", D("2024-03-01"), "2") in plain
    disabled = recorded(disabilities=["LD", "AUT"], unaccompanied_asylum_seeking=True)
    assert Fact("disabilities", D("2024-03-01"), "AUT,LD") in disabled
    assert Fact("uasc", D("2024-03-01"), "1") in disabled
    ceasing = recorded(unaccompanied_asylum_seeking=True, uasc_ceased_on=D("2024-09-01"))
    assert [c for c in ceasing if isinstance(c, Fact) and c.attribute == "uasc"] == [
        Fact("uasc", D("2024-03-01"), "1"),
        Fact("uasc", D("2024-09-01"), None),
    ]
    ceased = recorded(unaccompanied_asylum_seeking=True, uasc_ceased_on=D("2024-01-01"))
    assert [c for c in ceased if isinstance(c, Fact) and c.attribute == "uasc"] == [
        Fact("uasc", D("2024-01-01"), None)
    ]


def test_a_social_worker_is_allocated_until_the_allocation_ends() -> None:
    allocated = ce.SocialWorkerAllocated(
        allocated_on=D("2024-02-01"), worker_id="SW-1", team_id="T-N"
    )
    assert board_changes(allocated) == [
        Fact("social_worker", D("2024-02-01"), "SW-1"),
        Fact("sw_team", D("2024-02-01"), "T-N"),
    ]
    ended = ce.SocialWorkerAllocationEnded(ended_on=D("2024-05-01"), worker_id="SW-1")
    assert board_changes(ended) == [
        Fact("social_worker", D("2024-05-01"), None),
        Fact("sw_team", D("2024-05-01"), None),
    ]


def test_a_visit_counts_when_the_child_was_seen() -> None:
    def visit(seen: bool) -> ce.StatutoryVisitRecorded:
        return ce.StatutoryVisitRecorded(
            visit_date=D("2024-04-04"),
            plan_type="CP",
            seen=seen,
            seen_alone=True if seen else None,
            visitor_id="SW-1",
        )

    assert board_changes(visit(True)) == [
        Fact("last_seen", D("2024-04-04"), "2024-04-04"),
        Fact("seen:CP", D("2024-04-04"), "2024-04-04"),
    ]
    assert board_changes(visit(False)) == []


def test_a_rating_starts_its_visiting_clock_only_when_it_changes() -> None:
    def rated(rating: RAG, previous: RAG | None) -> list[Fact | Occurrence]:
        return board_changes(
            esc.RiskRatingAssigned(
                rated_on=D("2024-05-01"),
                rating=rating,
                previous=previous,
                visiting_frequency_days=7,
                source=RatingSource.ASSESSMENT,
            )
        )

    assert Fact("rating_since", D("2024-05-01"), "2024-05-01") in rated(RAG.RED, RAG.AMBER)
    assert Fact("rating_since", D("2024-05-01"), "2024-05-01") in rated(RAG.RED, None)
    same = rated(RAG.RED, RAG.RED)
    assert not [c for c in same if isinstance(c, Fact) and c.attribute == "rating_since"]
    assert Fact("visit_every", D("2024-05-01"), "7") in same


def test_an_assessment_leaves_its_factors_as_the_childs_latest() -> None:
    done = board_changes(
        ce.AssessmentCompleted(
            assessment_id="AS1",
            completion_date=D("2024-03-10"),
            factors=[CSE, DA],
            working_days_taken=40,
            within_timescale=True,
        )
    )
    assert Fact("factors", D("2024-03-10"), ",".join(sorted([CSE, DA]))) in done
    assert (
        Occurrence(
            "assessment_completed",
            D("2024-03-10"),
            within_timescale=True,
            duration=40,
            factors=",".join(sorted([CSE, DA])),
        )
        in done
    )


PLACEMENT = {
    "placement_id": "PL2",
    "start_date": D("2024-03-01"),
    "placement_type": "U4",
    "provider": "PR1",
    "in_council_area": True,
}

NEW_EVENTS: list[tuple[Any, str]] = [
    (
        ce.FrontDoorContactReceived(
            contact_id="C1", contact_date=D("2024-01-02"), source="6", outcome="referral"
        ),
        "contact",
    ),
    (
        ce.ReferralOutcomeRecorded(referral_id="R1", decided_on=D("2024-01-03"), outcome="s47"),
        "referral_outcome",
    ),
    (
        ce.StrategyDiscussionHeld(
            discussion_id="S1",
            discussion_date=D("2024-01-04"),
            section_47_enquiry=True,
            icpc_due_date=D("2024-01-25"),
        ),
        "s47",
    ),
    (
        ce.Section47EnquiryConcluded(
            discussion_id="S1", concluded_on=D("2024-01-10"), outcome="icpc"
        ),
        "s47_concluded",
    ),
    (
        ce.InitialChildProtectionConferenceHeld(
            conference_date=D("2024-01-20"), plan_required=True, within_timescale=True
        ),
        "icpc",
    ),
    (
        ce.MissingEpisodeRecorded(started_on=D("2024-02-01"), ended_on=D("2024-02-02"), kind="M"),
        "missing",
    ),
    (
        ce.ReturnHomeInterviewOffered(
            missing_started_on=D("2024-02-01"),
            offered_on=D("2024-02-03"),
            accepted=True,
            within_72_hours=True,
        ),
        "return_interview",
    ),
    (
        ce.PreProceedingsConcluded(
            concluded_on=D("2024-06-01"), outcome="step_down", weeks_taken=14
        ),
        "pre_proceedings_concluded",
    ),
    (
        esc.EscalationAdvanced(advanced_on=D("2024-02-01"), stage="formal", child_id="CH-A"),
        "escalation_advanced",
    ),
    (
        esc.EscalationResponded(responded_on=D("2024-02-05"), child_id="CH-A"),
        "escalation_responded",
    ),
    (
        acc.PlacementChanged(
            **PLACEMENT, reason="CARPL", previous_placement_id="PL1", moves_in_last_12_months=1
        ),
        "placement_move",
    ),
    (acc.HomelessnessPreventionReferred(referred_on=D("2024-01-05")), "homelessness_referral"),
    (
        acc.HomelessnessPreventionOutcomeRecorded(outcome_on=D("2024-02-05"), outcome="prevented"),
        "homelessness_outcome",
    ),
    (acc.TenancyStarted(started_on=D("2024-03-01"), tenure="social"), "tenancy_started"),
    (acc.TenancyEnded(ended_on=D("2024-09-01"), planned=False), "tenancy_ended"),
    (edu.NEETPanelReviewed(review_date=D("2024-03-03"), action="training_offer"), "neet_panel"),
    (edu.SummerSchoolSignedUp(signed_up_on=D("2024-05-05"), year_group=10), "summer_school"),
]


@pytest.mark.parametrize(("event", "kind"), NEW_EVENTS, ids=lambda x: getattr(x, "event_type", x))
def test_every_new_event_reaches_the_boards_as_what_happened(event: Any, kind: str) -> None:
    happened = [c for c in board_changes(event) if isinstance(c, Occurrence)]
    assert [o.kind for o in happened] == [kind]
    # On the day it happened in the world (a return interview: the day it was offered).
    day = event.offered_on if kind == "return_interview" else event.occurred_at().date()
    assert happened[0].day == day


def test_escalation_steps_carry_the_child_their_locality_comes_from() -> None:
    [advanced] = board_changes(NEW_EVENTS[8][0])
    assert isinstance(advanced, Occurrence)
    assert (advanced.stage, advanced.child_id) == ("formal", "CH-A")


# -- the vulnerability cuts ---------------------------------------------------------------------


def test_the_cuts_follow_age_on_the_day_birth_disability_and_the_latest_factors() -> None:
    day = D("2024-06-30")
    baby = kid("B", "2024-01-01")
    unborn = kid("U", "2024-08-01", unborn="1")
    teen = kid("T", "2010-01-01", factors=f"{CSE},{DA}")
    younger = kid("Y", "2016-01-01", factors=CSE)
    disabled = kid("X", "2015-01-01", disabilities="LD")

    def cuts(c: Child) -> set[str]:
        return {key for key, _ in COHORTS if in_cohort(c, key, day)}

    assert cuts(baby) == {"under_1", "age_0_8"}
    assert cuts(unborn) == set()  # in none of the age cuts before birth
    assert cuts(teen) == {"exploitation", "domestic_abuse"}
    assert cuts(younger) == {"age_0_8"}  # exploitation is an adolescent's cut (10 to 17)
    assert cuts(disabled) == {"disabled"}
    assert in_cohort(kid("M", factors=MH), "mental_health", day)
    assert in_cohort(kid("S", factors=SM), "substance_misuse", day)


def test_the_attendance_board_has_the_row_of_children_in_need_with_a_social_worker() -> None:
    day = D("2024-06-03")
    children = [
        kid("A", cin_plan="P1", social_worker="SW-1"),
        kid("B", cp_plan="P2", social_worker="SW-2"),
        kid("C", in_care="C2"),
        kid("D", social_worker="SW-1"),  # allocated, not a child in need
    ]
    marks = [at("attendance", c, "2024-06-03", sessions_attended=1) for c in ("A", "C", "D")]
    f = figures(d.attendance([(day, children, marks)], day, None))
    assert f[("cin_all", "2024-06-03")] == (2, 3)
    assert f[("cin_allocated", "2024-06-03")] == (1, 2)  # A attended, B did not


def test_the_cuts_on_the_risk_timeliness_and_children_in_care_boards() -> None:
    day = D("2024-06-30")
    children = [
        kid("A", "2024-02-01", rag="RED", cp_plan="P", cp_started="2024-03-01"),
        kid("B", "2020-01-01", rag="GREEN", in_care="C2"),
        kid("C", "2010-01-01", rag="RED", factors=CCE, in_care="C2"),
    ]
    risk = figures(d.risk(children, [], day, None, D("2024-01-01")))
    assert risk[("cut.under_1.rated", None)] == (1, None)
    assert risk[("cut.under_1.rag.red", None)] == (1, 1)
    assert risk[("cut.age_0_8.rag.red", None)] == (1, 2)
    assert risk[("cut.exploitation.rag.red", None)] == (1, 1)
    timeliness = figures(d.timeliness(children, day, None))
    assert timeliness[("cut.under_1.cp_plans_open", None)] == (1, None)
    cic = figures(d.children_in_care(children, day, None))
    assert cic[("cut.age_0_8.in_care", None)] == (1, None)
    assert cic[("cut.exploitation.in_care", None)] == (1, None)


# -- visits ---------------------------------------------------------------------------------


def test_visits_within_the_frequency_count_from_the_last_visit_or_the_new_rating() -> None:
    day = D("2024-06-30")
    children = [
        kid("A", rag="RED", visit_every="7", last_seen="2024-06-23"),  # 7 days: in
        kid("B", rag="RED", visit_every="7", last_seen="2024-06-22"),  # 8 days: out
        kid("C", rag="RED", visit_every="7", rating_since="2024-06-27"),  # new rating: not due
        kid("D", rag="AMBER", visit_every="14", last_seen="2024-06-01", rating_since="2024-05-01"),
        kid("E", rag="GREEN", last_seen="2024-06-02"),  # no frequency recorded: 28 days
        kid("F", cin_plan="P"),  # not rated
    ]
    f = figures(cw.visits(children, day, None))
    assert f[("rated", None)] == (5, None)
    assert f[("rated.red", None)] == (3, None)
    assert f[("within_frequency", None)] == (3, 5)
    assert f[("within_frequency.red", None)] == (2, 3)
    assert f[("within_frequency.amber", None)] == (0, 1)
    assert f[("within_frequency.green", None)] == (1, 1)


def test_statutory_visits_within_their_timescales_by_plan_type() -> None:
    children = [
        # CP: 10 working days from Friday 3 May 2024 (bank holiday Monday 6 May): 20 May.
        kid("A", cp_plan="P", cp_started="2024-05-03"),
        kid("B", cp_plan="P", cp_started="2024-01-01", **{"seen:CP": "2024-05-03"}),
        # Seen under another plan type: does not count for the CP plan.
        kid("C", cp_plan="P", cp_started="2024-01-01", **{"seen:CIN": "2024-05-10"}),
        # In care from 1 January, seen 1 February: due 14 March (6 weeks).
        kid("D", in_care="C2", care_started="2024-01-01", **{"seen:CLA": "2024-02-01"}),
        # A care leaver over 25 is not counted.
        kid("E", "1990-01-01", care_leaver="former_relevant", care_leaver_since="2024-05-01"),
    ]
    on_time = figures(cw.visits(children, D("2024-05-20"), None))
    assert on_time[("statutory.CP", None)] == (3, None)
    assert on_time[("statutory.CP.in_timescale", None)] == (2, 3)  # A and B; C overdue
    late = figures(cw.visits(children, D("2024-05-21"), None))
    assert late[("statutory.CP.in_timescale", None)] == (0, 3)
    assert figures(cw.visits(children, D("2024-03-14"), None))[
        ("statutory.CLA.in_timescale", None)
    ] == (1, 1)
    assert figures(cw.visits(children, D("2024-03-15"), None))[
        ("statutory.CLA.in_timescale", None)
    ] == (0, 1)
    assert late[("statutory.CL", None)] == (0, None)


def test_children_in_need_not_seen_in_the_last_n_days() -> None:
    children = [
        kid("A", cin_plan="P", last_seen="2024-06-23"),
        kid("B", cp_plan="P", last_seen="2024-06-01"),
        kid("C", in_care="C2"),  # never seen
        kid("D", last_seen="2020-01-01"),  # not a child in need
    ]
    f = figures(cw.visits(children, D("2024-06-30"), None))
    assert f[("open_cases", None)] == (3, None)
    assert f[("not_seen.7", None)] == (2, 3)
    assert f[("not_seen.28", None)] == (2, 3)
    assert f[("not_seen.42", None)] == (1, 3)


# -- workforce ------------------------------------------------------------------------------


def test_caseloads_are_open_allocations_banded_and_workers_are_council_view_only() -> None:
    day = D("2024-06-30")
    children = [
        *(kid(f"A{i}", cin_plan="P", social_worker="SW-1", sw_team="T1") for i in range(12)),
        *(kid(f"B{i}", cp_plan="P", social_worker="SW-2", sw_team="T2") for i in range(3)),
        kid("C", in_care="C2"),  # a child in need without a worker
        kid("L1", "2005-01-01", care_leaver="relevant", personal_adviser="PA-1"),
        kid("L2", "1995-01-01", care_leaver="relevant", personal_adviser="PA-1"),  # over 25
    ]
    board = cw.workforce(children, day, None)
    f = figures(board)
    assert f[("sw.workers", None)] == (2, None)
    assert f[("sw.allocated", None)] == (15, None)
    assert f[("sw.caseload.1_to_10", None)] == (1, 2)
    assert f[("sw.caseload.11_to_15", None)] == (1, 2)
    assert f[("worker.team.T1", None)] == (12, 15)  # a team of one: a worker's caseload
    assert f[("pa.workers", None)] == (1, None)
    assert f[("pa.allocated", None)] == (1, None)
    assert f[("in_need_unallocated", None)] == (1, 16)
    assert f[("worker.sw.SW-1", None)] == (12, None)
    sheet = disclosure.partnership(cw.workforce, (children,), day, ["Exeter"], 5)
    assert not [f.key for b in sheet.values() for f in b.figures if f.key.startswith("worker.")]
    assert not [f.key for b in sheet.values() for f in b.figures if "team" in f.key]
    assert not [f.key for f in suppress(board, 5).figures if f.key.startswith("worker.")]


# -- the front door -------------------------------------------------------------------------


def test_re_referrals_are_derived_whatever_order_the_referrals_came_in() -> None:
    referrals = [
        at("referral", "A", "2024-03-10"),
        at("referral", "A", "2023-03-10"),  # recorded late: 12 months before, to the day
        at("referral", "B", "2024-03-11"),
        at("referral", "B", "2023-03-10"),  # 12 months and a day before: not a re-referral
        at("referral", "C", "2024-02-01"),
        at("referral", "C", "2024-02-01"),  # the same day: not an earlier referral
    ]
    assert [(h.subject_id, h.day) for h in cw.re_referrals(referrals)] == [("A", D("2024-03-10"))]


def test_the_front_door_counts_by_month_with_the_shares_of_their_base() -> None:
    since, day = D("2024-02-01"), D("2024-03-31")
    happenings = [
        at("referral", "A", "2023-06-01"),  # before the period: makes A's March referral a re-
        at("referral", "A", "2024-03-05"),
        at("referral", "B", "2024-02-05"),
        at("contact", "A", "2024-02-01", outcome="referral"),
        at("contact", "C", "2024-03-02", outcome="nfa"),
        at("referral_outcome", "A", "2024-03-06", outcome="assessment"),
        at("assessment_completed", "A", "2024-03-20", within_timescale=True, factors=f"{DA},{CSE}"),
        at("assessment_completed", "B", "2024-03-21", within_timescale=False, factors=DA),
        at("s47", "B", "2024-02-10"),
        at("s47_concluded", "B", "2024-02-20", outcome="icpc"),
        at("icpc", "B", "2024-02-28", within_timescale=True),
        at("referral", "D", "2024-04-01"),  # after the day asked
    ]
    f = figures(cw.front_door(happenings, day, None, since))
    window = "2024-02-01/2024-03-31"
    assert f[("referrals", window)] == (2, None)
    assert f[("referrals", "2024-02")] == (1, None)
    assert f[("re_referrals", window)] == (1, 2)
    assert f[("re_referrals", "2024-03")] == (1, 1)
    assert f[("contacts", "2024-03")] == (1, None)
    assert f[("contacts.nfa", window)] == (1, 2)
    assert f[("referral_outcomes.assessment", window)] == (1, 1)
    assert f[("assessments_in_45_days", window)] == (1, 2)
    assert f[("icpcs_in_15_days", "2024-02")] == (1, 1)
    assert f[("s47_concluded.icpc", window)] == (1, 1)
    assert f[(f"factor.{DA}", window)] == (2, 2)
    assert f[(f"factor.{CSE}", window)] == (1, 2)
    assert (f"factor.{MH}", window) not in f  # only the factors found


# -- missing --------------------------------------------------------------------------------


def test_missing_episodes_children_and_return_home_interviews() -> None:
    since, day = D("2024-01-01"), D("2024-02-29")
    happenings = [
        at("missing", "A", "2024-01-05", missing_kind="M"),
        at("missing", "A", "2024-01-05", missing_kind="M", ended_on=D("2024-01-06")),  # again
        at("return_interview", "A", "2024-01-08", started_on=D("2024-01-05"),
           within_timescale=True, accepted=False),
        at("missing", "A", "2024-02-10", missing_kind="A", ended_on=D("2024-02-11")),
        at("return_interview", "A", "2024-02-16", started_on=D("2024-02-10"),
           within_timescale=False, accepted=True),
        at("missing", "B", "2024-02-20", missing_kind="M", ended_on=D("2024-02-21")),
        at("missing", "C", "2024-02-28", missing_kind="M"),  # not returned yet
    ]  # fmt: skip
    f = figures(cw.missing(happenings, day, None, since))
    window = "2024-01-01/2024-02-29"
    assert f[("episodes", window)] == (4, None)
    assert f[("episodes", "2024-01")] == (1, None)
    assert f[("episodes.M", window)] == (3, 4)
    assert f[("children", window)] == (3, None)
    assert f[("children", "2024-02")] == (3, None)
    assert f[("returned", window)] == (3, None)
    assert f[("rhi_offered", window)] == (2, 3)
    assert f[("rhi_within_72_hours", window)] == (1, 3)
    assert f[("rhi_accepted", window)] == (1, 2)


# -- escalations, pre-proceedings, placements, housing, education support --------------------


def test_escalation_stages_as_at_the_day_and_response_times_in_working_days() -> None:
    since = D("2024-01-01")
    steps = [
        at("escalation_raised", "E1", "2024-01-02", child_id="A"),
        at("escalation_advanced", "E1", "2024-01-10", stage="formal", child_id="A"),
        at("escalation_responded", "E1", "2024-01-12", child_id="A"),  # 2 working days
        at("escalation_raised", "E2", "2024-03-21", child_id="B"),
        # Easter (29 March, 1 April): 7 working days from Thursday 21 March.
        at("escalation_responded", "E2", "2024-04-03", child_id="B"),
        at("escalation_advanced", "E2", "2024-04-05", stage="senior_manager", child_id="B"),
        at("escalation_resolved", "E1", "2024-04-01", child_id="A"),
    ]
    march = figures(ov.escalation_stages(steps, D("2024-03-31"), None, since))
    assert march[("open", None)] == (2, None)
    assert march[("open.formal", None)] == (1, 2)
    assert march[("open.informal", None)] == (1, 2)
    april = figures(ov.escalation_stages(steps, D("2024-04-30"), None, since))
    assert april[("open.senior_manager", None)] == (1, 1)  # E1 resolved
    window = "2024-01-01/2024-04-30"
    assert april[("advanced", window)] == (2, None)
    assert april[("responses.within_5_working_days", window)] == (1, 2)
    assert april[("responses.6_to_10_working_days", window)] == (1, 2)


def test_pre_proceedings_outcomes_and_durations() -> None:
    since, day = D("2024-01-01"), D("2024-06-30")
    done = [
        at("pre_proceedings_concluded", "A", "2024-02-01", outcome="issue", duration=12),
        at("pre_proceedings_concluded", "B", "2024-03-01", outcome="step_down", duration=13),
        at("pre_proceedings_concluded", "C", "2024-03-02", outcome="step_down", duration=30),
    ]
    board = ov.pre_proceedings([kid("D", pre_proceedings="2024-05-01")], done, day, None, since)
    f = figures(board)
    window = "2024-01-01/2024-06-30"
    assert f[("open", None)] == (1, None)
    assert f[("concluded", window)] == (3, None)
    assert f[("concluded", "2024-03")] == (2, None)
    assert f[("concluded.step_down", window)] == (2, 3)
    assert f[("weeks.up_to_12", window)] == (1, 3)
    assert f[("weeks.13_to_16", window)] == (1, 3)
    assert f[("weeks.over_26", window)] == (1, 3)


def test_placement_stability_counts_moves_in_the_12_months_to_the_day() -> None:
    children = [kid("A", in_care="C2"), kid("B", in_care="C2"), kid("C")]
    moves = [
        at("placement_move", "A", "2023-06-30"),  # a year before to the day: outside
        at("placement_move", "A", "2023-07-01"),
        at("placement_move", "A", "2024-01-01"),
        at("placement_move", "A", "2024-06-30"),
        at("placement_move", "B", "2024-02-01"),
        at("placement_move", "C", "2024-02-01"),  # not in care on the day
    ]
    f = figures(ov.placement_stability(children, moves, D("2024-06-30"), None))
    assert f[("moves", None)] == (4, None)
    assert f[("moved", None)] == (2, 2)
    assert f[("moves_3_or_more", None)] == (1, 2)


def test_housing_on_the_day_and_over_the_period() -> None:
    since, day = D("2024-01-01"), D("2024-06-30")
    children = [kid("A", tenancy="social"), kid("B", homelessness="open"), kid("C")]
    happenings = [
        at("homelessness_referral", "B", "2024-02-01"),
        at("homelessness_outcome", "C", "2024-03-01", outcome="prevented"),
        at("tenancy_started", "A", "2024-01-10", tenure="social"),
        at("tenancy_ended", "C", "2024-04-01", planned=False),
        at("tenancy_ended", "D", "2023-04-01", planned=False),  # before the period
    ]
    f = figures(ov.housing(children, happenings, day, None, since))
    window = "2024-01-01/2024-06-30"
    assert f[("homelessness_open", None)] == (1, None)
    assert f[("in_tenancy.social", None)] == (1, 1)
    assert f[("homelessness_outcomes.prevented", window)] == (1, 1)
    assert f[("tenancies_ended_unplanned", window)] == (1, 1)


def test_neet_panels_and_summer_school() -> None:
    since, day = D("2024-01-01"), D("2024-06-30")
    children = [
        kid("A", "2006-01-01", activity="G5"),
        kid("B", "2006-01-01", activity="G6"),
        kid("C", "2006-01-01", activity="F4"),
        kid("D", "1990-01-01", activity="G5"),  # over 25
    ]
    happenings = [
        at("neet_panel", "A", "2024-02-01", outcome="training_offer"),
        at("neet_panel", "A", "2024-03-01", outcome="careers_referral"),
        at("summer_school", "E", "2024-05-01", year_group=5),
        at("summer_school", "F", "2024-05-02", year_group=10),
    ]
    f = figures(ov.education_support(children, happenings, day, None, since))
    window = "2024-01-01/2024-06-30"
    assert f[("neet", None)] == (2, None)
    assert f[("neet_reviewed", window)] == (1, 2)
    assert f[("neet_panel_reviews", window)] == (2, None)
    assert f[("young_people_reviewed", window)] == (1, None)
    assert f[("summer_school.10", window)] == (1, 2)


# -- the partnership view of the new boards --------------------------------------------------


def test_each_share_on_the_new_boards_names_its_denominator_and_its_sums_hold() -> None:
    """On a board of every kind of record: each share's denominator (by its shape) is the
    figure of that name, with the same number; and each sum the shape declares holds."""
    since, day = D("2024-01-01"), D("2024-03-31")
    children = [
        kid("A", rag="RED", last_seen="2024-03-30", cin_plan="P", social_worker="S", sw_team="T"),
        kid(
            "B", rag="GREEN", cp_plan="P", cp_started="2024-03-01", activity="G5", tenancy="social"
        ),
        kid("C", "2006-01-01", care_leaver="relevant", personal_adviser="PA", activity="G5"),
    ]
    happenings = [
        at("referral", "A", "2024-01-05"),
        at("referral", "A", "2024-02-05"),
        at("contact", "B", "2024-03-01", outcome="nfa"),
        at("missing", "A", "2024-02-01", missing_kind="M", ended_on=D("2024-02-02")),
        at("escalation_raised", "E", "2024-01-02", child_id="A"),
        at("escalation_responded", "E", "2024-01-03", child_id="A"),
        at("neet_panel", "C", "2024-02-01", outcome="training_offer"),
        at("tenancy_ended", "B", "2024-02-01", planned=True),
        at("pre_proceedings_concluded", "B", "2024-02-01", outcome="issue", duration=10),
    ]
    boards = [
        cw.visits(children, day, None),
        cw.workforce(children, day, None),
        cw.front_door(happenings, day, None, since),
        cw.missing(happenings, day, None, since),
        ov.escalation_stages(happenings, day, None, since),
        ov.pre_proceedings(children, happenings, day, None, since),
        ov.placement_stability(children, happenings, day, None),
        ov.housing(children, happenings, day, None, since),
        ov.education_support(children, happenings, day, None, since),
    ]
    for board in boards:
        assert board.board in disclosure.SHAPES
        values = {(f.key, f.period): f.count for f in board.figures}
        for f in board.figures:
            name = disclosure.denominator_of(board.board, f)
            if name is not None and not name[0].startswith("of:"):
                assert values[name] == f.denominator, (board.board, f.key, name)
        for s in disclosure.sums_of(board):
            assert s.parts, (board.board, s.total)
            assert values[s.total] == sum(values[p] or 0 for p in s.parts), (board.board, s.total)

"""The boards of the child's whole record through the real stack: a small county's events on
the real topics, the real projections worker and API, and each new board's figures against
values worked out by hand below, before and after a second batch of events that arrive late,
backdated and out of order (a birth, visits, a social worker allocated from months before, a
referral that turns a later one into a re-referral, a placement move between two consumed
ones, an episode's end and its interview, an escalation's next stage)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from contracts.accommodation import events as acc
from contracts.case_events import events as ce
from contracts.case_events.codes import AssessmentFactor as F
from contracts.education import events as edu
from contracts.escalations import events as esc
from contracts.escalations.codes import RAG, VISITING_FREQUENCY_DAYS, RatingSource
from services.projections.boards.totals import TOTALLED
from shared.settings import Settings
from tests.infrastructure import MANAGER, Infrastructure, holds_within
from tests.integration.scenario import D, marks, registered
from tests.integration.test_boards import (
    _consumed_all,
    _from_facts,
    _live,
    _partnership_from_facts,
    board,
    boards_running,
)
from tests.publisher import Log

pytestmark = pytest.mark.integration

CASE, ACCO, EDUC, ESCS = (
    "case-events",
    "accommodation-events",
    "education-events",
    "escalation-events",
)
DA, CSE = F.DOMESTIC_ABUSE_PARENT.value, F.CHILD_SEXUAL_EXPLOITATION.value
DAY = "2024-06-30"
SINCE = "2024-01-01"
WINDOW = f"{SINCE}/{DAY}"
KEPT_DAYS = ["2024-06-30", "2024-07-31"]


def rated(on: str, rag: RAG, previous: RAG | None = None) -> esc.RiskRatingAssigned:
    return esc.RiskRatingAssigned(
        rated_on=D(on),
        rating=rag,
        previous=previous,
        visiting_frequency_days=VISITING_FREQUENCY_DAYS[rag],
        source=RatingSource.ASSESSMENT,
    )


def seen(on: str, plan_type: str) -> ce.StatutoryVisitRecorded:
    return ce.StatutoryVisitRecorded(
        visit_date=D(on), plan_type=plan_type, seen=True, seen_alone=True, visitor_id="SW-1"
    )


def allocated(on: str, worker: str, team: str, **kw: Any) -> ce.SocialWorkerAllocated:
    return ce.SocialWorkerAllocated(allocated_on=D(on), worker_id=worker, team_id=team, **kw)


def placement(
    pid: str, on: str, previous: str | None = None
) -> acc.PlacementStarted | acc.PlacementChanged:
    facts: dict[str, Any] = {
        "placement_id": pid,
        "start_date": D(on),
        "placement_type": "U4",
        "provider": "PR1",
        "in_council_area": True,
    }
    if previous is None:
        return acc.PlacementStarted(**facts)
    return acc.PlacementChanged(
        **facts, reason="CARPL", previous_placement_id=previous, moves_in_last_12_months=1
    )


def first_batch() -> Log:
    """What the county recorded on time (each child's story in the comments)."""
    log = Log()
    # R1: Exeter, 12; CIN plan from 15 January, social worker SW-1; referred in September 2023
    # and again in March (a re-referral); assessed (domestic abuse, sexual exploitation); RED
    # from 1 March; seen on 25 June; away without authorisation on 20 May; an escalation.
    log.add(
        CASE,
        "CH-R1",
        registered("CH-R1", "2012-05-01", "Exeter"),
        ce.ReferralReceived(referral_id="RF1", referral_date=D("2023-09-01"), source="2A"),
        ce.ChildInNeedPlanStarted(plan_id="CIN1", start_date=D("2024-01-15"), primary_need="N1"),
        allocated("2024-01-15", "SW-1", "T-EX"),
        ce.FrontDoorContactReceived(
            contact_id="CT1", contact_date=D("2024-02-28"), source="2A", outcome="referral"
        ),
        ce.ReferralReceived(referral_id="RF2", referral_date=D("2024-03-01"), source="2A"),
        ce.ReferralOutcomeRecorded(
            referral_id="RF2", decided_on=D("2024-03-02"), outcome="assessment"
        ),
        ce.AssessmentStarted(
            assessment_id="AS1", start_date=D("2024-03-02"), due_date=D("2024-05-07")
        ),
        ce.AssessmentCompleted(
            assessment_id="AS1",
            completion_date=D("2024-04-20"),
            factors=[DA, CSE],
            working_days_taken=33,
            within_timescale=True,
        ),
        ce.MissingEpisodeRecorded(started_on=D("2024-05-20"), ended_on=D("2024-05-20"), kind="A"),
        seen("2024-06-25", "CIN"),
        ce.SocialWorkerAllocationEnded(ended_on=D("2024-07-01"), worker_id="SW-1"),
    )
    log.add(ESCS, "CH-R1", rated("2024-03-01", RAG.RED))
    # R2: Exeter, 15; contact and referral in April, S47, ICPC, CP plan from Friday 3 May with
    # SW-1, then SW-3 from 15 June; AMBER; seen on 17 May; pre-proceedings 10 May to 20 June.
    log.add(
        CASE,
        "CH-R2",
        registered("CH-R2", "2009-03-01", "Exeter"),
        ce.FrontDoorContactReceived(
            contact_id="CT2", contact_date=D("2024-04-01"), source="6", outcome="referral"
        ),
        ce.ReferralReceived(referral_id="RF3", referral_date=D("2024-04-02"), source="6"),
        ce.StrategyDiscussionHeld(
            discussion_id="SD1",
            discussion_date=D("2024-04-05"),
            section_47_enquiry=True,
            icpc_due_date=D("2024-04-26"),
        ),
        ce.Section47EnquiryConcluded(
            discussion_id="SD1", concluded_on=D("2024-04-15"), outcome="icpc"
        ),
        ce.InitialChildProtectionConferenceHeld(
            conference_date=D("2024-04-26"), plan_required=True, within_timescale=True
        ),
        ce.ChildProtectionPlanStarted(
            child_id="CH-R2",
            plan_id="CP2",
            category="NEG",
            start_date=D("2024-05-03"),
            previous_plans=0,
        ),
        allocated("2024-05-03", "SW-1", "T-EX"),
        ce.PreProceedingsEntered(entered_on=D("2024-05-10")),
        seen("2024-05-17", "CP"),
        allocated("2024-06-15", "SW-3", "T-EX", reason="LEFTRL", previous_worker_id="SW-1"),
        ce.PreProceedingsConcluded(
            concluded_on=D("2024-06-20"), outcome="step_down", weeks_taken=6
        ),
    )
    log.add(ESCS, "CH-R2", rated("2024-05-03", RAG.AMBER))
    # R3: North, 8; in care from 1 February (GREEN), no social worker yet; placed, then moved
    # on 1 March and 1 June; missing 10-11 April (interview within 72 hours, accepted) and
    # from 5 June (its end not yet recorded); seen on 10 June; summer school.
    log.add(
        CASE,
        "CH-R3",
        registered("CH-R3", "2015-07-01", "North"),
        ce.PeriodOfCareStarted(
            start_date=D("2024-02-01"), legal_status="C2", first_review_due=D("2024-02-29")
        ),
        ce.MissingEpisodeRecorded(started_on=D("2024-04-10"), ended_on=D("2024-04-11"), kind="M"),
        ce.ReturnHomeInterviewOffered(
            missing_started_on=D("2024-04-10"),
            offered_on=D("2024-04-12"),
            accepted=True,
            within_72_hours=True,
        ),
        ce.MissingEpisodeRecorded(started_on=D("2024-06-05"), kind="M"),
        seen("2024-06-10", "CLA"),
    )
    log.add(ESCS, "CH-R3", rated("2024-02-01", RAG.GREEN))
    log.add(ACCO, "CH-R3", placement("P1", "2024-02-01"), placement("P2", "2024-03-01", "P1"))
    log.add(ACCO, "CH-R3", placement("P4", "2024-06-01", "P2"))
    log.add(EDUC, "CH-R3", edu.SummerSchoolSignedUp(signed_up_on=D("2024-05-01"), year_group=5))
    log.add(EDUC, "CH-R1", marks("2024-06-03", "100001", "/", "N"))
    log.add(EDUC, "CH-R2", marks("2024-06-03", "100001", "N", "N"))
    log.add(EDUC, "CH-R3", marks("2024-06-03", "100001", "/", "/"))
    # U1: North, unborn (due 1 July); referred on 1 June, SW-2, a pre-birth CP plan and RED
    # from 10 June.
    log.add(
        CASE,
        "CH-U1",
        ce.UnbornChildRegistered(
            child_id="CH-U1", expected_date_of_birth=D("2024-07-01"), locality="North"
        ),
        ce.ReferralReceived(referral_id="RF4", referral_date=D("2024-06-01"), source="3B"),
        allocated("2024-06-01", "SW-2", "T-N"),
        ce.ChildProtectionPlanStarted(
            child_id="CH-U1",
            plan_id="CP3",
            category="NEG",
            start_date=D("2024-06-10"),
            previous_plans=0,
        ),
    )
    log.add(ESCS, "CH-U1", rated("2024-06-10", RAG.RED))
    # L1: Exeter care leaver, 19, PA-1, NEET, reviewed at panel; homelessness prevented; in a
    # social tenancy. L2: North care leaver, 20, at college, a tenancy that ended unplanned,
    # then referred for homelessness prevention.
    log.add(
        CASE,
        "CH-L1",
        registered("CH-L1", "2005-01-01", "Exeter"),
        ce.CareLeaverStatusRecorded(recorded_on=D("2023-01-01"), status="former_relevant"),
        ce.PersonalAdviserAllocated(allocated_on=D("2023-01-01"), adviser_id="PA-1"),
        ce.FrontDoorContactReceived(
            contact_id="CT3", contact_date=D("2024-05-05"), source="1C", outcome="nfa"
        ),
    )
    log.add(
        CASE,
        "CH-L2",
        registered("CH-L2", "2004-06-01", "North"),
        ce.CareLeaverStatusRecorded(recorded_on=D("2022-06-01"), status="former_relevant"),
    )
    log.add(
        EDUC,
        "CH-L1",
        edu.EETActivityRecorded(recorded_on=D("2024-01-01"), activity="G5", neet=True),
        edu.NEETPanelReviewed(review_date=D("2024-03-15"), action="training_offer"),
    )
    log.add(
        EDUC,
        "CH-L2",
        edu.EETActivityRecorded(recorded_on=D("2024-01-01"), activity="F4", neet=False),
    )
    log.add(
        ACCO,
        "CH-L1",
        acc.HomelessnessPreventionReferred(referred_on=D("2024-01-10")),
        acc.HomelessnessPreventionOutcomeRecorded(outcome_on=D("2024-01-31"), outcome="prevented"),
        acc.TenancyStarted(started_on=D("2024-02-01"), tenure="social"),
    )
    log.add(
        ACCO,
        "CH-L2",
        acc.TenancyStarted(started_on=D("2024-03-01"), tenure="private"),
        acc.TenancyEnded(ended_on=D("2024-05-31"), planned=False),
        acc.HomelessnessPreventionReferred(referred_on=D("2024-06-01")),
    )
    # ESC-1 about R1: raised Monday 4 March, answered in 3 working days; formal on 20 March,
    # answered on 5 April (10 working days over Easter). ESC-2 about R3: 1 to 20 May.
    log.add(
        ESCS,
        "ESC-1",
        esc.EscalationRaised(
            escalation_id="ESC-1",
            child_id="CH-R1",
            raised_on=D("2024-03-04"),
            raised_by="IRO",
            reason="care_planning",
            locality="Exeter",
        ),
        esc.EscalationResponded(responded_on=D("2024-03-07"), child_id="CH-R1"),
        esc.EscalationAdvanced(advanced_on=D("2024-03-20"), stage="formal", child_id="CH-R1"),
        esc.EscalationResponded(responded_on=D("2024-04-05"), child_id="CH-R1"),
    )
    log.add(
        ESCS,
        "ESC-2",
        esc.EscalationRaised(
            escalation_id="ESC-2",
            child_id="CH-R3",
            raised_on=D("2024-05-01"),
            raised_by="IRO",
            reason="placement_stability",
            locality="North",
        ),
        esc.EscalationResolved(
            resolved_on=D("2024-05-20"),
            resolution="agreed",
            child_id="CH-R3",
            reason="placement_stability",
            days_open=19,
        ),
    )
    return log


def late_batch(log: Log) -> Log:
    """Recorded after the boards were read and their days kept: late, backdated, out of order."""
    # U1 was born on 20 June: under 1 from then (on every board, kept totals included).
    log.add(CASE, "CH-U1", ce.ChildBorn(date_of_birth=D("2024-06-20")))
    # R1 seen on 28 June, then an older visit recorded after it: the last visit stays 28 June.
    log.add(CASE, "CH-R1", seen("2024-06-28", "CIN"), seen("2024-05-01", "CIN"))
    # R2 seen on 20 June (late), and an earlier referral (October 2023) now recorded: the April
    # referral becomes a re-referral.
    log.add(
        CASE,
        "CH-R2",
        seen("2024-06-20", "CP"),
        ce.ReferralReceived(referral_id="RF0", referral_date=D("2023-10-01"), source="6"),
    )
    # R3: a social worker from 1 March (backdated), a move on 1 April (between the two
    # consumed), the June episode's end (6 June) and its interview, offered late and refused.
    log.add(
        CASE,
        "CH-R3",
        allocated("2024-03-01", "SW-2", "T-N"),
        ce.MissingEpisodeRecorded(started_on=D("2024-06-05"), ended_on=D("2024-06-06"), kind="M"),
        ce.ReturnHomeInterviewOffered(
            missing_started_on=D("2024-06-05"),
            offered_on=D("2024-06-10"),
            accepted=False,
            within_72_hours=False,
        ),
    )
    log.add(ACCO, "CH-R3", placement("P3", "2024-04-01", "P2"))
    # ESC-1 went to a senior manager on 1 June.
    log.add(
        ESCS,
        "ESC-1",
        esc.EscalationAdvanced(
            advanced_on=D("2024-06-01"), stage="senior_manager", child_id="CH-R1"
        ),
    )
    return log


@pytest.fixture(scope="module")
def record_stack(infra: Infrastructure) -> Iterator[tuple[str, Settings, Infrastructure, Log]]:
    log = first_batch()
    with boards_running(infra, log, "record") as (url, settings):
        yield url, settings, infra, log


def test_the_boards_before_and_after_late_backdated_and_out_of_order_events(
    record_stack: tuple[str, Settings, Infrastructure, Log],
) -> None:
    url, settings, infra, log = record_stack
    dsn = infra.dsn(settings.database)
    asked = {"as_at": DAY, "since": SINCE}
    before = {name: board(url, name, **asked) for name in BOARDS_ASKED}
    before_attendance = board(url, "attendance", as_at=DAY, dates="2024-06-03")
    for day in KEPT_DAYS:  # the days kept as totals from now on
        for name in TOTALLED:
            board(url, name, as_at=day)
    check_before(before, before_attendance)

    consumed = sum(
        r["next_offset"]
        for r in asyncio.run(_live(dsn, "SELECT next_offset FROM {schema}.projection_offsets"))
    )
    sent = asyncio.run(late_batch(log).publish(settings))
    asyncio.run(_consumed_all(dsn, consumed + sent))

    holds_within(lambda: check_after_the_late_batch(url, dsn, settings), 30)


def check_after_the_late_batch(url: str, dsn: str, settings: Settings) -> None:
    asked = {"as_at": DAY, "since": SINCE}
    after = {name: board(url, name, **asked) for name in BOARDS_ASKED}
    check_after(after, board(url, "attendance", as_at=DAY, dates="2024-06-03"))
    check_other_days(url)
    kept = {
        (r["board"], str(r["day"]))
        for r in asyncio.run(
            _live(dsn, "SELECT board, day FROM {schema}.board_days WHERE NOT keeping")
        )
    }
    assert {(b, day) for b in TOTALLED for day in KEPT_DAYS} <= kept
    for day in KEPT_DAYS:  # every kept board is its definition over the facts
        for name in sorted(TOTALLED):
            for locality in (None, "Exeter", "North"):
                params = {
                    "view": "council",
                    "as_at": day,
                    **({"locality": locality} if locality else {}),
                }
                response = MANAGER.get(f"{url}/boards/{name}", params=params)
                assert response.status_code == 200, response.text
                assert response.json()["figures"] == asyncio.run(
                    _from_facts(dsn, name, day, locality)
                ), (name, day, locality)
                # and the partnership view, as the whole definition's over the facts would be
                params["view"] = "partnership"
                response = MANAGER.get(f"{url}/boards/{name}", params=params)
                assert response.status_code == 200, response.text
                threshold = settings.small_number_threshold
                assert response.json()["figures"] == asyncio.run(
                    _partnership_from_facts(dsn, name, day, locality, threshold)
                ), ("partnership", name, day, locality)


BOARDS_ASKED = (
    "visits",
    "workforce",
    "front-door",
    "missing",
    "escalation-stages",
    "pre-proceedings",
    "placement-stability",
    "housing",
    "education-support",
    "timeliness",
    "children-in-care",
    "risk",
)
Boards = dict[str, dict[tuple[str, str | None], tuple[int | None, int | None, float | None]]]


def check_before(b: Boards, attendance: Any) -> None:
    visits = b["visits"]
    assert visits[("rated", None)] == (4, None, None)  # R1, U1 RED; R2 AMBER; R3 GREEN
    assert visits[("rated.red", None)] == (2, None, None)
    # R1 seen 5 days before, R3 20 (GREEN: 28); R2 last seen 17 May (AMBER: 14); U1 never
    # seen since its rating 20 days before (RED: 7).
    assert visits[("within_frequency", None)] == (2, 4, 50.0)
    # R2: 10 working days after Friday 17 May (Whit Monday 27 May) is 3 June; U1's plan from
    # 10 June: due 24 June.
    assert visits[("statutory.CP.in_timescale", None)] == (0, 2, 0.0)
    assert visits[("statutory.CIN.in_timescale", None)] == (1, 1, 100.0)
    assert visits[("statutory.CLA.in_timescale", None)] == (1, 1, 100.0)
    assert visits[("statutory.CL.in_timescale", None)] == (0, 2, 0.0)  # L1, L2: never seen
    assert visits[("cut.under_1.rated", None)] == (0, None, None)  # U1 unborn
    workforce = b["workforce"]
    assert workforce[("sw.workers", None)] == (3, None, None)  # SW-1 R1; SW-3 R2; SW-2 U1
    assert workforce[("in_need_unallocated", None)] == (1, 4, 25.0)  # R3
    assert workforce[("worker.sw.SW-2", None)] == (1, None, None)
    front = b["front-door"]
    assert front[("referrals", WINDOW)] == (3, None, None)  # R1 March, R2 April, U1 June
    assert front[("re_referrals", WINDOW)] == (1, 3, 33.33)  # R1 (September 2023)
    assert front[("re_referrals", "2024-04")] == (0, 1, 0.0)
    missing = b["missing"]
    assert missing[("returned", WINDOW)] == (2, None, None)  # the June episode not ended
    assert missing[("rhi_within_72_hours", WINDOW)] == (1, 2, 50.0)
    stages = b["escalation-stages"]
    assert stages[("open.formal", None)] == (1, 1, 100.0)
    assert stages[("advanced", WINDOW)] == (1, None, None)
    stability = b["placement-stability"]
    assert stability[("moves", None)] == (2, None, None)
    assert stability[("moves_3_or_more", None)] == (0, 1, 0.0)
    assert b["timeliness"][("cut.under_1.cp_plans_open", None)] == (0, None, None)
    assert attendance[("cin_allocated", "2024-06-03")] == (1, 2, 50.0)  # R1 came; R2 did not


def check_after(b: Boards, attendance: Any) -> None:
    visits = b["visits"]
    # R1 last seen 28 June (the older visit recorded after it changes nothing), R2 20 June.
    assert visits[("within_frequency", None)] == (3, 4, 75.0)
    assert visits[("within_frequency.red", None)] == (1, 2, 50.0)
    assert visits[("within_frequency.amber", None)] == (1, 1, 100.0)
    assert visits[("statutory.CP.in_timescale", None)] == (1, 2, 50.0)  # R2 due 4 July
    assert visits[("open_cases", None)] == (4, None, None)
    assert visits[("not_seen.7", None)] == (3, 4, 75.0)  # R2 (10 days), R3 (20), U1
    assert visits[("not_seen.14", None)] == (2, 4, 50.0)
    assert visits[("not_seen.28", None)] == (1, 4, 25.0)  # U1
    assert visits[("cut.under_1.rated", None)] == (1, None, None)  # U1 born 20 June
    assert visits[("cut.under_1.within_frequency", None)] == (0, 1, 0.0)
    assert visits[("cut.age_0_8.rated", None)] == (2, None, None)  # R3 (8), U1
    assert visits[("cut.exploitation.within_frequency", None)] == (1, 1, 100.0)  # R1
    workforce = b["workforce"]
    assert workforce[("sw.workers", None)] == (3, None, None)
    assert workforce[("sw.allocated", None)] == (4, None, None)
    assert workforce[("sw.caseload.1_to_10", None)] == (3, 3, 100.0)
    assert workforce[("worker.team.T-EX", None)] == (2, 4, 50.0)  # R1, R2
    assert workforce[("pa.workers", None)] == (1, None, None)
    assert workforce[("in_need_unallocated", None)] == (0, 4, 0.0)  # R3 from 1 March
    assert workforce[("worker.sw.SW-2", None)] == (2, None, None)  # U1 and R3
    front = b["front-door"]
    assert front[("contacts", WINDOW)] == (3, None, None)
    assert front[("contacts.referral", WINDOW)] == (2, 3, 66.67)
    assert front[("contacts", "2024-05")] == (1, None, None)
    assert front[("re_referrals", WINDOW)] == (2, 3, 66.67)  # and R2's, from October 2023
    assert front[("re_referrals", "2024-04")] == (1, 1, 100.0)
    assert front[("assessments_in_45_days", WINDOW)] == (1, 1, 100.0)
    assert front[(f"factor.{CSE}", WINDOW)] == (1, 1, 100.0)
    assert front[("s47_enquiries", "2024-04")] == (1, None, None)
    assert front[("icpcs_in_15_days", WINDOW)] == (1, 1, 100.0)
    assert front[("referral_outcomes.assessment", WINDOW)] == (1, 1, 100.0)
    missing = b["missing"]
    assert missing[("episodes", WINDOW)] == (3, None, None)  # the June episode counted once
    assert missing[("episodes.M", WINDOW)] == (2, 3, 66.67)
    assert missing[("children", WINDOW)] == (2, None, None)
    assert missing[("children", "2024-06")] == (1, None, None)
    assert missing[("returned", WINDOW)] == (3, None, None)
    assert missing[("rhi_offered", WINDOW)] == (2, 3, 66.67)
    assert missing[("rhi_within_72_hours", WINDOW)] == (1, 3, 33.33)
    assert missing[("rhi_accepted", WINDOW)] == (1, 2, 50.0)
    stages = b["escalation-stages"]
    assert stages[("open", None)] == (1, None, None)  # ESC-2 resolved
    assert stages[("open.senior_manager", None)] == (1, 1, 100.0)
    assert stages[("advanced", WINDOW)] == (2, None, None)
    assert stages[("responses.within_5_working_days", WINDOW)] == (1, 2, 50.0)
    assert stages[("responses.6_to_10_working_days", WINDOW)] == (1, 2, 50.0)
    pre = b["pre-proceedings"]
    assert pre[("open", None)] == (0, None, None)
    assert pre[("concluded.step_down", WINDOW)] == (1, 1, 100.0)
    assert pre[("weeks.up_to_12", WINDOW)] == (1, 1, 100.0)
    stability = b["placement-stability"]
    assert stability[("moves", None)] == (3, None, None)
    assert stability[("moves_3_or_more", None)] == (1, 1, 100.0)
    housing = b["housing"]
    assert housing[("homelessness_open", None)] == (1, None, None)  # L2
    assert housing[("in_tenancy.social", None)] == (1, 1, 100.0)  # L1
    assert housing[("homelessness_referrals", WINDOW)] == (2, None, None)
    assert housing[("homelessness_outcomes.prevented", WINDOW)] == (1, 1, 100.0)
    assert housing[("tenancies_ended_unplanned", WINDOW)] == (1, 1, 100.0)
    support = b["education-support"]
    assert support[("neet", None)] == (1, None, None)  # L1
    assert support[("neet_reviewed", WINDOW)] == (1, 1, 100.0)
    assert support[("summer_school.5", WINDOW)] == (1, 1, 100.0)
    assert b["timeliness"][("cut.under_1.cp_plans_open", None)] == (1, None, None)  # kept
    assert b["children-in-care"][("cut.age_0_8.in_care", None)] == (1, None, None)  # R3
    assert b["risk"][("cut.exploitation.rag.red", None)] == (1, 1, 100.0)  # R1
    assert attendance[("cin_allocated", "2024-06-03")] == (2, 3, 66.67)  # and R3, who came


def check_other_days(url: str) -> None:
    """As at other days: earlier (before the June changes) and later (after R1's worker left)."""
    may = board(url, "escalation-stages", as_at="2024-05-10", since=SINCE)
    assert may[("open", None)] == (2, None, None)
    assert may[("open.informal", None)] == (1, 2, 50.0)  # ESC-2, open then
    june = board(url, "pre-proceedings", as_at="2024-06-15", since=SINCE)
    assert june[("open", None)] == (1, None, None)
    july = board(url, "workforce", as_at="2024-07-31")
    assert july[("in_need_unallocated", None)] == (1, 4, 25.0)  # R1's allocation ended
    next_year = board(url, "placement-stability", as_at="2025-03-15")
    assert next_year[("moves", None)] == (2, None, None)  # April and June 2024 only
    north = board(url, "escalation-stages", as_at=DAY, since=SINCE, locality="North")
    assert north[("open", None)] == (0, None, None)


def test_the_partnership_view_shows_the_distribution_never_a_worker_and_csv(
    record_stack: tuple[str, Settings, Infrastructure, Log],
) -> None:
    url = record_stack[0]
    body = MANAGER.get(f"{url}/boards/workforce", params={"as_at": DAY}).json()
    assert body["view"] == "partnership"
    keys = {f["key"] for f in body["figures"]}
    assert "sw.caseload.1_to_10" in keys and not [k for k in keys if k.startswith("worker.")]
    small = [f for f in body["figures"] if f["key"] == "sw.workers"]
    assert small and small[0]["suppressed"] and small[0]["count"] is None  # 3 workers
    csv = MANAGER.get(
        f"{url}/boards/front-door",
        params={"as_at": DAY, "since": SINCE, "view": "council", "format": "csv"},
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert f"front-door,{DAY},,council,referrals,Referrals,{WINDOW},3," in csv.text
    listed = {b["board"] for b in MANAGER.get(f"{url}/boards").json()}
    assert set(BOARDS_ASKED) <= listed

"""The child's whole record (issue 14): an unborn child, characteristics, the social worker,
statutory visits, the front door, health outcomes, return home interviews, adoption, previous
permanence and deprivation of liberty. Each invariant and derivation, without I/O."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.case_events import events as e
from services.case_events.domain import commands as c
from services.case_events.domain.child import Child, ChildAlreadyRegistered
from services.case_events.personal import seal_details, unseal_details
from shared.aggregate import Decision, DomainRuleViolation
from shared.envelope import DomainEvent

TODAY = Decision(today=date(2024, 6, 1))
KEY = bytes(32)


def apply(child: Child, events: list[DomainEvent]) -> Child:
    for event in events:
        child.when(event)
        child.version += 1
    return child


def record(child: Child, decide: Callable[..., list[DomainEvent]], command: Any) -> list[Any]:
    """Decide, fold what was decided into the child, and return it."""
    events = decide(command, TODAY)
    apply(child, events)
    return events


def registered(dob: date = date(2015, 3, 2)) -> Child:
    child = Child("C-001")
    command = c.RegisterChild(child_id="C-001", date_of_birth=dob, locality="Exeter")
    return apply(child, child.register(command, TODAY))


def unborn(expected: date = date(2024, 8, 20)) -> Child:
    child = Child("C-002")
    command = c.RegisterUnbornChild(
        child_id="C-002", expected_date_of_birth=expected, locality="Exeter"
    )
    return apply(child, child.register_unborn(command, TODAY))


def refused(field: str, reason: str, decide: Callable[..., object], command: object) -> None:
    with pytest.raises(DomainRuleViolation) as error:
        decide(command, TODAY)
    assert error.value.field == field
    assert reason in error.value.reason


def in_care(child: Child, start: date = date(2023, 1, 10)) -> Child:
    record(
        child,
        child.start_period_of_care,
        c.StartPeriodOfCare(start_date=start, legal_status="C2"),
    )
    return child


# -- an unborn child --------------------------------------------------------------------------


def test_an_unborn_child_starts_its_record_and_is_born_once() -> None:
    child = unborn()
    assert child.exists and child.state.locality == "Exeter"
    assert child.state.date_of_birth is None
    [born] = record(child, child.record_birth, c.RecordBirth(date_of_birth=date(2024, 5, 30)))
    assert born == e.ChildBorn(date_of_birth=date(2024, 5, 30))
    assert child.state.date_of_birth == date(2024, 5, 30)
    refused(
        "date_of_birth",
        "recorded already",
        child.record_birth,
        c.RecordBirth(date_of_birth=date(2024, 5, 30)),
    )
    with pytest.raises(ChildAlreadyRegistered):
        child.register_unborn(
            c.RegisterUnbornChild(
                child_id="C-002", expected_date_of_birth=date(2024, 9, 1), locality="Exeter"
            ),
            TODAY,
        )


def test_a_born_child_has_no_birth_to_record_and_no_birth_is_in_the_future() -> None:
    refused(
        "date_of_birth",
        "recorded already",
        registered().record_birth,
        c.RecordBirth(date_of_birth=date(2015, 3, 2)),
    )
    refused(
        "date_of_birth",
        "in the future",
        unborn().record_birth,
        c.RecordBirth(date_of_birth=date(2024, 6, 2)),
    )


def test_a_birth_is_not_before_the_pregnancy_its_expected_date_implies() -> None:
    refused(
        "date_of_birth",
        "before the pregnancy (2023-10-31)",
        unborn().record_birth,
        c.RecordBirth(date_of_birth=date(2021, 8, 20)),
    )
    assert unborn().record_birth(c.RecordBirth(date_of_birth=date(2023, 10, 31)), TODAY)


def test_an_expected_birth_is_within_a_pregnancy() -> None:
    refused(
        "expected_date_of_birth",
        "more than 42 weeks away",
        Child("C-003").register_unborn,
        c.RegisterUnbornChild(
            child_id="C-003", expected_date_of_birth=date(2025, 6, 1), locality="Exeter"
        ),
    )


def test_what_needs_an_age_is_refused_for_an_unborn_child_not_a_crash() -> None:
    child = unborn()
    refused(
        "recorded_on",
        "not born yet",
        child.record_care_leaver_status,
        c.RecordCareLeaverStatus(recorded_on=date(2024, 5, 1), status="eligible"),
    )
    refused(
        "offered_on",
        "not born yet",
        child.offer_health_passport,
        c.OfferHealthPassport(offered_on=date(2024, 5, 1), milestone="16"),
    )
    refused(
        "start_date",
        "not born yet",
        child.start_period_of_care,
        c.StartPeriodOfCare(start_date=date(2024, 5, 1), legal_status="C2"),
    )


def test_pre_birth_work_is_dated_before_the_birth_but_not_before_the_pregnancy() -> None:
    child = unborn(expected=date(2024, 8, 20))
    plan = c.StartChildProtectionPlan(plan_id="P1", category="NEG", start_date=date(2024, 4, 2))
    record(child, child.start_child_protection_plan, plan)
    refused(
        "start_date",
        "before the pregnancy",
        child.start_assessment,
        c.StartAssessment(assessment_id="A1", start_date=date(2023, 10, 1)),
    )
    record(child, child.record_birth, c.RecordBirth(date_of_birth=date(2024, 5, 30)))
    # Recorded late, after the birth: a pre-birth visit still counts under the pre-birth plan.
    assert child.record_statutory_visit(
        c.RecordStatutoryVisit(
            visit_date=date(2024, 4, 20), plan_type="CP", seen=False, visitor_id="SW-1"
        ),
        TODAY,
    )


# -- characteristics --------------------------------------------------------------------------


def characteristics(**changes: Any) -> c.RecordCharacteristics:
    fields: dict[str, Any] = {
        "recorded_on": date(2024, 1, 9),
        "sex": "2",
        "ethnicity": "WBRI",
        "disabilities": ["NONE"],
    }
    return c.RecordCharacteristics(**{**fields, **changes})


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"disabilities": ["NONE", "MOB"]}, "disabilities", "NONE stands alone"),
        ({"disabilities": ["MOB", "HEAR", "MOB"]}, "disabilities", "twice"),
        ({"uasc_ceased_on": date(2024, 1, 1)}, "uasc_ceased_on", "unaccompanied asylum"),
        ({"recorded_on": date(2014, 1, 1)}, "recorded_on", "date of birth"),
    ],
)
def test_characteristics_keep_the_census_rules(
    changes: dict[str, Any], field: str, reason: str
) -> None:
    child = registered()
    refused(field, reason, child.record_characteristics, characteristics(**changes))


def test_asylum_status_ceases_after_it_was_recorded_and_recordings_follow_each_other() -> None:
    child = registered()
    record(
        child,
        child.record_characteristics,
        characteristics(unaccompanied_asylum_seeking=True, disabilities=["MOB", "HEAR"]),
    )
    refused(
        "uasc_ceased_on",
        "recorded as unaccompanied asylum-seeking",
        child.record_characteristics,
        characteristics(
            recorded_on=date(2024, 5, 1),
            unaccompanied_asylum_seeking=True,
            uasc_ceased_on=date(2023, 12, 1),
        ),
    )
    refused(
        "recorded_on",
        "before the last one",
        child.record_characteristics,
        characteristics(recorded_on=date(2024, 1, 8)),
    )
    [ceased] = child.record_characteristics(
        characteristics(
            recorded_on=date(2024, 5, 1),
            unaccompanied_asylum_seeking=True,
            uasc_ceased_on=date(2024, 4, 30),
        ),
        TODAY,
    )
    assert isinstance(ceased, e.ChildCharacteristicsRecorded)


# -- the social worker ------------------------------------------------------------------------


def allocate(worker: str, on: date, reason: str | None = None) -> c.AllocateSocialWorker:
    return c.AllocateSocialWorker(
        allocated_on=on, worker_id=worker, team_id="T-EX-CIN", reason=reason
    )


def test_a_change_of_social_worker_needs_a_reason_and_derives_the_previous_one() -> None:
    child = registered()
    [first] = record(child, child.allocate_social_worker, allocate("SW-1", date(2024, 1, 9)))
    assert isinstance(first, e.SocialWorkerAllocated) and first.previous_worker_id is None
    refused(
        "reason",
        "replaces the allocated social worker SW-1",
        child.allocate_social_worker,
        allocate("SW-2", date(2024, 3, 1)),
    )
    refused(
        "worker_id",
        "is the allocated social worker",
        child.allocate_social_worker,
        allocate("SW-1", date(2024, 3, 1), "MANAGE"),
    )
    refused(
        "allocated_on",
        "before the current allocation",
        child.allocate_social_worker,
        allocate("SW-2", date(2024, 1, 8), "MANAGE"),
    )
    [second] = record(
        child, child.allocate_social_worker, allocate("SW-2", date(2024, 3, 1), "LEFTRL")
    )
    assert isinstance(second, e.SocialWorkerAllocated)
    assert (second.previous_worker_id, second.reason) == ("SW-1", "LEFTRL")


def test_ending_an_allocation_names_the_allocated_worker() -> None:
    child = registered()
    end = c.EndSocialWorkerAllocation(ended_on=date(2024, 5, 1), worker_id="SW-1")
    refused("worker_id", "no social worker is allocated", child.end_social_worker_allocation, end)
    record(child, child.allocate_social_worker, allocate("SW-2", date(2024, 2, 1)))
    refused("worker_id", "(SW-2 is)", child.end_social_worker_allocation, end)
    refused(
        "ended_on",
        "before the allocation",
        child.end_social_worker_allocation,
        c.EndSocialWorkerAllocation(ended_on=date(2024, 1, 31), worker_id="SW-2"),
    )
    record(
        child,
        child.end_social_worker_allocation,
        c.EndSocialWorkerAllocation(ended_on=date(2024, 5, 1), worker_id="SW-2"),
    )
    assert child.state.social_worker is None
    # A new allocation after the end replaces no one: no reason needed.
    assert child.allocate_social_worker(allocate("SW-3", date(2024, 5, 2)), TODAY)
    # One recorded late never starts before the end: the child would show unallocated from it.
    refused(
        "allocated_on",
        "before the end of the last allocation (2024-05-01)",
        child.allocate_social_worker,
        allocate("SW-3", date(2024, 3, 1)),
    )


# -- statutory visits ------------------------------------------------------------------------


def visit(on: date, plan: str, seen: bool = True, alone: bool | None = None) -> Any:
    return c.RecordStatutoryVisit(
        visit_date=on, plan_type=plan, seen=seen, seen_alone=alone, visitor_id="SW-1"
    )


def test_a_visit_is_under_the_plan_open_on_its_date() -> None:
    child = registered()
    refused(
        "plan_type",
        "no child in need plan was open",
        child.record_statutory_visit,
        visit(date(2024, 2, 1), "CIN"),
    )
    record(
        child,
        child.start_cin_plan,
        c.StartChildInNeedPlan(plan_id="CIN-1", start_date=date(2024, 2, 1), primary_need="N1"),
    )
    record(
        child,
        child.end_cin_plan,
        c.EndChildInNeedPlan(plan_id="CIN-1", end_date=date(2024, 3, 31), reason="RC7"),
    )
    assert child.record_statutory_visit(visit(date(2024, 3, 31), "CIN", alone=True), TODAY)
    refused(
        "plan_type",
        "no child in need plan was open on 2024-04-01",
        child.record_statutory_visit,
        visit(date(2024, 4, 1), "CIN"),
    )
    refused(
        "plan_type",
        "no child protection plan",
        child.record_statutory_visit,
        visit(date(2024, 3, 1), "CP"),
    )
    in_care(child, date(2024, 4, 10))
    assert child.record_statutory_visit(visit(date(2024, 5, 1), "CLA"), TODAY)
    refused(
        "plan_type",
        "no period of care",
        child.record_statutory_visit,
        visit(date(2024, 4, 9), "CLA"),
    )


def test_a_care_leavers_visit_follows_the_status_and_seen_alone_needs_seen() -> None:
    leaver = registered(dob=date(2006, 1, 1))
    refused(
        "plan_type",
        "no care leaver status",
        leaver.record_statutory_visit,
        visit(date(2024, 5, 1), "CL"),
    )
    record(
        leaver,
        leaver.record_care_leaver_status,
        c.RecordCareLeaverStatus(recorded_on=date(2024, 1, 2), status="former_relevant"),
    )
    assert leaver.record_statutory_visit(visit(date(2024, 5, 1), "CL", seen=False), TODAY)
    refused(
        "seen_alone",
        "only when the child was seen",
        leaver.record_statutory_visit,
        visit(date(2024, 5, 1), "CL", seen=False, alone=False),
    )


def test_care_leaver_status_keeps_when_it_began_however_often_it_is_re_recorded() -> None:
    leaver = registered(dob=date(2006, 1, 1))

    def status(on: date, status: str) -> e.CareLeaverStatusRecorded:
        command = c.RecordCareLeaverStatus(recorded_on=on, status=status)
        [recorded] = record(leaver, leaver.record_care_leaver_status, command)
        return recorded

    assert status(date(2024, 1, 2), "relevant").since == date(2024, 1, 2)
    # A change of category does not restart the visiting clock.
    assert status(date(2024, 4, 1), "former_relevant").since == date(2024, 1, 2)
    # A backdated earlier status moves the start earlier, and opens the window for visits.
    assert status(date(2023, 11, 1), "relevant").since == date(2023, 11, 1)
    assert leaver.record_statutory_visit(visit(date(2023, 11, 20), "CL"), TODAY)


# -- the front door ----------------------------------------------------------------------------


def test_a_contact_is_recorded_once() -> None:
    child = registered()
    contact = c.RecordFrontDoorContact(
        contact_id="CT-1", contact_date=date(2024, 1, 5), source="2A", outcome="referral"
    )
    record(child, child.record_front_door_contact, contact)
    refused("contact_id", "recorded already", child.record_front_door_contact, contact)


def test_a_referral_outcome_names_a_recorded_referral_once_and_not_before_it() -> None:
    child = registered()
    outcome = c.RecordReferralOutcome(
        referral_id="R1", decided_on=date(2024, 1, 9), outcome="assessment"
    )
    refused("referral_id", "no such referral", child.record_referral_outcome, outcome)
    record(
        child,
        child.record_referral,
        c.RecordReferral(referral_id="R1", referral_date=date(2024, 1, 8), source="6"),
    )
    refused(
        "decided_on",
        "before the referral",
        child.record_referral_outcome,
        c.RecordReferralOutcome(referral_id="R1", decided_on=date(2024, 1, 7), outcome="nfa"),
    )
    record(child, child.record_referral_outcome, outcome)
    refused("referral_id", "has its outcome already", child.record_referral_outcome, outcome)


def test_a_section_47_outcome_follows_the_discussion_that_started_the_enquiry() -> None:
    child = registered()
    conclude = c.ConcludeSection47Enquiry(
        discussion_id="SD-2", concluded_on=date(2024, 2, 14), outcome="icpc"
    )
    refused(
        "discussion_id", "no such strategy discussion", child.conclude_section_47_enquiry, conclude
    )
    for discussion_id, enquiry in (("SD-1", False), ("SD-2", True)):
        record(
            child,
            child.record_strategy_discussion,
            c.RecordStrategyDiscussion(
                discussion_id=discussion_id,
                discussion_date=date(2024, 2, 1),
                section_47_enquiry=enquiry,
            ),
        )
    refused(
        "discussion_id",
        "started no section 47 enquiry",
        child.conclude_section_47_enquiry,
        c.ConcludeSection47Enquiry(
            discussion_id="SD-1", concluded_on=date(2024, 2, 14), outcome="nfa"
        ),
    )
    refused(
        "concluded_on",
        "before the strategy discussion",
        child.conclude_section_47_enquiry,
        c.ConcludeSection47Enquiry(
            discussion_id="SD-2", concluded_on=date(2024, 1, 31), outcome="nfa"
        ),
    )
    record(child, child.conclude_section_47_enquiry, conclude)
    refused("discussion_id", "concluded already", child.conclude_section_47_enquiry, conclude)


@pytest.mark.parametrize(
    ("factors", "reason"),
    [(["21", "3A"], "21 stands alone"), (["3A", "4B", "3A"], "twice")],
)
def test_the_factors_at_the_end_of_an_assessment_keep_the_census_rules(
    factors: list[str], reason: str
) -> None:
    child = registered()
    record(
        child,
        child.start_assessment,
        c.StartAssessment(assessment_id="A1", start_date=date(2024, 1, 9)),
    )
    complete = c.CompleteAssessment(
        assessment_id="A1", completion_date=date(2024, 2, 20), factors=factors
    )
    refused("factors", reason, child.complete_assessment, complete)
    [done] = child.complete_assessment(
        c.CompleteAssessment(
            assessment_id="A1", completion_date=date(2024, 2, 20), factors=["11A", "24A"]
        ),
        TODAY,
    )
    assert isinstance(done, e.AssessmentCompleted) and done.factors == ["11A", "24A"]


# -- children in care ---------------------------------------------------------------------------


def outcomes(**changes: Any) -> c.RecordHealthOutcomes:
    fields: dict[str, Any] = {
        "recorded_on": date(2024, 3, 31),
        "convicted": False,
        "health_check": True,
        "immunisations": True,
        "teeth_check": True,
        "health_assessment": True,
        "substance_misuse": False,
        "sdq_score": 14,
    }
    return c.RecordHealthOutcomes(**{**fields, **changes})


def test_health_outcomes_are_for_a_child_in_care_with_a_score_or_a_reason() -> None:
    child = registered()
    refused("recorded_on", "not in care", child.record_health_outcomes, outcomes())
    in_care(child)
    refused("sdq_reason", "no SDQ score", child.record_health_outcomes, outcomes(sdq_reason="SDQ2"))
    refused("sdq_score", "is required", child.record_health_outcomes, outcomes(sdq_score=None))
    refused(
        "intervention_offered",
        "substance misuse problem",
        child.record_health_outcomes,
        outcomes(intervention_offered=True),
    )
    assert child.record_health_outcomes(outcomes(sdq_score=None, sdq_reason="SDQ5"), TODAY)
    assert child.record_health_outcomes(
        outcomes(substance_misuse=True, intervention_offered=True), TODAY
    )


def missing(child: Child, start: date, end: date | None) -> None:
    record(
        child,
        child.record_missing_episode,
        c.RecordMissingEpisode(started_on=start, ended_on=end, kind="M"),
    )


def interview(started: date, offered: date) -> c.OfferReturnHomeInterview:
    return c.OfferReturnHomeInterview(missing_started_on=started, offered_on=offered, accepted=True)


def test_a_return_home_interview_follows_a_recorded_episode_and_its_timescale_is_derived() -> None:
    child = registered()
    refused(
        "missing_started_on",
        "no missing episode",
        child.offer_return_home_interview,
        interview(date(2024, 5, 3), date(2024, 5, 6)),
    )
    missing(child, date(2024, 5, 3), date(2024, 5, 5))
    refused(
        "offered_on",
        "before the episode's end",
        child.offer_return_home_interview,
        interview(date(2024, 5, 3), date(2024, 5, 4)),
    )
    [prompt] = child.offer_return_home_interview(
        interview(date(2024, 5, 3), date(2024, 5, 8)), TODAY
    )
    [late] = child.offer_return_home_interview(interview(date(2024, 5, 3), date(2024, 5, 9)), TODAY)
    assert isinstance(prompt, e.ReturnHomeInterviewOffered) and prompt.within_72_hours
    assert isinstance(late, e.ReturnHomeInterviewOffered) and not late.within_72_hours
    # No end recorded yet: the timescale is measured from the end, so the end comes first.
    missing(child, date(2024, 5, 20), None)
    refused(
        "missing_started_on",
        "record the episode's end first",
        child.offer_return_home_interview,
        interview(date(2024, 5, 20), date(2024, 5, 24)),
    )
    missing(child, date(2024, 5, 20), date(2024, 5, 22))
    [back] = child.offer_return_home_interview(
        interview(date(2024, 5, 20), date(2024, 5, 24)), TODAY
    )
    assert isinstance(back, e.ReturnHomeInterviewOffered) and back.within_72_hours


def match(**changes: Any) -> c.RecordAdoptionMatch:
    fields: dict[str, Any] = {
        "matched_on": date(2024, 4, 2),
        "adopted_by_foster_carer": False,
        "number_of_adopters": 2,
        "adopters_sex": "MF",
        "adopters_legal_status": "L11",
    }
    return c.RecordAdoptionMatch(**{**fields, **changes})


def test_adoption_decisions_are_for_a_child_in_care_and_a_match_needs_an_open_one() -> None:
    child = registered()
    decide = c.MakeAdoptionDecision(decided_on=date(2024, 3, 1))
    refused("decided_on", "not in care", child.make_adoption_decision, decide)
    in_care(child)
    refused("matched_on", "no decision", child.record_adoption_match, match())
    reverse = c.ReverseAdoptionDecision(reversed_on=date(2024, 5, 1), reason="RD3")
    refused("reversed_on", "no decision", child.reverse_adoption_decision, reverse)
    record(child, child.make_adoption_decision, decide)
    refused("decided_on", "still open", child.make_adoption_decision, decide)
    refused(
        "matched_on",
        "before the decision",
        child.record_adoption_match,
        match(matched_on=date(2024, 2, 28)),
    )
    refused(
        "number_of_adopters",
        "does not match adopters_sex MF",
        child.record_adoption_match,
        match(number_of_adopters=1),
    )
    refused(
        "adopters_legal_status",
        "L12 is not for adopters MF",
        child.record_adoption_match,
        match(adopters_legal_status="L12"),
    )
    assert child.record_adoption_match(match(), TODAY)
    record(child, child.reverse_adoption_decision, reverse)
    refused("matched_on", "no decision", child.record_adoption_match, match())
    record(child, child.make_adoption_decision, c.MakeAdoptionDecision(decided_on=date(2024, 5, 2)))
    record(
        child,
        child.end_period_of_care,
        c.EndPeriodOfCare(end_date=date(2024, 5, 20), reason="E13"),
    )
    assert child.state.adoption_decision is None  # it ended with the period of care


def test_previous_permanence_is_dated_no_later_than_it_is_recorded() -> None:
    child = registered()
    refused(
        "order_date",
        "after recorded_on",
        child.record_previous_permanence,
        c.RecordPreviousPermanence(
            recorded_on=date(2024, 1, 9), arrangement="P2", order_date=date(2024, 2, 1)
        ),
    )
    refused(
        "local_authority",
        "only for an order",
        child.record_previous_permanence,
        c.RecordPreviousPermanence(
            recorded_on=date(2024, 1, 9), arrangement="Z1", local_authority="878"
        ),
    )
    assert child.record_previous_permanence(
        c.RecordPreviousPermanence(
            recorded_on=date(2024, 1, 9),
            arrangement="P4",
            order_date=date(2019, 7, 1),
            local_authority="878",
        ),
        TODAY,
    )


def test_a_deprivation_of_liberty_expires_after_it_is_authorised_and_ends_once() -> None:
    child = registered()
    end = c.EndDeprivationOfLiberty(ended_on=date(2024, 5, 1))
    refused("ended_on", "no deprivation of liberty", child.end_deprivation_of_liberty, end)
    refused(
        "expires_on",
        "not after authorised_on",
        child.authorise_deprivation_of_liberty,
        c.AuthoriseDeprivationOfLiberty(
            authorised_on=date(2024, 3, 1), basis="s25", expires_on=date(2024, 3, 1)
        ),
    )
    authorise = c.AuthoriseDeprivationOfLiberty(
        authorised_on=date(2024, 3, 1), basis="inherent_jurisdiction"
    )
    record(child, child.authorise_deprivation_of_liberty, authorise)
    refused("authorised_on", "still open", child.authorise_deprivation_of_liberty, authorise)
    refused(
        "ended_on",
        "before the authorisation",
        child.end_deprivation_of_liberty,
        c.EndDeprivationOfLiberty(ended_on=date(2024, 2, 1)),
    )
    record(child, child.end_deprivation_of_liberty, end)
    refused("ended_on", "no deprivation of liberty", child.end_deprivation_of_liberty, end)


def test_review_participation_pn0_is_for_a_child_under_four() -> None:
    child = in_care(registered(dob=date(2019, 3, 2)))
    refused(
        "participation",
        "under 4",
        child.record_looked_after_review,
        c.RecordLookedAfterReview(review_date=date(2024, 2, 1), participation="PN0"),
    )
    assert child.record_looked_after_review(
        c.RecordLookedAfterReview(review_date=date(2024, 2, 1), participation="PN1"), TODAY
    )


# -- the UPN ------------------------------------------------------------------------------------


def test_a_upn_with_the_wrong_check_letter_is_refused_naming_the_field() -> None:
    # DfE check-letter examples (the CIN census validator's rule 1510).
    for good in ("A950000178301", "H243278544154"):
        assert c.RecordPersonalDetails(upn=good).upn == good
    for bad in ("R247962919251", "X428558133462", "A95000017830"):
        with pytest.raises(ValidationError) as error:
            c.RecordPersonalDetails(upn=bad)
        assert [problem["loc"] for problem in error.value.errors()] == [("upn",)]
    with pytest.raises(ValidationError) as nested:
        c.RegisterChild(
            child_id="C-1",
            date_of_birth=date(2015, 3, 2),
            locality="Exeter",
            personal={"upn": "R247962919251"},
        )
    assert nested.value.errors()[0]["loc"] == ("personal", "upn")


def test_the_upn_is_sealed_like_every_personal_field() -> None:
    sealed = seal_details(KEY, "C-1", c.RecordPersonalDetails(upn="A950000178301"))
    assert sealed.upn is not None and "A950000178301" not in sealed.upn
    opened = unseal_details(KEY, "C-1", sealed.model_dump())
    assert opened["upn"] == "A950000178301"
    assert unseal_details(None, "C-1", sealed.model_dump())["upn"] == "[erased]"

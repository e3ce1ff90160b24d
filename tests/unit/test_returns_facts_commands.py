"""The facts the statutory returns need, as the services take them (without I/O): each new
field flows from its command into the event decided, and each is held to the rule the
returns need (SSDA903 MOTHER/MC_DOB, CIN, URN, SW_REASON FCONTA; the CIN census's closure
of an episode of need)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import pytest
from pydantic import ValidationError

from contracts.accommodation import events as ae
from contracts.case_events import events as e
from contracts.case_events.codes import ChildInNeedClosureReason, PrimaryNeed
from services.accommodation.domain import commands as ac
from services.accommodation.domain.accommodation import Accommodation
from services.case_events.domain import commands as c
from services.case_events.domain.child import Child
from services.case_events.routes.commands import CHILD_COMMANDS
from shared.aggregate import Decision, DomainRuleViolation, KnownChild
from shared.envelope import DomainEvent
from tests.unit.test_child_record import apply

T = TypeVar("T", bound=DomainEvent)

TODAY = Decision(today=date(2026, 12, 1))


def record(child: Child, decide: Callable[..., list[DomainEvent]], command: Any) -> list[Any]:
    """Decide, fold what was decided into the child, and return it."""
    events = decide(command, TODAY)
    apply(child, events)
    return events


def registered(dob: date = date(2010, 3, 2)) -> Child:
    child = Child("C-001")
    command = c.RegisterChild(child_id="C-001", date_of_birth=dob, locality="Exeter")
    return apply(child, child.register(command, TODAY))


def one(events: list[DomainEvent], kind: type[T]) -> T:
    """The one event decided, of the kind expected."""
    [event] = events
    assert isinstance(event, kind)
    return event


def refused(field: str, reason: str, decide: Callable[..., object], command: object) -> None:
    with pytest.raises(DomainRuleViolation) as error:
        decide(command, TODAY)
    assert error.value.field == field
    assert reason in error.value.reason


# -- characteristics: MOTHER and MC_DOB -----------------------------------------------------


def characteristics(sex: str = "2", **more: Any) -> c.RecordCharacteristics:
    return c.RecordCharacteristics(
        recorded_on=date(2026, 11, 2), sex=sex, ethnicity="WBRI", disabilities=["NONE"], **more
    )


def test_a_mother_and_her_first_childs_birth_are_recorded_for_a_girl() -> None:
    child = registered()
    [event] = child.record_characteristics(
        characteristics(mother=True, first_child_born_on=date(2026, 5, 1)), TODAY
    )
    assert isinstance(event, e.ChildCharacteristicsRecorded)
    assert event.mother is True
    assert event.first_child_born_on == date(2026, 5, 1)
    not_a_mother = one(
        child.record_characteristics(characteristics(mother=False), TODAY),
        e.ChildCharacteristicsRecorded,
    )
    assert not_a_mother.mother is False
    assert not_a_mother.first_child_born_on is None
    unknown = one(
        child.record_characteristics(characteristics("1"), TODAY), e.ChildCharacteristicsRecorded
    )
    assert unknown.mother is None


@pytest.mark.parametrize("sex", ["0", "1", "9"])
@pytest.mark.parametrize("mother", [True, False])
def test_mother_is_only_for_a_girl(sex: str, mother: bool) -> None:
    child = registered()
    refused(
        "mother",
        "only for a girl (sex 2)",
        child.record_characteristics,
        characteristics(sex, mother=mother),
    )


@pytest.mark.parametrize("mother", [None, False])
def test_a_first_childs_birth_needs_a_mother(mother: bool | None) -> None:
    child = registered()
    command = characteristics(mother=mother, first_child_born_on=date(2026, 5, 1))
    refused("first_child_born_on", "only for a mother", child.record_characteristics, command)


def test_a_first_childs_birth_is_not_in_the_future_nor_before_her_tenth_birthday() -> None:
    child = registered(date(2010, 3, 2))
    refused(
        "first_child_born_on",
        "in the future",
        child.record_characteristics,
        characteristics(mother=True, first_child_born_on=date(2026, 12, 2)),
    )
    refused(
        "first_child_born_on",
        "is before her tenth birthday (2020-03-02)",
        child.record_characteristics,
        characteristics(mother=True, first_child_born_on=date(2020, 3, 1)),
    )
    assert child.record_characteristics(
        characteristics(mother=True, first_child_born_on=date(2020, 3, 2)), TODAY
    )


def test_a_girl_born_on_29_february_is_ten_on_28_february() -> None:
    child = registered(date(2012, 2, 29))
    assert child.record_characteristics(
        characteristics(mother=True, first_child_born_on=date(2022, 2, 28)), TODAY
    )
    refused(
        "first_child_born_on",
        "before her tenth birthday",
        child.record_characteristics,
        characteristics(mother=True, first_child_born_on=date(2022, 2, 27)),
    )


# -- a period of care's category of need (SSDA903 CIN) --------------------------------------


def care(need: str | None) -> c.StartPeriodOfCare:
    return c.StartPeriodOfCare(
        start_date=date(2026, 6, 1), legal_status="C2", category_of_need=need
    )


@pytest.mark.parametrize("need", ["N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"])
def test_a_period_of_care_carries_its_category_of_need(need: str) -> None:
    [event] = registered().start_period_of_care(care(need), TODAY)
    assert isinstance(event, e.PeriodOfCareStarted)
    assert event.category_of_need == PrimaryNeed(need)


def test_a_period_of_care_without_a_category_of_need_is_still_taken() -> None:
    event = one(registered().start_period_of_care(care(None), TODAY), e.PeriodOfCareStarted)
    assert event.category_of_need is None


@pytest.mark.parametrize("need", ["N0", "N9"])
def test_ssda903_takes_n1_to_n8(need: str) -> None:
    child = registered()
    refused("category_of_need", "SSDA903 takes N1 to N8", child.start_period_of_care, care(need))


# -- an assessment's primary need -----------------------------------------------------------


def test_a_completed_assessment_carries_its_primary_need() -> None:
    child = registered()
    record(child, child.start_assessment, assessment_start("A-1", date(2026, 6, 1)))
    [event] = child.complete_assessment(
        c.CompleteAssessment(
            assessment_id="A-1",
            completion_date=date(2026, 7, 1),
            primary_need="N4",
        ),
        TODAY,
    )
    assert isinstance(event, e.AssessmentCompleted)
    assert event.primary_need is PrimaryNeed.FAMILY_IN_ACUTE_STRESS


# -- the social worker: FCONTA is a first allocation ----------------------------------------


def allocate(worker: str, on: date, reason: str | None = None) -> c.AllocateSocialWorker:
    return c.AllocateSocialWorker(allocated_on=on, worker_id=worker, team_id="T-1", reason=reason)


def test_a_first_allocation_may_be_a_first_contact_or_give_no_reason() -> None:
    [event] = registered().allocate_social_worker(
        allocate("SW-1", date(2026, 1, 9), "FCONTA"), TODAY
    )
    assert isinstance(event, e.SocialWorkerAllocated)
    assert event.reason == "FCONTA"
    assert event.previous_worker_id is None
    plain = one(
        registered().allocate_social_worker(allocate("SW-1", date(2026, 1, 9)), TODAY),
        e.SocialWorkerAllocated,
    )
    assert plain.reason is None


def test_fconta_never_replaces_an_allocated_worker() -> None:
    child = registered()
    record(child, child.allocate_social_worker, allocate("SW-1", date(2026, 1, 9)))
    refused(
        "reason",
        "FCONTA is the first allocation; a change has another reason",
        child.allocate_social_worker,
        allocate("SW-2", date(2026, 3, 1), "FCONTA"),
    )
    change = one(
        child.allocate_social_worker(allocate("SW-2", date(2026, 3, 1), "LEFTRL"), TODAY),
        e.SocialWorkerAllocated,
    )
    assert change.reason == "LEFTRL"
    assert change.previous_worker_id == "SW-1"


def test_fconta_starts_a_new_involvement_only_after_the_last_allocation_ended() -> None:
    """SSDA903 SW10b: a first contact starts after the previous episode's end (the same day is
    a change); after a gap it is the only reason SW10a takes."""
    child = registered()
    record(child, child.allocate_social_worker, allocate("SW-1", date(2026, 1, 9)))
    record(
        child,
        child.end_social_worker_allocation,
        c.EndSocialWorkerAllocation(ended_on=date(2026, 3, 1), worker_id="SW-1"),
    )
    refused(
        "reason",
        "FCONTA is the first allocation",
        child.allocate_social_worker,
        allocate("SW-2", date(2026, 3, 1), "FCONTA"),
    )
    later = one(
        child.allocate_social_worker(allocate("SW-2", date(2026, 9, 1), "FCONTA"), TODAY),
        e.SocialWorkerAllocated,
    )
    assert later.reason == "FCONTA"


# -- a placement's URN ----------------------------------------------------------------------


def placement(urn: str | None) -> ac.StartPlacement:
    return ac.StartPlacement(
        placement_id="PL-1",
        start_date="2026-05-01",
        placement_type="K2",
        provider="PR4",
        in_council_area=False,
        urn=urn,
    )


@pytest.mark.parametrize("urn", ["SC123456", "1234567", "XXXXXXX", None])
def test_a_placement_carries_its_ofsted_urn(urn: str | None) -> None:
    known = Decision(today=TODAY.today, child=KnownChild("C-1", date(2012, 1, 1), "Exeter"))
    [event] = Accommodation("C-1").start_placement(placement(urn), known)
    assert isinstance(event, ae.PlacementStarted)
    assert event.urn == urn
    moved = Accommodation("C-1")
    for started in moved.start_placement(placement(None), known):
        moved.when(started)
    change = ac.ChangePlacement(
        placement_id="PL-2",
        start_date="2026-06-01",
        placement_type="K2",
        provider="PR4",
        in_council_area=False,
        urn=urn,
        reason="CHILD",
    )
    [changed] = moved.change_placement(change, known)
    assert isinstance(changed, ae.PlacementChanged)
    assert changed.urn == urn


@pytest.mark.parametrize("urn", ["SC12345", "123456", "sc123456", "XXXXXX", "URN1234", ""])
def test_a_urn_is_held_to_the_contracts_pattern(urn: str) -> None:
    with pytest.raises(ValidationError) as error:
        placement(urn)
    assert error.value.errors()[0]["loc"] == ("urn",)


# -- closing an episode of need -------------------------------------------------------------


def referral(child: Child, rid: str = "R-1", on: date = date(2026, 5, 1)) -> Child:
    record(
        child,
        child.record_referral,
        c.RecordReferral(referral_id=rid, referral_date=on, source="6"),
    )
    return child


def close(on: date, rid: str = "R-1", reason: str = "RC8") -> c.CloseEpisodeOfNeed:
    return c.CloseEpisodeOfNeed(referral_id=rid, closed_on=on, reason=reason)


def assessment_start(aid: str, on: date) -> c.StartAssessment:
    return c.StartAssessment(assessment_id=aid, start_date=on)


def assessment_end(aid: str, on: date) -> c.CompleteAssessment:
    return c.CompleteAssessment(assessment_id=aid, completion_date=on, primary_need="N1")


def test_the_route_takes_the_command_to_the_aggregate() -> None:
    [route] = [r for r in CHILD_COMMANDS if r.path == "/episode-of-need-closures"]
    assert route.command is c.CloseEpisodeOfNeed
    assert route.decide is Child.close_episode_of_need
    assert route.summary == "Close the episode of need a referral began"


def test_an_episode_closes_after_its_assessment_with_its_reason() -> None:
    child = referral(registered())
    record(child, child.start_assessment, assessment_start("A-1", date(2026, 5, 2)))
    record(child, child.complete_assessment, assessment_end("A-1", date(2026, 6, 20)))
    [event] = child.close_episode_of_need(close(date(2026, 6, 20)), TODAY)
    assert event == e.EpisodeOfNeedClosed(
        referral_id="R-1",
        closed_on=date(2026, 6, 20),
        reason=ChildInNeedClosureReason.CASE_CLOSED_AFTER_ASSESSMENT_NO_FURTHER_ACTION,
    )


def test_the_referral_is_one_of_the_childs() -> None:
    child = referral(registered())
    refused(
        "referral_id",
        "no such referral",
        child.close_episode_of_need,
        close(date(2026, 6, 1), "R-9"),
    )


def test_an_episode_is_closed_once() -> None:
    child = referral(registered())
    record(child, child.close_episode_of_need, close(date(2026, 5, 3)))
    refused(
        "referral_id",
        "its episode of need is closed already (on 2026-05-03)",
        child.close_episode_of_need,
        close(date(2026, 6, 1), reason="RC7"),
    )


def test_a_closure_is_not_before_the_referral_nor_in_the_future() -> None:
    child = referral(registered())
    refused(
        "closed_on",
        "is before the referral (2026-05-01)",
        child.close_episode_of_need,
        close(date(2026, 4, 30)),
    )
    refused("closed_on", "in the future", child.close_episode_of_need, close(date(2026, 12, 2)))
    assert child.close_episode_of_need(close(date(2026, 5, 1)), TODAY)
    assert child.close_episode_of_need(close(TODAY.today), TODAY)


def test_an_open_assessment_keeps_the_episode_open() -> None:
    child = referral(registered())
    record(child, child.start_assessment, assessment_start("A-1", date(2026, 5, 2)))
    refused(
        "closed_on",
        "still open on 2026-06-01: assessment A-1 (started 2026-05-02)",
        child.close_episode_of_need,
        close(date(2026, 6, 1)),
    )
    # Backdated before the assessment started: the census would file the assessment under
    # the closed episode, which it outlives.
    refused(
        "closed_on",
        "started after 2026-05-01 and would be filed under the closed episode: "
        "assessment A-1 (started 2026-05-02)",
        child.close_episode_of_need,
        close(date(2026, 5, 1)),
    )


def test_a_closure_backdated_into_a_completed_assessment_is_refused() -> None:
    child = referral(registered())
    record(child, child.start_assessment, assessment_start("A-1", date(2026, 5, 2)))
    record(child, child.complete_assessment, assessment_end("A-1", date(2026, 6, 20)))
    refused(
        "closed_on",
        "assessment A-1 (started 2026-05-02, completed 2026-06-20)",
        child.close_episode_of_need,
        close(date(2026, 6, 19)),
    )


def test_an_open_child_in_need_plan_keeps_the_episode_open_until_its_end() -> None:
    child = referral(registered())
    record(
        child,
        child.start_cin_plan,
        c.StartChildInNeedPlan(plan_id="CIN-1", start_date=date(2026, 6, 1), primary_need="N2"),
    )
    refused(
        "closed_on",
        "still open on 2026-07-01: the child in need plan started 2026-06-01",
        child.close_episode_of_need,
        close(date(2026, 7, 1), reason="RC7"),
    )
    record(
        child,
        child.end_cin_plan,
        c.EndChildInNeedPlan(plan_id="CIN-1", end_date=date(2026, 8, 1), reason="RC7"),
    )
    refused(
        "closed_on",
        "the child in need plan started 2026-06-01",
        child.close_episode_of_need,
        close(date(2026, 7, 31), reason="RC7"),
    )
    event = one(
        child.close_episode_of_need(close(date(2026, 8, 1), reason="RC7"), TODAY),
        e.EpisodeOfNeedClosed,
    )
    assert event.closed_on == date(2026, 8, 1)


def test_an_open_child_protection_plan_keeps_the_episode_open() -> None:
    child = referral(registered())
    record(
        child,
        child.start_child_protection_plan,
        c.StartChildProtectionPlan(plan_id="CP-1", category="NEG", start_date=date(2026, 6, 1)),
    )
    refused(
        "closed_on",
        "still open on 2026-09-01: the child protection plan started 2026-06-01",
        child.close_episode_of_need,
        close(date(2026, 9, 1), reason="RC7"),
    )
    record(
        child,
        child.end_child_protection_plan,
        c.EndChildProtectionPlan(plan_id="CP-1", end_date=date(2026, 10, 1)),
    )
    assert child.close_episode_of_need(close(date(2026, 10, 1), reason="RC7"), TODAY)


def test_an_open_section_47_enquiry_or_period_of_care_keeps_the_episode_open() -> None:
    child = referral(registered())
    record(
        child,
        child.record_strategy_discussion,
        c.RecordStrategyDiscussion(
            discussion_id="SD-1", discussion_date=date(2026, 5, 3), section_47_enquiry=True
        ),
    )
    record(child, child.start_period_of_care, care("N1"))
    refused(
        "closed_on",
        "still open on 2026-07-01: the section 47 enquiry of strategy discussion SD-1 "
        "(held 2026-05-03); the period of care started 2026-06-01",
        child.close_episode_of_need,
        close(date(2026, 7, 1), reason="RC7"),
    )
    record(
        child,
        child.conclude_section_47_enquiry,
        c.ConcludeSection47Enquiry(
            discussion_id="SD-1", concluded_on=date(2026, 5, 20), outcome="nfa"
        ),
    )
    record(
        child,
        child.end_period_of_care,
        c.EndPeriodOfCare(end_date=date(2026, 6, 30), reason="E4A"),
    )
    assert child.close_episode_of_need(close(date(2026, 7, 1), reason="RC7"), TODAY)


def test_what_an_earlier_episode_left_open_is_not_this_ones() -> None:
    """Only what started since the referral is of its episode (the census sorts each part
    into the referral before it)."""
    child = referral(registered(), "R-1", date(2026, 1, 5))
    record(child, child.start_assessment, assessment_start("A-1", date(2026, 1, 6)))
    referral(child, "R-2", date(2026, 5, 1))
    assert child.close_episode_of_need(close(date(2026, 5, 2), "R-2"), TODAY)
    refused(
        "closed_on",
        "assessment A-1",
        child.close_episode_of_need,
        close(date(2026, 5, 2), "R-1"),
    )


def test_what_closes_on_the_day_it_ends_names_everything_still_open() -> None:
    child = referral(registered())
    record(child, child.start_assessment, assessment_start("A-1", date(2026, 5, 2)))
    record(child, child.start_assessment, assessment_start("A-2", date(2026, 5, 3)))
    with pytest.raises(DomainRuleViolation) as error:
        child.close_episode_of_need(close(date(2026, 6, 1)), TODAY)
    assert error.value.field == "closed_on"
    assert "assessment A-1" in error.value.reason
    assert "assessment A-2" in error.value.reason


def test_a_backdated_closure_is_refused_while_what_started_after_it_is_open_now() -> None:
    """What started after the closure's day and is still open today is of the episode (no
    later referral began another): closing before it would leave it open in a closed one."""
    child = referral(registered())
    record(child, child.start_assessment, assessment_start("A-1", date(2026, 5, 2)))
    record(child, child.complete_assessment, assessment_end("A-1", date(2026, 5, 20)))
    record(
        child,
        child.start_cin_plan,
        c.StartChildInNeedPlan(plan_id="CIN-1", start_date=date(2026, 6, 1), primary_need="N2"),
    )
    refused(
        "closed_on",
        "started after 2026-05-20 and would be filed under the closed episode: "
        "the child in need plan started 2026-06-01",
        child.close_episode_of_need,
        close(date(2026, 5, 20)),
    )
    record(
        child,
        child.record_strategy_discussion,
        c.RecordStrategyDiscussion(
            discussion_id="SD-1", discussion_date=date(2026, 7, 1), section_47_enquiry=True
        ),
    )
    with pytest.raises(DomainRuleViolation) as error:
        child.close_episode_of_need(close(date(2026, 6, 15), reason="RC7"), TODAY)
    assert error.value.field == "closed_on"
    assert error.value.reason == (
        "still open on 2026-06-15: the child in need plan started 2026-06-01. "
        "started after 2026-06-15 and would be filed under the closed episode: "
        "the section 47 enquiry of strategy discussion SD-1 (held 2026-07-01)"
    )
    refused(
        "closed_on",
        "started after 2026-05-25 and would be filed under the closed episode: "
        "the child in need plan started 2026-06-01; "
        "the section 47 enquiry of strategy discussion SD-1 (held 2026-07-01)",
        child.close_episode_of_need,
        close(date(2026, 5, 25), reason="RC7"),
    )


def test_a_backdated_closure_is_refused_before_what_started_after_it_even_if_it_ended() -> None:
    """An assessment started after the closure's day is filed under the episode however long
    ago it was completed: the closure would come before work of its own."""
    child = referral(registered())
    record(child, child.start_assessment, assessment_start("A-1", date(2026, 6, 10)))
    record(child, child.complete_assessment, assessment_end("A-1", date(2026, 6, 20)))
    refused(
        "closed_on",
        "started after 2026-06-01 and would be filed under the closed episode: "
        "assessment A-1 (started 2026-06-10, completed 2026-06-20)",
        child.close_episode_of_need,
        close(date(2026, 6, 1)),
    )
    assert child.close_episode_of_need(close(date(2026, 6, 20)), TODAY)


def test_what_a_later_referral_began_does_not_keep_an_earlier_episode_open() -> None:
    """Work after the next referral is that referral's episode, open or not."""
    child = referral(registered(), "R-1", date(2026, 1, 5))
    referral(child, "R-2", date(2026, 5, 1))
    record(child, child.start_assessment, assessment_start("A-2", date(2026, 5, 2)))
    assert child.close_episode_of_need(close(date(2026, 3, 1), "R-1"), TODAY)
    refused(
        "closed_on",
        "started after 2026-05-01 and would be filed under the closed episode: assessment A-2",
        child.close_episode_of_need,
        close(date(2026, 5, 1), "R-2"),
    )


# -- no work starts in a closed episode of need -------------------------------------------


START_WORK: dict[str, tuple[str, Callable[[date], Any]]] = {
    "start_assessment": ("start_date", lambda on: assessment_start("A-9", on)),
    "start_cin_plan": (
        "start_date",
        lambda on: c.StartChildInNeedPlan(plan_id="CIN-9", start_date=on, primary_need="N2"),
    ),
    "record_strategy_discussion": (
        "discussion_date",
        lambda on: c.RecordStrategyDiscussion(
            discussion_id="SD-9", discussion_date=on, section_47_enquiry=True
        ),
    ),
    "start_child_protection_plan": (
        "start_date",
        lambda on: c.StartChildProtectionPlan(plan_id="CP-9", category="NEG", start_date=on),
    ),
    "start_period_of_care": (
        "start_date",
        lambda on: c.StartPeriodOfCare(start_date=on, legal_status="C2", category_of_need="N1"),
    ),
}


def closed_episode() -> Child:
    """A child whose one episode of need (referral R-1 on 1 May) was closed on 1 June."""
    child = referral(registered())
    record(child, child.close_episode_of_need, close(date(2026, 6, 1)))
    return child


@pytest.mark.parametrize("decide", START_WORK)
def test_work_starting_in_a_closed_episode_is_refused(decide: str) -> None:
    name, command = START_WORK[decide]
    child = closed_episode()
    for on in (date(2026, 5, 1), date(2026, 5, 20), date(2026, 6, 1)):
        refused(
            name,
            "falls in the episode of need begun by referral R-1 on 2026-05-01 and closed on "
            "2026-06-01: record a new referral first",
            getattr(child, decide),
            command(on),
        )


@pytest.mark.parametrize("decide", START_WORK)
def test_work_after_a_closed_episode_needs_a_new_referral(decide: str) -> None:
    name, command = START_WORK[decide]
    child = closed_episode()
    refused(
        name,
        "the episode of need begun by referral R-1 on 2026-05-01 was closed on 2026-06-01: "
        "record a new referral first",
        getattr(child, decide),
        command(date(2026, 7, 1)),
    )
    referral(child, "R-2", date(2026, 6, 15))
    # Before the new referral, still the closed episode's; from it, the new one's.
    refused(
        name,
        "was closed on 2026-06-01: record a new referral first",
        getattr(child, decide),
        command(date(2026, 6, 14)),
    )
    refused(name, "falls in", getattr(child, decide), command(date(2026, 5, 20)))
    assert getattr(child, decide)(command(date(2026, 6, 15)), TODAY)
    assert getattr(child, decide)(command(date(2026, 7, 1)), TODAY)


@pytest.mark.parametrize("decide", START_WORK)
def test_a_new_referral_on_the_closure_day_begins_the_next_episode(decide: str) -> None:
    _, command = START_WORK[decide]
    child = closed_episode()
    referral(child, "R-2", date(2026, 6, 1))
    assert getattr(child, decide)(command(date(2026, 6, 1)), TODAY)


@pytest.mark.parametrize("decide", START_WORK)
def test_work_in_an_open_episode_or_before_any_referral_is_taken(decide: str) -> None:
    _, command = START_WORK[decide]
    assert getattr(registered(), decide)(command(date(2026, 4, 1)), TODAY)
    child = referral(registered())
    assert getattr(child, decide)(command(date(2026, 5, 20)), TODAY)

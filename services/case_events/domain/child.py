"""The child: the aggregate whose stream is the child's statutory journey.

Each decision checks the command against what the stream says so far and returns the events
to record, with the timescales the service derives (on the England and Wales working-day
calendar where the statute counts working days). Dates are never in the future, never before
the child was born (for a child known before birth, never before the pregnancy), and never
before the record they follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import TypeVar

from contracts.case_events import events as e
from contracts.case_events.codes import (
    AdoptersLegalStatus,
    AdoptersSex,
    AssessmentFactor,
    CareLeaverStatus,
    Disability,
    HealthPassportMilestone,
    PlanType,
    PreviousPermanence,
    PrimaryNeed,
    ReviewParticipation,
    Sex,
    SocialWorkerChangeReason,
)
from services.case_events.domain import commands as c
from shared.aggregate import (
    Aggregate,
    AlreadyRecorded,
    Decision,
    DomainRuleViolation,
    UnknownStream,
    check_day,
    not_before,
    not_in_future,
)
from shared.calendar import add_months, add_working_days, age_on, working_days_between
from shared.envelope import DomainEvent

T = TypeVar("T")

ASSESSMENT_WORKING_DAYS = 45
ICPC_WORKING_DAYS = 15
FIRST_LOOKED_AFTER_REVIEW_WORKING_DAYS = 20
PROCEEDINGS_WEEKS = 26
# The longest a pregnancy runs: an expected birth further away is a mistake, and pre-birth work
# about a child is never dated before its pregnancy.
PREGNANCY_WEEKS = 42
# A return home interview is offered within 72 hours of the child's return (statutory guidance
# on children who run away or go missing): three days, as dates are recorded.
RETURN_INTERVIEW_DAYS = 3

# What must be open on a statutory visit's date for it to be made under each plan type.
OPEN_FOR_A_VISIT = {
    PlanType.CHILD_IN_NEED: "child in need plan",
    PlanType.CHILD_PROTECTION: "child protection plan",
    PlanType.CHILD_IN_CARE: "period of care",
    PlanType.CARE_LEAVER: "care leaver status",
}
# What of an episode of need, besides its assessments and section 47 enquiries, keeps it open
# (CIN census: an episode closes only when nothing of it is open).
OPEN_IN_AN_EPISODE = {
    PlanType.CHILD_IN_NEED: "child in need plan",
    PlanType.CHILD_PROTECTION: "child protection plan",
    PlanType.CHILD_IN_CARE: "period of care",
}
# SSDA903 CIN (why the child became looked after) takes N1 to N8: N0 and N9 are the CIN
# census's only.
NOT_A_CATEGORY_OF_NEED = frozenset(
    {PrimaryNeed.NOT_STATED, PrimaryNeed.CASES_OTHER_THAN_CHILDREN_IN_NEED}
)
# The youngest a girl is recorded as a mother at (SSDA903 MC_DOB): a first child born before
# her tenth birthday is a mistyped date.
YOUNGEST_MOTHER_YEARS = 10
# SSDA903 AD1: the adopters each legal status allows (validation rules 514, 519, 520, 524).
COUPLES = frozenset(
    {AdoptersSex.MALE_COUPLE, AdoptersSex.FEMALE_COUPLE, AdoptersSex.MALE_FEMALE_COUPLE}
)
ADOPTERS_OF = {
    AdoptersLegalStatus.SINGLE: frozenset({AdoptersSex.SINGLE_MALE, AdoptersSex.SINGLE_FEMALE}),
    AdoptersLegalStatus.MARRIED_DIFFERENT_SEX_COUPLE: frozenset({AdoptersSex.MALE_FEMALE_COUPLE}),
    AdoptersLegalStatus.MARRIED_SAME_SEX_COUPLE: frozenset(
        {AdoptersSex.MALE_COUPLE, AdoptersSex.FEMALE_COUPLE}
    ),
    AdoptersLegalStatus.CIVIL_PARTNERS: COUPLES,
}


class ChildAlreadyRegistered(AlreadyRecorded):
    pass


@dataclass
class Open:
    """Something open on the child's record, and when it started or was last reviewed."""

    id: str
    since: date
    last: date


@dataclass
class Span:
    """A time something was open on the record (a plan, a period of care, care leaver status),
    kept so that a backdated fact can be checked against what was open on its own date."""

    start: date
    end: date | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def open_after(self, day: date) -> bool:
        """Started by the day and still open after it: ended on the day is not open."""
        return self.start <= day and (self.end is None or day < self.end)


@dataclass
class Spans:
    by_plan: dict[PlanType, list[Span]] = field(default_factory=dict)

    def open(self, plan: PlanType, since: date) -> None:
        """Opens a span, or (for what is re-recorded while open, like care leaver status)
        moves the open one's start earlier when a backdated fact says it began before."""
        spans = self.by_plan.setdefault(plan, [])
        if not spans or spans[-1].end is not None:
            spans.append(Span(since))
        else:
            spans[-1].start = min(spans[-1].start, since)

    def close(self, plan: PlanType, on: date) -> None:
        spans = self.by_plan.get(plan)
        if spans and spans[-1].end is None:
            spans[-1].end = on

    def covers(self, plan: PlanType, day: date) -> bool:
        return any(span.covers(day) for span in self.by_plan.get(plan, []))


@dataclass(frozen=True)
class Allocation:
    worker_id: str
    since: date


@dataclass
class ChildState:
    date_of_birth: date | None = None
    expected_birth: date | None = None  # set when the child was registered before birth
    locality: str | None = None
    characteristics_on: date | None = None  # the last recording
    uasc_since: date | None = None  # first recorded as unaccompanied asylum-seeking
    social_worker: Allocation | None = None
    allocation_ended: date | None = None  # the last allocation's end: the next starts after it
    plans: Spans = field(default_factory=Spans)  # what was open when, for statutory visits
    contacts: set[str] = field(default_factory=set)
    referrals: dict[str, date] = field(default_factory=dict)
    referral_outcomes: set[str] = field(default_factory=set)
    discussions: dict[str, tuple[date, bool]] = field(default_factory=dict)  # (date, s47?)
    s47_concluded: dict[str, date] = field(default_factory=dict)  # discussion id -> concluded
    missing: dict[date, date | None] = field(default_factory=dict)  # start -> end
    adoption_decision: date | None = None  # the open decision to place for adoption
    liberty: date | None = None  # the open deprivation of liberty, authorised on
    assessments: dict[str, date] = field(default_factory=dict)  # the open ones, by id
    # The completed ones (id, start to completion): a closure backdated into one is refused.
    completed_assessments: list[tuple[str, Span]] = field(default_factory=list)
    episodes_closed: dict[str, date] = field(default_factory=dict)  # referral id -> closed on
    cin_plan: Open | None = None
    strategy: tuple[date, date | None] | None = None  # (date, ICPC due) of the last with s47
    cp_plan: Open | None = None
    cp_plan_ids: set[str] = field(default_factory=set)
    # Plans before the next one: those held, or more if a plan said it had more before it
    # (an import of past returns holds only the years it was given).
    cp_plans_before: int = 0
    cp_reviews: int = 0
    care: Open | None = None
    la_reviews: int = 0
    pre_proceedings: date | None = None
    proceedings: Open | None = None
    care_leaver: CareLeaverStatus | None = None
    pathway_plan: date | None = None  # last created or reviewed
    passport_offered: date | None = None
    priority_since: date | None = None
    erased_on: date | None = None


class Child(Aggregate):
    registry = e.case_event_types

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.state = ChildState()

    # -- shared checks ----------------------------------------------------------------------

    def _day(
        self, name: str, day: date, decision: Decision, after: date | None = None, what: str = ""
    ) -> None:
        s = self.state
        if s.expected_birth is None:
            check_day(name, day, decision, s.date_of_birth, after, what)
            return
        # Known before birth: pre-birth work (an assessment, a plan, a visit) is dated before
        # the birth, never before the pregnancy.
        check_day(name, day, decision, None, after, what)
        pregnancy = (s.date_of_birth or s.expected_birth) - timedelta(weeks=PREGNANCY_WEEKS)
        not_before(name, day, pregnancy, "the pregnancy")

    def _born(self, name: str) -> date:
        """The date of birth a command needs (an age, a period of care): a 422 for an unborn
        child, not a crash."""
        if self.state.date_of_birth is None:
            if self.state.expected_birth is None:  # a stream with no registration
                raise UnknownStream(self.stream_id)
            raise DomainRuleViolation(name, "the child is not born yet")
        return self.state.date_of_birth

    def _age_on(self, day: date, name: str) -> int:
        return age_on(self._born(name), day)

    @staticmethod
    def _must(condition: object, name: str, reason: str) -> None:
        if not condition:
            raise DomainRuleViolation(name, reason)

    @staticmethod
    def _found(value: T | None, name: str, reason: str) -> T:
        """The open record a command names, or a 422 naming the field (never an assert: a
        request can name anything)."""
        if value is None:
            raise DomainRuleViolation(name, reason)
        return value

    @classmethod
    def _distinct(cls, name: str, codes: Sequence[StrEnum], alone: StrEnum) -> None:
        """A list of national codes names each once, and `alone` (none, no factors) only by
        itself: the returns refuse both."""
        cls._must(len(set(codes)) == len(codes), name, "names a code twice")
        cls._must(
            alone not in codes or len(codes) == 1,
            name,
            f"{alone.value} stands alone: no other code",
        )

    # -- registration and referral ----------------------------------------------------------

    def register(
        self,
        command: c.RegisterChild,
        decision: Decision,
        personal: e.SealedPersonalDetails | None = None,
    ) -> list[DomainEvent]:
        """`personal`: the command's personal details, already sealed with the child's key."""
        self._not_registered()
        not_in_future("date_of_birth", command.date_of_birth, decision)
        registered = e.ChildRegistered(**command.model_dump(exclude={"personal"}))
        return self._with_personal(registered, personal)

    def register_unborn(
        self,
        command: c.RegisterUnbornChild,
        decision: Decision,
        personal: e.SealedPersonalDetails | None = None,
    ) -> list[DomainEvent]:
        """An unborn child's record (a pre-birth assessment or conference): its stream starts
        here, and `ChildBorn` gives the date of birth."""
        self._not_registered()
        self._must(
            command.expected_date_of_birth <= decision.today + timedelta(weeks=PREGNANCY_WEEKS),
            "expected_date_of_birth",
            f"is more than {PREGNANCY_WEEKS} weeks away",
        )
        registered = e.UnbornChildRegistered(**command.model_dump(exclude={"personal"}))
        return self._with_personal(registered, personal)

    def _not_registered(self) -> None:
        if self.exists:
            raise ChildAlreadyRegistered(f"child {self.stream_id!r} is already registered")

    @staticmethod
    def _with_personal(
        registered: DomainEvent, personal: e.SealedPersonalDetails | None
    ) -> list[DomainEvent]:
        if personal is None:
            return [registered]
        return [registered, e.PersonalDetailsRecorded(**personal.model_dump())]

    def record_birth(self, cmd: c.RecordBirth, decision: Decision) -> list[DomainEvent]:
        born = self.state.date_of_birth
        self._must(born is None, "date_of_birth", f"the child's birth is recorded already ({born})")
        # `_day` measures the pregnancy back from the birth once known: a birth before the
        # pregnancy the expected date implies is a mistake that would move that window too.
        self._day("date_of_birth", cmd.date_of_birth, decision)
        return [e.ChildBorn(**cmd.model_dump())]

    def record_characteristics(
        self, cmd: c.RecordCharacteristics, decision: Decision
    ) -> list[DomainEvent]:
        s = self.state
        self._day("recorded_on", cmd.recorded_on, decision, s.characteristics_on, "the last one")
        self._distinct("disabilities", cmd.disabilities, Disability.NONE)
        if cmd.uasc_ceased_on is not None:
            self._must(
                cmd.unaccompanied_asylum_seeking,
                "uasc_ceased_on",
                "only for an unaccompanied asylum-seeking child",
            )
            self._day(
                "uasc_ceased_on",
                cmd.uasc_ceased_on,
                decision,
                s.uasc_since,
                "the child was recorded as unaccompanied asylum-seeking",
            )
        self._motherhood(cmd, decision)
        return [e.ChildCharacteristicsRecorded(**cmd.model_dump())]

    def _motherhood(self, cmd: c.RecordCharacteristics, decision: Decision) -> None:
        """SSDA903 MOTHER and MC_DOB: recorded for a girl only, and her first child's birth
        only for a mother, not in the future and not before her own tenth birthday (an
        earlier date is a mistyped one, which the return would carry as it is)."""
        if cmd.mother is not None:
            self._must(
                cmd.sex is Sex.FEMALE,
                "mother",
                f"only for a girl (sex {Sex.FEMALE.value}); this child's sex is {cmd.sex.value}",
            )
        if cmd.first_child_born_on is None:
            return
        self._must(cmd.mother, "first_child_born_on", "only for a mother (mother: true)")
        not_in_future("first_child_born_on", cmd.first_child_born_on, decision)
        tenth = add_months(self._born("first_child_born_on"), 12 * YOUNGEST_MOTHER_YEARS)
        not_before("first_child_born_on", cmd.first_child_born_on, tenth, "her tenth birthday")

    def record_personal_details(
        self, sealed: e.SealedPersonalDetails, decision: Decision
    ) -> list[DomainEvent]:
        self._must(
            self.state.erased_on is None,
            "child_id",
            f"this child's personal data was erased on {self.state.erased_on}",
        )
        self._must(any(sealed.model_dump().values()), "body", "names no personal field")
        return [e.PersonalDetailsRecorded(**sealed.model_dump())]

    def erase_personal_data(
        self, cmd: c.EraseChildPersonalData, decision: Decision
    ) -> list[DomainEvent]:
        if self.state.erased_on is not None:
            raise AlreadyRecorded(
                f"this child's personal data was erased on {self.state.erased_on}"
            )
        not_in_future("erased_on", cmd.erased_on, decision)
        return [e.ChildPersonalDataErased(**cmd.model_dump())]

    # -- workforce --------------------------------------------------------------------------

    def allocate_social_worker(
        self, cmd: c.AllocateSocialWorker, decision: Decision
    ) -> list[DomainEvent]:
        """Allocating a worker ends the current allocation: the change needs its SSDA903
        reason, and the previous worker is derived, not typed. An allocation recorded late
        never starts before the last one ended: the boards would show the child unallocated
        from that end."""
        current = self.state.social_worker
        after: date | None
        if current is not None:
            after, what = current.since, "the current allocation"
        else:
            after, what = self.state.allocation_ended, "the end of the last allocation"
        self._day("allocated_on", cmd.allocated_on, decision, after, what)
        self._first_contact(cmd)
        if current is not None:
            self._must(
                cmd.worker_id != current.worker_id, "worker_id", "is the allocated social worker"
            )
            self._must(
                cmd.reason is not None,
                "reason",
                f"is required: it replaces the allocated social worker {current.worker_id}",
            )
        return [
            e.SocialWorkerAllocated(
                **cmd.model_dump(), previous_worker_id=current.worker_id if current else None
            )
        ]

    def _first_contact(self, cmd: c.AllocateSocialWorker) -> None:
        """FCONTA (SW_REASON) is a first allocation: never one that replaces an allocated
        worker, nor one that starts the day the last allocation ended (SSDA903 SW10b: it
        starts after the previous episode's end). After a gap, a new involvement is a first
        contact again (SW10a: any other reason must follow the last end within 7 days)."""
        if cmd.reason is not SocialWorkerChangeReason.FIRST_CONTACT:
            return
        s = self.state
        self._must(
            s.social_worker is None and s.allocation_ended != cmd.allocated_on,
            "reason",
            "FCONTA is the first allocation; a change has another reason",
        )

    def end_social_worker_allocation(
        self, cmd: c.EndSocialWorkerAllocation, decision: Decision
    ) -> list[DomainEvent]:
        current = self._found(
            self.state.social_worker, "worker_id", "no social worker is allocated"
        )
        self._must(
            cmd.worker_id == current.worker_id,
            "worker_id",
            f"is not the allocated social worker ({current.worker_id} is)",
        )
        self._day("ended_on", cmd.ended_on, decision, current.since, "the allocation")
        return [e.SocialWorkerAllocationEnded(**cmd.model_dump())]

    def record_statutory_visit(
        self, cmd: c.RecordStatutoryVisit, decision: Decision
    ) -> list[DomainEvent]:
        """A visit counts under the plan type that was open on its date (what sets its
        timescale), however late it is recorded."""
        self._day("visit_date", cmd.visit_date, decision)
        self._must(
            self.state.plans.covers(cmd.plan_type, cmd.visit_date),
            "plan_type",
            f"no {OPEN_FOR_A_VISIT[cmd.plan_type]} was open on {cmd.visit_date.isoformat()}",
        )
        self._must(cmd.seen or cmd.seen_alone is None, "seen_alone", "only when the child was seen")
        return [e.StatutoryVisitRecorded(**cmd.model_dump())]

    # -- the front door ---------------------------------------------------------------------

    def record_front_door_contact(
        self, cmd: c.RecordFrontDoorContact, decision: Decision
    ) -> list[DomainEvent]:
        self._day("contact_date", cmd.contact_date, decision)
        self._must(cmd.contact_id not in self.state.contacts, "contact_id", "is recorded already")
        return [e.FrontDoorContactReceived(**cmd.model_dump())]

    def record_referral(self, cmd: c.RecordReferral, decision: Decision) -> list[DomainEvent]:
        self._day("referral_date", cmd.referral_date, decision)
        return [e.ReferralReceived(**cmd.model_dump())]

    def record_referral_outcome(
        self, cmd: c.RecordReferralOutcome, decision: Decision
    ) -> list[DomainEvent]:
        received = self._found(
            self.state.referrals.get(cmd.referral_id), "referral_id", "no such referral"
        )
        self._must(
            cmd.referral_id not in self.state.referral_outcomes,
            "referral_id",
            "has its outcome already",
        )
        self._day("decided_on", cmd.decided_on, decision, received, "the referral")
        return [e.ReferralOutcomeRecorded(**cmd.model_dump())]

    def close_episode_of_need(
        self, cmd: c.CloseEpisodeOfNeed, decision: Decision
    ) -> list[DomainEvent]:
        """The CIN census's closure of the episode the referral began, once nothing of it is
        open on the day (what closed it on the day may end that day) and nothing of it started
        after the day (the census would file it under the closed episode): closed once, like a
        referral's outcome."""
        s = self.state
        received = self._found(s.referrals.get(cmd.referral_id), "referral_id", "no such referral")
        closed = s.episodes_closed.get(cmd.referral_id)
        self._must(
            closed is None, "referral_id", f"its episode of need is closed already (on {closed})"
        )
        self._day("closed_on", cmd.closed_on, decision, received, "the referral")
        still_open, started_after = self._open_in_episode(cmd.referral_id, cmd.closed_on)
        on = cmd.closed_on.isoformat()
        found = [f"still open on {on}: {'; '.join(still_open)}"] if still_open else []
        if started_after:
            found.append(
                f"started after {on} and would be filed under the closed episode: "
                f"{'; '.join(started_after)}"
            )
        self._must(not found, "closed_on", ". ".join(found))
        return [e.EpisodeOfNeedClosed(**cmd.model_dump())]

    def _open_in_episode(self, referral_id: str, on: date) -> tuple[list[str], list[str]]:
        """Of what the census files under the referral (started on or after it, before a
        later referral): what started by `on` and was still open after it (ended on it is
        closed), and what started after `on`, ended or still open now."""
        still_open: list[str] = []
        started_after: list[str] = []
        for what, span in self._episode_parts():
            episode = self._episode_of(span.start)
            if episode is None or episode[0] != referral_id:
                continue
            if span.start > on:
                started_after.append(what)
            elif span.open_after(on):
                still_open.append(what)
        return still_open, started_after

    def _episode_parts(self) -> list[tuple[str, Span]]:
        """Every part of an episode of need the record holds (assessments, section 47
        enquiries, plans and periods of care), described, with when it was open: oldest
        first, as a refusal names them."""
        s = self.state
        parts = [
            (f"assessment {a} (started {start.isoformat()})", Span(start))
            for a, start in s.assessments.items()
        ]
        parts += [
            (f"assessment {a} (started {span.start.isoformat()}, completed {span.end})", span)
            for a, span in s.completed_assessments
        ]
        parts += [
            (
                f"the section 47 enquiry of strategy discussion {d} (held {held.isoformat()})",
                Span(held, s.s47_concluded.get(d)),
            )
            for d, (held, enquiry) in s.discussions.items()
            if enquiry
        ]
        for plan, what in OPEN_IN_AN_EPISODE.items():
            parts += [
                (f"the {what} started {span.start.isoformat()}", span)
                for span in s.plans.by_plan.get(plan, [])
            ]
        return sorted(parts, key=lambda part: part[1].start)

    def _episode_of(self, day: date) -> tuple[str, date] | None:
        """The referral (id, date) whose episode of need the CIN census files work starting
        on the day under: the latest on or before it (of two the same day, the later
        recorded). None before any referral."""
        found: tuple[str, date] | None = None
        for referral_id, received in self.state.referrals.items():
            if received <= day and (found is None or received >= found[1]):
                found = (referral_id, received)
        return found

    def _in_an_open_episode(self, name: str, start: date) -> None:
        """Work of an episode of need (an assessment, a plan, a strategy discussion, a period
        of care) starts in an episode still open: the census files it under the latest
        referral before it, so once that referral's episode is closed, only a new referral
        opens another. Work before any referral is not refused (no episode to file it in)."""
        episode = self._episode_of(start)
        if episode is None:
            return
        referral_id, received = episode
        closed = self.state.episodes_closed.get(referral_id)
        if closed is None:
            return
        begun = f"the episode of need begun by referral {referral_id} on {received.isoformat()}"
        if start <= closed:
            reason = f"falls in {begun} and closed on {closed.isoformat()}"
        else:
            reason = f"{begun} was closed on {closed.isoformat()}"
        raise DomainRuleViolation(name, f"{reason}: record a new referral first")

    # -- assessment and child in need -------------------------------------------------------

    def start_assessment(self, cmd: c.StartAssessment, decision: Decision) -> list[DomainEvent]:
        self._day("start_date", cmd.start_date, decision)
        self._in_an_open_episode("start_date", cmd.start_date)
        self._must(
            cmd.assessment_id not in self.state.assessments, "assessment_id", "is already open"
        )
        return [
            e.AssessmentStarted(
                **cmd.model_dump(),
                due_date=add_working_days(cmd.start_date, ASSESSMENT_WORKING_DAYS),
            )
        ]

    def complete_assessment(
        self, cmd: c.CompleteAssessment, decision: Decision
    ) -> list[DomainEvent]:
        started = self._found(
            self.state.assessments.get(cmd.assessment_id),
            "assessment_id",
            "no such open assessment",
        )
        self._day(
            "completion_date", cmd.completion_date, decision, started, "the assessment started"
        )
        self._distinct("factors", cmd.factors, AssessmentFactor.NO_FACTORS)
        taken = working_days_between(started, cmd.completion_date)
        return [
            e.AssessmentCompleted(
                **cmd.model_dump(),
                working_days_taken=taken,
                within_timescale=taken <= ASSESSMENT_WORKING_DAYS,
            )
        ]

    def start_cin_plan(self, cmd: c.StartChildInNeedPlan, decision: Decision) -> list[DomainEvent]:
        self._day("start_date", cmd.start_date, decision)
        self._in_an_open_episode("start_date", cmd.start_date)
        self._must(self.state.cin_plan is None, "plan_id", "a child in need plan is already open")
        return [e.ChildInNeedPlanStarted(**cmd.model_dump())]

    def end_cin_plan(self, cmd: c.EndChildInNeedPlan, decision: Decision) -> list[DomainEvent]:
        open_plan = self.state.cin_plan
        plan = self._found(
            open_plan if open_plan and open_plan.id == cmd.plan_id else None,
            "plan_id",
            "no such open plan",
        )
        self._day("end_date", cmd.end_date, decision, plan.since, "the plan started")
        return [e.ChildInNeedPlanEnded(**cmd.model_dump())]

    # -- child protection -------------------------------------------------------------------

    def record_strategy_discussion(
        self, cmd: c.RecordStrategyDiscussion, decision: Decision
    ) -> list[DomainEvent]:
        self._day("discussion_date", cmd.discussion_date, decision)
        self._in_an_open_episode("discussion_date", cmd.discussion_date)
        due = (
            add_working_days(cmd.discussion_date, ICPC_WORKING_DAYS)
            if cmd.section_47_enquiry
            else None
        )
        return [e.StrategyDiscussionHeld(**cmd.model_dump(), icpc_due_date=due)]

    def conclude_section_47_enquiry(
        self, cmd: c.ConcludeSection47Enquiry, decision: Decision
    ) -> list[DomainEvent]:
        held, enquiry = self._found(
            self.state.discussions.get(cmd.discussion_id),
            "discussion_id",
            "no such strategy discussion",
        )
        self._must(enquiry, "discussion_id", "started no section 47 enquiry")
        self._must(
            cmd.discussion_id not in self.state.s47_concluded,
            "discussion_id",
            "its section 47 enquiry is concluded already",
        )
        self._day("concluded_on", cmd.concluded_on, decision, held, "the strategy discussion")
        return [e.Section47EnquiryConcluded(**cmd.model_dump())]

    def record_initial_conference(
        self, cmd: c.RecordInitialConference, decision: Decision
    ) -> list[DomainEvent]:
        held, due = self._found(
            self.state.strategy,
            "conference_date",
            "no strategy discussion with a section 47 enquiry precedes it",
        )
        self._day("conference_date", cmd.conference_date, decision, held, "the strategy discussion")
        return [
            e.InitialChildProtectionConferenceHeld(
                **cmd.model_dump(), within_timescale=due is None or cmd.conference_date <= due
            )
        ]

    def start_child_protection_plan(
        self, cmd: c.StartChildProtectionPlan, decision: Decision
    ) -> list[DomainEvent]:
        self._day("start_date", cmd.start_date, decision)
        self._in_an_open_episode("start_date", cmd.start_date)
        if self.state.cp_plan is not None:
            raise DomainRuleViolation(
                "plan_id",
                f"plan {self.state.cp_plan.id} is already open since "
                f"{self.state.cp_plan.since.isoformat()}; end it first",
            )
        self._must(
            cmd.plan_id not in self.state.cp_plan_ids, "plan_id", "was already used for this child"
        )
        return [
            e.ChildProtectionPlanStarted(
                child_id=self.stream_id,
                plan_id=cmd.plan_id,
                category=cmd.category,
                start_date=cmd.start_date,
                previous_plans=max(self.state.cp_plans_before, cmd.previous_plans or 0),
            )
        ]

    def review_child_protection_plan(
        self, cmd: c.ReviewChildProtectionPlan, decision: Decision
    ) -> list[DomainEvent]:
        plan = self._open_cp_plan(cmd.plan_id)
        self._day(
            "review_date", cmd.review_date, decision, plan.last, "the plan's start or last review"
        )
        return [
            e.ChildProtectionPlanReviewed(
                **cmd.model_dump(), next_review_due=add_months(cmd.review_date, 6)
            )
        ]

    def end_child_protection_plan(
        self, cmd: c.EndChildProtectionPlan, decision: Decision
    ) -> list[DomainEvent]:
        plan = self._open_cp_plan(cmd.plan_id)
        self._day("end_date", cmd.end_date, decision, plan.last, "the plan's start or last review")
        return [
            e.ChildProtectionPlanEnded(
                **cmd.model_dump(), days_open=(cmd.end_date - plan.since).days
            )
        ]

    def _open_cp_plan(self, plan_id: str) -> Open:
        plan = self.state.cp_plan
        return self._found(
            plan if plan and plan.id == plan_id else None,
            "plan_id",
            "no such open child protection plan",
        )

    # -- children in care -------------------------------------------------------------------

    def start_period_of_care(
        self, cmd: c.StartPeriodOfCare, decision: Decision
    ) -> list[DomainEvent]:
        self._day("start_date", cmd.start_date, decision)
        not_before("start_date", cmd.start_date, self._born("start_date"), "the child's birth")
        self._in_an_open_episode("start_date", cmd.start_date)
        self._must(self.state.care is None, "start_date", "a period of care is already open")
        self._must(
            cmd.category_of_need not in NOT_A_CATEGORY_OF_NEED,
            "category_of_need",
            "SSDA903 takes N1 to N8",
        )
        return [
            e.PeriodOfCareStarted(
                **cmd.model_dump(),
                first_review_due=add_working_days(
                    cmd.start_date, FIRST_LOOKED_AFTER_REVIEW_WORKING_DAYS
                ),
            )
        ]

    def change_legal_status(
        self, cmd: c.ChangeLegalStatus, decision: Decision
    ) -> list[DomainEvent]:
        care = self._in_care("change_date")
        self._day("change_date", cmd.change_date, decision, care.last, "the last change")
        return [e.LegalStatusChanged(**cmd.model_dump())]

    def end_period_of_care(self, cmd: c.EndPeriodOfCare, decision: Decision) -> list[DomainEvent]:
        care = self._in_care("end_date")
        self._day(
            "end_date", cmd.end_date, decision, care.last, "the period's start or last change"
        )
        return [e.PeriodOfCareEnded(**cmd.model_dump())]

    def record_looked_after_review(
        self, cmd: c.RecordLookedAfterReview, decision: Decision
    ) -> list[DomainEvent]:
        care = self._in_care("review_date")
        self._day(
            "review_date", cmd.review_date, decision, care.since, "the period of care started"
        )
        self._must(
            cmd.participation is not ReviewParticipation.UNDER_FOUR
            or self._age_on(cmd.review_date, "review_date") < 4,
            "participation",
            "PN0 is for a child under 4 on the review date",
        )
        months = 3 if self.state.la_reviews == 0 else 6
        return [
            e.LookedAfterReviewHeld(
                **cmd.model_dump(), next_review_due=add_months(cmd.review_date, months)
            )
        ]

    def record_permanence_plan(
        self, cmd: c.RecordPermanencePlan, decision: Decision
    ) -> list[DomainEvent]:
        care = self._in_care("recorded_on")
        self._day(
            "recorded_on", cmd.recorded_on, decision, care.since, "the period of care started"
        )
        return [e.PermanencePlanRecorded(**cmd.model_dump())]

    def _in_care(self, name: str) -> Open:
        return self._found(self.state.care, name, "the child is not in care")

    def record_health_outcomes(
        self, cmd: c.RecordHealthOutcomes, decision: Decision
    ) -> list[DomainEvent]:
        """The SSDA903 OC2 outcomes: an SDQ score or the reason there is none, and the
        substance misuse interventions only for a child with a substance misuse problem."""
        care = self._in_care("recorded_on")
        self._day(
            "recorded_on", cmd.recorded_on, decision, care.since, "the period of care started"
        )
        self._must(
            cmd.sdq_score is None or cmd.sdq_reason is None,
            "sdq_reason",
            "is only for a child with no SDQ score",
        )
        self._must(
            cmd.sdq_score is not None or cmd.sdq_reason is not None,
            "sdq_score",
            "an SDQ score, or the reason there is none (sdq_reason), is required",
        )
        for name in ("intervention_received", "intervention_offered"):
            self._must(
                cmd.substance_misuse or getattr(cmd, name) is None,
                name,
                "only for a child identified with a substance misuse problem",
            )
        return [e.HealthOutcomesRecorded(**cmd.model_dump())]

    # -- adoption, previous permanence, deprivation of liberty ------------------------------

    def make_adoption_decision(
        self, cmd: c.MakeAdoptionDecision, decision: Decision
    ) -> list[DomainEvent]:
        care = self._in_care("decided_on")
        self._day("decided_on", cmd.decided_on, decision, care.since, "the period of care started")
        open_since = self.state.adoption_decision
        self._must(
            open_since is None,
            "decided_on",
            f"the decision to place for adoption of {open_since} is still open",
        )
        return [e.AdoptionDecisionMade(**cmd.model_dump())]

    def reverse_adoption_decision(
        self, cmd: c.ReverseAdoptionDecision, decision: Decision
    ) -> list[DomainEvent]:
        decided = self._adoption_decision("reversed_on")
        self._day("reversed_on", cmd.reversed_on, decision, decided, "the decision")
        return [e.AdoptionDecisionReversed(**cmd.model_dump())]

    def record_adoption_match(
        self, cmd: c.RecordAdoptionMatch, decision: Decision
    ) -> list[DomainEvent]:
        decided = self._adoption_decision("matched_on")
        self._day("matched_on", cmd.matched_on, decision, decided, "the decision")
        self._must(
            (cmd.number_of_adopters == 2) == (cmd.adopters_sex in COUPLES),
            "number_of_adopters",
            f"does not match adopters_sex {cmd.adopters_sex.value}",
        )
        allowed = ADOPTERS_OF.get(cmd.adopters_legal_status)
        self._must(
            allowed is None or cmd.adopters_sex in allowed,
            "adopters_legal_status",
            f"{cmd.adopters_legal_status.value} is not for adopters {cmd.adopters_sex.value}",
        )
        return [e.AdoptionMatched(**cmd.model_dump())]

    def _adoption_decision(self, name: str) -> date:
        return self._found(
            self.state.adoption_decision, name, "no decision to place for adoption is open"
        )

    def record_previous_permanence(
        self, cmd: c.RecordPreviousPermanence, decision: Decision
    ) -> list[DomainEvent]:
        self._day("recorded_on", cmd.recorded_on, decision)
        if cmd.arrangement is PreviousPermanence.NONE_OR_NOT_KNOWN:
            for name in ("order_date", "local_authority"):
                self._must(getattr(cmd, name) is None, name, "is only for an order (not Z1)")
        if cmd.order_date is not None:
            self._day("order_date", cmd.order_date, decision)
            self._must(cmd.order_date <= cmd.recorded_on, "order_date", "is after recorded_on")
        return [e.PreviousPermanenceRecorded(**cmd.model_dump())]

    def authorise_deprivation_of_liberty(
        self, cmd: c.AuthoriseDeprivationOfLiberty, decision: Decision
    ) -> list[DomainEvent]:
        self._day("authorised_on", cmd.authorised_on, decision)
        since = self.state.liberty
        self._must(
            since is None, "authorised_on", f"the deprivation of liberty of {since} is still open"
        )
        self._must(
            cmd.expires_on is None or cmd.expires_on > cmd.authorised_on,
            "expires_on",
            "is not after authorised_on",
        )
        return [e.DeprivationOfLibertyAuthorised(**cmd.model_dump())]

    def end_deprivation_of_liberty(
        self, cmd: c.EndDeprivationOfLiberty, decision: Decision
    ) -> list[DomainEvent]:
        since = self._found(
            self.state.liberty, "ended_on", "no deprivation of liberty is authorised"
        )
        self._day("ended_on", cmd.ended_on, decision, since, "the authorisation")
        return [e.DeprivationOfLibertyEnded(**cmd.model_dump())]

    # -- pre-proceedings and proceedings ----------------------------------------------------

    def enter_pre_proceedings(
        self, cmd: c.EnterPreProceedings, decision: Decision
    ) -> list[DomainEvent]:
        self._day("entered_on", cmd.entered_on, decision)
        self._must(self.state.pre_proceedings is None, "entered_on", "pre-proceedings already open")
        return [e.PreProceedingsEntered(**cmd.model_dump())]

    def record_pre_proceedings_meeting(
        self, cmd: c.RecordPreProceedingsMeeting, decision: Decision
    ) -> list[DomainEvent]:
        self._day(
            "meeting_date",
            cmd.meeting_date,
            decision,
            self._pre_proceedings("meeting_date"),
            "pre-proceedings started",
        )
        return [e.PreProceedingsMeetingHeld(**cmd.model_dump())]

    def send_letter_before_proceedings(
        self, cmd: c.SendLetterBeforeProceedings, decision: Decision
    ) -> list[DomainEvent]:
        self._day(
            "sent_on",
            cmd.sent_on,
            decision,
            self._pre_proceedings("sent_on"),
            "pre-proceedings started",
        )
        return [e.LetterBeforeProceedingsSent(**cmd.model_dump())]

    def conclude_pre_proceedings(
        self, cmd: c.ConcludePreProceedings, decision: Decision
    ) -> list[DomainEvent]:
        entered = self._pre_proceedings("concluded_on")
        self._day("concluded_on", cmd.concluded_on, decision, entered, "pre-proceedings started")
        return [
            e.PreProceedingsConcluded(
                **cmd.model_dump(), weeks_taken=(cmd.concluded_on - entered).days // 7
            )
        ]

    def _pre_proceedings(self, name: str) -> date:
        return self._found(self.state.pre_proceedings, name, "no pre-proceedings are open")

    def issue_care_proceedings(
        self, cmd: c.IssueCareProceedings, decision: Decision
    ) -> list[DomainEvent]:
        self._day("issued_on", cmd.issued_on, decision)
        self._must(self.state.proceedings is None, "proceedings_id", "proceedings already open")
        return [
            e.CareProceedingsIssued(
                **cmd.model_dump(),
                statutory_deadline=cmd.issued_on + timedelta(weeks=PROCEEDINGS_WEEKS),
            )
        ]

    def record_hearing(
        self, cmd: c.RecordCareProceedingsHearing, decision: Decision
    ) -> list[DomainEvent]:
        open_ = self._proceedings(cmd.proceedings_id)
        self._day(
            "hearing_date", cmd.hearing_date, decision, open_.since, "the proceedings were issued"
        )
        return [e.CareProceedingsHearingHeld(**cmd.model_dump())]

    def conclude_care_proceedings(
        self, cmd: c.ConcludeCareProceedings, decision: Decision
    ) -> list[DomainEvent]:
        open_ = self._proceedings(cmd.proceedings_id)
        self._day(
            "concluded_on", cmd.concluded_on, decision, open_.since, "the proceedings were issued"
        )
        weeks = (cmd.concluded_on - open_.since).days // 7
        return [
            e.CareProceedingsConcluded(
                **cmd.model_dump(), weeks_taken=weeks, within_26_weeks=weeks <= PROCEEDINGS_WEEKS
            )
        ]

    def _proceedings(self, proceedings_id: str) -> Open:
        open_ = self.state.proceedings
        return self._found(
            open_ if open_ and open_.id == proceedings_id else None,
            "proceedings_id",
            "no such open proceedings",
        )

    # -- care leavers -----------------------------------------------------------------------

    def record_care_leaver_status(
        self, cmd: c.RecordCareLeaverStatus, decision: Decision
    ) -> list[DomainEvent]:
        self._day("recorded_on", cmd.recorded_on, decision)
        self._must(
            self._age_on(cmd.recorded_on, "recorded_on") >= 16,
            "recorded_on",
            "care leaver status applies from the 16th birthday",
        )
        # Derived: when the status began, so that re-recording it (a change of category)
        # does not restart the visiting clock; a backdated earlier status moves it earlier.
        held = self.state.plans.by_plan.get(PlanType.CARE_LEAVER)
        since = min(held[0].start, cmd.recorded_on) if held else cmd.recorded_on
        return [e.CareLeaverStatusRecorded(**cmd.model_dump(), since=since)]

    def allocate_personal_adviser(
        self, cmd: c.AllocatePersonalAdviser, decision: Decision
    ) -> list[DomainEvent]:
        self._care_leaver("allocated_on")
        self._day("allocated_on", cmd.allocated_on, decision)
        return [e.PersonalAdviserAllocated(**cmd.model_dump())]

    def create_pathway_plan(
        self, cmd: c.CreatePathwayPlan, decision: Decision
    ) -> list[DomainEvent]:
        self._care_leaver("created_on")
        self._day("created_on", cmd.created_on, decision)
        return [e.PathwayPlanCreated(**cmd.model_dump(), review_due=add_months(cmd.created_on, 6))]

    def review_pathway_plan(
        self, cmd: c.ReviewPathwayPlan, decision: Decision
    ) -> list[DomainEvent]:
        self._must(self.state.pathway_plan, "review_date", "there is no pathway plan to review")
        self._day(
            "review_date",
            cmd.review_date,
            decision,
            self.state.pathway_plan,
            "the plan's creation or last review",
        )
        return [
            e.PathwayPlanReviewed(
                **cmd.model_dump(), next_review_due=add_months(cmd.review_date, 6)
            )
        ]

    def record_contact(self, cmd: c.RecordContact, decision: Decision) -> list[DomainEvent]:
        self._care_leaver("contact_date")
        self._day("contact_date", cmd.contact_date, decision)
        return [e.ContactRecorded(**cmd.model_dump())]

    def _care_leaver(self, name: str) -> None:
        self._must(self.state.care_leaver, name, "the young person has no care leaver status")

    # -- health, missing, priority ----------------------------------------------------------

    def offer_health_passport(
        self, cmd: c.OfferHealthPassport, decision: Decision
    ) -> list[DomainEvent]:
        self._day("offered_on", cmd.offered_on, decision)
        minimum = 16 if cmd.milestone is HealthPassportMilestone.AGE_16 else 17
        self._must(
            self._age_on(cmd.offered_on, "offered_on") >= minimum,
            "offered_on",
            f"the {cmd.milestone.value} offer is made from age {minimum}",
        )
        return [e.HealthPassportOffered(**cmd.model_dump())]

    def accept_health_passport(
        self, cmd: c.AcceptHealthPassport, decision: Decision
    ) -> list[DomainEvent]:
        self._must(self.state.passport_offered, "accepted_on", "no health passport was offered")
        self._day(
            "accepted_on", cmd.accepted_on, decision, self.state.passport_offered, "the offer"
        )
        return [e.HealthPassportAccepted(**cmd.model_dump())]

    def record_health_assessment(
        self, cmd: c.RecordHealthAssessment, decision: Decision
    ) -> list[DomainEvent]:
        self._day("assessment_date", cmd.assessment_date, decision)
        return [e.HealthAssessmentCompleted(**cmd.model_dump())]

    def record_missing_episode(
        self, cmd: c.RecordMissingEpisode, decision: Decision
    ) -> list[DomainEvent]:
        self._day("started_on", cmd.started_on, decision)
        if cmd.ended_on is not None:
            self._day("ended_on", cmd.ended_on, decision, cmd.started_on, "the episode started")
        return [e.MissingEpisodeRecorded(**cmd.model_dump())]

    def offer_return_home_interview(
        self, cmd: c.OfferReturnHomeInterview, decision: Decision
    ) -> list[DomainEvent]:
        """Offered after the child's return: whether it was within 72 hours is derived from
        the episode's end, so the end is recorded first (measured from anything else, the
        derived timescale would stay wrong once the end is known)."""
        episodes = self.state.missing
        self._must(
            cmd.missing_started_on in episodes,
            "missing_started_on",
            "no missing episode recorded as starting that day",
        )
        back = self._found(
            episodes[cmd.missing_started_on], "missing_started_on", "record the episode's end first"
        )
        self._day("offered_on", cmd.offered_on, decision, back, "the episode's end")
        within = (cmd.offered_on - back).days <= RETURN_INTERVIEW_DAYS
        return [e.ReturnHomeInterviewOffered(**cmd.model_dump(), within_72_hours=within)]

    def set_priority_flag(
        self, cmd: c.SetPriorityCohortFlag, decision: Decision
    ) -> list[DomainEvent]:
        self._day("set_on", cmd.set_on, decision)
        self._must(self.state.priority_since is None, "set_on", "already in the priority cohort")
        return [e.PriorityCohortFlagSet(**cmd.model_dump())]

    def clear_priority_flag(
        self, cmd: c.ClearPriorityCohortFlag, decision: Decision
    ) -> list[DomainEvent]:
        self._must(self.state.priority_since, "cleared_on", "not in the priority cohort")
        self._day(
            "cleared_on", cmd.cleared_on, decision, self.state.priority_since, "the flag was set"
        )
        return [e.PriorityCohortFlagCleared(**cmd.model_dump())]

    # -- state ------------------------------------------------------------------------------

    def when(self, event: DomainEvent) -> None:
        # Each event type is matched in exactly one of these.
        _fold_child_and_workforce(self.state, event)
        _fold_assessment_and_plans(self.state, event)
        _fold_care_and_proceedings(self.state, event)
        _fold_leaving_care_and_priority(self.state, event)
        _fold_front_door_and_missing(self.state, event)
        _fold_permanence_and_liberty(self.state, event)


def _fold_child_and_workforce(state: ChildState, event: DomainEvent) -> None:
    """Registration (born or unborn), birth, characteristics, erasure, the social worker."""
    match event:
        case e.ChildPersonalDataErased():
            state.erased_on = event.erased_on
        case e.ChildRegistered():
            state.date_of_birth, state.locality = event.date_of_birth, event.locality
        case e.UnbornChildRegistered():
            state.expected_birth, state.locality = event.expected_date_of_birth, event.locality
        case e.ChildBorn():
            state.date_of_birth = event.date_of_birth
        case e.ChildCharacteristicsRecorded():
            state.characteristics_on = event.recorded_on
            still = event.unaccompanied_asylum_seeking and event.uasc_ceased_on is None
            state.uasc_since = (state.uasc_since or event.recorded_on) if still else None
        case e.SocialWorkerAllocated():
            state.social_worker = Allocation(event.worker_id, event.allocated_on)
        case e.SocialWorkerAllocationEnded():
            state.social_worker, state.allocation_ended = None, event.ended_on


def _fold_assessment_and_plans(state: ChildState, event: DomainEvent) -> None:
    """Assessments, CIN and child protection plans, strategy discussions."""
    match event:
        case e.AssessmentStarted():
            state.assessments[event.assessment_id] = event.start_date
        case e.AssessmentCompleted():
            started = state.assessments.pop(event.assessment_id, None)
            if started is not None:
                span = Span(started, event.completion_date)
                state.completed_assessments.append((event.assessment_id, span))
        case e.ChildInNeedPlanStarted():
            state.cin_plan = Open(event.plan_id, event.start_date, event.start_date)
            state.plans.open(PlanType.CHILD_IN_NEED, event.start_date)
        case e.ChildInNeedPlanEnded():
            state.cin_plan = None
            state.plans.close(PlanType.CHILD_IN_NEED, event.end_date)
        case e.StrategyDiscussionHeld():
            _fold_strategy_discussion(state, event)
        case e.ChildProtectionPlanStarted():
            state.cp_plan = Open(event.plan_id, event.start_date, event.start_date)
            state.cp_plan_ids.add(event.plan_id)
            state.cp_plans_before = max(
                state.cp_plans_before, len(state.cp_plan_ids), event.previous_plans + 1
            )
            state.plans.open(PlanType.CHILD_PROTECTION, event.start_date)
        case e.ChildProtectionPlanReviewed() if state.cp_plan is not None:
            state.cp_plan.last = event.review_date
        case e.ChildProtectionPlanEnded():
            state.cp_plan = None
            state.plans.close(PlanType.CHILD_PROTECTION, event.end_date)


def _fold_strategy_discussion(state: ChildState, event: e.StrategyDiscussionHeld) -> None:
    state.discussions[event.discussion_id] = (event.discussion_date, event.section_47_enquiry)
    if event.section_47_enquiry:
        state.strategy = (event.discussion_date, event.icpc_due_date)


def _fold_care_and_proceedings(state: ChildState, event: DomainEvent) -> None:
    """Periods of care, their reviews, pre-proceedings and care proceedings."""
    match event:
        case e.PeriodOfCareStarted():
            state.care, state.la_reviews = Open("care", event.start_date, event.start_date), 0
            state.plans.open(PlanType.CHILD_IN_CARE, event.start_date)
        case e.LegalStatusChanged() if state.care is not None:
            state.care.last = event.change_date
        case e.PeriodOfCareEnded():
            # A decision to place for adoption is a decision about a child in care.
            state.care, state.adoption_decision = None, None
            state.plans.close(PlanType.CHILD_IN_CARE, event.end_date)
        case e.LookedAfterReviewHeld():
            state.la_reviews += 1
        case e.PreProceedingsEntered():
            state.pre_proceedings = event.entered_on
        case e.PreProceedingsConcluded():
            state.pre_proceedings = None
        case e.CareProceedingsIssued():
            state.proceedings = Open(event.proceedings_id, event.issued_on, event.issued_on)
        case e.CareProceedingsConcluded():
            state.proceedings = None


def _fold_leaving_care_and_priority(state: ChildState, event: DomainEvent) -> None:
    """Leaving care, health passports and the priority cohort."""
    match event:
        case e.CareLeaverStatusRecorded():
            state.care_leaver = event.status
            state.plans.open(PlanType.CARE_LEAVER, event.since or event.recorded_on)
        case e.PathwayPlanCreated():
            state.pathway_plan = event.created_on
        case e.PathwayPlanReviewed():
            state.pathway_plan = event.review_date
        case e.HealthPassportOffered():
            state.passport_offered = event.offered_on
        case e.PriorityCohortFlagSet():
            state.priority_since = event.set_on
        case e.PriorityCohortFlagCleared():
            state.priority_since = None


def _fold_front_door_and_missing(state: ChildState, event: DomainEvent) -> None:
    """Contacts, referrals and their outcomes, section 47 conclusions, missing episodes."""
    match event:
        case e.FrontDoorContactReceived():
            state.contacts.add(event.contact_id)
        case e.ReferralReceived():
            state.referrals[event.referral_id] = event.referral_date
        case e.ReferralOutcomeRecorded():
            state.referral_outcomes.add(event.referral_id)
        case e.EpisodeOfNeedClosed():
            state.episodes_closed[event.referral_id] = event.closed_on
        case e.Section47EnquiryConcluded():
            state.s47_concluded[event.discussion_id] = event.concluded_on
        case e.MissingEpisodeRecorded():
            state.missing[event.started_on] = event.ended_on


def _fold_permanence_and_liberty(state: ChildState, event: DomainEvent) -> None:
    """The decision to place for adoption, and deprivation of liberty."""
    match event:
        case e.AdoptionDecisionMade():
            state.adoption_decision = event.decided_on
        case e.AdoptionDecisionReversed():
            state.adoption_decision = None
        case e.DeprivationOfLibertyAuthorised():
            state.liberty = event.authorised_on
        case e.DeprivationOfLibertyEnded():
            state.liberty = None


class Family(Aggregate):
    """A family discussed at early-help triage (its own stream, by family id)."""

    registry = e.case_event_types

    def record_triage(self, cmd: c.RecordTriageDiscussion, decision: Decision) -> list[DomainEvent]:
        not_in_future("discussion_date", cmd.discussion_date, decision)
        return [e.EarlyHelpTriageDiscussed(**cmd.model_dump())]

    def when(self, event: DomainEvent) -> None:
        pass

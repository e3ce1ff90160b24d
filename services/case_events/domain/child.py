"""The child: the aggregate whose stream is the child's statutory journey.

Each decision checks the command against what the stream says so far and returns the events
to record, with the timescales the service derives (on the England and Wales working-day
calendar where the statute counts working days). Dates are never in the future, never before
the child was born, and never before the record they follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar

from contracts.case_events import events as e
from contracts.case_events.codes import CareLeaverStatus, HealthPassportMilestone
from services.case_events.domain import commands as c
from shared.aggregate import (
    Aggregate,
    AlreadyRecorded,
    Decision,
    DomainRuleViolation,
    UnknownStream,
    check_day,
    not_in_future,
)
from shared.calendar import add_months, add_working_days, age_on, working_days_between
from shared.envelope import DomainEvent

T = TypeVar("T")

ASSESSMENT_WORKING_DAYS = 45
ICPC_WORKING_DAYS = 15
FIRST_LOOKED_AFTER_REVIEW_WORKING_DAYS = 20
PROCEEDINGS_WEEKS = 26


class ChildAlreadyRegistered(AlreadyRecorded):
    pass


@dataclass
class Open:
    """Something open on the child's record, and when it started or was last reviewed."""

    id: str
    since: date
    last: date


@dataclass
class ChildState:
    date_of_birth: date | None = None
    locality: str | None = None
    assessments: dict[str, date] = field(default_factory=dict)
    cin_plan: Open | None = None
    strategy: tuple[date, date | None] | None = None  # (date, ICPC due) of the last with s47
    cp_plan: Open | None = None
    cp_plan_ids: set[str] = field(default_factory=set)
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
        check_day(name, day, decision, self.state.date_of_birth, after, what)

    def _age_on(self, day: date) -> int:
        if self.state.date_of_birth is None:  # a stream with no registration
            raise UnknownStream(self.stream_id)
        return age_on(self.state.date_of_birth, day)

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

    # -- registration and referral ----------------------------------------------------------

    def register(
        self,
        command: c.RegisterChild,
        decision: Decision,
        personal: e.SealedPersonalDetails | None = None,
    ) -> list[DomainEvent]:
        """`personal`: the command's personal details, already sealed with the child's key."""
        if self.exists:
            raise ChildAlreadyRegistered(f"child {self.stream_id!r} is already registered")
        not_in_future("date_of_birth", command.date_of_birth, decision)
        registered = e.ChildRegistered(**command.model_dump(exclude={"personal"}))
        if personal is None:
            return [registered]
        return [registered, e.PersonalDetailsRecorded(**personal.model_dump())]

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

    def record_referral(self, cmd: c.RecordReferral, decision: Decision) -> list[DomainEvent]:
        self._day("referral_date", cmd.referral_date, decision)
        return [e.ReferralReceived(**cmd.model_dump())]

    # -- assessment and child in need -------------------------------------------------------

    def start_assessment(self, cmd: c.StartAssessment, decision: Decision) -> list[DomainEvent]:
        self._day("start_date", cmd.start_date, decision)
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
        due = (
            add_working_days(cmd.discussion_date, ICPC_WORKING_DAYS)
            if cmd.section_47_enquiry
            else None
        )
        return [e.StrategyDiscussionHeld(**cmd.model_dump(), icpc_due_date=due)]

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
                previous_plans=len(self.state.cp_plan_ids),
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
        self._must(self.state.care is None, "start_date", "a period of care is already open")
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
            self._age_on(cmd.recorded_on) >= 16,
            "recorded_on",
            "care leaver status applies from the 16th birthday",
        )
        return [e.CareLeaverStatusRecorded(**cmd.model_dump())]

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
            self._age_on(cmd.offered_on) >= minimum,
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
        _fold_registration_and_plans(self.state, event)
        _fold_care_and_proceedings(self.state, event)
        _fold_leaving_care_and_priority(self.state, event)


def _fold_registration_and_plans(state: ChildState, event: DomainEvent) -> None:
    """Registration, erasure, assessments, CIN and child protection plans."""
    match event:
        case e.ChildPersonalDataErased():
            state.erased_on = event.erased_on
        case e.ChildRegistered():
            state.date_of_birth, state.locality = event.date_of_birth, event.locality
        case e.AssessmentStarted():
            state.assessments[event.assessment_id] = event.start_date
        case e.AssessmentCompleted():
            state.assessments.pop(event.assessment_id, None)
        case e.ChildInNeedPlanStarted():
            state.cin_plan = Open(event.plan_id, event.start_date, event.start_date)
        case e.ChildInNeedPlanEnded():
            state.cin_plan = None
        case e.StrategyDiscussionHeld() if event.section_47_enquiry:
            state.strategy = (event.discussion_date, event.icpc_due_date)
        case e.ChildProtectionPlanStarted():
            state.cp_plan = Open(event.plan_id, event.start_date, event.start_date)
            state.cp_plan_ids.add(event.plan_id)
        case e.ChildProtectionPlanReviewed() if state.cp_plan is not None:
            state.cp_plan.last = event.review_date
        case e.ChildProtectionPlanEnded():
            state.cp_plan = None


def _fold_care_and_proceedings(state: ChildState, event: DomainEvent) -> None:
    """Periods of care, their reviews, pre-proceedings and care proceedings."""
    match event:
        case e.PeriodOfCareStarted():
            state.care, state.la_reviews = Open("care", event.start_date, event.start_date), 0
        case e.LegalStatusChanged() if state.care is not None:
            state.care.last = event.change_date
        case e.PeriodOfCareEnded():
            state.care = None
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


class Family(Aggregate):
    """A family discussed at early-help triage (its own stream, by family id)."""

    registry = e.case_event_types

    def record_triage(self, cmd: c.RecordTriageDiscussion, decision: Decision) -> list[DomainEvent]:
        not_in_future("discussion_date", cmd.discussion_date, decision)
        return [e.EarlyHelpTriageDiscussed(**cmd.model_dump())]

    def when(self, event: DomainEvent) -> None:
        pass

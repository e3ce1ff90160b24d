"""The child: the aggregate whose stream is the child's statutory journey.

Each decision checks the command against what the stream says so far and returns the events
to record, with the timescales the service derives (on the England and Wales working-day
calendar where the statute counts working days). Dates are never in the future, never before
the child was born, and never before the record they follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from contracts.case_events import events as e
from contracts.case_events.codes import CareLeaverStatus, HealthPassportMilestone
from services.case_events.domain import commands as c
from shared.aggregate import (
    Aggregate,
    AlreadyRecorded,
    Decision,
    DomainRuleViolation,
    check_day,
    not_in_future,
)
from shared.calendar import add_months, add_working_days, age_on, working_days_between
from shared.envelope import DomainEvent

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
        self.s = ChildState()

    # -- shared checks ----------------------------------------------------------------------

    def _day(self, name: str, day: date, d: Decision, after: date | None = None,
             what: str = "") -> None:
        check_day(name, day, d, self.s.date_of_birth, after, what)

    def _age_on(self, day: date) -> int:
        assert self.s.date_of_birth is not None
        return age_on(self.s.date_of_birth, day)

    @staticmethod
    def _must(condition: object, name: str, reason: str) -> None:
        if not condition:
            raise DomainRuleViolation(name, reason)

    # -- registration and referral ----------------------------------------------------------

    def register(self, command: c.RegisterChild, d: Decision,
                 personal: e.SealedPersonalDetails | None = None) -> list[DomainEvent]:
        """`personal`: the command's personal details, already sealed with the child's key."""
        if self.exists:
            raise ChildAlreadyRegistered(f"child {self.stream_id!r} is already registered")
        not_in_future("date_of_birth", command.date_of_birth, d)
        registered = e.ChildRegistered(**command.model_dump(exclude={"personal"}))
        if personal is None:
            return [registered]
        return [registered, e.PersonalDetailsRecorded(**personal.model_dump())]

    def record_personal_details(self, sealed: e.SealedPersonalDetails,
                                d: Decision) -> list[DomainEvent]:
        self._must(self.s.erased_on is None, "child_id",
                   f"this child's personal data was erased on {self.s.erased_on}")
        self._must(any(sealed.model_dump().values()), "body", "names no personal field")
        return [e.PersonalDetailsRecorded(**sealed.model_dump())]

    def erase_personal_data(self, cmd: c.EraseChildPersonalData,
                            d: Decision) -> list[DomainEvent]:
        if self.s.erased_on is not None:
            raise AlreadyRecorded(f"this child's personal data was erased on {self.s.erased_on}")
        not_in_future("erased_on", cmd.erased_on, d)
        return [e.ChildPersonalDataErased(**cmd.model_dump())]

    def record_referral(self, cmd: c.RecordReferral, d: Decision) -> list[DomainEvent]:
        self._day("referral_date", cmd.referral_date, d)
        return [e.ReferralReceived(**cmd.model_dump())]

    # -- assessment and child in need -------------------------------------------------------

    def start_assessment(self, cmd: c.StartAssessment, d: Decision) -> list[DomainEvent]:
        self._day("start_date", cmd.start_date, d)
        self._must(cmd.assessment_id not in self.s.assessments, "assessment_id",
                   "is already open")
        return [e.AssessmentStarted(**cmd.model_dump(), due_date=add_working_days(
            cmd.start_date, ASSESSMENT_WORKING_DAYS))]

    def complete_assessment(self, cmd: c.CompleteAssessment, d: Decision) -> list[DomainEvent]:
        started = self.s.assessments.get(cmd.assessment_id)
        self._must(started, "assessment_id", "no such open assessment")
        assert started is not None
        self._day("completion_date", cmd.completion_date, d, started, "the assessment started")
        taken = working_days_between(started, cmd.completion_date)
        return [e.AssessmentCompleted(**cmd.model_dump(), working_days_taken=taken,
                                      within_timescale=taken <= ASSESSMENT_WORKING_DAYS)]

    def start_cin_plan(self, cmd: c.StartChildInNeedPlan, d: Decision) -> list[DomainEvent]:
        self._day("start_date", cmd.start_date, d)
        self._must(self.s.cin_plan is None, "plan_id", "a child in need plan is already open")
        return [e.ChildInNeedPlanStarted(**cmd.model_dump())]

    def end_cin_plan(self, cmd: c.EndChildInNeedPlan, d: Decision) -> list[DomainEvent]:
        plan = self.s.cin_plan
        self._must(plan and plan.id == cmd.plan_id, "plan_id", "no such open plan")
        assert plan is not None
        self._day("end_date", cmd.end_date, d, plan.since, "the plan started")
        return [e.ChildInNeedPlanEnded(**cmd.model_dump())]

    # -- child protection -------------------------------------------------------------------

    def record_strategy_discussion(self, cmd: c.RecordStrategyDiscussion, d: Decision
                                   ) -> list[DomainEvent]:
        self._day("discussion_date", cmd.discussion_date, d)
        due = (add_working_days(cmd.discussion_date, ICPC_WORKING_DAYS)
               if cmd.section_47_enquiry else None)
        return [e.StrategyDiscussionHeld(**cmd.model_dump(), icpc_due_date=due)]

    def record_initial_conference(self, cmd: c.RecordInitialConference, d: Decision
                                  ) -> list[DomainEvent]:
        self._must(self.s.strategy, "conference_date",
                   "no strategy discussion with a section 47 enquiry precedes it")
        assert self.s.strategy is not None
        held, due = self.s.strategy
        self._day("conference_date", cmd.conference_date, d, held, "the strategy discussion")
        return [e.InitialChildProtectionConferenceHeld(
            **cmd.model_dump(), within_timescale=due is None or cmd.conference_date <= due)]

    def start_child_protection_plan(self, cmd: c.StartChildProtectionPlan, d: Decision
                                    ) -> list[DomainEvent]:
        self._day("start_date", cmd.start_date, d)
        if self.s.cp_plan is not None:
            raise DomainRuleViolation(
                "plan_id", f"plan {self.s.cp_plan.id} is already open since "
                f"{self.s.cp_plan.since.isoformat()}; end it first")
        self._must(cmd.plan_id not in self.s.cp_plan_ids, "plan_id",
                   "was already used for this child")
        return [e.ChildProtectionPlanStarted(
            child_id=self.stream_id, plan_id=cmd.plan_id, category=cmd.category,
            start_date=cmd.start_date, previous_plans=len(self.s.cp_plan_ids))]

    def review_child_protection_plan(self, cmd: c.ReviewChildProtectionPlan, d: Decision
                                     ) -> list[DomainEvent]:
        plan = self._open_cp_plan(cmd.plan_id)
        self._day("review_date", cmd.review_date, d, plan.last,
                  "the plan's start or last review")
        return [e.ChildProtectionPlanReviewed(**cmd.model_dump(),
                                              next_review_due=add_months(cmd.review_date, 6))]

    def end_child_protection_plan(self, cmd: c.EndChildProtectionPlan, d: Decision
                                  ) -> list[DomainEvent]:
        plan = self._open_cp_plan(cmd.plan_id)
        self._day("end_date", cmd.end_date, d, plan.last, "the plan's start or last review")
        return [e.ChildProtectionPlanEnded(**cmd.model_dump(),
                                           days_open=(cmd.end_date - plan.since).days)]

    def _open_cp_plan(self, plan_id: str) -> Open:
        plan = self.s.cp_plan
        self._must(plan and plan.id == plan_id, "plan_id", "no such open child protection plan")
        assert plan is not None
        return plan

    # -- children in care -------------------------------------------------------------------

    def start_period_of_care(self, cmd: c.StartPeriodOfCare, d: Decision) -> list[DomainEvent]:
        self._day("start_date", cmd.start_date, d)
        self._must(self.s.care is None, "start_date", "a period of care is already open")
        return [e.PeriodOfCareStarted(**cmd.model_dump(), first_review_due=add_working_days(
            cmd.start_date, FIRST_LOOKED_AFTER_REVIEW_WORKING_DAYS))]

    def change_legal_status(self, cmd: c.ChangeLegalStatus, d: Decision) -> list[DomainEvent]:
        care = self._in_care("change_date")
        self._day("change_date", cmd.change_date, d, care.last, "the last change")
        return [e.LegalStatusChanged(**cmd.model_dump())]

    def end_period_of_care(self, cmd: c.EndPeriodOfCare, d: Decision) -> list[DomainEvent]:
        care = self._in_care("end_date")
        self._day("end_date", cmd.end_date, d, care.last, "the period's start or last change")
        return [e.PeriodOfCareEnded(**cmd.model_dump())]

    def record_looked_after_review(self, cmd: c.RecordLookedAfterReview, d: Decision
                                   ) -> list[DomainEvent]:
        care = self._in_care("review_date")
        self._day("review_date", cmd.review_date, d, care.since, "the period of care started")
        months = 3 if self.s.la_reviews == 0 else 6
        return [e.LookedAfterReviewHeld(**cmd.model_dump(),
                                        next_review_due=add_months(cmd.review_date, months))]

    def record_permanence_plan(self, cmd: c.RecordPermanencePlan, d: Decision
                               ) -> list[DomainEvent]:
        care = self._in_care("recorded_on")
        self._day("recorded_on", cmd.recorded_on, d, care.since, "the period of care started")
        return [e.PermanencePlanRecorded(**cmd.model_dump())]

    def _in_care(self, name: str) -> Open:
        self._must(self.s.care, name, "the child is not in care")
        assert self.s.care is not None
        return self.s.care

    # -- pre-proceedings and proceedings ----------------------------------------------------

    def enter_pre_proceedings(self, cmd: c.EnterPreProceedings, d: Decision
                              ) -> list[DomainEvent]:
        self._day("entered_on", cmd.entered_on, d)
        self._must(self.s.pre_proceedings is None, "entered_on", "pre-proceedings already open")
        return [e.PreProceedingsEntered(**cmd.model_dump())]

    def record_pre_proceedings_meeting(self, cmd: c.RecordPreProceedingsMeeting, d: Decision
                                       ) -> list[DomainEvent]:
        self._day("meeting_date", cmd.meeting_date, d, self._pre_proceedings("meeting_date"),
                  "pre-proceedings started")
        return [e.PreProceedingsMeetingHeld(**cmd.model_dump())]

    def send_letter_before_proceedings(self, cmd: c.SendLetterBeforeProceedings, d: Decision
                                       ) -> list[DomainEvent]:
        self._day("sent_on", cmd.sent_on, d, self._pre_proceedings("sent_on"),
                  "pre-proceedings started")
        return [e.LetterBeforeProceedingsSent(**cmd.model_dump())]

    def conclude_pre_proceedings(self, cmd: c.ConcludePreProceedings, d: Decision
                                 ) -> list[DomainEvent]:
        entered = self._pre_proceedings("concluded_on")
        self._day("concluded_on", cmd.concluded_on, d, entered, "pre-proceedings started")
        return [e.PreProceedingsConcluded(**cmd.model_dump(),
                                          weeks_taken=(cmd.concluded_on - entered).days // 7)]

    def _pre_proceedings(self, name: str) -> date:
        self._must(self.s.pre_proceedings, name, "no pre-proceedings are open")
        assert self.s.pre_proceedings is not None
        return self.s.pre_proceedings

    def issue_care_proceedings(self, cmd: c.IssueCareProceedings, d: Decision
                               ) -> list[DomainEvent]:
        self._day("issued_on", cmd.issued_on, d)
        self._must(self.s.proceedings is None, "proceedings_id", "proceedings already open")
        return [e.CareProceedingsIssued(
            **cmd.model_dump(),
            statutory_deadline=cmd.issued_on + timedelta(weeks=PROCEEDINGS_WEEKS))]

    def record_hearing(self, cmd: c.RecordCareProceedingsHearing, d: Decision
                       ) -> list[DomainEvent]:
        open_ = self._proceedings(cmd.proceedings_id)
        self._day("hearing_date", cmd.hearing_date, d, open_.since, "the proceedings were issued")
        return [e.CareProceedingsHearingHeld(**cmd.model_dump())]

    def conclude_care_proceedings(self, cmd: c.ConcludeCareProceedings, d: Decision
                                  ) -> list[DomainEvent]:
        open_ = self._proceedings(cmd.proceedings_id)
        self._day("concluded_on", cmd.concluded_on, d, open_.since, "the proceedings were issued")
        weeks = (cmd.concluded_on - open_.since).days // 7
        return [e.CareProceedingsConcluded(**cmd.model_dump(), weeks_taken=weeks,
                                           within_26_weeks=weeks <= PROCEEDINGS_WEEKS)]

    def _proceedings(self, proceedings_id: str) -> Open:
        open_ = self.s.proceedings
        self._must(open_ and open_.id == proceedings_id, "proceedings_id",
                   "no such open proceedings")
        assert open_ is not None
        return open_

    # -- care leavers -----------------------------------------------------------------------

    def record_care_leaver_status(self, cmd: c.RecordCareLeaverStatus, d: Decision
                                  ) -> list[DomainEvent]:
        self._day("recorded_on", cmd.recorded_on, d)
        self._must(self._age_on(cmd.recorded_on) >= 16, "recorded_on",
                   "care leaver status applies from the 16th birthday")
        return [e.CareLeaverStatusRecorded(**cmd.model_dump())]

    def allocate_personal_adviser(self, cmd: c.AllocatePersonalAdviser, d: Decision
                                  ) -> list[DomainEvent]:
        self._care_leaver("allocated_on")
        self._day("allocated_on", cmd.allocated_on, d)
        return [e.PersonalAdviserAllocated(**cmd.model_dump())]

    def create_pathway_plan(self, cmd: c.CreatePathwayPlan, d: Decision) -> list[DomainEvent]:
        self._care_leaver("created_on")
        self._day("created_on", cmd.created_on, d)
        return [e.PathwayPlanCreated(**cmd.model_dump(),
                                     review_due=add_months(cmd.created_on, 6))]

    def review_pathway_plan(self, cmd: c.ReviewPathwayPlan, d: Decision) -> list[DomainEvent]:
        self._must(self.s.pathway_plan, "review_date", "there is no pathway plan to review")
        self._day("review_date", cmd.review_date, d, self.s.pathway_plan,
                  "the plan's creation or last review")
        return [e.PathwayPlanReviewed(**cmd.model_dump(),
                                      next_review_due=add_months(cmd.review_date, 6))]

    def record_contact(self, cmd: c.RecordContact, d: Decision) -> list[DomainEvent]:
        self._care_leaver("contact_date")
        self._day("contact_date", cmd.contact_date, d)
        return [e.ContactRecorded(**cmd.model_dump())]

    def _care_leaver(self, name: str) -> None:
        self._must(self.s.care_leaver, name, "the young person has no care leaver status")

    # -- health, missing, priority ----------------------------------------------------------

    def offer_health_passport(self, cmd: c.OfferHealthPassport, d: Decision
                              ) -> list[DomainEvent]:
        self._day("offered_on", cmd.offered_on, d)
        minimum = 16 if cmd.milestone is HealthPassportMilestone.AGE_16 else 17
        self._must(self._age_on(cmd.offered_on) >= minimum, "offered_on",
                   f"the {cmd.milestone.value} offer is made from age {minimum}")
        return [e.HealthPassportOffered(**cmd.model_dump())]

    def accept_health_passport(self, cmd: c.AcceptHealthPassport, d: Decision
                               ) -> list[DomainEvent]:
        self._must(self.s.passport_offered, "accepted_on", "no health passport was offered")
        self._day("accepted_on", cmd.accepted_on, d, self.s.passport_offered, "the offer")
        return [e.HealthPassportAccepted(**cmd.model_dump())]

    def record_health_assessment(self, cmd: c.RecordHealthAssessment, d: Decision
                                 ) -> list[DomainEvent]:
        self._day("assessment_date", cmd.assessment_date, d)
        return [e.HealthAssessmentCompleted(**cmd.model_dump())]

    def record_missing_episode(self, cmd: c.RecordMissingEpisode, d: Decision
                               ) -> list[DomainEvent]:
        self._day("started_on", cmd.started_on, d)
        if cmd.ended_on is not None:
            self._day("ended_on", cmd.ended_on, d, cmd.started_on, "the episode started")
        return [e.MissingEpisodeRecorded(**cmd.model_dump())]

    def set_priority_flag(self, cmd: c.SetPriorityCohortFlag, d: Decision) -> list[DomainEvent]:
        self._day("set_on", cmd.set_on, d)
        self._must(self.s.priority_since is None, "set_on", "already in the priority cohort")
        return [e.PriorityCohortFlagSet(**cmd.model_dump())]

    def clear_priority_flag(self, cmd: c.ClearPriorityCohortFlag, d: Decision
                            ) -> list[DomainEvent]:
        self._must(self.s.priority_since, "cleared_on", "not in the priority cohort")
        self._day("cleared_on", cmd.cleared_on, d, self.s.priority_since, "the flag was set")
        return [e.PriorityCohortFlagCleared(**cmd.model_dump())]

    # -- state ------------------------------------------------------------------------------

    def when(self, event: DomainEvent) -> None:
        s = self.s
        match event:
            case e.ChildPersonalDataErased():
                self.s.erased_on = event.erased_on
            case e.ChildRegistered():
                s.date_of_birth, s.locality = event.date_of_birth, event.locality
            case e.AssessmentStarted():
                s.assessments[event.assessment_id] = event.start_date
            case e.AssessmentCompleted():
                s.assessments.pop(event.assessment_id, None)
            case e.ChildInNeedPlanStarted():
                s.cin_plan = Open(event.plan_id, event.start_date, event.start_date)
            case e.ChildInNeedPlanEnded():
                s.cin_plan = None
            case e.StrategyDiscussionHeld() if event.section_47_enquiry:
                s.strategy = (event.discussion_date, event.icpc_due_date)
            case e.ChildProtectionPlanStarted():
                s.cp_plan = Open(event.plan_id, event.start_date, event.start_date)
                s.cp_plan_ids.add(event.plan_id)
            case e.ChildProtectionPlanReviewed():
                assert s.cp_plan is not None
                s.cp_plan.last = event.review_date
            case e.ChildProtectionPlanEnded():
                s.cp_plan = None
            case e.PeriodOfCareStarted():
                s.care, s.la_reviews = Open("care", event.start_date, event.start_date), 0
            case e.LegalStatusChanged():
                assert s.care is not None
                s.care.last = event.change_date
            case e.PeriodOfCareEnded():
                s.care = None
            case e.LookedAfterReviewHeld():
                s.la_reviews += 1
            case e.PreProceedingsEntered():
                s.pre_proceedings = event.entered_on
            case e.PreProceedingsConcluded():
                s.pre_proceedings = None
            case e.CareProceedingsIssued():
                s.proceedings = Open(event.proceedings_id, event.issued_on, event.issued_on)
            case e.CareProceedingsConcluded():
                s.proceedings = None
            case e.CareLeaverStatusRecorded():
                s.care_leaver = event.status
            case e.PathwayPlanCreated():
                s.pathway_plan = event.created_on
            case e.PathwayPlanReviewed():
                s.pathway_plan = event.review_date
            case e.HealthPassportOffered():
                s.passport_offered = event.offered_on
            case e.PriorityCohortFlagSet():
                s.priority_since = event.set_on
            case e.PriorityCohortFlagCleared():
                s.priority_since = None


class Family(Aggregate):
    """A family discussed at early-help triage (its own stream, by family id)."""

    registry = e.case_event_types

    def record_triage(self, cmd: c.RecordTriageDiscussion, d: Decision) -> list[DomainEvent]:
        not_in_future("discussion_date", cmd.discussion_date, d)
        return [e.EarlyHelpTriageDiscussed(**cmd.model_dump())]

    def when(self, event: DomainEvent) -> None:
        pass

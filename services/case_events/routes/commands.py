"""Every command of the case-events service the kernel's generated routes take (where it is
posted and which decision takes it), and how a child's locality is found for them."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Path

from contracts.case_events import events as e
from contracts.case_events.events import CHILD_ID_PATTERN, ID_PATTERN
from services.case_events.domain import commands as c
from services.case_events.domain.child import Child, Family
from shared.routes import CommandRoute, Commands, StreamParam, command_router

CHILD = StreamParam("child_id", CHILD_ID_PATTERN, "Pseudonymous child id")
FAMILY = StreamParam("family_id", ID_PATTERN, "Pseudonymous family id")
ChildId = Annotated[str, Path(pattern=CHILD.pattern, description=CHILD.description)]


# The events that start a child's record, born or unborn: each names the child's locality.
REGISTRATIONS = (e.ChildRegistered.event_type, e.UnbornChildRegistered.event_type)


async def first_locality(pool: asyncpg.Pool, stream_id: str, *event_types: str) -> str | None:
    """The locality the stream's first event of these types names; None when it has none."""
    locality: str | None = await pool.fetchval(
        "SELECT payload->>'locality' FROM events WHERE stream_id = $1"
        " AND event_type = ANY($2::text[]) ORDER BY stream_version LIMIT 1",
        stream_id,
        list(event_types),
    )
    return locality


async def locality_of(pool: asyncpg.Pool, child_id: str) -> str | None:
    """The registered (or unborn) child's locality; None when the child was never registered."""
    return await first_locality(pool, child_id, *REGISTRATIONS)


async def family_locality_of(pool: asyncpg.Pool, family_id: str) -> str | None:
    """The locality of the family's first triage discussion; None for a new family. A user
    limited to some localities adds to their own families only, whatever the body says."""
    return await first_locality(pool, family_id, e.EarlyHelpTriageDiscussed.event_type)


CHILD_COMMANDS = [
    CommandRoute(
        "/births",
        c.RecordBirth,
        Child.record_birth,
        "Record the birth of a child registered unborn",
        "children",
    ),
    CommandRoute(
        "/characteristics",
        c.RecordCharacteristics,
        Child.record_characteristics,
        "Record the child's sex, ethnicity, disabilities and asylum status",
        "children",
    ),
    CommandRoute(
        "/social-worker-allocations",
        c.AllocateSocialWorker,
        Child.allocate_social_worker,
        "Allocate a social worker (and team); a change needs its reason",
        "workforce",
    ),
    CommandRoute(
        "/social-worker-allocation-endings",
        c.EndSocialWorkerAllocation,
        Child.end_social_worker_allocation,
        "End the allocated social worker's allocation",
        "workforce",
    ),
    CommandRoute(
        "/statutory-visits",
        c.RecordStatutoryVisit,
        Child.record_statutory_visit,
        "Record a statutory visit under the plan open on its date",
        "visits",
    ),
    CommandRoute(
        "/front-door-contacts",
        c.RecordFrontDoorContact,
        Child.record_front_door_contact,
        "Record a contact at the front door and what was decided",
        "referral",
    ),
    CommandRoute(
        "/referrals", c.RecordReferral, Child.record_referral, "Record a referral", "referral"
    ),
    CommandRoute(
        "/referral-outcomes",
        c.RecordReferralOutcome,
        Child.record_referral_outcome,
        "Record what a referral led to (NFA, assessment, section 47)",
        "referral",
    ),
    CommandRoute(
        "/episode-of-need-closures",
        c.CloseEpisodeOfNeed,
        Child.close_episode_of_need,
        "Close the episode of need a referral began",
        "referral",
    ),
    CommandRoute(
        "/assessments",
        c.StartAssessment,
        Child.start_assessment,
        "Start a child and family assessment (due in 45 working days)",
        "assessment",
    ),
    CommandRoute(
        "/assessment-completions",
        c.CompleteAssessment,
        Child.complete_assessment,
        "Complete an assessment",
        "assessment",
    ),
    CommandRoute(
        "/child-in-need-plans",
        c.StartChildInNeedPlan,
        Child.start_cin_plan,
        "Start a child in need plan",
        "child in need",
    ),
    CommandRoute(
        "/child-in-need-plan-endings",
        c.EndChildInNeedPlan,
        Child.end_cin_plan,
        "End a child in need plan",
        "child in need",
    ),
    CommandRoute(
        "/strategy-discussions",
        c.RecordStrategyDiscussion,
        Child.record_strategy_discussion,
        "Record a strategy discussion (and whether a section 47 enquiry started)",
        "child protection",
    ),
    CommandRoute(
        "/section-47-outcomes",
        c.ConcludeSection47Enquiry,
        Child.conclude_section_47_enquiry,
        "Record how a section 47 enquiry concluded",
        "child protection",
    ),
    CommandRoute(
        "/initial-child-protection-conferences",
        c.RecordInitialConference,
        Child.record_initial_conference,
        "Record an initial child protection conference",
        "child protection",
    ),
    CommandRoute(
        "/child-protection-plans",
        c.StartChildProtectionPlan,
        Child.start_child_protection_plan,
        "Start a child protection plan",
        "child protection",
    ),
    CommandRoute(
        "/child-protection-plan-reviews",
        c.ReviewChildProtectionPlan,
        Child.review_child_protection_plan,
        "Review a child protection plan",
        "child protection",
    ),
    CommandRoute(
        "/child-protection-plan-endings",
        c.EndChildProtectionPlan,
        Child.end_child_protection_plan,
        "End a child protection plan",
        "child protection",
    ),
    CommandRoute(
        "/periods-of-care",
        c.StartPeriodOfCare,
        Child.start_period_of_care,
        "Start a period of care (the child becomes looked after)",
        "children in care",
    ),
    CommandRoute(
        "/legal-status-changes",
        c.ChangeLegalStatus,
        Child.change_legal_status,
        "Change the legal status of a child in care",
        "children in care",
    ),
    CommandRoute(
        "/period-of-care-endings",
        c.EndPeriodOfCare,
        Child.end_period_of_care,
        "End a period of care, with the SSDA903 reason",
        "children in care",
    ),
    CommandRoute(
        "/looked-after-reviews",
        c.RecordLookedAfterReview,
        Child.record_looked_after_review,
        "Record a looked-after review",
        "children in care",
    ),
    CommandRoute(
        "/permanence-plans",
        c.RecordPermanencePlan,
        Child.record_permanence_plan,
        "Record the permanence plan",
        "children in care",
    ),
    CommandRoute(
        "/health-outcomes",
        c.RecordHealthOutcomes,
        Child.record_health_outcomes,
        "Record a child in care's health outcomes (SSDA903 OC2)",
        "children in care",
    ),
    CommandRoute(
        "/adoption-decisions",
        c.MakeAdoptionDecision,
        Child.make_adoption_decision,
        "Record the decision that the child should be placed for adoption",
        "children in care",
    ),
    CommandRoute(
        "/adoption-decision-reversals",
        c.ReverseAdoptionDecision,
        Child.reverse_adoption_decision,
        "Record the reversal of the decision to place for adoption",
        "children in care",
    ),
    CommandRoute(
        "/adoption-matches",
        c.RecordAdoptionMatch,
        Child.record_adoption_match,
        "Record the child's match with adopters",
        "children in care",
    ),
    CommandRoute(
        "/previous-permanence",
        c.RecordPreviousPermanence,
        Child.record_previous_permanence,
        "Record the permanence order the child had before care",
        "children in care",
    ),
    CommandRoute(
        "/deprivation-of-liberty",
        c.AuthoriseDeprivationOfLiberty,
        Child.authorise_deprivation_of_liberty,
        "Record an authorised deprivation of liberty",
        "children in care",
    ),
    CommandRoute(
        "/deprivation-of-liberty-endings",
        c.EndDeprivationOfLiberty,
        Child.end_deprivation_of_liberty,
        "Record the end of a deprivation of liberty",
        "children in care",
    ),
    CommandRoute(
        "/pre-proceedings",
        c.EnterPreProceedings,
        Child.enter_pre_proceedings,
        "Enter pre-proceedings (Public Law Outline)",
        "court",
    ),
    CommandRoute(
        "/pre-proceedings-meetings",
        c.RecordPreProceedingsMeeting,
        Child.record_pre_proceedings_meeting,
        "Record a pre-proceedings meeting",
        "court",
    ),
    CommandRoute(
        "/letters-before-proceedings",
        c.SendLetterBeforeProceedings,
        Child.send_letter_before_proceedings,
        "Record a letter before proceedings",
        "court",
    ),
    CommandRoute(
        "/pre-proceedings-outcomes",
        c.ConcludePreProceedings,
        Child.conclude_pre_proceedings,
        "Conclude pre-proceedings: issue or step down",
        "court",
    ),
    CommandRoute(
        "/care-proceedings",
        c.IssueCareProceedings,
        Child.issue_care_proceedings,
        "Issue care proceedings (26-week limit)",
        "court",
    ),
    CommandRoute(
        "/care-proceedings-hearings",
        c.RecordCareProceedingsHearing,
        Child.record_hearing,
        "Record a hearing",
        "court",
    ),
    CommandRoute(
        "/care-proceedings-conclusions",
        c.ConcludeCareProceedings,
        Child.conclude_care_proceedings,
        "Conclude care proceedings with the order made",
        "court",
    ),
    CommandRoute(
        "/care-leaver-status",
        c.RecordCareLeaverStatus,
        Child.record_care_leaver_status,
        "Record care leaver status",
        "care leavers",
    ),
    CommandRoute(
        "/personal-advisers",
        c.AllocatePersonalAdviser,
        Child.allocate_personal_adviser,
        "Allocate a personal adviser",
        "care leavers",
    ),
    CommandRoute(
        "/pathway-plans",
        c.CreatePathwayPlan,
        Child.create_pathway_plan,
        "Create a pathway plan",
        "care leavers",
    ),
    CommandRoute(
        "/pathway-plan-reviews",
        c.ReviewPathwayPlan,
        Child.review_pathway_plan,
        "Review the pathway plan",
        "care leavers",
    ),
    CommandRoute(
        "/contacts",
        c.RecordContact,
        Child.record_contact,
        "Record contact with a care leaver (in-touch code)",
        "care leavers",
    ),
    CommandRoute(
        "/health-passport-offers",
        c.OfferHealthPassport,
        Child.offer_health_passport,
        "Offer the health passport (at 16 and at 17 years 9 months)",
        "health",
    ),
    CommandRoute(
        "/health-passport-acceptances",
        c.AcceptHealthPassport,
        Child.accept_health_passport,
        "Record that the health passport was accepted",
        "health",
    ),
    CommandRoute(
        "/health-assessments",
        c.RecordHealthAssessment,
        Child.record_health_assessment,
        "Record a health assessment",
        "health",
    ),
    CommandRoute(
        "/missing-episodes",
        c.RecordMissingEpisode,
        Child.record_missing_episode,
        "Record a missing episode (M missing, A away without authorisation)",
        "missing",
    ),
    CommandRoute(
        "/return-home-interviews",
        c.OfferReturnHomeInterview,
        Child.offer_return_home_interview,
        "Record a return home interview offered after a missing episode",
        "missing",
    ),
    CommandRoute(
        "/priority-cohort-flags",
        c.SetPriorityCohortFlag,
        Child.set_priority_flag,
        "Add the young person to the priority cohort",
        "priority cohort",
    ),
    CommandRoute(
        "/priority-cohort-flag-clearances",
        c.ClearPriorityCohortFlag,
        Child.clear_priority_flag,
        "Take the young person out of the priority cohort",
        "priority cohort",
    ),
]
FAMILY_COMMANDS = [
    CommandRoute(
        "/triage-discussions",
        c.RecordTriageDiscussion,
        Family.record_triage,
        "Record a family discussed at early-help triage",
        "early help",
    ),
]

children = command_router(
    Commands("/children", CHILD, Child, locality_of=locality_of), CHILD_COMMANDS
)
# A family's first triage discussion opens its stream.
families = command_router(
    Commands(
        "/families",
        FAMILY,
        Family,
        stream_may_be_new=True,
        locality_of=family_locality_of,
    ),
    FAMILY_COMMANDS,
)

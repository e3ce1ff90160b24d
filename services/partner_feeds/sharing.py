"""What each partner agency receives: data minimisation as a table, and nothing else.

A partner gets an event only if its type is listed for that agency below, and only the fields
listed with it: never the council's child id (a pseudonym of its own instead, different for
every agency, so two agencies cannot join their feeds without the council), never a full date
of birth, never free text or the names of anyone. Every date is sent only as precisely as the
agency's purpose needs (DATES): the exact dates several agencies all received would otherwise
let them join their pseudonyms on those dates (tests/unit/test_partner_linkage.py tries).
Some fields go to no agency whatever the event (NEVER_SHARED: the UPN, workers' ids,
postcodes, ethnicity...), and every event no agency receives says why (NOT_SHARED), so that a
new event is decided, not left out by default. A partnership audit's events reach only the
agencies they name (ADDRESSED): each agency sees its own part of the audit, never another's.
Pure functions: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID

from contracts.case_events.events import PERSONAL_FIELDS
from contracts.quality.codes import ActionOf, AuditAgency
from contracts.quality.events import (
    PartnershipAuditFindingRecorded,
    PartnershipAuditOpened,
    QualityActionAgreed,
    QualityActionCompleted,
)
from contracts.reference.events import reference_event_types
from shared.access import write_into
from shared.envelope import Agency, DomainEvent, Envelope
from shared.relay import CE_SPECVERSION, CONTENT_TYPE, cloudevents_source, cloudevents_type, rfc3339

# The lawful basis recorded with every share (Data Protection Act 2018, Schedule 1, para 18:
# safeguarding of children and individuals at risk).
PURPOSE = "safeguarding: DPA 2018 Sch. 1 para 18"

# What an agency taking part in a partnership audit receives of it (each event only by the
# agency it names: ADDRESSED): that the audit opened, and the month (never its theme: free
# text, NEVER_SHARED); that a finding was recorded for the agency (never the finding: sealed
# free text); the agency's own actions, their due dates and completion (never the summary or
# the owner). Never the children sampled, the other agencies' findings and actions, nor
# anything else of quality assurance.
_PARTNERSHIP_AUDITS: dict[str, tuple[str, ...]] = {
    "PartnershipAuditOpened": ("opened_on",),
    "PartnershipAuditFindingRecorded": ("recorded_on",),
    "QualityActionAgreed": ("action_id", "of", "agreed_on", "due_on"),
    "QualityActionCompleted": ("action_id", "of", "completed_on"),
}

# agency -> event type -> the fields it may see. A date listed here is sent only as precisely
# as DATES says; a date an event has but not listed is withheld (DATES says why for those
# another agency receives).
ENTITLEMENTS: dict[Agency, dict[str, tuple[str, ...]]] = {
    Agency.POLICE: {
        "StrategyDiscussionHeld": ("discussion_date", "section_47_enquiry"),
        "ChildProtectionPlanStarted": (),
        "ChildProtectionPlanEnded": (),
        "MissingEpisodeRecorded": ("started_on", "ended_on", "kind"),
        "ReturnHomeInterviewOffered": ("missing_started_on", "accepted"),
        "Section47EnquiryConcluded": ("outcome",),
        **_PARTNERSHIP_AUDITS,
    },
    Agency.HEALTH: {
        "ChildRegistered": ("date_of_birth", "locality"),
        "UnbornChildRegistered": ("expected_date_of_birth", "locality"),
        "ChildBorn": ("date_of_birth",),
        "ChildProtectionPlanStarted": ("category",),
        "ChildProtectionPlanEnded": (),
        "PeriodOfCareStarted": ("start_date",),
        "PeriodOfCareEnded": ("end_date",),
        "HealthAssessmentCompleted": ("assessment_date", "kind"),
        "HealthPassportOffered": ("offered_on", "milestone"),
        "HealthPassportAccepted": ("accepted_on",),
        "HealthOutcomesRecorded": ("recorded_on", "sdq_score", "sdq_reason"),
        **_PARTNERSHIP_AUDITS,
    },
    Agency.SCHOOLS: {
        "ChildProtectionPlanStarted": ("start_date",),
        "ChildProtectionPlanEnded": ("end_date",),
        "PeriodOfCareStarted": (),
        "PeriodOfCareEnded": (),
        "RiskRatingAssigned": ("rated_on", "rating", "visiting_frequency_days"),
        "EWOAttendanceEscalationRaised": ("raised_on", "sessions_missed"),
        "EWOAttendanceEscalationClosed": ("closed_on", "outcome"),
        "SocialWorkerAllocated": (),
        "SocialWorkerAllocationEnded": (),
        **_PARTNERSHIP_AUDITS,
    },
    Agency.HOUSING: {
        "CareLeaverAccommodationRecorded": ("recorded_on", "accommodation", "suitability"),
        "SuitabilityReassessed": ("reassessed_on", "suitability"),
        "HomelessnessPreventionReferred": ("referred_on",),
        "HomelessnessPreventionOutcomeRecorded": ("outcome_on", "outcome"),
        "TenancyStarted": ("started_on", "tenure"),
        "TenancyEnded": ("ended_on", "planned"),
        **_PARTNERSHIP_AUDITS,
    },
    Agency.CAREERS: {
        "ChildRegistered": ("date_of_birth",),
        "ChildBorn": ("date_of_birth",),
        "CareLeaverStatusRecorded": ("recorded_on", "status"),
        "EETActivityRecorded": ("recorded_on", "activity", "neet"),
        "NEETPanelReviewed": ("review_date", "action"),
        **_PARTNERSHIP_AUDITS,
    },
    Agency.PROBATION: {
        "CareLeaverStatusRecorded": ("status",),
        "CareLeaverAccommodationRecorded": ("suitability",),
        **_PARTNERSHIP_AUDITS,
    },
}

PARTNERS = tuple(ENTITLEMENTS)


def _named_by_audit(event: DomainEvent) -> Iterable[AuditAgency | None]:
    """The agencies a partnership audit's event names: those taking part (its opening), or
    the one a finding or an action is for. An action of any other record names none."""
    if isinstance(event, PartnershipAuditOpened):
        return event.agencies
    if isinstance(event, PartnershipAuditFindingRecorded):
        return [event.agency]
    if isinstance(event, QualityActionAgreed | QualityActionCompleted):
        return [event.agency] if event.of is ActionOf.PARTNERSHIP_AUDIT else []
    return []


# Events an agency receives only when the event names it (and it is entitled to the type):
# event type -> why. The rest of the quality topic reaches no agency (NOT_SHARED).
_OWN_PART = (
    "a partnership audit is the partnership's, but each agency's part of it is its own: the"
    " agencies taking part hear of its opening, each of its own findings and actions only"
)
ADDRESSED: dict[str, str] = dict.fromkeys(_PARTNERSHIP_AUDITS, _OWN_PART)
# The agencies of the audit's code list that are partners (children's social care is the
# council: it has no partner topic).
_PARTNER_OF = {agency.value: agency for agency in PARTNERS}


def addressed_to(event_type: str, event: DomainEvent) -> frozenset[Agency] | None:
    """The partner agencies an ADDRESSED event may reach (None: the event is not addressed,
    every entitled agency receives it)."""
    if event_type not in ADDRESSED:
        return None
    named = {a.value for a in _named_by_audit(event) if a is not None}
    return frozenset(_PARTNER_OF[v] for v in named if v in _PARTNER_OF)


# Record ids an agency is sent only as its own pseudonym of them (field -> why): stable for
# the agency, so that it can match an action's completion with the action, and unlinkable to
# another agency's without the council's key.
PSEUDONYMISED: dict[str, str] = {
    "action_id": (
        "the agency matches its action's completion with the action; the council's id is a"
        " record id (NEVER_SHARED's reason), so it is sent as the agency's pseudonym"
    ),
}
# Streams that are not a child's: their messages' subject is the agency's pseudonym of the
# record, in a namespace of its own (`pseudonym(key, agency, "partnership-audit:<audit id>")`),
# so that it can never equal a child's; and the share audit and the access log record them as
# that namespaced id (`PartnerMessage.child_id`), never as the bare record id: an audit's id
# may be a child's too ("C-000123" is a valid id of both), and the audit's messages would
# then be listed in that child's subject access export and share history.
AUDIT_SUBJECTS = "partnership-audit"
# The longest id the council's audits record for a message (an audit's, namespaced): what
# `GET /shares` and `GET /audit` accept as `child_id`.
SUBJECT_MAX = len(f"{AUDIT_SUBJECTS}:") + 64
_RECORD_SUBJECTS = dict.fromkeys(_PARTNERSHIP_AUDITS, AUDIT_SUBJECTS)


class Precision(StrEnum):
    """How much of a date an agency receives."""

    DAY = "day"  # 2026-03-02
    WEEK = "ISO week"  # 2026-W10
    MONTH = "month"  # 2026-03
    QUARTER = "quarter"  # 2026-Q1
    YEAR = "year"  # 2026
    ACADEMIC_YEAR = "academic year"  # 2025/26: 1 September to 31 August, a school year group
    WITHHELD = "withheld"  # the event without the date (not in ENTITLEMENTS)


DAY, WEEK, MONTH = Precision.DAY, Precision.WEEK, Precision.MONTH
ACADEMIC_YEAR, WITHHELD = Precision.ACADEMIC_YEAR, Precision.WITHHELD

# The dates of a partnership audit, as every agency taking part receives them. The opening
# goes to every agency taking part: the month (the group's own invitation dates the meeting);
# a finding and an action go to the one agency they are for, to the day (its own, to act on).
_AUDIT_DATES: dict[str, tuple[Precision, str]] = {
    "PartnershipAuditOpened.opened_on": (
        MONTH,
        "every agency taking part receives it: the group's invitation dates the meeting, the"
        " month records the audit",
    ),
    "PartnershipAuditFindingRecorded.recorded_on": (
        DAY,
        "the agency's own finding: no other agency receives it",
    ),
    "QualityActionAgreed.agreed_on": (
        DAY,
        "the agency's own action in an audit it takes part in: no other agency receives it",
    ),
    "QualityActionAgreed.due_on": (
        DAY,
        "the agency's own action in an audit it takes part in: no other agency receives it",
    ),
    "QualityActionCompleted.completed_on": (
        DAY,
        "the agency's own action in an audit it takes part in: no other agency receives it",
    ),
}

# agency -> "Event.field" -> (how precisely that agency gets the date, why that is enough).
# Every date an agency receives is here, and every date of an event it receives that another
# agency gets too (as withheld, if it does not). A fact several agencies receive is given
# precisely to one at most, the one whose work runs from it: the exact dates police, health
# and schools all received (and month of birth with locality) let any two of them join their
# pseudonyms (tests/unit/test_partner_linkage.py attacks every pair, before and after).
DATES: dict[Agency, dict[str, tuple[Precision, str]]] = {
    Agency.POLICE: {
        "StrategyDiscussionHeld.discussion_date": (
            DAY,
            "police attend the discussion: the day matches their own record of it",
        ),
        "ChildProtectionPlanStarted.start_date": (
            WITHHELD,
            "the flag on police systems is set as the message arrives; the strategy discussion"
            " police attended already dates it",
        ),
        "ChildProtectionPlanEnded.end_date": (
            WITHHELD,
            "the flag comes off as the message arrives",
        ),
        "MissingEpisodeRecorded.started_on": (
            DAY,
            "police search for the child and hold the return interview: the exact days",
        ),
        "MissingEpisodeRecorded.ended_on": (
            DAY,
            "police search for the child and hold the return interview: the exact days",
        ),
        "ReturnHomeInterviewOffered.missing_started_on": (
            DAY,
            "names the missing episode police already hold to the day; a declined interview"
            " leaves police's own prevention interview the only conversation about it",
        ),
        "ReturnHomeInterviewOffered.offered_on": (
            WITHHELD,
            "the 72-hour offer is the council's duty (its boards report it); police act on"
            " whether the child took it up",
        ),
        "Section47EnquiryConcluded.concluded_on": (
            WITHHELD,
            "police close their part of the joint enquiry as the message arrives; a conference"
            " outcome brings an invitation with its own date",
        ),
        **_AUDIT_DATES,
    },
    Agency.HEALTH: {
        "ChildRegistered.date_of_birth": (
            MONTH,
            "review health assessments are six-monthly under 5, yearly after; health"
            " passports are offered at 16 and 17 years 9 months",
        ),
        "UnbornChildRegistered.expected_date_of_birth": (
            MONTH,
            "midwifery and health visiting join the pre-birth plan before the month the baby"
            " is due; the locality names the health visiting team; no other agency receives it",
        ),
        "ChildBorn.date_of_birth": (
            MONTH,
            "a child known before birth: the month of birth, as ChildRegistered gives it, for"
            " the same age-based schedules",
        ),
        "ChildProtectionPlanStarted.start_date": (
            WITHHELD,
            "the health visitor or school nurse joins the core group as the message arrives;"
            " the category says what for",
        ),
        "ChildProtectionPlanEnded.end_date": (
            WITHHELD,
            "health leaves the core group as the message arrives",
        ),
        "PeriodOfCareStarted.start_date": (
            WEEK,
            "the initial health assessment is due within 20 working days of coming into care",
        ),
        "PeriodOfCareEnded.end_date": (
            MONTH,
            "looked-after health assessments stop; the month closes health's record",
        ),
        "HealthAssessmentCompleted.assessment_date": (
            DAY,
            "health's own assessment: no other agency receives it",
        ),
        "HealthPassportOffered.offered_on": (
            MONTH,
            "the passport milestone (16, 17y9m) is in the message; the month records it",
        ),
        "HealthPassportAccepted.accepted_on": (MONTH, "the month records the acceptance"),
        "HealthOutcomesRecorded.recorded_on": (
            MONTH,
            "the carer's SDQ informs the next review health assessment (statutory guidance on"
            " looked-after children's health); the month dates the score; no other agency",
        ),
        **_AUDIT_DATES,
    },
    Agency.SCHOOLS: {
        "ChildProtectionPlanStarted.start_date": (
            WEEK,
            "the designated safeguarding lead acts the same week and records it",
        ),
        "ChildProtectionPlanEnded.end_date": (
            MONTH,
            "the school stands down as the message arrives; the month closes its record",
        ),
        "PeriodOfCareStarted.start_date": (
            WITHHELD,
            "the designated teacher acts as the message arrives; the personal education plan's"
            " clock is the virtual school's (the council's), and health has the week",
        ),
        "PeriodOfCareEnded.end_date": (
            WITHHELD,
            "the school acts as the message arrives; health has the month",
        ),
        "RiskRatingAssigned.rated_on": (DAY, "schools' only: no other agency receives it"),
        "EWOAttendanceEscalationRaised.raised_on": (
            DAY,
            "the attendance escalation is the school's to act on: no other agency receives it",
        ),
        "EWOAttendanceEscalationClosed.closed_on": (
            DAY,
            "the attendance escalation is the school's to act on: no other agency receives it",
        ),
        "SocialWorkerAllocated.allocated_on": (
            WITHHELD,
            "KCSIE: the designated safeguarding lead holds which pupils have a social worker;"
            " who (the worker and team ids are never sent) and since when stay with the council",
        ),
        "SocialWorkerAllocationEnded.ended_on": (
            WITHHELD,
            "the designated safeguarding lead updates the pupil's record as the message arrives",
        ),
        **_AUDIT_DATES,
    },
    Agency.HOUSING: {
        "CareLeaverAccommodationRecorded.recorded_on": (
            DAY,
            "housing places the young person: the exact day (probation gets no date)",
        ),
        "SuitabilityReassessed.reassessed_on": (DAY, "housing acts on the day it turns unsuitable"),
        "HomelessnessPreventionReferred.referred_on": (
            DAY,
            "the 56-day prevention duty runs from the referral",
        ),
        "HomelessnessPreventionOutcomeRecorded.outcome_on": (DAY, "housing's own duty: the day"),
        "TenancyStarted.started_on": (DAY, "housing's own tenancy: the day"),
        "TenancyEnded.ended_on": (DAY, "housing's own tenancy: the day"),
        **_AUDIT_DATES,
    },
    Agency.CAREERS: {
        "ChildRegistered.date_of_birth": (
            ACADEMIC_YEAR,
            "participation is tracked by academic age (the year 11 cohort, 16 and 17 year"
            " olds); a month would join with health's",
        ),
        "ChildBorn.date_of_birth": (
            ACADEMIC_YEAR,
            "a child known before birth: the academic year, as ChildRegistered gives it",
        ),
        "CareLeaverStatusRecorded.recorded_on": (
            MONTH,
            "a personal adviser's offer follows the status; the month records it (probation"
            " gets no date)",
        ),
        "EETActivityRecorded.recorded_on": (DAY, "careers' own tracking: no other agency"),
        "NEETPanelReviewed.review_date": (DAY, "careers attend the panel: the day"),
        **_AUDIT_DATES,
    },
    Agency.PROBATION: {
        "CareLeaverStatusRecorded.recorded_on": (
            WITHHELD,
            "the status is what entitles the person to leaving-care support, not its date;"
            " careers have the month",
        ),
        "CareLeaverAccommodationRecorded.recorded_on": (
            WITHHELD,
            "probation assesses on the current suitability (the latest message); housing"
            " has the day",
        ),
        **_AUDIT_DATES,
    },
}


# Fields no agency is ever sent, whatever the event: ENTITLEMENTS names none of them (a unit
# test holds it to that), and the canary (tests/e2e/test_audit_and_erasure.py) looks for their
# values on every partner topic. A partner whose purpose came to need one would be a new
# decision, argued here, not a line added to ENTITLEMENTS.
_RECORD_IDS = "the council's ids of the child and of its records: any of them would join feeds"
_SEALED = (
    "sealed with the child's key; the UPN is a national pupil id, so it would join every feed"
    " (and schools' own records) at once"
)
_STAFF = "the council's workers and teams: staff's personal data, and no partner's purpose"
_PLACE = (
    "where a child lives or lived (a postcode district): it can lead those a child was kept"
    " from to the child, and with a date it all but identifies one"
)
_CHARACTERISTICS = (
    "special category data (ethnic origin, health) recorded for the statutory returns; each"
    " agency records its own with the person, and together they all but identify a child"
)
_ADOPTERS = "about other people: the adopters"
_OUTCOMES = (
    "criminal offence and health data the council records for the SSDA903 return: police,"
    " the youth justice service and health hold their own"
)
_CHILDREN_SAMPLED = (
    "the children a partnership audit sampled: the council's ids of children, and the list"
    " would tell each agency of children it does not know and join the agencies' feeds"
)
_SEALED_TEXT = (
    "quality assurance's free text (findings, summaries, comments, learning, decisions),"
    " sealed with the subject's key: never sent, sealed or not"
)
_AUDIT_THEME = (
    "a partnership audit's theme: free text, not sealed, that could name a family; the council"
    " tells the agencies taking part at the audit's meeting"
)
NEVER_SHARED: dict[str, str] = {
    **dict.fromkeys(
        (
            "child_id",
            "referral_id",
            "contact_id",
            "assessment_id",
            "plan_id",
            "discussion_id",
            "proceedings_id",
            "placement_id",
            "previous_placement_id",
            "enrolment_id",
            "escalation_id",
            "evaluation_id",
            "audit_id",
            "finding_id",
            "survey_id",
            "response_id",
            "incident_id",
            "learning_id",
            "priority_id",
            "measure_id",
            "surgery_id",
        ),
        _RECORD_IDS,
    ),
    "cases": _CHILDREN_SAMPLED,
    **dict.fromkeys(
        ("findings", "summary", "finding", "comment", "learning", "decisions", "commentary"),
        _SEALED_TEXT,
    ),
    "theme": _AUDIT_THEME,
    **dict.fromkeys(PERSONAL_FIELDS, _SEALED),
    **dict.fromkeys(
        (
            "worker_id",
            "previous_worker_id",
            "team_id",
            "visitor_id",
            "adviser_id",
            "manager_id",
            "auditor_id",
            "practitioner_id",
            "moderator_id",
            "owner_id",
        ),
        _STAFF,
    ),
    **dict.fromkeys(("postcode", "home_postcode"), _PLACE),
    **dict.fromkeys(
        ("sex", "ethnicity", "disabilities", "unaccompanied_asylum_seeking", "uasc_ceased_on"),
        _CHARACTERISTICS,
    ),
    **dict.fromkeys(
        (
            "adopters_sex",
            "adopters_legal_status",
            "number_of_adopters",
            "adopted_by_foster_carer",
        ),
        _ADOPTERS,
    ),
    **dict.fromkeys(
        ("convicted", "substance_misuse", "intervention_offered", "intervention_received"),
        _OUTCOMES,
    ),
}

# Every domain event no agency receives, and why: each event is decided, here or in
# ENTITLEMENTS, never by omission (a unit test fails on an event in neither). docs/security.md
# argues them agency by agency.
_FRONT_DOOR = (
    "the front door's decision: the agency that made a contact hears its outcome from the front"
    " door (Working Together 2023); a feed would tell every agency of contacts others made"
)
_CASEWORK = (
    "the council's assessment and plan for a child in need: the agencies in the plan hear of it"
    " at its meetings; the boards report its timeliness in aggregate"
)
_FACTORS = (
    "the factors identified (a parent's mental health, domestic abuse, exploitation) are about"
    " the family as much as the child: discussed with the agencies working with it, not sent"
)
_CONFERENCE = (
    "the agencies attend the conference and the reviews; the plan's start and end are sent to"
    " those who act on them"
)
_CARE_PLANNING = (
    "the council's care planning as corporate parent, reviewed by the IRO with the agencies"
    " present; the period of care's start and end are sent to those who act on them"
)
_COURT = (
    "proceedings and the steps before them are confidential to the parties and the court"
    " (Family Procedure Rules 2010, Part 12)"
)
_LEAVING_CARE = (
    "the council's leaving-care duties; careers, housing and probation receive the status and"
    " the accommodation their work needs"
)
_INTERNAL = "the council's own prioritisation, quality assurance, compliance and escalations"
_CHILD_CHARACTERISTICS = "sex, ethnicity, disabilities, asylum status: fields never sent (below)"
_VISITS = (
    "the council's own statutory duty (who visited, whether the child was seen alone): checked"
    " on its boards; a partner's purpose needs none of it, and the days would join feeds"
)
_ADOPTION = (
    "adoption is confidential (Adoption Agencies Regulations 2005): the decision, the match and"
    " the adopters are for the adoption agency and the court"
)
_PERMANENCE = "the family's earlier orders, recorded for the SSDA903 return"
_LIBERTY = (
    "the court's order reaches those it directs (a secure unit; police, to return the child) as"
    " the order itself; a feed would tell every force and trust of every order"
)
_PERSONAL = (
    "sealed with the child's key: no partner could read it, and none is entitled to names, an"
    " address, notes or the UPN"
)
_ERASURE = (
    "partners are sent no field an erasure destroys: what they hold are the statutory facts it"
    " keeps"
)
_PLACEMENT = (
    "where a child in care lives (provider, postcode) is told case by case, by the council: it"
    " can put the child at risk"
)
_SUPPORT = (
    "support the council commissions; housing receives the accommodation and the homelessness"
    " duty it acts on"
)
_EDUCATION = (
    "the council's record of the young person's education (the virtual school): schools hold"
    " their own, careers receive the activity and panels their tracking needs"
)
_REFERENCE = (
    "the council's reference data (its localities, schools, teams and social workers): about"
    " no child, and a worker's id is never sent"
)
_PRACTICE_QUALITY = (
    "the council's evaluation of its own practice (case audits, their grades and moderation):"
    " about its workers as much as the child; the boards report it in aggregate"
)
_AUDIT_CONCLUDED = (
    "the audit concludes at the group's meeting the agencies taking part attend; the event does"
    " not name them, and a feed would tell every agency of audits others took part in"
)
_FEEDBACK = (
    "what parents, carers and young people told the council about its service: theirs and the"
    " council's, reported in aggregate on its boards"
)
_SERIOUS_INCIDENTS = (
    "the safeguarding partners' rapid review and practice review take place with the agencies"
    " involved, through the partnership, and are published by it: a feed would tell every"
    " agency of every serious incident"
)
_IMPROVEMENT_PLAN = "the council's improvement plan and performance surgeries: its own management"
_BOARD_PACKS = (
    "the partnership board's own papers: the pack's figures are the boards' (each agency reads"
    " them there, suppressed), and its commentary is its writers', read with the pack"
)
NOT_SHARED: dict[str, str] = {
    **dict.fromkeys(
        ("PracticeEvaluationRecorded", "PracticeEvaluationModerated"), _PRACTICE_QUALITY
    ),
    "PartnershipAuditConcluded": _AUDIT_CONCLUDED,
    **dict.fromkeys(("FeedbackSurveyLaunched", "FeedbackResponseRecorded"), _FEEDBACK),
    **dict.fromkeys(
        (
            "SeriousIncidentNotified",
            "RapidReviewCompleted",
            "PracticeReviewCommissioned",
            "PracticeReviewPublished",
            "LearningPointRecorded",
        ),
        _SERIOUS_INCIDENTS,
    ),
    **dict.fromkeys(
        ("ImprovementPriorityAdded", "ImprovementMeasureSet", "PerformanceSurgeryHeld"),
        _IMPROVEMENT_PLAN,
    ),
    **dict.fromkeys(("BoardPackDrafted", "BoardPackCommentaryRecorded"), _BOARD_PACKS),
    **dict.fromkeys(
        (
            "ReferralReceived",
            "EarlyHelpTriageDiscussed",
            "FrontDoorContactReceived",
            "ReferralOutcomeRecorded",
        ),
        _FRONT_DOOR,
    ),
    **dict.fromkeys(
        (
            "AssessmentStarted",
            "ChildInNeedPlanStarted",
            "ChildInNeedPlanEnded",
            "EpisodeOfNeedClosed",
        ),
        _CASEWORK,
    ),
    "AssessmentCompleted": _FACTORS,
    **dict.fromkeys(
        ("InitialChildProtectionConferenceHeld", "ChildProtectionPlanReviewed"), _CONFERENCE
    ),
    **dict.fromkeys(
        ("LegalStatusChanged", "LookedAfterReviewHeld", "PermanencePlanRecorded"), _CARE_PLANNING
    ),
    **dict.fromkeys(
        (
            "PreProceedingsEntered",
            "PreProceedingsMeetingHeld",
            "LetterBeforeProceedingsSent",
            "PreProceedingsConcluded",
            "CareProceedingsIssued",
            "CareProceedingsHearingHeld",
            "CareProceedingsConcluded",
        ),
        _COURT,
    ),
    **dict.fromkeys(
        (
            "PersonalAdviserAllocated",
            "PathwayPlanCreated",
            "PathwayPlanReviewed",
            "ContactRecorded",
        ),
        _LEAVING_CARE,
    ),
    "ChildCharacteristicsRecorded": _CHILD_CHARACTERISTICS,
    "StatutoryVisitRecorded": _VISITS,
    **dict.fromkeys(
        ("AdoptionDecisionMade", "AdoptionDecisionReversed", "AdoptionMatched"), _ADOPTION
    ),
    "PreviousPermanenceRecorded": _PERMANENCE,
    **dict.fromkeys(("DeprivationOfLibertyAuthorised", "DeprivationOfLibertyEnded"), _LIBERTY),
    "PersonalDetailsRecorded": _PERSONAL,
    "ChildPersonalDataErased": _ERASURE,
    **dict.fromkeys(("PlacementStarted", "PlacementChanged", "PlacementEnded"), _PLACEMENT),
    **dict.fromkeys(("FloatingSupportStarted", "FloatingSupportEnded"), _SUPPORT),
    **dict.fromkeys(
        (
            "SchoolEnrolled",
            "SchoolLeft",
            "EducationHealthCarePlanStarted",
            "EducationHealthCarePlanEnded",
            "AttendanceRecorded",
            "Year11DestinationIntended",
            "Year11DestinationConfirmed",
            "SummerSchoolSignedUp",
        ),
        _EDUCATION,
    ),
    **dict.fromkeys(
        (
            "PriorityCohortFlagSet",
            "PriorityCohortFlagCleared",
            "AccommodationBreachFlagged",
            "RiskRatingDipSampled",
            "EscalationRaised",
            "EscalationAdvanced",
            "EscalationResponded",
            "EscalationResolved",
            "DriftAlertRaised",
            "DriftAlertCleared",
            "AttentionAcknowledged",
        ),
        _INTERNAL,
    ),
    **dict.fromkeys(reference_event_types.types(), _REFERENCE),
}


def partner_topic(agency: Agency) -> str:
    """The base name of an agency's topic (contracts/topics.py)."""
    return f"partner-{agency.value}"


def pseudonym(key: bytes, agency: Agency, child_id: str) -> str:
    """The id an agency knows a child by: stable for that agency, unlinkable across agencies
    without the council's key."""
    digest = hmac.new(key, f"{agency.value}:{child_id}".encode(), hashlib.sha256).hexdigest()
    return f"{agency.value[:3].upper()}-{digest[:20]}"


def agency_uuid(key: bytes, agency: Agency, value: UUID) -> UUID:
    """An id of the council's (an event's, a request's correlation id) made the agency's own:
    stable for that agency, unlinkable to another agency's without the council's key. A keyless
    derivation would not do: callers see event ids and correlation ids (the API answers them),
    and anyone knowing one could compute every agency's and join their feeds."""
    digest = hmac.new(key, f"{agency.value}:{value}".encode(), hashlib.sha256).digest()
    return UUID(bytes=digest[:16], version=5)


@dataclass(frozen=True)
class PartnerMessage:
    agency: Agency
    message_id: UUID  # the same for the same event and agency, so a re-send is recognisable
    subject: str  # the agency's pseudonym of the child (of the audit: AUDIT_SUBJECTS)
    # The council's id of the child, or for a partnership audit's messages the audit's id in
    # its namespace (`partnership-audit:<audit id>`, never a child's): for the council's own
    # audits (the share audit, the access log), never in the body.
    child_id: str
    event_type: str
    facts: dict[str, Any]
    source_event_id: UUID
    # The command's correlation id made the agency's own, as the message id is: the same on
    # every message one request sends this agency, another for the next agency (the same id
    # on two agencies' feeds would let them join their pseudonyms). The council maps it back
    # through the share audit (message id -> source event -> its correlation id).
    correlation_id: UUID
    schema_version: int  # of the event the message was derived from

    def body(self) -> dict[str, Any]:
        return {
            "message_id": str(self.message_id),
            "subject": self.subject,
            "event_type": self.event_type,
            "facts": self.facts,
            "purpose": PURPOSE,
        }

    def headers(self, sent_at: datetime) -> list[tuple[str, bytes]]:
        """The record's headers (PARTNER_HEADERS): CloudEvents binary mode, as on the domain
        topics. Its time is the share's (`sent_at`), not the event's recorded time, which
        every agency receiving the event would get to the microsecond: a join key."""
        message_id = str(self.message_id).encode()
        return [
            ("message_id", message_id),
            ("event_type", self.event_type.encode()),
            ("correlation_id", str(self.correlation_id).encode()),
            ("content-type", CONTENT_TYPE),
            ("ce_specversion", CE_SPECVERSION.encode()),
            ("ce_id", message_id),
            ("ce_source", cloudevents_source(partner_topic(self.agency)).encode()),
            ("ce_type", cloudevents_type(self.event_type, self.schema_version, "partner").encode()),
            ("ce_time", rfc3339(sent_at).encode()),
        ]


# Every header of a record on a partner topic, and what it carries (docs/partners.md).
PARTNER_HEADERS: dict[str, str] = {
    "message_id": "The message's id: the same whenever this event is sent to this agency again.",
    "event_type": "The type of the event the message was derived from.",
    "correlation_id": "The request's correlation id, made this agency's own: the same on every "
    "message one request sent this agency; quote it to the council.",
    "content-type": "application/json: the record's value is the message, as JSON.",
    "ce_id": "CloudEvents id: the message id.",
    "ce_source": "CloudEvents source: /csp/partner-<agency>.",
    "ce_type": "CloudEvents type: csp.partner.<event type>.v<schema version of the event>.",
    "ce_specversion": f"CloudEvents spec version: {CE_SPECVERSION}.",
    "ce_time": "CloudEvents time (RFC 3339, UTC): when the message was shared.",
}


def coarsened(day: date, precision: Precision) -> str | None:
    """A date as an agency receives it: deterministic, the same for every re-derivation."""
    if precision is Precision.DAY:
        return day.isoformat()
    if precision is Precision.WEEK:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if precision is Precision.MONTH:
        return f"{day:%Y-%m}"
    if precision is Precision.QUARTER:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if precision is Precision.YEAR:
        return str(day.year)
    if precision is Precision.ACADEMIC_YEAR:
        first = day.year if day.month >= 9 else day.year - 1
        return f"{first}/{(first + 1) % 100:02d}"
    return None


def _shareable(value: Any, precision: Precision) -> Any:
    if isinstance(value, date):
        return coarsened(value, precision)
    if isinstance(value, Enum):
        return value.value
    return value


def shares_of(
    envelope: Envelope,
    event: DomainEvent,
    key: bytes,
    *,
    entitlements: Mapping[Agency, Mapping[str, tuple[str, ...]]] = ENTITLEMENTS,
    dates: Mapping[Agency, Mapping[str, tuple[Precision, str]]] = DATES,
) -> list[PartnerMessage]:
    """Every message this event becomes, one per agency entitled to it (often none). The
    tables are parameters only so that a test can derive the feed under others."""
    out = []
    # A record's stream (a partnership audit) is known by its id in a namespace of its own,
    # in the pseudonym and in the council's audits alike (AUDIT_SUBJECTS says why).
    namespace = _RECORD_SUBJECTS.get(envelope.event_type)
    if namespace is None:
        subject_of = getattr(event, "child_id", None) or envelope.stream_id
    else:
        subject_of = f"{namespace}:{envelope.stream_id}"
    named = addressed_to(envelope.event_type, event)
    for agency, entitled in entitlements.items():
        fields = entitled.get(envelope.event_type)
        if fields is None or (named is not None and agency not in named):
            continue
        precision = dates.get(agency, {})
        facts = {}
        for f in fields:
            # A date nobody declared a precision for is withheld (a unit test declares all).
            p, _ = precision.get(f"{envelope.event_type}.{f}", (Precision.WITHHELD, ""))
            value = getattr(event, f)
            if f in PSEUDONYMISED and value is not None:
                facts[f] = pseudonym(key, agency, f"{subject_of}/{f}:{value}")
            elif not (isinstance(value, date) and p is Precision.WITHHELD):
                facts[f] = _shareable(value, p)
        out.append(
            PartnerMessage(
                agency=agency,
                message_id=agency_uuid(key, agency, envelope.event_id),
                subject=pseudonym(key, agency, subject_of),
                child_id=subject_of,
                event_type=envelope.event_type,
                facts=facts,
                source_event_id=envelope.event_id,
                correlation_id=agency_uuid(key, agency, envelope.correlation_id),
                # The facts are the decoded (upcast) event's: its version, not the stored one.
                schema_version=type(event).schema_version,
            )
        )
    return out


def entitlements_markdown() -> str:
    """The tables in docs/security.md (rewritten by `make docs`; a test keeps them equal): what
    each agency receives, the events none receives, the fields none is ever sent."""
    lines = [
        "| agency | event | fields received | dates as | why that precision |",
        "|---|---|---|---|---|",
    ]
    for agency, entitled in ENTITLEMENTS.items():
        for event_type, fields in entitled.items():
            declared = {
                name.partition(".")[2]: rule
                for name, rule in DATES.get(agency, {}).items()
                if name.partition(".")[0] == event_type
            }
            shown = ", ".join(f"`{f}`" for f in fields)
            precisions = "<br>".join(f"`{f}`: {p.value}" for f, (p, _) in declared.items())
            why = "<br>".join(dict.fromkeys(reason for _, reason in declared.values()))
            lines.append(
                f"| {agency.value} | {event_type} | {shown or '(the event only)'} |"
                f" {precisions} | {why} |"
            )
    lines += ["", "| events sent only to the agencies they name | because |", "|---|---|"]
    lines += [f"| {', '.join(types)} | {why} |" for why, types in _by_reason(ADDRESSED)]
    lines += ["", "| ids sent only as the agency's pseudonym | because |", "|---|---|"]
    lines += [f"| `{field}` | {why} |" for field, why in PSEUDONYMISED.items()]
    lines += ["", "| events no agency receives | because |", "|---|---|"]
    lines += [f"| {', '.join(types)} | {why} |" for why, types in _by_reason(NOT_SHARED)]
    lines += ["", "| fields never sent to any agency | because |", "|---|---|"]
    lines += [
        f"| {', '.join(f'`{f}`' for f in fields)} | {why} |"
        for why, fields in _by_reason(NEVER_SHARED)
    ]
    return "\n".join(lines)


def _by_reason(reasons: Mapping[str, str]) -> list[tuple[str, list[str]]]:
    grouped: dict[str, list[str]] = {}
    for name, why in reasons.items():
        grouped.setdefault(why, []).append(name)
    return list(grouped.items())


def write_docs(path: Path) -> None:
    write_into(path, "entitlements", entitlements_markdown() + "\n")


if __name__ == "__main__":
    write_docs(Path(__file__).resolve().parents[2] / "docs" / "security.md")

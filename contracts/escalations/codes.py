"""Codes of risk and oversight."""

from __future__ import annotations

from enum import StrEnum


class RAG(StrEnum):
    RED = "RED"
    AMBER = "AMBER"
    GREEN = "GREEN"


# The rating sets how often the social worker visits (and is shared with the child's school).
VISITING_FREQUENCY_DAYS = {RAG.RED: 7, RAG.AMBER: 14, RAG.GREEN: 28}


class RatingSource(StrEnum):
    ASSESSMENT = "assessment"
    MODERATION = "moderation"


class Raiser(StrEnum):
    IRO = "IRO"
    CP_CHAIR = "CP_CHAIR"


class Stage(StrEnum):
    """The escalation (dispute resolution) stages, in order."""

    INFORMAL = "informal"
    FORMAL = "formal"
    SENIOR_MANAGER = "senior_manager"
    DIRECTOR = "director"
    CAFCASS_REFERRAL = "cafcass_referral"


STAGE_ORDER = list(Stage)


class EscalationReason(StrEnum):
    PERMANENCE_PLANNING = "permanence_planning"
    DRIFT_IN_CP_PLAN = "drift_in_cp_plan"
    PATHWAY_PLAN_QUALITY = "pathway_plan_quality"
    CARE_PLANNING = "care_planning"
    PLACEMENT_STABILITY = "placement_stability"
    CONTACT_ARRANGEMENTS = "contact_arrangements"
    OTHER = "other"


class Resolution(StrEnum):
    AGREED = "agreed"
    PLAN_CHANGED = "plan_changed"
    WITHDRAWN = "withdrawn"


class DriftRule(StrEnum):
    CP_PLAN_9_MONTHS = "cp_plan_9_months"
    PRE_PROCEEDINGS_12_WEEKS = "pre_proceedings_12_weeks"
    PROCEEDINGS_26_WEEKS = "proceedings_26_weeks"
    PATHWAY_PLAN_REVIEW_OVERDUE = "pathway_plan_review_overdue"
    NO_CONTACT = "no_contact"


class EWOOutcome(StrEnum):
    ATTENDANCE_IMPROVED = "attendance_improved"
    SUPPORT_PLAN_AGREED = "support_plan_agreed"
    REFERRED_ON = "referred_on"


# An escalation is answered within this many working days of its latest step (raised, or
# advanced to a stage): the first band of the escalation-stages board. Past it, the attention
# queue shows the escalation as past its response time.
RESPONSE_DUE_WORKING_DAYS = 5


class AttentionKind(StrEnum):
    """What the incident management teams' attention queue holds: each a fact that needs a
    person as it happens, open until the fact that ends it is recorded."""

    ACCOMMODATION_BREACH = "accommodation_breach"  # e.g. an under-16 in an unregulated placement
    UNSUITABLE_ACCOMMODATION = "unsuitable_accommodation"  # a care leaver's, suitability 2
    MISSING = "missing"  # a missing episode with no return recorded
    RED_RATING = "red_rating"  # a new RED rating
    DRIFT_ALERT = "drift_alert"  # a drift alert (a CP plan's nine months: its own kind)
    ESCALATION = "escalation"  # an IRO or CP-chair escalation not yet answered
    EWO_ESCALATION = "ewo_escalation"  # an EWO attendance escalation
    CP_PLAN_9_MONTHS = "cp_plan_9_months"  # a CP plan open nine months or more

"""National code lists used by case events (DfE CIN census; SSDA903 children looked after;
Ofsted ILACS Annex A), so that statutory returns can be derived from the event log."""

from __future__ import annotations

from enum import StrEnum


class ReferralSource(StrEnum):
    """CIN census: source of referral."""

    INDIVIDUAL_FAMILY = "1A"
    INDIVIDUAL_RELATIVE = "1B"
    INDIVIDUAL_SELF = "1C"
    INDIVIDUAL_OTHER = "1D"
    SCHOOLS = "2A"
    EDUCATION_SERVICES = "2B"
    HEALTH_GP = "3A"
    HEALTH_VISITOR = "3B"
    SCHOOL_NURSE = "3C"
    HEALTH_OTHER_PRIMARY = "3D"
    HEALTH_HOSPITAL = "3E"
    HEALTH_OTHER = "3F"
    HOUSING = "4"
    LA_SOCIAL_CARE = "5A"
    LA_OTHER_INTERNAL = "5B"
    LA_EXTERNAL = "5C"
    LA_EARLY_HELP = "5D"
    POLICE = "6"
    LEGAL_AGENCY = "7"
    OTHER = "8"
    ANONYMOUS = "9"
    UNKNOWN = "10"


class PrimaryNeed(StrEnum):
    """CIN census: category of primary need."""

    ABUSE_OR_NEGLECT = "N1"
    CHILD_DISABILITY = "N2"
    PARENTAL_ILLNESS_DISABILITY = "N3"
    FAMILY_IN_ACUTE_STRESS = "N4"
    FAMILY_DYSFUNCTION = "N5"
    SOCIALLY_UNACCEPTABLE_BEHAVIOUR = "N6"
    LOW_INCOME = "N7"
    ABSENT_PARENTING = "N8"
    CASES_OTHER_THAN_CHILDREN_IN_NEED = "N9"
    NOT_STATED = "N0"


class ChildInNeedClosureReason(StrEnum):
    """CIN census: reason for closure."""

    ADOPTED = "RC1"
    DIED = "RC2"
    CHILD_ARRANGEMENTS_ORDER = "RC3"
    SPECIAL_GUARDIANSHIP_ORDER = "RC4"
    TRANSFERRED_TO_OTHER_LA = "RC5"
    TRANSFERRED_TO_ADULT_SERVICES = "RC6"
    SERVICES_CEASED_OTHER = "RC7"
    CASE_CLOSED_AFTER_ASSESSMENT_NO_FURTHER_ACTION = "RC8"
    CASE_CLOSED_AFTER_ASSESSMENT_REFERRED_TO_EARLY_HELP = "RC9"


class ChildProtectionCategory(StrEnum):
    """Category of abuse on a child protection plan (CIN census)."""

    NEGLECT = "NEG"
    PHYSICAL_ABUSE = "PHY"
    SEXUAL_ABUSE = "SAB"
    EMOTIONAL_ABUSE = "EMO"
    MULTIPLE = "MUL"


class LegalStatus(StrEnum):
    """SSDA903 legal status."""

    INTERIM_CARE_ORDER = "C1"
    FULL_CARE_ORDER = "C2"
    FREED_FOR_ADOPTION = "D1"
    PLACEMENT_ORDER = "E1"
    REMANDED_TO_LA = "J1"
    PACE_DETAINED = "J2"
    SENTENCED_TO_SUPERVISION_WITH_RESIDENCE = "J3"
    POLICE_PROTECTION = "L1"
    EMERGENCY_PROTECTION_ORDER = "L2"
    CHILD_ASSESSMENT_ORDER = "L3"
    SECTION_20_SINGLE_PLACEMENT = "V2"
    SECTION_20_SHORT_BREAK_SINGLE = "V3"
    SECTION_20_SHORT_BREAKS_SERIES = "V4"


class ReasonCeased(StrEnum):
    """SSDA903 reason episode ceased (the codes a period of care can end with)."""

    ADOPTED_UNOPPOSED = "E11"
    ADOPTED_CONSENT_DISPENSED = "E12"
    DIED = "E2"
    CARE_TAKEN_OVER_BY_ANOTHER_LA = "E3"
    RETURNED_HOME_AS_PLANNED = "E4A"
    RETURNED_HOME_NOT_AS_PLANNED = "E4B"
    LEFT_CARE_TO_LIVE_WITH_PARENTS_RELATIVES = "E13"
    RESIDENCE_ORDER_OR_CAO = "E41"
    SGO_FORMER_FOSTER_CARER = "E45"
    SGO_NOT_FORMER_FOSTER_CARER = "E46"
    SGO_RELATIVE_FORMER_FOSTER_CARER = "E47"
    SGO_RELATIVE_NOT_FORMER_FOSTER_CARER = "E48"
    INDEPENDENT_LIVING_SUPPORTED = "E5"
    INDEPENDENT_LIVING_NO_SUPPORT = "E6"
    TRANSFERRED_TO_ADULT_SOCIAL_CARE = "E7"
    SENTENCED_TO_CUSTODY = "E9"
    ACCOMMODATION_ON_REMAND_ENDED = "E14"
    AGE_ASSESSED_OVER_18 = "E15"
    CHILD_MOVED_ABROAD = "E16"
    STAYING_PUT = "E17"
    CEASED_FOR_ANY_OTHER_REASON = "E8"
    EPISODE_CEASED_LEGAL_STATUS_CHANGED = "X1"


class PermanencePlan(StrEnum):
    RETURN_TO_FAMILY = "return_to_family"
    ADOPTION = "adoption"
    SGO_OR_CAO = "sgo_or_cao"
    SUPPORTED_LIVING = "supported_living"
    LONG_TERM_RESIDENTIAL = "long_term_residential"
    LONG_TERM_FOSTERING = "long_term_fostering"
    OTHER = "other"


class PreProceedingsOutcome(StrEnum):
    ISSUE_PROCEEDINGS = "issue"
    STEP_DOWN = "step_down"


class CourtOrder(StrEnum):
    CARE_ORDER = "care_order"
    SUPERVISION_ORDER = "supervision_order"
    PLACEMENT_ORDER = "placement_order"
    SPECIAL_GUARDIANSHIP_ORDER = "special_guardianship_order"
    CHILD_ARRANGEMENTS_ORDER = "child_arrangements_order"
    NO_ORDER = "no_order"
    WITHDRAWN = "withdrawn"


class CareLeaverStatus(StrEnum):
    """Children Act 1989 / Children (Leaving Care) Act 2000 categories."""

    ELIGIBLE = "eligible"
    RELEVANT = "relevant"
    FORMER_RELEVANT = "former_relevant"
    QUALIFYING = "qualifying"


class InTouch(StrEnum):
    """SSDA903 care leavers: is the local authority in touch with the young person."""

    YES = "YES"
    NO = "NO"
    DIED = "DIED"
    REFUSED = "REFU"
    NOT_REQUIRED = "NREQ"
    RETURNED_HOME = "RHOM"


class HealthPassportMilestone(StrEnum):
    AGE_16 = "16"
    AGE_17_9_MONTHS = "17y9m"


class HealthAssessmentKind(StrEnum):
    INITIAL = "initial"
    REVIEW = "review"


class MissingKind(StrEnum):
    """SSDA903 missing: M missing, A away from placement without authorisation."""

    MISSING = "M"
    AWAY_WITHOUT_AUTHORISATION = "A"


class PriorityReason(StrEnum):
    UNSUITABLE_ACCOMMODATION = "unsuitable_accommodation"
    NOT_IN_EDUCATION_EMPLOYMENT_TRAINING = "neet"
    MISSING = "missing"
    EXPLOITATION_RISK = "exploitation_risk"
    MENTAL_HEALTH = "mental_health"
    SUBSTANCE_MISUSE = "substance_misuse"
    ABUSIVE_RELATIONSHIP = "abusive_relationship"
    NO_CONTACT = "no_contact"
    OTHER = "other"


class ClearedReason(StrEnum):
    NO_LONGER_A_CONCERN = "no_longer_a_concern"
    PLAN_PROGRESSING = "plan_progressing"
    LEFT_SERVICE = "left_service"
    OTHER = "other"

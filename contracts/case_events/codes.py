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


# -- the child's characteristics (CIN census; SSDA903) ---------------------------------------


class Sex(StrEnum):
    """CIN census: GenderCurrent (SSDA903 SEX uses 1 and 2 only). 0 is "not recorded or
    unborn", 9 "indeterminate" (the CIN census schema's own wording)."""

    NOT_KNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    INDETERMINATE = "9"


class Ethnicity(StrEnum):
    """DfE ethnicity codes (CIN census and SSDA903 ETHNIC)."""

    WHITE_BRITISH = "WBRI"
    WHITE_IRISH = "WIRI"
    WHITE_IRISH_TRAVELLER = "WIRT"
    WHITE_OTHER = "WOTH"
    WHITE_ROMA = "WROM"
    MIXED_WHITE_BLACK_CARIBBEAN = "MWBC"
    MIXED_WHITE_BLACK_AFRICAN = "MWBA"
    MIXED_WHITE_ASIAN = "MWAS"
    MIXED_OTHER = "MOTH"
    ASIAN_INDIAN = "AIND"
    ASIAN_PAKISTANI = "APKN"
    ASIAN_BANGLADESHI = "ABAN"
    ASIAN_OTHER = "AOTH"
    BLACK_CARIBBEAN = "BCRB"
    BLACK_AFRICAN = "BAFR"
    BLACK_OTHER = "BOTH"
    CHINESE = "CHNE"
    OTHER = "OOTH"
    REFUSED = "REFU"
    NOT_OBTAINED = "NOBT"


class Disability(StrEnum):
    """CIN census: disability codes (NONE when the child has none)."""

    NONE = "NONE"
    MOBILITY = "MOB"
    HAND_FUNCTION = "HAND"
    PERSONAL_CARE = "PC"
    INCONTINENCE = "INC"
    COMMUNICATION = "COMM"
    LEARNING = "LD"
    HEARING = "HEAR"
    VISION = "VIS"
    BEHAVIOUR = "BEH"
    CONSCIOUSNESS = "CON"
    AUTISM_ASPERGERS = "AUT"
    OTHER_DDA = "DDA"


# -- workforce -------------------------------------------------------------------------------


class SocialWorkerChangeReason(StrEnum):
    """SSDA903 SWEpisodes: reason for a change of social worker (SW_REASON)."""

    MANAGEMENT_DECISION = "MANAGE"
    # First contact: an allocation that starts the child's involvement, the first or one after
    # a gap with no worker; never a change from one worker to the next (the DfE's meaning,
    # SSDA903 rules SW10a and SW10b).
    FIRST_CONTACT = "FCONTA"
    LEFT_ROLE = "LEFTRL"
    ORGANISATIONAL_RESTRUCTURE = "ORGRST"
    TRANSFER_BETWEEN_TEAMS_PROCESS = "TSPROC"
    ABSENCE = "ABSENC"
    CHILD_REQUESTED_CHANGE = "CHCHAN"
    PARENT_OR_CARER_REQUESTED_CHANGE = "PCCHAN"
    SOCIAL_WORKER_DIED = "SWDIED"
    OTHER = "OTHERS"


# -- visits ----------------------------------------------------------------------------------


class PlanType(StrEnum):
    """What a statutory visit is made under (and what sets its timescale)."""

    CHILD_IN_NEED = "CIN"
    CHILD_PROTECTION = "CP"
    CHILD_IN_CARE = "CLA"
    CARE_LEAVER = "CL"


# -- the front door --------------------------------------------------------------------------


class ContactOutcome(StrEnum):
    """What the front door decided on a contact (Ofsted Annex A list 1)."""

    NO_FURTHER_ACTION = "nfa"
    INFORMATION_AND_ADVICE = "advice"
    EARLY_HELP = "early_help"
    REFERRAL_TO_CHILDRENS_SOCIAL_CARE = "referral"


class ReferralOutcome(StrEnum):
    """What a referral led to (CIN census: referral NFA; Annex A list 3)."""

    NO_FURTHER_ACTION = "nfa"
    ASSESSMENT = "assessment"
    SECTION_47 = "s47"


class Section47Outcome(StrEnum):
    """How a section 47 enquiry concluded (CIN census: ICPCnotRequired; Annex A list 5)."""

    NO_FURTHER_ACTION = "nfa"
    CHILD_IN_NEED = "cin"
    CONFERENCE = "icpc"


class AssessmentFactor(StrEnum):
    """CIN census: factors identified at the end of assessment (AssessmentFactors, N00181),
    as the DfE's CIN census schema lists them. "21" (no factors) stands alone (validation rule
    8869), no code appears twice in one assessment (rule 8898), and "8A" is not a code (8617).
    A, B and C: concerns about the child, the parent(s)/carer(s), another person in the
    household."""

    ALCOHOL_MISUSE_CHILD = "1A"
    ALCOHOL_MISUSE_PARENT = "1B"
    ALCOHOL_MISUSE_OTHER = "1C"
    DRUG_MISUSE_CHILD = "2A"
    DRUG_MISUSE_PARENT = "2B"
    DRUG_MISUSE_OTHER = "2C"
    DOMESTIC_ABUSE_CHILD = "3A"
    DOMESTIC_ABUSE_PARENT = "3B"
    DOMESTIC_ABUSE_OTHER = "3C"
    MENTAL_HEALTH_CHILD = "4A"
    MENTAL_HEALTH_PARENT = "4B"
    MENTAL_HEALTH_OTHER = "4C"
    LEARNING_DISABILITY_CHILD = "5A"
    LEARNING_DISABILITY_PARENT = "5B"
    LEARNING_DISABILITY_OTHER = "5C"
    PHYSICAL_DISABILITY_CHILD = "6A"
    PHYSICAL_DISABILITY_PARENT = "6B"
    PHYSICAL_DISABILITY_OTHER = "6C"
    YOUNG_CARER = "7A"
    PRIVATELY_FOSTERED_OVERSEAS_RETURNING = "8B"
    PRIVATELY_FOSTERED_OVERSEAS_STAYING = "8C"
    PRIVATELY_FOSTERED_UK_EDUCATION = "8D"
    PRIVATELY_FOSTERED_UK_FAMILY_ARRANGEMENT = "8E"
    PRIVATELY_FOSTERED_OTHER = "8F"
    UNACCOMPANIED_ASYLUM_SEEKING = "9A"
    GOING_MISSING = "10A"
    CHILD_SEXUAL_EXPLOITATION = "11A"
    TRAFFICKING = "12A"
    GANGS = "13A"
    SOCIALLY_UNACCEPTABLE_BEHAVIOUR = "14A"
    SELF_HARM = "15A"
    NEGLECT = "16A"
    EMOTIONAL_ABUSE = "17A"
    PHYSICAL_ABUSE_BY_CHILD = "18B"
    PHYSICAL_ABUSE_BY_ADULT = "18C"
    SEXUAL_ABUSE_BY_CHILD = "19B"
    SEXUAL_ABUSE_BY_ADULT = "19C"
    OTHER = "20"
    NO_FACTORS = "21"
    FEMALE_GENITAL_MUTILATION = "22A"
    ABUSE_LINKED_TO_FAITH_OR_BELIEF = "23A"
    CHILD_CRIMINAL_EXPLOITATION = "24A"


# The factors that put an adolescent at risk of exploitation outside the home (the boards'
# "adolescents at risk of exploitation" cut).
EXPLOITATION_FACTORS = frozenset(
    {
        AssessmentFactor.CHILD_SEXUAL_EXPLOITATION,
        AssessmentFactor.CHILD_CRIMINAL_EXPLOITATION,
        AssessmentFactor.TRAFFICKING,
        AssessmentFactor.GANGS,
        AssessmentFactor.GOING_MISSING,
    }
)


# -- children in care -----------------------------------------------------------------------


class ReviewParticipation(StrEnum):
    """SSDA903 Reviews: how the child took part (REVIEW_CODE)."""

    UNDER_FOUR = "PN0"
    ATTENDED_SPOKE_FOR_SELF = "PN1"
    ATTENDED_ADVOCATE_SPOKE = "PN2"
    ATTENDED_VIEWS_NON_VERBALLY = "PN3"
    ATTENDED_NO_VIEWS = "PN4"
    ABSENT_ADVOCATE_BRIEFED = "PN5"
    ABSENT_VIEWS_BY_OTHER_MEANS = "PN6"
    ABSENT_NO_VIEWS = "PN7"


class SdqReason(StrEnum):
    """SSDA903 OC2: why there is no SDQ score (SDQ_REASON)."""

    AGE_OUTSIDE_4_TO_17 = "SDQ1"
    CARER_REFUSED = "SDQ2"
    SEVERITY_OF_DISABILITY = "SDQ3"
    OTHER = "SDQ4"
    CHILD_REFUSED = "SDQ5"


class AdoptersSex(StrEnum):
    """SSDA903 AD1: sex of the adopter(s) (SEX_ADOPTR)."""

    SINGLE_MALE = "M1"
    SINGLE_FEMALE = "F1"
    MALE_COUPLE = "MM"
    FEMALE_COUPLE = "FF"
    MALE_FEMALE_COUPLE = "MF"


class AdoptersLegalStatus(StrEnum):
    """SSDA903 AD1: legal status of the adopter(s) (LS_ADOPTR). The validator's rules pair
    them with SEX_ADOPTR: L0 a single adopter (514), L11 a different-sex married couple (520),
    L12 a same-sex married couple (524), L2 a civil partnership couple (519)."""

    SINGLE = "L0"
    MARRIED_DIFFERENT_SEX_COUPLE = "L11"
    MARRIED_SAME_SEX_COUPLE = "L12"
    CIVIL_PARTNERS = "L2"
    UNMARRIED_COUPLE = "L3"
    PARTNER_OF_PARENT = "L4"


class AdoptionDecisionReversalReason(StrEnum):
    """SSDA903 PlacedAdoption: why the decision that the child should be placed for adoption
    was reversed (REASON_PLACED_CEASED)."""

    CHILDS_NEEDS_CHANGED = "RD1"
    NO_PLACEMENT_ORDER = "RD2"
    NO_ADOPTERS_FOUND = "RD3"
    OTHER = "RD4"


class PreviousPermanence(StrEnum):
    """SSDA903 PrevPerm: the permanence order a child had before this period of care
    (PREV_PERM). With Z1 there is no order date nor local authority (validation rule 635)."""

    ADOPTION = "P1"
    SPECIAL_GUARDIANSHIP_ORDER = "P2"
    RESIDENCE_ORDER = "P3"
    CHILD_ARRANGEMENTS_ORDER = "P4"
    NONE_OR_NOT_KNOWN = "Z1"


class DeprivationOfLibertyBasis(StrEnum):
    """The authority for depriving a child in care of liberty."""

    SECURE_ACCOMMODATION_ORDER = "s25"
    INHERENT_JURISDICTION = "inherent_jurisdiction"
    COURT_OF_PROTECTION = "court_of_protection"

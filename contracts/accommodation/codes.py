"""SSDA903 code lists for placements and care leavers' accommodation."""

from __future__ import annotations

from enum import StrEnum


class PlacementType(StrEnum):
    """SSDA903 placement type (PLACE), each named with the DfE's meaning of the code."""

    FOSTER_RELATIVE_FRIEND_LONG_TERM = "U1"
    FOSTER_RELATIVE_FRIEND_FOSTERING_FOR_ADOPTION = "U2"
    FOSTER_RELATIVE_FRIEND_OTHER = "U3"
    FOSTER_OTHER_LONG_TERM = "U4"
    FOSTER_OTHER_FOSTERING_FOR_ADOPTION = "U5"
    FOSTER_OTHER = "U6"
    ADOPTION_CONSENT_WITH_CURRENT_FOSTER_CARER = "A3"
    ADOPTION_CONSENT_NOT_CURRENT_FOSTER_CARER = "A4"
    ADOPTION_PLACEMENT_ORDER_WITH_CURRENT_FOSTER_CARER = "A5"
    ADOPTION_PLACEMENT_ORDER_NOT_CURRENT_FOSTER_CARER = "A6"
    PLACED_WITH_PARENTS = "P1"
    INDEPENDENT_LIVING = "P2"
    RESIDENTIAL_EMPLOYMENT = "P3"
    SEMI_INDEPENDENT_UNREGISTERED = "H5"
    REGISTERED_SUPPORTED_ACCOMMODATION = "K3"
    SECURE_UNIT = "K1"
    CHILDRENS_HOME = "K2"
    RESIDENTIAL_CARE_HOME = "R1"
    NHS_HEALTH_PROVIDER = "R2"
    FAMILY_CENTRE_OR_MOTHER_AND_BABY_UNIT = "R3"
    YOUNG_OFFENDER_INSTITUTION_OR_PRISON = "R5"
    RESIDENTIAL_SCHOOL = "S1"
    TEMPORARY_OTHER_MOVE = "T0"
    TEMPORARY_PERIOD_IN_HOSPITAL = "T1"
    TEMPORARY_CHILD_ON_HOLIDAY = "T2"
    TEMPORARY_WHILE_FOSTER_CARER_ON_HOLIDAY = "T3"
    TEMPORARY_SEVEN_DAYS_OR_LESS = "T4"
    OTHER_PLACEMENT = "Z1"


# Not regulated by Ofsted as care settings: no child under 16 may be placed in them (2021).
UNREGULATED = {PlacementType.INDEPENDENT_LIVING, PlacementType.SEMI_INDEPENDENT_UNREGISTERED}


class Provider(StrEnum):
    OWN_PROVISION = "PR1"
    OTHER_LA = "PR2"
    OTHER_PUBLIC = "PR3"
    PRIVATE = "PR4"
    VOLUNTARY = "PR5"
    PARENT_OR_OTHER = "PR0"


class ReasonForChange(StrEnum):
    CARER_REQUEST = "CARPL"
    CLOSURE = "CLOSE"
    ALLEGATION = "ALLEG"
    STANDARDS = "STAND"
    APPROVAL_REMOVED = "APPRR"
    CHILD_REQUEST_BEST_INTERESTS = "CREQB"
    CHILD_REQUEST_OTHER = "CREQO"
    CHANGE_TO_CHILDS_NEEDS = "CHILD"
    LA_REQUEST = "LAREQ"
    PLACEMENT_PLANNED = "PLACE"
    CUSTODY = "CUSTOD"
    OTHER = "OTHER"


class CareLeaverAccommodation(StrEnum):
    """SSDA903 care leavers' accommodation type (the letter; suitability is separate), with
    the DfE's meaning of each letter (the guide's code set "Accommodation")."""

    WITH_PARENTS_OR_RELATIVES = "B"
    COMMUNITY_HOME = "C"
    SEMI_INDEPENDENT_TRANSITIONAL = "D"
    SUPPORTED_LODGINGS = "E"
    GONE_ABROAD = "G"
    DEPORTED = "H"
    ORDINARY_LODGINGS_WITHOUT_SUPPORT = "K"
    RESIDENCE_NOT_KNOWN = "R"
    NO_FIXED_ABODE_OR_HOMELESS = "S"
    FOYERS = "T"
    INDEPENDENT_LIVING = "U"
    EMERGENCY_ACCOMMODATION = "V"
    BED_AND_BREAKFAST = "W"
    IN_CUSTODY = "X"
    OTHER = "Y"
    # Staying put: not at 17 (SSDA903 rule 3001; DOMAIN.md), when no young person can be.
    WITH_FORMER_FOSTER_CARERS = "Z"


class Suitability(StrEnum):
    SUITABLE = "1"
    UNSUITABLE = "2"


class Breach(StrEnum):
    UNDER_16_IN_UNREGULATED_SETTING = "under_16_unregulated"
    CODE_Z_AT_17 = "code_z_at_17"
    UNREGISTERED_SUPPORTED_ACCOMMODATION_16_17 = "unregistered_supported_accommodation"


class HomelessnessOutcome(StrEnum):
    PREVENTED = "prevented"
    RELIEVED = "relieved"
    HOMELESS = "homeless"
    WITHDRAWN = "withdrawn"


class Tenure(StrEnum):
    SOCIAL = "social"
    PRIVATE = "private"
    SUPPORTED = "supported"
    OTHER = "other"

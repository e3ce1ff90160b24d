"""DfE code lists for attendance and for education, employment and training activity."""

from __future__ import annotations

from enum import StrEnum


class Session(StrEnum):
    MORNING = "AM"
    AFTERNOON = "PM"


class AttendanceCode(StrEnum):
    """DfE school attendance codes (England)."""

    PRESENT_AM = "/"
    PRESENT_PM = "\\"
    LATE_BEFORE_REGISTER_CLOSED = "L"
    EDUCATED_OFF_SITE = "B"
    DUAL_REGISTERED = "D"
    INTERVIEW = "J"
    ALTERNATIVE_PROVISION_ARRANGED_BY_LA = "K"
    SPORTING_ACTIVITY = "P"
    EDUCATIONAL_VISIT = "V"
    WORK_EXPERIENCE = "W"
    LEAVE_AUTHORISED = "C"
    EXCLUDED = "E"
    ILLNESS = "I"
    MEDICAL_APPOINTMENT = "M"
    RELIGIOUS_OBSERVANCE = "R"
    STUDY_LEAVE = "S"
    TRAVELLER_ABSENCE = "T"
    HOLIDAY_NOT_AUTHORISED = "G"
    NO_REASON_YET = "N"
    UNAUTHORISED_OTHER = "O"
    LATE_AFTER_REGISTER_CLOSED = "U"
    NOT_REQUIRED_NON_COMPULSORY_AGE = "X"
    UNABLE_TO_ATTEND_EXCEPTIONAL = "Y"
    PUPIL_NOT_ON_ROLL = "Z"
    SCHOOL_CLOSED = "#"


ATTENDED = {"/", "\\", "L", "B", "J", "K", "P", "V", "W"}
MISSED = {"C", "E", "I", "M", "R", "S", "T", "G", "N", "O", "U"}  # authorised and unauthorised
# D, X, Y, Z, # are not possible sessions: neither attended nor missed.


class Activity(StrEnum):
    """Education, employment or training activity of 16-25 year olds (SSDA903 ACTIV-style)."""

    HIGHER_EDUCATION_FULL_TIME = "F1"
    HIGHER_EDUCATION_PART_TIME = "P1"
    OTHER_EDUCATION_FULL_TIME = "F2"
    OTHER_EDUCATION_PART_TIME = "P2"
    APPRENTICESHIP_FULL_TIME = "F4"
    APPRENTICESHIP_PART_TIME = "P4"
    TRAINING_OR_EMPLOYMENT_FULL_TIME = "F5"
    TRAINING_OR_EMPLOYMENT_PART_TIME = "P5"
    NEET_ILLNESS_OR_DISABILITY = "G4"
    NEET_OTHER = "G5"
    NEET_PREGNANCY_OR_PARENTING = "G6"
    NOT_KNOWN = "0"


NEET = {
    Activity.NEET_ILLNESS_OR_DISABILITY,
    Activity.NEET_OTHER,
    Activity.NEET_PREGNANCY_OR_PARENTING,
}


class NEETPanelAction(StrEnum):
    CAREERS_REFERRAL = "careers_referral"
    TRAINING_OFFER = "training_offer"
    EMPLOYMENT_SUPPORT = "employment_support"
    HEALTH_SUPPORT = "health_support"
    NO_FURTHER_ACTION = "no_further_action"

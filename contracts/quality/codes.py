"""The scales and code lists of quality assurance: Ofsted's four-point grade, the strands a
practice evaluation grades, survey answers and respondents, the serious incident's decisions
and the statutory clocks of notification and rapid review (Working Together to Safeguard
Children 2023, chapter 5)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from shared.calendar import add_working_days


class Grade(StrEnum):
    """Ofsted's four-point scale, best first."""

    OUTSTANDING = "outstanding"
    GOOD = "good"
    REQUIRES_IMPROVEMENT = "requires_improvement"
    INADEQUATE = "inadequate"


GRADE_ORDER = list(Grade)
GOOD_OR_BETTER = frozenset({Grade.OUTSTANDING, Grade.GOOD})


class Strand(StrEnum):
    """What a practice evaluation grades besides the overall grade."""

    VOICE_OF_THE_CHILD = "voice_of_the_child"
    ASSESSMENT = "assessment"
    RISK = "risk"
    PLANNING = "planning"
    MANAGEMENT_OVERSIGHT = "management_oversight"
    RECORDING = "recording"
    OUTCOMES = "outcomes"


class EvaluatedPlan(StrEnum):
    """The child's plan at the time of the evaluation (the seed's CIN, CPP, CiC and CLs)."""

    CHILD_IN_NEED = "CIN"
    CHILD_PROTECTION = "CP"
    CHILD_IN_CARE = "CLA"
    CARE_LEAVER = "CL"


class AuditAgency(StrEnum):
    """The agencies that take part in the partnership's audits (the partner agencies and the
    council's own children's social care)."""

    SOCIAL_CARE = "social_care"
    POLICE = "police"
    HEALTH = "health"
    SCHOOLS = "schools"
    HOUSING = "housing"
    CAREERS = "careers"
    PROBATION = "probation"


class Respondent(StrEnum):
    PARENT = "parent"
    CARER = "carer"
    CHILD = "child"
    YOUNG_PERSON = "young_person"


class Answer(StrEnum):
    YES = "yes"
    PARTLY = "partly"
    NO = "no"
    NOT_ANSWERED = "not_answered"


class ServiceArea(StrEnum):
    """The service a piece of feedback or an evaluation is about."""

    EARLY_HELP = "early_help"
    CHILD_IN_NEED = "CIN"
    CHILD_PROTECTION = "CP"
    CHILD_IN_CARE = "CLA"
    CARE_LEAVER = "CL"
    DISABLED_CHILDREN = "disabled_children"


class ReviewDecision(StrEnum):
    """The rapid review's decision on a serious incident."""

    LOCAL_REVIEW = "local_review"  # a local Child Safeguarding Practice Review
    NATIONAL_REVIEW = "national_review"  # recommended to the national panel
    NO_REVIEW = "no_review"


class ActionOf(StrEnum):
    """Which record an action belongs to: every record's actions are tracked the same way."""

    PRACTICE_EVALUATION = "practice_evaluation"
    PARTNERSHIP_AUDIT = "partnership_audit"
    SERIOUS_INCIDENT = "serious_incident"
    IMPROVEMENT_PLAN = "improvement_plan"


class Direction(StrEnum):
    """Which way a measure should move."""

    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


# The statutory clocks, in working days: the national panel is notified within five working
# days of the council becoming aware of a serious incident; the rapid review is completed
# within fifteen working days of that notification (the national panel's guidance).
NOTIFICATION_WORKING_DAYS = 5
RAPID_REVIEW_WORKING_DAYS = 15


def notification_due(aware_on: date) -> date:
    """The last day to notify the national panel of a serious incident the council became
    aware of on `aware_on`: the service's record and the assurance board's figures alike."""
    return add_working_days(aware_on, NOTIFICATION_WORKING_DAYS)


def rapid_review_due(notified_on: date) -> date:
    """The last day to complete the rapid review of an incident notified on `notified_on`."""
    return add_working_days(notified_on, RAPID_REVIEW_WORKING_DAYS)


class PackView(StrEnum):
    """Whose figures a board pack shows: the partnership's (small numbers suppressed, for a
    board with partner agencies at the table) or the council's own (every number)."""

    PARTNERSHIP = "partnership"
    COUNCIL = "council"

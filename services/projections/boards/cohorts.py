"""Groups of children the boards count and cut by, from a child's record as at a day. No I/O.

The vulnerability cuts are the groups the seed's Incident Management Teams oversee (0-8s,
adolescents at risk outside the home, disabled children), the infants the partnership's
priorities name (under-1s), and the factors its dip sampling focuses on (domestic abuse,
mental health, substance misuse), as the latest completed assessment identified them.
"""

from __future__ import annotations

from datetime import date

from contracts.case_events.codes import EXPLOITATION_FACTORS, AssessmentFactor
from services.projections.boards.model import Child

A = AssessmentFactor
EXPLOITATION = frozenset(f.value for f in EXPLOITATION_FACTORS)
DOMESTIC_ABUSE = frozenset(
    f.value for f in (A.DOMESTIC_ABUSE_CHILD, A.DOMESTIC_ABUSE_PARENT, A.DOMESTIC_ABUSE_OTHER)
)
MENTAL_HEALTH = frozenset(
    f.value for f in (A.MENTAL_HEALTH_CHILD, A.MENTAL_HEALTH_PARENT, A.MENTAL_HEALTH_OTHER)
)
SUBSTANCE_MISUSE = frozenset(
    f.value
    for f in (
        A.ALCOHOL_MISUSE_CHILD,
        A.ALCOHOL_MISUSE_PARENT,
        A.ALCOHOL_MISUSE_OTHER,
        A.DRUG_MISUSE_CHILD,
        A.DRUG_MISUSE_PARENT,
        A.DRUG_MISUSE_OTHER,
    )
)
ADOLESCENT = (10, 17)  # ages, inclusive

# (key, label): the cuts, in the order the boards show them.
COHORTS: tuple[tuple[str, str], ...] = (
    ("under_1", "Under 1"),
    ("age_0_8", "Aged 0 to 8"),
    ("exploitation", "Adolescents (10 to 17) at risk of exploitation"),
    ("disabled", "Disabled children"),
    ("domestic_abuse", "Domestic abuse identified at assessment"),
    ("mental_health", "Mental health identified at assessment"),
    ("substance_misuse", "Alcohol or drug misuse identified at assessment"),
)
BY_FACTORS = {
    "exploitation": EXPLOITATION,
    "domestic_abuse": DOMESTIC_ABUSE,
    "mental_health": MENTAL_HEALTH,
    "substance_misuse": SUBSTANCE_MISUSE,
}


def factors_of(c: Child) -> set[str]:
    """The factors the child's latest completed assessment identified."""
    return set((c.get("factors") or "").split(",")) - {""}


def born(c: Child) -> bool:
    return not c.get("unborn")


def in_cohort(c: Child, cohort: str, as_at: date) -> bool:
    """Whether the child is in the cut on the day (ages on the day; an unborn child is in
    none of the age cuts)."""
    age = c.age_on(as_at)
    match cohort:
        case "under_1":
            return born(c) and 0 <= age < 1
        case "age_0_8":
            return born(c) and 0 <= age <= 8
        case "exploitation":
            low, high = ADOLESCENT
            return low <= age <= high and bool(factors_of(c) & EXPLOITATION)
        case "disabled":
            return bool(c.get("disabilities"))
    return bool(factors_of(c) & BY_FACTORS[cohort])


def in_need(c: Child) -> bool:
    """A child in need: on a CIN plan, on a CP plan, or in care (the attendance board's
    `cin_all`)."""
    return bool(c.get("cin_plan") or c.get("cp_plan") or c.get("in_care"))

"""Ofsted's Annex A: the lists of children an ILACS inspection asks for, derived from the facts.

When Ofsted announces an inspection of children's services, the council sends "Annex A": one
list per part of the child's journey (contacts, early help, referrals, assessments, section 47
enquiries, children in need, child protection, children in care, care leavers, adoption,
adopters), each a sheet of a workbook whose sheet names and headings are Ofsted's own, so that
inspectors can pick children to look at. Each list covers its own period, as Ofsted's guidance
sets it and the headings show:

- Lists 1, 3, 4, 5: contacts, referrals, assessments and section 47 enquiries in the six months
  before the day (an assessment or enquiry still open counts, as does one that closed in them);
- Lists 6, 7, 8: children in need, on a child protection plan or in care at the day, or whose
  services, plan or care ended in the six months before it (one row per plan or period of care;
  one row per child on List 6); children on short breaks only (V3/V4) are not on List 8;
- List 9: care leavers entitled to leaving care services at the day (not yet 25);
- List 10: children who in the twelve months before the day were adopted, had a decision that
  they should be placed for adoption still standing, or had that decision reversed.

"Six months before" runs from the same day six months earlier (`add_months`) to the day itself,
inclusive. Code values are written as Ofsted's data map has them ("a) Male", "C2: FCO"); a
national code the data map has no entry for (the CIN census's referral source 5D, closure reason
RC9, the SSDA903 activities F4/P4/F5/P5, placement K3) is written as the bare code, never given a
made-up letter. Children are named by the council's id (`Child Unique ID`): Annex A asks for no
UPN, so the sealed UPNs the caller passes are not written anywhere.

Headings the events do not hold, left blank (never invented):

- List 2 (early help) has no rows: no event records an early help assessment (its start,
  completion and the organisation completing it); a triage discussion is not one.
- List 11 (adopters) has no rows: the events are about children, none records an adopter (their
  id, enquiry, stages, approval).
- List 10 "Family identifier"; List 8 "Date of Last IRO Visit / Contact to the Child", "Date of
  Last Dental Check" (health outcomes say only whether there was one in the year), "URN of
  Placement", "LA of Placement".
- "Allocated Team" and "Allocated Worker" are the team's and the worker's ids: the events hold
  no worker's name. On List 9 the worker is the personal adviser.
- List 4 "Child Seen During Continuous Assessment" is "a) Yes" when a statutory visit that saw
  the child falls in the assessment, blank otherwise (an assessment does not record the visits
  it made); "Was the child assessed as requiring LA children's social care support?" is read
  from what followed the assessment (a plan or care open on, or started after, its completion).
- List 3 "Referral NFA?" is the referral's recorded outcome, or "b) No" when an assessment or a
  strategy discussion followed it; blank while neither is known.
- List 8 "Child's Category of Need" is the primary need of the child's latest child in need plan
  (a period of care records none); "Date of Last Health Assessment" is blank without a recorded
  health assessment; "Placement postcode" is the postcode district, all the events keep.
- List 7 "Latest Category of Abuse" is the plan's category (no event changes it).

A date of birth is taken from the child's registration (or birth) whatever day the registration
was recorded: the platform may learn of a child after their first contact (a migrated record),
and the day they were born does not move. Everything else counts only if it happened by the day.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from openpyxl import Workbook

from services.projections.returns.facts import (
    ChildRecord,
    Fact,
    Row,
    age_on,
    dfe_date,
    events_of,
    sorted_rows,
)
from shared.calendar import add_months

# -- Ofsted's lists --------------------------------------------------------------------------

CHILD = "Child Unique ID"  # the column naming the child (the council's id), on Lists 1-10
_CHILD_COLUMNS = (CHILD, "Gender", "Ethnicity", "Date of Birth", "Age")
_DISABLED = "Does the Child have a Disability"
_ALLOCATED = ("Allocated Team", "Allocated Worker")
_EPO = (
    "Subject to Emergency Protection Order or Protected Under Police Powers in Last Six Months "
    "(Y/N)"
)
_UASC = "Unaccompanied Asylum Seeking Child (UASC) within the Last 12 Months (Y/N))"
_RETURN_PERIOD = (
    "Is this a second or subsequent period of being a Looked After Child within the last 12 "
    "months (Y/N)"
)
# Ofsted's headings quote 'Missing' and 'Absent' with typographic quotation marks (U+2018/9).
_MISSING = (
    "Number of Episodes the Child has been \u2018Missing\u2019 from their Placement in the last "
    "12 months"
)
_ABSENT = (
    "Number of Episodes the Child has been \u2018Absent\u2019 from their Placement in the last "
    "12 months"
)
_OFFERED = "Was the child offered a Return Interview after their last missing episode (Y/N)?"
_ACCEPTED = "Did the child accept a Return Interview after their last missing episode (Y/N)?"
_FFA = "Date the child was placed for fostering in FFA or concurrent planning placement"

# Sheet titles and headings (row 1), in Ofsted's order, exactly as Social Finance's liiatools
# ships Ofsted's Annex A template (liiatools/spec/annex_a/samples/Annex_A.xlsx; the value codes
# below are its data map, spec/annex_a/data-map.yml). The sample's own spelling is kept, even
# "(Y/N))" on List 8 and the trailing space of "Date of Adoption Order ": a council's Annex A
# is read back by tools that match these headings.
LISTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "contacts": ("List 1", (*_CHILD_COLUMNS, "Date of Contact", "Contact Source")),
    "early_help": (
        "List 2",
        (
            *_CHILD_COLUMNS,
            "Assessment start date",
            "Assessment completion date",
            "Organisation completing assessment",
        ),
    ),
    "referrals": (
        "List 3",
        (
            *_CHILD_COLUMNS,
            "Date of Referral",
            "Referral Source",
            "Referral NFA?",
            "Number of Referrals in Last 12 Months",
            *_ALLOCATED,
        ),
    ),
    "assessments": (
        "List 4",
        (
            *_CHILD_COLUMNS,
            _DISABLED,
            "Continuous Assessment Start Date",
            "Child Seen During Continuous Assessment",
            "Continuous Assessment Date of Authorisation",
            "Was the child assessed as requiring LA children's social care support?",
            *_ALLOCATED,
        ),
    ),
    "section_47": (
        "List 5",
        (
            *_CHILD_COLUMNS,
            _DISABLED,
            "Strategy discussion initiating Section 47 Enquiry Start Date",
            "Was an Initial Child Protection Conference deemed unnecessary?",
            "Date of Initial Child Protection Conference",
            "Did the Initial Child Protection Conference Result in a Child Protection Plan",
            "Number of Section 47 Enquiries in the last 12 months",
            "Number of ICPCs in the last 12 months",
            *_ALLOCATED,
        ),
    ),
    "children_in_need": (
        "List 6",
        (
            *_CHILD_COLUMNS,
            _DISABLED,
            "CIN Start Date",
            "Primary Need Code",
            "Date Child Was Last Seen",
            "CIN Closure Date",
            "Reason for Closure",
            "Case Status",
            *_ALLOCATED,
        ),
    ),
    "child_protection": (
        "List 7",
        (
            *_CHILD_COLUMNS,
            _DISABLED,
            "Child Protection Plan Start Date",
            "Initial Category of Abuse",
            "Latest Category of Abuse",
            "Date of the Last Statutory Visit",
            "Was the Child Seen Alone?",
            "Date of latest review conference",
            "Child Protection Plan End Date",
            _EPO,
            "Number of Previous Child Protection Plans",
            *_ALLOCATED,
        ),
    ),
    "children_in_care": (
        "List 8",
        (
            *_CHILD_COLUMNS,
            _UASC,
            _DISABLED,
            "Date Started to be Looked After",
            "Child's Category of Need",
            _RETURN_PERIOD,
            "Start date of current legal status",
            "Child's Legal Status",
            "Date of Latest Statutory Review",
            "Date of Last Social Work Visit",
            "What is the permanence plan for this child?",
            "Date of Last IRO Visit / Contact to the Child",
            "Date of Last Health Assessment",
            "Date of Last Dental Check",
            "Number of Placements in the Last 12 months",
            "Date Ceased to be Looked After",
            "Reason Ceased to be Looked After",
            "Start Date of Most Recent Placement",
            "Placement Type",
            "Placement Provider",
            "Placement postcode",
            "URN of Placement",
            "Placement Location",
            "LA of Placement",
            _MISSING,
            _ABSENT,
            _OFFERED,
            _ACCEPTED,
            *_ALLOCATED,
        ),
    ),
    "care_leavers": (
        "List 9",
        (
            *_CHILD_COLUMNS,
            _DISABLED,
            *_ALLOCATED,
            "Eligibility Category",
            "LA in Touch",
            "Type of Accommodation",
            "Suitability of Accommodation",
            "Activity Status",
        ),
    ),
    "adoption": (
        "List 10",
        (
            "Child Unique ID",
            "Family identifier",
            "Gender",
            "Ethnicity",
            "Date of Birth",
            "Age of Child (Years)",
            _DISABLED,
            "Date the Child Entered Care",
            "Date of Decision that Child Should be Placed for Adoption",
            "Date of Placement Order",
            "Date of Matching Child and Prospective Adopters",
            "Date Placed for Adoption",
            "Date of Adoption Order ",
            "Date of Decision that Child Should No Longer be Placed for Adoption",
            "Reason Why Child No Longer Placed for Adoption",
            _FFA,
        ),
    ),
    "adopters": (
        "List 11",
        (
            "Individual adopter identifier",
            "Family identifier",
            "Gender",
            "Ethnicity",
            "Disability",
            "Is the (prospective) adopter fostering for adoption?",
            "Date enquiry received",
            "Date Stage 1 started",
            "Date Stage 1 ended",
            "Date Stage 2 started",
            "Date Stage 2 ended",
            "Date application submitted",
            "Date application approved",
            "Date adopter matched with child(ren)",
            "Date child/children placed with adopter(s)",
            "No. of children placed",
            "Date of Adoption Order",
            "Date of leaving adoption process",
            "Reason for leaving adoption process",
        ),
    ),
}

# Headings whose values are whole numbers (written to the workbook as numbers).
_NUMBERS = frozenset(
    {
        "Age",
        "Age of Child (Years)",
        "Number of Referrals in Last 12 Months",
        "Number of Section 47 Enquiries in the last 12 months",
        "Number of ICPCs in the last 12 months",
        "Number of Previous Child Protection Plans",
        "Number of Placements in the Last 12 months",
        _MISSING,
        _ABSENT,
        "No. of children placed",
    }
)

# -- Ofsted's codes (liiatools' data map), keyed by the national codes the events hold ----------

_YES, _NO = "a) Yes", "b) No"

_GENDER = {"1": "a) Male", "2": "b) Female", "0": "c) Not stated/recorded", "9": "d) Neither"}

_ETHNICITY = {
    code: f"{letter}) {code}"
    for letter, code in zip(
        "abcdefghijklmnopqrs",
        (
            *("WBRI", "WIRI", "WIRT", "WOTH", "WROM"),
            *("MWBC", "MWBA", "MWAS", "MOTH"),
            *("AIND", "APKN", "ABAN", "AOTH"),
            *("BCRB", "BAFR", "BOTH"),
            *("CHNE", "OOTH", "REFU"),
        ),
        strict=True,
    )
} | {"NOBT": "s) NOBT"}  # the data map gives both REFU and NOBT the letter s

_SOURCE = {
    "1A": "a) 1A: Individual",
    "1B": "b) 1B: Individual",
    "1C": "c) 1C: Individual",
    "1D": "d) 1D: Individual",
    "2A": "e) 2A: Schools",
    "2B": "f) 2B: Education services",
    "3A": "g) 3A: Health services",
    "3B": "h) 3B: Health services",
    "3C": "i) 3C: Health services",
    "3D": "j) 3D: Health services",
    "3E": "k) 3E: Health services",
    "3F": "l) 3F: Health services",
    "4": "m) 4: Housing",
    "5A": "n) 5A: LA services",
    "5B": "o) 5B: LA services",
    "5C": "p) 5C: LA services",
    "6": "q) 6: Police",
    "7": "r) 7: Other legal agency",
    "8": "s) 8: Other",
    "9": "t) 9: Anonymous",
    "10": "u) 10: Unknown",
}

_NEED = {
    "N1": "N1 - Abuse or neglect",
    "N2": "N2 - Child's disability",
    "N3": "N3 - Parental disability or illness",
    "N4": "N4 - Family in acute stress",
    "N5": "N5 - Family dysfunction",
    "N6": "N6 - Socially unacceptable behaviour",
    "N7": "N7 - Low income",
    "N8": "N8 - Absent parenting",
    "N9": "N9 - Cases other than children in need",
    "N0": "N0 - Not stated",
}

_CLOSURE = {
    "RC1": "RC1 - Adopted",
    "RC2": "RC2 - Died",
    "RC3": "RC3 - Child arrangements order",
    "RC4": "RC4 - Special guardianship order",
    "RC5": "RC5 - Transferred to services of another local authority",
    "RC6": "RC6 - Transferred to adult social care services",
    "RC7": "RC7 - Services ceased for any other reason, including child no longer in need",
    "RC8": "RC8 - Case closed after assessment, no further action",
}

_ABUSE = {
    "NEG": "a) Neglect",
    "PHY": "b) Physical abuse",
    "SAB": "c) Sexual abuse",
    "EMO": "d) Emotional abuse",
    "MUL": "e) Multiple/not recommended",
}

_LEGAL_STATUS = {
    "E1": "E1: Placement order",
    "C1": "C1: ICO",
    "C2": "C2: FCO",
    "D1": "D1: Freeing order",
    "V2": "V2: Single period under S20",
    "L1": "L1: Police protection LA accommodation",
    "L2": "L2: EPO",
    "L3": "L3: Child assessment order LA accommodation",
    "J1": "J1: Remanded to LA or youth detention",
    "J2": "J2: LA accommodation under PACE",
    "J3": "J3: Youth rehabilitation order",
    "V3": "V3: Short term breaks, episodes recorded",
    "V4": "V4: Short term breaks, agreements recorded",
}
_SHORT_BREAKS = frozenset({"V3", "V4"})
_EMERGENCY_PROTECTION = frozenset({"L1", "L2"})

_PERMANENCE = {
    "return_to_family": "a) Return to family",
    "adoption": "b) Adoption",
    "sgo_or_cao": "c) SGO/CAO",
    "supported_living": "d) Supported living in the community",
    "long_term_residential": "e) Long-term residential placement",
    "long_term_fostering": "f) Long-term fostering",
    "other": "g) other",
}

_CEASED = {
    "E11": "a) E11: Adopted - application unopposed",
    "E12": "b) E12: Adopted - consent dispensed",
    "E2": "c) E2: Died",
    "E3": "d) E3: Care taken by another LA",
    "E4A": "e) E4A: Returned home to live with parents or relatives - part of planning",
    "E4B": "f) E4B: Returned home to live with parents or relatives - not part of planning",
    "E13": "g) E13: Parents, relatives or other with no parental responsibility",
    "E41": "h) E41: Residence order granted",
    "E45": "i) E45: Special Guardianship Orders - former carer relative/friend",
    "E46": "j) E46: Special Guardianship Orders - former carer other",
    "E47": "k) E47: Special Guardianship Orders - relative/friend",
    "E48": "l) E48: Special Guardianship Orders - other",
    "E5": "m) E5: Moved into independent living - supported",
    "E6": "n) E6: Moved into independent living - no support",
    "E7": "o) E7: Transferred to residential care funded by adult social services",
    "E9": "p) E9: Sentenced to custody",
    "E14": "q) E14: Accommodation on remand ended",
    "E15": "r) E15: Age assessment determined child was 18 or over",
    "E16": "s) E16: Child moved abroad",
    "E8": "t) E8: Care ceased for any other reason",
    "X1": "u) X1: CodeError",
    "E17": "v) E17: Aged 18+ and remained with current carers",
}
_ADOPTED = frozenset({"E11", "E12"})

_PLACEMENT_TYPE = {
    "U1": "a) U1: Foster placement - relatives - long term",
    "U2": "b) U2: Foster placement - relative - FFA",
    "U3": "c) U3: Foster placement - relative - not FFA",
    "U4": "d) U4: Foster placement - long term",
    "U5": "e) U5: Foster placement - FFA",
    "U6": "f) U6: Foster placement - not FFA",
    "A3": "g) A3: Placed for adoption - consent - current foster",
    "A4": "h) A4: Placed for adoption - consent - not foster",
    "A5": "i) A5: Placed for adoption - order - foster",
    "A6": "j) A6: Placed for adoption - order - not foster",
    "P1": "k) P1: Placed with parents",
    "P2": "l) P2: Independent living",
    "P3": "m) P3: Residential employment",
    "H5": "n) H5: Residential accommodation",
    "K1": "o) K1: Secure Children's Homes",
    "K2": "p) K2: Children's Homes",
    "R1": "q) R1: Residential Care Home",
    "R2": "r) R2: NHS/Health Trust",
    "R3": "s) R3: Family Centre or Mother and Baby Unit",
    "R5": "t) R5: Young Offender Institution",
    "S1": "u) S1: Residential school",
    "Z1": "v) Z1: Other placements",
    "T0": "w) T0: Temporary placement",
    "T1": "x) T1: Temporary placement - hospital",
    "T2": "y) T2: Temporary placement - holiday",
    "T3": "z) T3: Temporary placement - carer holiday",
    "T4": "zz) T4: Temporary placement - seven days or less",
}
_PLACED_FOR_ADOPTION = frozenset({"A3", "A4", "A5", "A6"})
_FOSTERING_FOR_ADOPTION = frozenset({"U2", "U5"})

_PROVIDER = {
    "PR0": "a) PR0: Parents/Parental responsibility",
    "PR1": "b) PR1: Own provision",
    "PR2": "c) PR2: Other LA provision",
    "PR3": "d) PR3: Other public provision",
    "PR4": "e) PR4: Private provision",
    "PR5": "f) PR5: Voluntary/third sector",
}

_ELIGIBILITY = {
    "relevant": "a) Relevant child",
    "former_relevant": "b) Former relevant child",
    "qualifying": "c) Qualifying care leaver",
    "eligible": "Eligible child",  # Ofsted's guidance counts them; the data map has no code
}

_IN_TOUCH = {
    "YES": "a) Yes",
    "NO": "b) No",
    "DIED": "c) Died",
    "REFU": "d) Refu",
    "NREQ": "e) NREQ",
    "RHOM": "f) Rhom",
}

# SSDA903's care leaver accommodation codes (the letter), as the data map words them.
_ACCOMMODATION = {
    "B": "B: Parents/relatives",
    "C": "C: Community home/residential care",
    "D": "D: Semi-independent, transitional accommodation and self-contained accommodation",
    "E": "E: Supported lodgings",
    "G": "G: Abroad",
    "H": "H: Deported",
    "K": "K: Ordinary lodgings, without formal support",
    "R": "R: Residence not known",
    "S": "S: No fixed adobe/homeless",
    "T": "T: Foyers and similar supported accommodation",
    "U": "U: Independent living",
    "V": "V: Emergency accommodation",
    "W": "W: Bed and breakfast",
    "X": "X: In custody",
    "Y": "Y: Other accommodation",
    "Z": "Z: With former foster carers",
}

_SUITABILITY = {"1": "a) Suitable", "2": "b) Unsuitable"}

_ACTIVITY = {
    "F1": "F1: Full time in higher education",
    "P1": "P1: Part time in higher education",
    "F2": "F2: Full time in education other than higher",
    "P2": "P2: Part time in education other than higher",
    "F3": "F3: Full time in training or employment",
    "P3": "P3: Part time in training or employment",
    "G4": "G4: Not in education, employment or training - illness or disability",
    "G5": "G5: Not in education, employment or training - other",
    "G6": "G6: Not in education, employment or training - pregnancy or parenting",
}

_REVERSAL = {
    "RD1": "RD1 - The child\u2019s needs changed subsequent to the decision",  # as the map has it
    "RD2": "RD2 - The Court did not make a placement order",
    "RD3": "RD3 - Prospective adopters could not be found",
    "RD4": "RD4 - Any other reason",
}

_CASE_STATUS = (  # the data map's order is the precedence: the most a child receives
    ("care", "a) Looked after child"),
    ("child_protection", "b) Child Protection plan"),
    ("child_in_need", "c) Child in need plan"),
    ("assessment", "d) Open assessment"),
)
_CLOSED_EPISODE = "e) Closed episode"


def _coded(codes: Mapping[str, str], code: Any) -> str:
    """Ofsted's wording of a national code; a code the data map lacks is written bare."""
    if code is None or code == "":
        return ""
    return codes.get(str(code), str(code))


def _yes_no(value: Any) -> str:
    return "" if value is None else (_YES if value else _NO)


def _number(value: Any) -> str:
    return "" if value is None else str(int(value))


# -- a child's facts as at the day ------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    """Something with a start and (once it closes) an end: a plan, an assessment, a period of
    care, a placement. `opened`/`closed` are the facts that say so."""

    kind: str
    opened: Fact
    start: date
    closed: Fact | None = None
    end: date | None = None

    def overlaps(self, since: date, until: date) -> bool:
        return self.start <= until and (self.end is None or self.end >= since)

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or self.end >= day)


@dataclass(frozen=True)
class _Child:
    """A child's facts that had happened by `as_at`, and the day's two look-back periods."""

    record: ChildRecord
    as_at: date
    facts: tuple[Fact, ...]

    @classmethod
    def of(cls, record: ChildRecord, as_at: date) -> _Child:
        return cls(record, as_at, tuple(f for f in record.facts if f.occurred_on <= as_at))

    @property
    def since(self) -> date:
        """The first day of "the six months before" the day."""
        return add_months(self.as_at, -6)

    @property
    def year_ago(self) -> date:
        """The first day of "the twelve months before" the day."""
        return add_months(self.as_at, -12)

    def in_period(self, day: date | None) -> bool:
        return day is not None and self.since <= day <= self.as_at

    def of_type(self, *event_types: str) -> list[Fact]:
        return [f for f in self.facts if f.event_type in event_types]

    def last(self, *event_types: str) -> Fact | None:
        found = self.of_type(*event_types)
        return found[-1] if found else None

    @property
    def born(self) -> Fact | None:
        """The fact giving the date of birth (see the module's docstring on why registration
        counts whenever it was recorded), if the child was born by the day."""
        for f in reversed(self.record.of("ChildBorn", "ChildRegistered")):
            born = f.day("date_of_birth")
            if born is not None and born <= self.as_at:
                return f
        return None

    def row(self, name: str, values: Mapping[str, str], facts: Iterable[Fact | None]) -> Row:
        """A row of list `name`: the child's own columns, then the list's; a heading neither
        gives is blank. Provenance: the list's facts, then the child's own."""
        born, about = self.born, self.last("ChildCharacteristicsRecorded")
        own = _child_columns(self.record.child_id, born, about, self.as_at)
        merged = {**own, **values}
        headings = LISTS[name][1]
        return Row(
            values={h: merged.get(h, "") for h in headings},
            events=events_of([*facts, born, about]),
        )


def _child_columns(
    child_id: str, born: Fact | None, about: Fact | None, as_at: date
) -> dict[str, str]:
    dob = born.day("date_of_birth") if born is not None else None
    age = str(age_on(dob, as_at)) if dob is not None else ""
    details = about.details if about is not None else {}
    return {
        CHILD: child_id,
        "Gender": _coded(_GENDER, details.get("sex")),
        "Ethnicity": _coded(_ETHNICITY, details.get("ethnicity")),
        "Date of Birth": dfe_date(dob),
        "Age": age,
        "Age of Child (Years)": age,
        _DISABLED: _disabled(details.get("disabilities")),
    }


def _disabled(codes: Any) -> str:
    if not codes:
        return ""
    return _YES if any(c != "NONE" for c in codes) else _NO


def _allocated(child: _Child) -> tuple[dict[str, str], Fact | None]:
    """The social worker allocated at the day, or else the last one (a closed case's)."""
    latest = current = None
    for f in child.of_type("SocialWorkerAllocated", "SocialWorkerAllocationEnded"):
        if f.event_type == "SocialWorkerAllocated":
            latest = current = f
        elif current is not None and current.get("worker_id") == f.get("worker_id"):
            current = None
    chosen = current or latest
    if chosen is None:
        return {}, None
    return {
        "Allocated Team": str(chosen.get("team_id", "")),
        "Allocated Worker": str(chosen.get("worker_id", "")),
    }, chosen


def _spans(
    child: _Child, kind: str, start: tuple[str, str], end: tuple[str, str], key: str
) -> list[_Span]:
    """Spans whose start and end events name the same id (`key`): plans, assessments. A start
    whose id the facts lack (the chronology keeps only constrained fields) is closed by the
    first end after it that no other start claimed: a child has one such plan open at a time."""
    ends = child.of_type(end[0])
    by_id = {f.get(key): f for f in ends if f.get(key) is not None}
    claimed = {f.get(key) for f in child.of_type(start[0])}
    unnamed = [f for f in ends if f.get(key) not in claimed or f.get(key) is None]
    found = []
    for f in child.of_type(start[0]):
        day = f.day(start[1])
        if day is None:
            continue
        if f.get(key) is not None:
            closed = by_id.get(f.get(key))
        else:
            closed = next((e for e in unnamed if e.occurred_on >= f.occurred_on), None)
            if closed is not None:
                unnamed.remove(closed)
        found.append(_Span(kind, f, day, closed, closed.day(end[1]) if closed else None))
    return found


def _assessments(child: _Child) -> list[_Span]:
    return _spans(
        child,
        "assessment",
        ("AssessmentStarted", "start_date"),
        ("AssessmentCompleted", "completion_date"),
        "assessment_id",
    )


def _cin_plans(child: _Child) -> list[_Span]:
    return _spans(
        child,
        "child_in_need",
        ("ChildInNeedPlanStarted", "start_date"),
        ("ChildInNeedPlanEnded", "end_date"),
        "plan_id",
    )


def _cp_plans(child: _Child) -> list[_Span]:
    return _spans(
        child,
        "child_protection",
        ("ChildProtectionPlanStarted", "start_date"),
        ("ChildProtectionPlanEnded", "end_date"),
        "plan_id",
    )


def _periods_of_care(child: _Child) -> list[_Span]:
    """Periods of care: each start closed by the next end (a child has one open at a time)."""
    found: list[_Span] = []
    for f in child.of_type("PeriodOfCareStarted", "PeriodOfCareEnded"):
        started = f.day("start_date")
        if f.event_type == "PeriodOfCareStarted" and started is not None:
            found.append(_Span("care", f, started))
        elif f.event_type == "PeriodOfCareEnded" and found and found[-1].closed is None:
            found[-1] = replace(found[-1], closed=f, end=f.day("end_date"))
    return found


def _placements(child: _Child, period: _Span) -> list[_Span]:
    """The placements of a period of care, each ended by the next, its own end or the period's."""
    starts = [
        (f, d)
        for f in child.of_type("PlacementStarted", "PlacementChanged")
        if (d := f.day("start_date")) is not None and period.covers(d)
    ]
    ended = {f.get("placement_id"): f for f in child.of_type("PlacementEnded")}
    found = []
    for i, (f, start) in enumerate(starts):
        closed = ended.get(f.get("placement_id"))
        end = closed.day("end_date") if closed is not None else None
        if i + 1 < len(starts):
            end = starts[i + 1][1]
        found.append(_Span("placement", f, start, closed, end or period.end))
    return found


def _latest(facts: Iterable[Fact], field: str, within: _Span | None = None) -> Fact | None:
    """The fact with the latest date in `field` (inside the span, if given)."""
    best: tuple[date, Fact] | None = None
    for f in facts:
        day = f.day(field)
        if day is None or (within is not None and not within.covers(day)):
            continue
        if best is None or day >= best[0]:
            best = (day, f)
    return best[1] if best is not None else None


def _count_before(facts: Iterable[Fact], field: str, day: date, exclude: Fact) -> int:
    """How many of these facts fall in the twelve months up to `day` (not counting `exclude`,
    nor any after it on the day)."""
    start, count = add_months(day, -12), 0
    for f in facts:
        if f is exclude:
            break
        d = f.day(field)
        count += d is not None and start <= d <= day
    return count


# -- List 1: contacts -------------------------------------------------------------------------


def _list_contacts(child: _Child) -> list[Row]:
    rows = []
    for f in child.of_type("FrontDoorContactReceived"):
        day = f.day("contact_date")
        if child.in_period(day):
            values = {
                "Date of Contact": dfe_date(day),
                "Contact Source": _coded(_SOURCE, f.get("source")),
            }
            rows.append(child.row("contacts", values, [f]))
    return rows


# -- List 3: referrals ------------------------------------------------------------------------


def _referral_nfa(child: _Child, referral: Fact, until: date | None) -> tuple[str, Fact | None]:
    """Whether the referral was closed with no further action: its recorded outcome, else "no"
    when an assessment or a strategy discussion followed it (before the next referral)."""
    for f in child.of_type("ReferralOutcomeRecorded"):
        if f.get("referral_id") == referral.get("referral_id"):
            return (_YES if f.get("outcome") == "nfa" else _NO), f
    for f in child.of_type("AssessmentStarted", "StrategyDiscussionHeld"):
        if f.occurred_on >= referral.occurred_on and (until is None or f.occurred_on < until):
            return _NO, f
    return "", None


def _list_referrals(child: _Child) -> list[Row]:
    referrals = child.of_type("ReferralReceived")
    allocated, worker = _allocated(child)
    rows = []
    for i, f in enumerate(referrals):
        day = f.day("referral_date")
        if day is None or not child.in_period(day):
            continue
        following = referrals[i + 1].day("referral_date") if i + 1 < len(referrals) else None
        nfa, outcome = _referral_nfa(child, f, following)
        values = {
            "Date of Referral": dfe_date(day),
            "Referral Source": _coded(_SOURCE, f.get("source")),
            "Referral NFA?": nfa,
            "Number of Referrals in Last 12 Months": str(
                _count_before(referrals, "referral_date", day, f)
            ),
            **allocated,
        }
        rows.append(child.row("referrals", values, [f, outcome, worker]))
    return rows


# -- List 4: assessments ----------------------------------------------------------------------


def _seen_during(child: _Child, span: _Span) -> Fact | None:
    """A statutory visit that saw the child while the span was open."""
    until = span.end or child.as_at
    for f in child.of_type("StatutoryVisitRecorded"):
        day = f.day("visit_date")
        if f.get("seen") and day is not None and span.start <= day <= until:
            return f
    return None


def _services_after(child: _Child, assessment: _Span) -> Fact | None:
    """A plan or period of care open on the day the assessment completed, or started after it
    and before the child's next referral: the child was assessed as needing support."""
    completed = assessment.end
    if completed is None:
        return None
    later = [
        d
        for f in child.of_type("ReferralReceived")
        if (d := f.day("referral_date")) is not None and d > assessment.start
    ]
    until = min(later) if later else None
    for span in [*_cin_plans(child), *_cp_plans(child), *_periods_of_care(child)]:
        started_after = span.start >= completed and (until is None or span.start < until)
        if span.covers(completed) or started_after:
            return span.opened
    return None


def _list_assessments(child: _Child) -> list[Row]:
    allocated, worker = _allocated(child)
    rows = []
    for span in _assessments(child):
        if not span.overlaps(child.since, child.as_at):
            continue
        seen = _seen_during(child, span)
        services = _services_after(child, span)
        support = "" if span.end is None else _yes_no(services is not None)
        values = {
            "Continuous Assessment Start Date": dfe_date(span.start),
            "Child Seen During Continuous Assessment": _YES if seen is not None else "",
            "Continuous Assessment Date of Authorisation": dfe_date(span.end),
            "Was the child assessed as requiring LA children's social care support?": support,
            **allocated,
        }
        facts = [span.opened, span.closed, seen, services, worker]
        rows.append(child.row("assessments", values, facts))
    return rows


# -- List 5: section 47 enquiries -------------------------------------------------------------


def _conference_after(child: _Child, start: date, until: date | None) -> Fact | None:
    """The initial child protection conference an enquiry led to: the first on or after its
    strategy discussion and before the next enquiry's."""
    for f in child.of_type("InitialChildProtectionConferenceHeld"):
        day = f.day("conference_date")
        if day is not None and day >= start and (until is None or day < until):
            return f
    return None


def _conference_unnecessary(conclusion: Fact | None, conference: Fact | None) -> str:
    if conference is not None:
        return _NO
    if conclusion is None:
        return ""
    return _NO if conclusion.get("outcome") == "icpc" else _YES


def _conclusion(child: _Child, enquiry: Fact) -> Fact | None:
    return next(
        (
            f
            for f in child.of_type("Section47EnquiryConcluded")
            if f.get("discussion_id") == enquiry.get("discussion_id")
        ),
        None,
    )


def _conferences_before(child: _Child, day: date) -> int:
    """Initial child protection conferences in the twelve months before `day`."""
    start = add_months(day, -12)
    return sum(
        1
        for f in child.of_type("InitialChildProtectionConferenceHeld")
        if (held := f.day("conference_date")) is not None and start <= held < day
    )


def _enquiry_row(child: _Child, enquiries: list[Fact], i: int) -> Row | None:
    f = enquiries[i]
    start = f.day("discussion_date")
    conclusion = _conclusion(child, f)
    concluded = conclusion.day("concluded_on") if conclusion else None
    if start is None or not _Span("s47", f, start, end=concluded).overlaps(
        child.since, child.as_at
    ):
        return None
    following = enquiries[i + 1].day("discussion_date") if i + 1 < len(enquiries) else None
    conference = _conference_after(child, start, following)
    allocated, worker = _allocated(child)
    values = {
        "Strategy discussion initiating Section 47 Enquiry Start Date": dfe_date(start),
        "Was an Initial Child Protection Conference deemed unnecessary?": _conference_unnecessary(
            conclusion, conference
        ),
        "Date of Initial Child Protection Conference": dfe_date(
            conference.day("conference_date") if conference else None
        ),
        "Did the Initial Child Protection Conference Result in a Child Protection Plan": _yes_no(
            conference.get("plan_required") if conference else None
        ),
        "Number of Section 47 Enquiries in the last 12 months": str(
            _count_before(enquiries, "discussion_date", start, f)
        ),
        "Number of ICPCs in the last 12 months": str(_conferences_before(child, start)),
        **allocated,
    }
    return child.row("section_47", values, [f, conclusion, conference, worker])


def _list_section_47(child: _Child) -> list[Row]:
    enquiries = [f for f in child.of_type("StrategyDiscussionHeld") if f.get("section_47_enquiry")]
    rows = (_enquiry_row(child, enquiries, i) for i in range(len(enquiries)))
    return [r for r in rows if r is not None]


# -- List 6: children in need -----------------------------------------------------------------


def _case_status(spans: Sequence[_Span]) -> str:
    open_kinds = {s.kind for s in spans if s.end is None}
    for kind, status in _CASE_STATUS:
        if kind in open_kinds:
            return status
    return _CLOSED_EPISODE


def _episode_start(child: _Child, first: _Span) -> tuple[date, Fact]:
    """When the child's episode of need began: the referral that led to the earliest service,
    or (no referral recorded, e.g. straight into care) that service's start."""
    found: tuple[date, Fact] = (first.start, first.opened)
    for f in child.of_type("ReferralReceived"):
        day = f.day("referral_date")
        if day is not None and day <= first.start:
            found = (day, f)
    return found


def _closure(spans: Sequence[_Span]) -> tuple[dict[str, str], Fact | None]:
    """The episode's closure when every service has ended: the last end, and its reason when
    that was a child in need plan's (only those carry a CIN census reason)."""
    if any(s.end is None for s in spans):
        return {}, None
    last = max(spans, key=lambda s: s.end or date.min)
    reason = ""
    if last.closed is not None and last.closed.event_type == "ChildInNeedPlanEnded":
        reason = _coded(_CLOSURE, last.closed.get("reason"))
    return {"CIN Closure Date": dfe_date(last.end), "Reason for Closure": reason}, last.closed


def _list_children_in_need(child: _Child) -> list[Row]:
    spans = [*_assessments(child), *_cin_plans(child), *_cp_plans(child), *_periods_of_care(child)]
    spans = [s for s in spans if s.overlaps(child.since, child.as_at)]
    if not spans:
        return []
    first = min(spans, key=lambda s: s.start)
    started, starter = _episode_start(child, first)
    plan = _latest(child.of_type("ChildInNeedPlanStarted"), "start_date")
    visits = [f for f in child.of_type("StatutoryVisitRecorded") if f.get("seen")]
    seen = _latest(visits, "visit_date")
    closure, closer = _closure(spans)
    allocated, worker = _allocated(child)
    values = {
        "CIN Start Date": dfe_date(started),
        "Primary Need Code": _coded(_NEED, plan.get("primary_need")) if plan else "",
        "Date Child Was Last Seen": dfe_date(seen.day("visit_date") if seen else None),
        **closure,
        "Case Status": _case_status(spans),
        **allocated,
    }
    facts = [starter, *(s.opened for s in spans), plan, seen, closer, worker]
    return [child.row("children_in_need", values, facts)]


# -- List 7: child protection -----------------------------------------------------------------


def _legal_statuses(child: _Child) -> list[_Span]:
    """Each legal status the child has had, ended by the next or by the end of care."""
    found: list[_Span] = []
    for f in child.of_type("PeriodOfCareStarted", "LegalStatusChanged", "PeriodOfCareEnded"):
        day = f.day("start_date") or f.day("change_date") or f.day("end_date")
        if day is None:
            continue
        if found and found[-1].end is None:
            found[-1] = replace(found[-1], end=day, closed=f)
        if f.event_type != "PeriodOfCareEnded":
            found.append(_Span(str(f.get("legal_status", "")), f, day))
    return found


def _emergency_protection(child: _Child) -> Fact | None:
    """An emergency protection order or police protection (legal status L2/L1) in force at
    any time in the six months before the day."""
    for span in _legal_statuses(child):
        if span.kind in _EMERGENCY_PROTECTION and span.overlaps(child.since, child.as_at):
            return span.opened
    return None


def _seen_alone(visit: Fact | None) -> str:
    if visit is None:
        return ""
    if not visit.get("seen"):
        return _NO
    return _yes_no(visit.get("seen_alone"))


def _plan_row(child: _Child, plan: _Span) -> Row:
    visits = [f for f in child.of_type("StatutoryVisitRecorded") if f.get("plan_type") == "CP"]
    visit = _latest(visits, "visit_date", within=plan)
    plan_id = plan.opened.get("plan_id")
    reviews = child.of_type("ChildProtectionPlanReviewed")
    if plan_id is not None:
        reviews = [f for f in reviews if f.get("plan_id") == plan_id]
    review = _latest(reviews, "review_date", within=plan)
    protection = _emergency_protection(child)
    category = _coded(_ABUSE, plan.opened.get("category"))
    allocated, worker = _allocated(child)
    values = {
        "Child Protection Plan Start Date": dfe_date(plan.start),
        "Initial Category of Abuse": category,
        "Latest Category of Abuse": category,
        "Date of the Last Statutory Visit": dfe_date(visit.day("visit_date") if visit else None),
        "Was the Child Seen Alone?": _seen_alone(visit),
        "Date of latest review conference": dfe_date(review.day("review_date") if review else None),
        "Child Protection Plan End Date": dfe_date(plan.end),
        _EPO: _yes_no(protection is not None),
        "Number of Previous Child Protection Plans": _number(plan.opened.get("previous_plans")),
        **allocated,
    }
    facts = [plan.opened, plan.closed, visit, review, protection, worker]
    return child.row("child_protection", values, facts)


def _list_child_protection(child: _Child) -> list[Row]:
    return [
        _plan_row(child, plan)
        for plan in _cp_plans(child)
        if plan.overlaps(child.since, child.as_at)
    ]


# -- List 8: children in care -----------------------------------------------------------------


def _uasc(child: _Child) -> str:
    """Unaccompanied asylum seeking at any time in the last twelve months."""
    about = child.last("ChildCharacteristicsRecorded")
    if about is None or about.get("unaccompanied_asylum_seeking") is None:
        return ""
    ceased = about.day("uasc_ceased_on")
    recent = bool(about.get("unaccompanied_asylum_seeking")) and (
        ceased is None or ceased >= child.year_ago
    )
    return _yes_no(recent)


def _legal_status_in(child: _Child, period: _Span) -> _Span:
    """The period's latest legal status (the one it began with, if it never changed)."""
    found = [s for s in _legal_statuses(child) if period.covers(s.start)]
    return found[-1] if found else _Span("", period.opened, period.start)


_Part = tuple[dict[str, str], list[Fact | None]]  # some of a row's values, and their facts


def _care_status(child: _Child, period: _Span, status: _Span, periods: Sequence[_Span]) -> _Part:
    """The period's start and end, its legal status now, and whether an earlier period ended
    in the year before it began."""
    earlier = [
        p
        for p in periods
        if p.end is not None and add_months(period.start, -12) <= p.end <= period.start
    ]
    plan = _latest(child.of_type("ChildInNeedPlanStarted"), "start_date")
    return {
        _UASC: _uasc(child),
        "Date Started to be Looked After": dfe_date(period.start),
        "Child's Category of Need": _coded(_NEED, plan.get("primary_need")) if plan else "",
        _RETURN_PERIOD: _yes_no(bool(earlier)),
        "Start date of current legal status": dfe_date(status.start),
        "Child's Legal Status": _coded(_LEGAL_STATUS, status.kind),
        "Date Ceased to be Looked After": dfe_date(period.end),
        "Reason Ceased to be Looked After": _coded(
            _CEASED, period.closed.get("reason") if period.closed else None
        ),
    }, [period.opened, status.opened, period.closed, plan, *(p.closed for p in earlier)]


def _care_oversight(child: _Child, period: _Span) -> _Part:
    """Reviews, visits, the permanence plan and health assessments during the period."""
    review = _latest(child.of_type("LookedAfterReviewHeld"), "review_date", within=period)
    visits = [f for f in child.of_type("StatutoryVisitRecorded") if f.get("plan_type") == "CLA"]
    visit = _latest(visits, "visit_date", within=period)
    plan = _latest(child.of_type("PermanencePlanRecorded"), "recorded_on", within=period)
    health = _latest(child.of_type("HealthAssessmentCompleted"), "assessment_date")
    return {
        "Date of Latest Statutory Review": dfe_date(review.day("review_date") if review else None),
        "Date of Last Social Work Visit": dfe_date(visit.day("visit_date") if visit else None),
        "What is the permanence plan for this child?": _coded(
            _PERMANENCE, plan.get("plan") if plan else None
        ),
        "Date of Last Health Assessment": dfe_date(
            health.day("assessment_date") if health else None
        ),
    }, [review, visit, plan, health]


def _care_placement(child: _Child, period: _Span) -> _Part:
    """The most recent placement, and how many the child has had in the last twelve months."""
    placements = _placements(child, period)
    recent = [p for p in placements if p.overlaps(child.year_ago, child.as_at)]
    if not placements:
        return {"Number of Placements in the Last 12 months": "0"}, []
    last = placements[-1].opened
    in_area = last.get("in_council_area")
    return {
        "Number of Placements in the Last 12 months": str(len(recent)),
        "Start Date of Most Recent Placement": dfe_date(last.day("start_date")),
        "Placement Type": _coded(_PLACEMENT_TYPE, last.get("placement_type")),
        "Placement Provider": _coded(_PROVIDER, last.get("provider")),
        "Placement postcode": str(last.get("postcode") or ""),
        "Placement Location": "" if in_area is None else ("a) In" if in_area else "b) Out"),
    }, [*(p.opened for p in recent), last]


def _care_missing(child: _Child) -> _Part:
    """Missing and absent episodes in the last twelve months, and the return interview after
    the last missing episode (not offered yet while it has not ended)."""
    episodes = [
        f
        for f in child.of_type("MissingEpisodeRecorded")
        if (d := f.day("started_on")) is not None and child.year_ago <= d
    ]
    missing = [f for f in episodes if f.get("kind") == "M"]
    values = {
        _MISSING: str(len(missing)),
        _ABSENT: str(sum(1 for f in episodes if f.get("kind") == "A")),
    }
    last = _latest(
        [f for f in child.of_type("MissingEpisodeRecorded") if f.get("kind") == "M"], "started_on"
    )
    if last is None:
        return values, list(episodes)
    offer = next(
        (
            f
            for f in child.of_type("ReturnHomeInterviewOffered")
            if f.get("missing_started_on") == last.get("started_on")
        ),
        None,
    )
    if offer is not None:
        values |= {_OFFERED: _YES, _ACCEPTED: _yes_no(offer.get("accepted"))}
    elif last.day("ended_on") is not None:
        values |= {_OFFERED: _NO}
    return values, [*episodes, last, offer]


def _list_children_in_care(child: _Child) -> list[Row]:
    periods = _periods_of_care(child)
    allocated, worker = _allocated(child)
    rows = []
    for period in periods:
        legal = _legal_status_in(child, period)
        if not period.overlaps(child.since, child.as_at) or legal.kind in _SHORT_BREAKS:
            continue
        status, status_facts = _care_status(child, period, legal, periods)
        oversight, oversight_facts = _care_oversight(child, period)
        placement, placement_facts = _care_placement(child, period)
        missing, missing_facts = _care_missing(child)
        values = {**status, **oversight, **placement, **missing, **allocated}
        facts = [*status_facts, *oversight_facts, *placement_facts, *missing_facts, worker]
        rows.append(child.row("children_in_care", values, facts))
    return rows


# -- List 9: care leavers ---------------------------------------------------------------------


def _list_care_leavers(child: _Child) -> list[Row]:
    status = child.last("CareLeaverStatusRecorded")
    born = child.born
    dob = born.day("date_of_birth") if born else None
    if status is None or (dob is not None and age_on(dob, child.as_at) >= 25):
        return []
    allocated, worker = _allocated(child)
    adviser = child.last("PersonalAdviserAllocated")
    if adviser is not None:
        allocated = {**allocated, "Allocated Worker": str(adviser.get("adviser_id", ""))}
    contact = child.last("ContactRecorded")
    home = child.last("CareLeaverAccommodationRecorded")
    suitability = child.last("CareLeaverAccommodationRecorded", "SuitabilityReassessed")
    activity = child.last("EETActivityRecorded")
    values = {
        **allocated,
        "Eligibility Category": _coded(_ELIGIBILITY, status.get("status")),
        "LA in Touch": _coded(_IN_TOUCH, contact.get("in_touch") if contact else None),
        "Type of Accommodation": _coded(
            _ACCOMMODATION, home.get("accommodation") if home else None
        ),
        "Suitability of Accommodation": _coded(
            _SUITABILITY, suitability.get("suitability") if suitability else None
        ),
        "Activity Status": _coded(_ACTIVITY, activity.get("activity") if activity else None),
    }
    facts = [status, worker, adviser, contact, home, suitability, activity]
    return [child.row("care_leavers", values, facts)]


# -- List 10: adoption ------------------------------------------------------------------------


def _first_after(facts: Iterable[Fact], field: str, day: date) -> Fact | None:
    return next((f for f in facts if (d := f.day(field)) is not None and d >= day), None)


def _placement_order(child: _Child) -> tuple[date | None, Fact | None]:
    """When a placement order was made: the court's order, else the legal status E1 began."""
    for f in reversed(child.of_type("CareProceedingsConcluded")):
        if f.get("order") == "placement_order":
            return f.day("concluded_on"), f
    for span in reversed(_legal_statuses(child)):
        if span.kind == "E1":
            return span.start, span.opened
    return None, None


def _placed(child: _Child, codes: frozenset[str], day: date) -> Fact | None:
    placements = [
        f
        for f in child.of_type("PlacementStarted", "PlacementChanged")
        if f.get("placement_type") in codes
    ]
    return _first_after(placements, "start_date", day)


def _adoption_facts(child: _Child, decided: date) -> dict[str, Fact | None]:
    ended = [f for f in child.of_type("PeriodOfCareEnded") if f.get("reason") in _ADOPTED]
    return {
        "matched": _first_after(child.of_type("AdoptionMatched"), "matched_on", decided),
        "placed": _placed(child, _PLACED_FOR_ADOPTION, decided),
        "adopted": _first_after(ended, "end_date", decided),
        "reversed": _first_after(child.of_type("AdoptionDecisionReversed"), "reversed_on", decided),
    }


def _list_adoption(child: _Child) -> list[Row]:
    decision = child.last("AdoptionDecisionMade")
    decided = decision.day("decided_on") if decision else None
    if decision is None or decided is None:
        return []
    found = _adoption_facts(child, decided)
    adopted, reversed_ = found["adopted"], found["reversed"]
    closed = (adopted.day("end_date") if adopted else None) or (
        reversed_.day("reversed_on") if reversed_ else None
    )
    if closed is not None and closed < child.year_ago:
        return []
    period = next((p for p in reversed(_periods_of_care(child)) if p.start <= decided), None)
    order_day, order = _placement_order(child)
    matched, placed = found["matched"], found["placed"]
    fostering = _placed(child, _FOSTERING_FOR_ADOPTION, period.start) if period else None
    values = {
        "Date the Child Entered Care": dfe_date(period.start if period else None),
        "Date of Decision that Child Should be Placed for Adoption": dfe_date(decided),
        "Date of Placement Order": dfe_date(order_day),
        "Date of Matching Child and Prospective Adopters": dfe_date(
            matched.day("matched_on") if matched else None
        ),
        "Date Placed for Adoption": dfe_date(placed.day("start_date") if placed else None),
        "Date of Adoption Order ": dfe_date(adopted.day("end_date") if adopted else None),
        "Date of Decision that Child Should No Longer be Placed for Adoption": dfe_date(
            reversed_.day("reversed_on") if reversed_ else None
        ),
        "Reason Why Child No Longer Placed for Adoption": _coded(
            _REVERSAL, reversed_.get("reason") if reversed_ else None
        ),
        _FFA: dfe_date(fostering.day("start_date") if fostering else None),
    }
    facts = [decision, period.opened if period else None, order, *found.values(), fostering]
    return [child.row("adoption", values, facts)]


# -- the lists and the workbook ---------------------------------------------------------------

# How each list is derived from one child (List 2 and List 11: no facts to derive them from).
_DERIVE: dict[str, Callable[[_Child], list[Row]]] = {
    "contacts": _list_contacts,
    "referrals": _list_referrals,
    "assessments": _list_assessments,
    "section_47": _list_section_47,
    "children_in_need": _list_children_in_need,
    "child_protection": _list_child_protection,
    "children_in_care": _list_children_in_care,
    "care_leavers": _list_care_leavers,
    "adoption": _list_adoption,
}

# The date each list is ordered by, after the child.
_ORDER = {
    "contacts": "Date of Contact",
    "early_help": "Assessment start date",
    "referrals": "Date of Referral",
    "assessments": "Continuous Assessment Start Date",
    "section_47": "Strategy discussion initiating Section 47 Enquiry Start Date",
    "children_in_need": "CIN Start Date",
    "child_protection": "Child Protection Plan Start Date",
    "children_in_care": "Date Started to be Looked After",
    "care_leavers": "Child Unique ID",
    "adoption": "Date of Decision that Child Should be Placed for Adoption",
    "adopters": "Individual adopter identifier",
}


def annex_a(
    records: Sequence[ChildRecord], as_at: date, upns: Mapping[str, str]
) -> dict[str, list[Row]]:
    """Every Annex A list (keyed as `LISTS`) as at the day, rows ordered by child then date.

    `upns` is taken for the returns' common shape and deliberately not used: Annex A names a
    child by the council's own id, and a UPN is sealed personal data Ofsted does not ask for.
    """
    del upns
    lists: dict[str, list[Row]] = {name: [] for name in LISTS}
    for record in records:
        child = _Child.of(record, as_at)
        for name, derive in _DERIVE.items():
            lists[name].extend(derive(child))
    return {name: sorted_rows(rows, CHILD, _ORDER[name]) for name, rows in lists.items()}


_DATE = re.compile(r"(\d\d)/(\d\d)/(\d{4})")


def _cell(heading: str, text: str) -> date | int | str | None:
    """A value as the workbook holds it: a real date, a number, text; nothing when blank."""
    if text == "":
        return None
    if m := _DATE.fullmatch(text):
        return date(int(m[3]), int(m[2]), int(m[1]))
    if heading in _NUMBERS and text.isdigit():
        return int(text)
    return text


def workbook(lists: Mapping[str, Sequence[Row]]) -> bytes:
    """The Annex A workbook (.xlsx): one sheet per list in Ofsted's order, its headings in
    row 1, dates as Excel dates shown dd/mm/yyyy; a list with no rows keeps its headings."""
    book = Workbook()
    book.remove(book.active)
    for name, (title, headings) in LISTS.items():
        sheet = book.create_sheet(title)
        sheet.append(list(headings))
        for r, row in enumerate(lists.get(name, ()), start=2):
            for c, heading in enumerate(headings, start=1):
                value = _cell(heading, row.values.get(heading, ""))
                cell = sheet.cell(row=r, column=c, value=value)
                if isinstance(value, date):
                    cell.number_format = "dd/mm/yyyy"
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

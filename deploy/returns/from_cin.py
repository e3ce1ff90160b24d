"""Reading a council's CIN census XML (the DfE's message, as its case-management system or
this platform's export wrote it) into the commands that make the facts the census is derived
from: the inverse of `services/projections/returns/cin_census.py`.

Each `Child` becomes its registration (born, or unborn and then born when the census shows
work before the birth), its UPN, its characteristics, and for each `CINdetails` (an
episode of need) the referral, what the referral led to, the assessments and the factors they
found, child in need plans, strategy discussions that started a section 47 enquiry with their
conclusion and initial conference, child protection plans with their reviews and ends, and the
episode's closure. Ids the commands need (a referral's, a plan's) are made from the child and
the day the thing began, as the census prints it.

A child is in the census of every year an episode of theirs was open, and each year's file
shows the episode as it stood at that year's end (what it printed of a part, and how some
commands must be dated, depends on the year). So the files are read together
(`read_cins`): ordered by the year in each file's Header, each child is merged across them
(an episode is the same CINreferralDate; the later year's version of an episode, of each
of its parts and of who the child is wins; a plan's reviews and an episode's conferences,
printed only in their own year, are all kept), and the child's commands are made once, from
the merged child. A date of birth (or expected date) that differs between years is a problem.
A value a later year replaced is not imported, so it is not checked against the DfE's lists.

The census does not say everything the platform records, and the export prints only part of
what it holds; where a command needs a value the census does not carry, the reader takes the
one that prints the same census back, and says so here:
- a referral with no further action was decided on its referral day, or, when the episode is
  not closed, no earlier than the year began (the census counts it in the year until then;
  the year of the latest census showing the episode);
- a referral that led further has its outcome recorded only to carry the primary need a
  year's census printed when no plan or authorised assessment of the episode (as far as that
  year's file shows it) carries it (section 47 when the episode has an enquiry, else
  assessment);
- a section 47 enquiry with an initial conference concluded (conference) on the conference's
  day; one that needed none concluded (child in need when a plan followed, else no further
  action) when the year (of the latest census showing it) began, or on its start if later; an
  enquiry with neither in an episode that closed concluded (conference) at the closure;
- a child in need plan that ended with the episode ended for the episode's reason, another
  for "services ceased" (RC7); the primary need is the first plan's, else the last authorised
  assessment's, else the referral outcome's;
- sex U is "not known" (0); the characteristics (the latest census's) are recorded on the day
  of birth (an unborn child's on its first referral);
- a CINdetails' DateOfInitialCPC that repeats one of its enquiries' is that conference (one
  conference is recorded).
Not held at all (read, checked, not imported): FormerUPN, UPNunknown's reason, PersonDeathDate,
AssessmentInternalReviewDate, InitialCPCtarget (the service derives it: 15 working days),
LatestCategoryOfAbuse (one category a plan), the Header. NumberOfPreviousCPP is given to the
plan (`previous_plans`): the service records the larger of it and the plans it holds, so a
child's plans before the years imported are still counted.

Parsing is the standard library's expat, never resolving an entity: a document type
declaration is refused, so no entity (external or internal) is ever declared. A file that is
not well-formed is one problem and nothing of it is read (the other files are). Every other
problem names the file and line of the element at fault; a child with any problem (in any of
the files) gets no commands, the others are unaffected. What the census cannot hold twice (a
child, a referral, an assessment or plan starting the same day, a code in a list) is
"duplicate of line N"; a part of an episode before its referral, or on or after the next one,
is refused too (the platform, like the census, files each part under the latest referral on
or before it: it would come back under another episode).
Pure: reads the files it is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar
from xml.parsers import expat

from pydantic import BaseModel, ValidationError

from contracts.case_events.codes import (
    ChildInNeedClosureReason,
    ReferralOutcome,
    Section47Outcome,
    Sex,
)
from contracts.ids import LOCALITY_PATTERN
from deploy.demo.journey import Step
from deploy.returns.importing import REGISTRATION_PATHS, Dated, ImportPlan, Problem
from services.case_events.domain import commands as c
from services.case_events.routes.commands import CHILD_COMMANDS
from services.projections.returns.facts import CollectionYear

SERVICE = "case_events"
# The day a child's registration is ordered on: before anything else of its history.
REGISTERED = date(1900, 1, 1)

# Each group's elements (the DfE's schema, 2017 to 2024, and Sex for GenderCurrent from
# 2024-25), and the elements that may repeat; the Header is read for its year only.
GROUPS: dict[str, frozenset[str]] = {
    group: frozenset(elements.split())
    for group, elements in {
        "Message": "Header Children",
        "Children": "Child",
        "Child": "ChildIdentifiers ChildCharacteristics CINdetails",
        "ChildIdentifiers": "LAchildID UPN FormerUPN UPNunknown PersonBirthDate "
        "ExpectedPersonBirthDate GenderCurrent Sex PersonDeathDate",
        "ChildCharacteristics": "Ethnicity Disabilities",
        "Disabilities": "Disability",
        "CINdetails": "CINreferralDate ReferralSource PrimaryNeedCode CINclosureDate "
        "ReasonForClosure DateOfInitialCPC Assessments CINPlanDates Section47 ReferralNFA "
        "ChildProtectionPlans",
        "Assessments": "AssessmentActualStartDate AssessmentInternalReviewDate "
        "AssessmentAuthorisationDate FactorsIdentifiedAtAssessment",
        "FactorsIdentifiedAtAssessment": "AssessmentFactors",
        "CINPlanDates": "CINPlanStartDate CINPlanEndDate",
        "Section47": "S47ActualStartDate InitialCPCtarget DateOfInitialCPC ICPCnotRequired",
        "ChildProtectionPlans": "CPPstartDate CPPendDate InitialCategoryOfAbuse "
        "LatestCategoryOfAbuse NumberOfPreviousCPP Reviews",
        "Reviews": "CPPreviewDate",
    }.items()
}
REPEATED = frozenset({"Child", "CINdetails", "Disability", "Assessments", "AssessmentFactors"})
REPEATED |= {"CINPlanDates", "Section47", "ChildProtectionPlans", "CPPreviewDate"}

# The census's sex (from 2024-25) and gender (before): the contracts' codes (U: not known).
SEX_LETTERS = {"M": Sex.MALE.value, "F": Sex.FEMALE.value, "U": Sex.NOT_KNOWN.value}
GENDER_CODES = frozenset(s.value for s in Sex)
FLAGS = {"true": True, "1": True, "false": False, "0": False}
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)

# Each command's place among the commands of one day (a stable sort keeps a file's order
# beyond it): registration and birth, who the child is, then the referral, what it led to,
# ends before new starts (one plan of a kind is open at a time), and the closure last.
RANK = {
    "/children": -3.0,
    "/unborn-children": -3.0,
    "/personal-details": -2.5,
    "/births": -2.0,
    "/characteristics": -1.0,
    "/referrals": 0.0,
    "/referral-outcomes": 1.0,
    "end": 2.0,
    "/strategy-discussions": 3.0,
    "/section-47-outcomes": 4.0,
    "/initial-child-protection-conferences": 5.0,
    "cp-end": 5.5,
    "/child-protection-plans": 6.0,
    "/child-protection-plan-reviews": 7.0,
    "cp-end-late": 7.5,
    "/assessments": 8.0,
    "/assessment-completions": 9.0,
    "/child-in-need-plans": 10.0,
    "/child-in-need-plan-endings": 11.0,
    "/episode-of-need-closures": 12.0,
}

MODELS: dict[str, type[BaseModel]] = {
    "/children": c.RegisterChild,
    "/unborn-children": c.RegisterUnbornChild,
    "/personal-details": c.RecordPersonalDetails,
    **{r.path: r.command for r in CHILD_COMMANDS},
}

T = TypeVar("T")
U = TypeVar("U")


# -- the XML, with the line of every element ---------------------------------------------


@dataclass
class Node:
    """An element: its tag (without a namespace prefix), the line of its opening tag, its
    text (stripped) and its child elements."""

    tag: str
    line: int
    text: str = ""
    children: list[Node] = field(default_factory=list)


class NotWellFormed(Exception):
    """The file cannot be read as XML (or declares a document type): where the parser
    stopped and why."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


class _Builder:
    """Expat's handlers, building `Node`s; a document type declaration stops the parse (a
    census declares none, and none means no entity is ever declared or resolved)."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.stack: list[Node] = []
        self.texts: list[list[str]] = []
        self.root: Node | None = None

    def start(self, name: str, _attributes: Mapping[str, str]) -> None:
        node = Node(name.rsplit(":", 1)[-1], self.parser.CurrentLineNumber)
        if self.stack:
            self.stack[-1].children.append(node)
        else:
            self.root = node
        self.stack.append(node)
        self.texts.append([])

    def end(self, _name: str) -> None:
        node = self.stack.pop()
        node.text = "".join(self.texts.pop()).strip()

    def data(self, text: str) -> None:
        if self.texts:
            self.texts[-1].append(text)

    def doctype(self, *_args: object) -> None:
        raise NotWellFormed(
            self.parser.CurrentLineNumber,
            "declares a document type (DOCTYPE): refused, so that no entity is ever resolved",
        )


def parse(data: bytes) -> Node:
    """The document's root element; `NotWellFormed` if it is not XML, or declares a type."""
    parser = expat.ParserCreate()
    builder = _Builder(parser)
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = builder.doctype
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        where = f"line {error.lineno}, column {error.offset + 1}"
        reason = f"not well-formed XML: {expat.ErrorString(error.code)} at {where}"
        raise NotWellFormed(error.lineno, f"{reason}, where the parser stopped") from None
    if builder.root is None:  # pragma: no cover - expat refuses a document with no element
        raise NotWellFormed(1, "no element")
    return builder.root


# -- what a Child says ---------------------------------------------------------------------


@dataclass(frozen=True)
class Val(Generic[T]):
    """A value read from an element, with the element's tag, line and file (for a problem:
    a child's merged history holds values of several files)."""

    value: T
    tag: str
    line: int
    file: str

    def but(self, value: U) -> Val[U]:
        """Another value read from the same element (its text as a date, a code...)."""
        return Val(value, self.tag, self.line, self.file)

    def where(self, other: Val[Any]) -> str:
        """Where `other` is, as a reason names it from here: its line, and its file when it
        is another file's."""
        line = f"line {other.line}"
        return line if other.file == self.file else f"{other.file} {line}"


class _Located(Protocol):
    @property
    def file(self) -> str: ...

    @property
    def line(self) -> int: ...


@dataclass
class Assessment:
    start: Val[date]
    done: Val[date] | None
    factors: list[Val[str]]


@dataclass
class CinPlan:
    start: Val[date]
    end: Val[date] | None


@dataclass
class Enquiry:
    start: Val[date]
    conference: Val[date] | None
    not_required: Val[bool]
    year: CollectionYear  # of the file it was read from: when it concluded depends on it


@dataclass
class ProtectionPlan:
    start: Val[date]
    end: Val[date] | None
    category: Val[str]
    reviews: list[Val[date]]
    previous: Val[int] | None = None


@dataclass
class Episode:
    """One CINdetails (an episode of need), or the same episode merged from several years'
    files: then its own elements are the latest year's, its parts each the latest year's
    showing it, and its conferences every year's."""

    file: str
    line: int
    year: CollectionYear  # of the file its own elements were read from
    referral: Val[date]
    source: Val[str]
    need: Val[str] | None
    closed: Val[date] | None
    reason: Val[str] | None
    conferences: list[Val[date]]
    nfa: Val[bool]
    assessments: list[Assessment]
    plans: list[CinPlan]
    enquiries: list[Enquiry]
    protection: list[ProtectionPlan]
    # The primary need each year's file printed, by what carries it back (`carry`): an
    # assessment (by its start) or the referral's outcome.
    carried: dict[date, Val[str]] = field(default_factory=dict)
    outcome_need: Val[str] | None = None

    @property
    def start(self) -> Val[date]:
        return self.referral

    def starts(self) -> list[Val[date]]:
        """The first day of each part of the episode (the census files each part under the
        latest referral on or before it)."""
        parts: Iterable[Assessment | CinPlan | Enquiry | ProtectionPlan] = [
            *self.assessments,
            *self.plans,
            *self.enquiries,
            *self.protection,
        ]
        return [p.start for p in parts]


@dataclass
class ChildFile:
    """One Child element, read (or the child merged from several years' files)."""

    ident: Val[str]  # LAchildID
    file: str
    line: int
    upn: Val[str] | None
    born: Val[date] | None
    expected: Val[date] | None
    sex: Val[str] | None
    ethnicity: Val[str] | None
    disabilities: list[Val[str]]
    episodes: list[Episode]

    @property
    def child_id(self) -> str:
        return self.ident.value


class _Problems:
    """A child's problems, each at the element (file and line) it is about."""

    def __init__(self, child: str | None) -> None:
        self.child = child
        self.problems: list[Problem] = []

    def at(self, where: Val[Any], reason: str) -> None:
        self.problems.append(Problem(where.file, where.line, where.tag, reason, self.child))


class _Reader(_Problems):
    """Reads one element of a file and what is inside it, gathering every problem found (a
    data team fixes them all at once) against the child they belong to."""

    def __init__(self, file: str, child: str | None, year: CollectionYear | None = None) -> None:
        super().__init__(child)
        self.file = file
        self.year = year or CollectionYear(1900)  # the file's (none yet: its Header is read)

    def val(self, value: T, node: Node) -> Val[T]:
        return Val(value, node.tag, node.line, self.file)

    def problem(self, line: int, tag: str, reason: str) -> None:
        self.problems.append(Problem(self.file, line, tag, reason, self.child))

    def elements(self, node: Node) -> dict[str, list[Node]]:
        """The node's child elements by tag: an element the schema does not have there, or
        one given twice that may be given once, is a problem."""
        allowed = GROUPS.get(node.tag, frozenset())
        found: dict[str, list[Node]] = {}
        for sub in node.children:
            if sub.tag not in allowed:
                self.problem(sub.line, sub.tag, f"not an element of {node.tag}")
                continue
            same = found.setdefault(sub.tag, [])
            if same and sub.tag not in REPEATED:
                self.problem(sub.line, sub.tag, f"duplicate of line {same[0].line}")
                continue
            same.append(sub)
        return found

    def text(
        self, node: Node, found: Mapping[str, list[Node]], tag: str, *, required: bool = False
    ) -> Val[str] | None:
        """An element's text (an empty element is absent); a required one missing is a
        problem at its group's line."""
        nodes = found.get(tag, [])
        if not nodes or not nodes[0].text:
            if required:
                self.problem(node.line, tag, f"missing from {node.tag}")
            return None
        return self.val(nodes[0].text, nodes[0])

    def day(
        self, node: Node, found: Mapping[str, list[Node]], tag: str, *, required: bool = False
    ) -> Val[date] | None:
        """A date element (yyyy-mm-dd)."""
        text = self.text(node, found, tag, required=required)
        return None if text is None else self.as_day(text)

    def as_day(self, text: Val[str]) -> Val[date] | None:
        try:
            if not ISO_DAY.match(text.value):
                raise ValueError
            return text.but(date.fromisoformat(text.value))
        except ValueError:
            self.problem(text.line, text.tag, f"not a date (yyyy-mm-dd): {text.value!r}")
            return None

    def flag(self, node: Node, found: Mapping[str, list[Node]], tag: str) -> Val[bool] | None:
        """A required true/false element (the schema's: true, false, 1 or 0)."""
        text = self.text(node, found, tag, required=True)
        if text is None:
            return None
        value = FLAGS.get(text.value.lower())
        if value is None:
            self.problem(text.line, tag, f"not true or false: {text.value!r}")
            return None
        return text.but(value)

    def count(
        self, node: Node, found: Mapping[str, list[Node]], tag: str, *, required: bool = False
    ) -> Val[int] | None:
        """A number element: ASCII digits only ('²' is a digit to `str.isdigit`, not a
        number to `int`)."""
        text = self.text(node, found, tag, required=required)
        if text is None:
            return None
        if not (text.value.isascii() and text.value.isdigit()):
            self.problem(text.line, tag, f"not a number: {text.value!r}")
            return None
        return text.but(int(text.value))

    def listed(self, node: Node | None, tag: str) -> list[Val[str]]:
        """The codes listed in a group (Disabilities, FactorsIdentifiedAtAssessment), each
        once: a code given twice is a problem."""
        if node is None:
            return []
        codes: dict[str, Val[str]] = {}
        for sub in self.elements(node).get(tag, []):
            if sub.text in codes:
                self.problem(sub.line, tag, f"duplicate of line {codes[sub.text].line}")
            elif sub.text:
                codes[sub.text] = self.val(sub.text, sub)
        return list(codes.values())


def _first(found: Mapping[str, list[Node]], tag: str) -> Node | None:
    nodes = found.get(tag)
    return nodes[0] if nodes else None


def read_assessment(r: _Reader, node: Node) -> Assessment | None:
    found = r.elements(node)
    start = r.day(node, found, "AssessmentActualStartDate", required=True)
    done = r.day(node, found, "AssessmentAuthorisationDate")
    r.day(node, found, "AssessmentInternalReviewDate")
    factors = r.listed(_first(found, "FactorsIdentifiedAtAssessment"), "AssessmentFactors")
    if factors and done is None:
        r.problem(factors[0].line, "AssessmentFactors", "an assessment not authorised")
    return None if start is None else Assessment(start, done, factors)


def read_cin_plan(r: _Reader, node: Node) -> CinPlan | None:
    found = r.elements(node)
    start = r.day(node, found, "CINPlanStartDate", required=True)
    end = r.day(node, found, "CINPlanEndDate")
    return None if start is None else CinPlan(start, end)


def read_enquiry(r: _Reader, node: Node) -> Enquiry | None:
    found = r.elements(node)
    start = r.day(node, found, "S47ActualStartDate", required=True)
    r.day(node, found, "InitialCPCtarget")
    conference = r.day(node, found, "DateOfInitialCPC")
    not_required = r.flag(node, found, "ICPCnotRequired")
    if conference is not None and not_required is not None and not_required.value:
        r.problem(not_required.line, "ICPCnotRequired", "true, yet DateOfInitialCPC is given")
    if start is None or not_required is None:
        return None
    return Enquiry(start, conference, not_required, r.year)


def read_protection_plan(r: _Reader, node: Node) -> ProtectionPlan | None:
    found = r.elements(node)
    start = r.day(node, found, "CPPstartDate", required=True)
    end = r.day(node, found, "CPPendDate")
    category = r.text(node, found, "InitialCategoryOfAbuse", required=True)
    r.text(node, found, "LatestCategoryOfAbuse", required=True)
    previous = r.count(node, found, "NumberOfPreviousCPP", required=True)
    reviews: dict[date, Val[date]] = {}
    held = _first(found, "Reviews")
    for sub in r.elements(held).get("CPPreviewDate", []) if held is not None else []:
        review = r.as_day(r.val(sub.text, sub))
        if review is not None and review.value in reviews:
            r.problem(sub.line, sub.tag, f"duplicate of line {reviews[review.value].line}")
        elif review is not None:
            reviews[review.value] = review
    if start is None or category is None:
        return None
    held_reviews = sorted(reviews.values(), key=lambda v: v.value)
    return ProtectionPlan(start, end, category, held_reviews, previous)


def read_parts(r: _Reader, found: Mapping[str, list[Node]]) -> dict[str, list[Any]]:
    """An episode's assessments, plans, enquiries and child protection plans (those that
    could be read: the others are problems already)."""
    readers: dict[str, Any] = {
        "Assessments": read_assessment,
        "CINPlanDates": read_cin_plan,
        "Section47": read_enquiry,
        "ChildProtectionPlans": read_protection_plan,
    }
    parts: dict[str, list[Any]] = {}
    for tag, read in readers.items():
        read_ones = [read(r, node) for node in found.get(tag, [])]
        parts[tag] = [p for p in read_ones if p is not None]
    return parts


def read_episode(r: _Reader, node: Node) -> Episode | None:
    found = r.elements(node)
    referral = r.day(node, found, "CINreferralDate", required=True)
    source = r.text(node, found, "ReferralSource", required=True)
    need = r.text(node, found, "PrimaryNeedCode")
    closed = r.day(node, found, "CINclosureDate")
    reason = r.text(node, found, "ReasonForClosure", required=closed is not None)
    if reason is not None and closed is None:
        r.problem(node.line, "CINclosureDate", "missing, yet ReasonForClosure is given")
    conference = r.day(node, found, "DateOfInitialCPC")
    nfa = r.flag(node, found, "ReferralNFA")
    parts = read_parts(r, found)
    if referral is None or source is None or nfa is None:
        return None
    return Episode(
        file=r.file,
        line=node.line,
        year=r.year,
        referral=referral,
        source=source,
        need=need,
        closed=closed,
        reason=reason,
        conferences=[] if conference is None else [conference],
        nfa=nfa,
        assessments=parts["Assessments"],
        plans=parts["CINPlanDates"],
        enquiries=parts["Section47"],
        protection=parts["ChildProtectionPlans"],
    )


def read_identifiers(
    r: _Reader, node: Node
) -> tuple[Val[str] | None, Val[date] | None, Val[date] | None, Val[str] | None]:
    """The child's UPN, date of birth, expected date of birth and sex (as a contracts'
    code); FormerUPN, UPNunknown and PersonDeathDate are read, not held."""
    found = r.elements(node)
    upn = r.text(node, found, "UPN")
    born = r.day(node, found, "PersonBirthDate")
    expected = r.day(node, found, "ExpectedPersonBirthDate")
    r.day(node, found, "PersonDeathDate")
    if not found.get("PersonBirthDate") and not found.get("ExpectedPersonBirthDate"):
        r.problem(node.line, "PersonBirthDate", "missing, and no ExpectedPersonBirthDate")
    return upn, born, expected, read_sex(r, node, found)


def read_sex(r: _Reader, node: Node, found: Mapping[str, list[Node]]) -> Val[str] | None:
    """Sex (M, F, U) or GenderCurrent (1, 2, 0, 9), as the contracts' code."""
    letter = r.text(node, found, "Sex")
    gender = r.text(node, found, "GenderCurrent")
    if letter is not None and gender is not None:
        r.problem(gender.line, gender.tag, f"given with Sex (line {letter.line}): one of them")
        return None
    if letter is not None:
        code = SEX_LETTERS.get(letter.value)
        if code is None:
            r.problem(letter.line, letter.tag, f"not M, F or U: {letter.value!r}")
            return None
        return letter.but(code)
    if gender is not None and gender.value not in GENDER_CODES:
        r.problem(gender.line, gender.tag, f"not 1, 2, 0 or 9: {gender.value!r}")
        return None
    return gender


def read_child(r: _Reader, node: Node, ident: Val[str]) -> ChildFile:
    """A Child element: its identifiers, characteristics and episodes."""
    found = r.elements(node)
    ids = _first(found, "ChildIdentifiers")
    assert ids is not None  # the caller found the child's id in it
    upn, born, expected, sex = read_identifiers(r, ids)
    chars = _first(found, "ChildCharacteristics")
    if chars is None:
        r.problem(node.line, "ChildCharacteristics", "missing from Child")
        ethnicity, disabilities = None, []
    else:
        inside = r.elements(chars)
        ethnicity = r.text(chars, inside, "Ethnicity")
        disabilities = r.listed(_first(inside, "Disabilities"), "Disability")
    details = found.get("CINdetails", [])
    if not details:
        r.problem(node.line, "CINdetails", "missing from Child")
    episodes = [e for e in (read_episode(r, d) for d in details) if e is not None]
    return ChildFile(
        ident, r.file, node.line, upn, born, expected, sex, ethnicity, disabilities, episodes
    )


# -- checks across a child's episodes --------------------------------------------------------


def check_child(r: _Reader, child: ChildFile) -> None:
    """What one Child element cannot say: a referral (an episode), an assessment, plan or
    enquiry given twice (the same start; the first is kept, sorted by referral); sex and
    ethnicity only together (the platform records them together)."""
    episodes = _no_duplicates(r, sorted(child.episodes, key=lambda e: e.referral.line))
    episodes.sort(key=lambda e: e.referral.value)
    child.episodes = episodes
    for kind in ("assessments", "plans", "enquiries", "protection"):
        parts = [p for e in episodes for p in getattr(e, kind)]
        _no_duplicates(r, sorted(parts, key=lambda p: p.start.line))
    unborn = child.born is None
    if child.ethnicity is None and ((child.sex is not None and not unborn) or child.disabilities):
        r.problem(child.line, "Ethnicity", "missing (recorded with the child's sex)")
    unread = any(p.field in ("Sex", "GenderCurrent") for p in r.problems)
    if child.ethnicity is not None and child.sex is None and not unborn and not unread:
        r.problem(child.line, "Sex", "missing (recorded with the child's ethnicity)")


def check_history(found: _Problems, child: ChildFile) -> None:
    """What the child's history (merged from every year's files) cannot hold: a part of an
    episode starting before its referral, or on or after the next (the platform files each
    part under the latest referral on or before it, as the census does); a child in need
    plan with no primary need to record."""
    episodes = child.episodes
    for i, episode in enumerate(episodes):
        following = episodes[i + 1].referral if i + 1 < len(episodes) else None
        for start in episode.starts():
            _in_its_episode(found, start, episode.referral, following)
    for e in episodes:
        if e.plans and e.need is None:
            where = Val(None, "PrimaryNeedCode", e.line, e.file)
            found.at(where, "missing (a child in need plan records it)")


class _Started(Protocol):
    @property
    def start(self) -> Val[date]: ...


S = TypeVar("S", bound=_Started)


def _no_duplicates(r: _Reader, found: Sequence[S]) -> list[S]:
    """The things of a kind (in the file's order) each once by their first day: another
    with the same day is a problem (and not checked further)."""
    seen: dict[date, int] = {}
    kept: list[S] = []
    for item in found:
        start = item.start
        if start.value in seen:
            r.problem(start.line, start.tag, f"duplicate of line {seen[start.value]}")
        else:
            seen[start.value] = start.line
            kept.append(item)
    return kept


def _by_start(before: Sequence[S], after: Sequence[S]) -> list[S]:
    """The parts of a kind of two years' files, each once (by its start: the later year's
    version of one both show), in order."""
    return sorted({p.start.value: p for p in [*before, *after]}.values(), key=_start_day)


def _start_day(part: _Started) -> date:
    return part.start.value


def _in_its_episode(
    found: _Problems, start: Val[date], referral: Val[date], following: Val[date] | None
) -> None:
    if start.value < referral.value:
        found.at(
            start,
            f"{start.value} is before its CINreferralDate {referral.value} "
            f"({start.where(referral)})",
        )
    elif following is not None and start.value >= following.value:
        found.at(
            start,
            f"{start.value} is in the next episode: its CINreferralDate {following.value} "
            f"({start.where(following)}) is on or before it",
        )


# -- one child across the years' files ------------------------------------------------------


def merged_child(found: _Problems, versions: Sequence[ChildFile]) -> ChildFile:
    """The child as the years' files (oldest first) say together: who the child is as the
    latest says (its characteristics as the latest giving them says), each episode merged
    from every year showing it (`merged_episode`), and the primary need each year printed
    given to what prints it back that year (`carry`). A date of birth, or an expected one,
    that differs between years is a problem."""
    _the_same(found, [v.born for v in versions])
    _the_same(found, [v.expected for v in versions])
    last = versions[-1]
    described = next((v for v in reversed(versions) if v.ethnicity is not None), last)
    episodes: dict[date, Episode] = {}
    for version in versions:
        for e in version.episodes:
            before = episodes.get(e.referral.value)
            now = e if before is None else merged_episode(before, e)
            carry(now, e.need)
            episodes[e.referral.value] = now
    return ChildFile(
        last.ident,
        last.file,
        last.line,
        upn=_latest([v.upn for v in versions]),
        born=_latest([v.born for v in versions]),
        expected=_latest([v.expected for v in versions]),
        sex=described.sex,
        ethnicity=described.ethnicity,
        disabilities=described.disabilities,
        episodes=sorted(episodes.values(), key=lambda e: e.referral.value),
    )


def _latest(values: Sequence[Val[T] | None]) -> Val[T] | None:
    return next((v for v in reversed(values) if v is not None), None)


def _the_same(found: _Problems, values: Sequence[Val[date] | None]) -> None:
    """One date of birth (or expected date) in every year giving one."""
    given = [v for v in values if v is not None]
    for earlier, later in pairwise(given):
        if later.value != earlier.value:
            found.at(
                later,
                f"{later.value} differs from {earlier.tag} {earlier.value} in {earlier.file} "
                f"line {earlier.line}: the child has one",
            )


def merged_episode(before: Episode, after: Episode) -> Episode:
    """An episode as an earlier and a later year's files show it together: the later's own
    elements (referral source, need, closure, no further action) and its year; each part
    (by its start) as the latest year showing it says; a plan's reviews and the episode's
    conferences of every year (each census prints only its own year's)."""
    return Episode(
        file=after.file,
        line=after.line,
        year=after.year,
        referral=after.referral,
        source=after.source,
        need=after.need if after.need is not None else before.need,
        closed=after.closed,
        reason=after.reason,
        conferences=_by_day([*before.conferences, *after.conferences]),
        nfa=after.nfa,
        assessments=_by_start(before.assessments, after.assessments),
        plans=_by_start(before.plans, after.plans),
        enquiries=_by_start(before.enquiries, after.enquiries),
        protection=_by_start(before.protection, [_reviewed(before, p) for p in after.protection]),
        carried=dict(before.carried),
        outcome_need=before.outcome_need,
    )


def _by_day(days: Iterable[Val[date]]) -> list[Val[date]]:
    """Each day once (the last given), in order."""
    return sorted({d.value: d for d in days}.values(), key=lambda d: d.value)


def _reviewed(before: Episode, plan: ProtectionPlan) -> ProtectionPlan:
    """A child protection plan with the reviews an earlier year showed of it too."""
    earlier = [p.reviews for p in before.protection if p.start.value == plan.start.value]
    if not earlier:
        return plan
    return replace(plan, reviews=_by_day([*earlier[0], *plan.reviews]))


def carry(e: Episode, need: Val[str] | None) -> None:
    """What carries the primary need a year's census printed for the episode (`e` as far as
    that year's file showed it, merged with those before), so that the census of that year
    prints it back as the export reads it: the first child in need plan (each plan has the
    episode's need), else the last authorised assessment, else the referral's outcome."""
    if need is None or e.plans:
        return
    done = [a for a in e.assessments if a.done is not None]
    if done:
        last = max(done, key=lambda a: a.done.value if a.done else a.start.value)
        e.carried[last.start.value] = need
    else:
        e.outcome_need = need


# -- the commands ----------------------------------------------------------------------------


@dataclass
class Command:
    """A command of the child's, the day and rank that order it, the element it came from,
    and, for each field of its body, the elements it was read from (for a refusal)."""

    day: date
    rank: float
    step: Step
    file: str
    line: int
    fields: dict[str, list[Val[Any]]]

    def dated(self) -> Dated:
        elements = {name: where[0].tag for name, where in self.fields.items()}
        return Dated(self.day, self.step, self.file, self.line, elements)


def element_of(dated: Dated, name: str) -> str:
    """The census element a field of a command's body was read from (e.g. CINreferralDate
    for referral_date); the field itself when it was read from none (an id the reader made)."""
    return dated.column(name)


def _where(**values: Val[Any] | Sequence[Val[Any]] | None) -> dict[str, list[Val[Any]]]:
    out: dict[str, list[Val[Any]]] = {}
    for name, value in values.items():
        if isinstance(value, Val):
            out[name] = [value]
        elif value:
            out[name] = list(value)
    return out


class _Commands:
    """A child's commands as they are made, each with its day and rank."""

    def __init__(self, child: ChildFile) -> None:
        self.child = child
        self.base = f"/children/{child.child_id}"
        self.found: list[Command] = []

    def add(
        self,
        path: str,
        day: date,
        at: _Located,
        body: dict[str, Any],
        rank: str | None = None,
        /,
        **where: Val[Any] | Sequence[Val[Any]] | None,
    ) -> None:
        """A command sent on `day` (after those of a lower rank that day), read from the
        element `at`, its body's fields from the elements in `where`."""
        full = path if path in REGISTRATION_PATHS else self.base + path
        step = Step(SERVICE, full, {k: _json(v) for k, v in body.items()})
        fields = _where(**where)
        self.found.append(Command(day, RANK[rank or path], step, at.file, at.line, fields))

    # -- who the child is

    def registration(self, locality: str) -> None:
        """Born, or (expected, or with work before the birth) unborn, then born; the UPN."""
        child = self.child
        first = min((e.referral.value for e in child.episodes), default=None)
        born = child.born
        pre_birth = child.expected is not None or (
            born is not None and first is not None and first < born.value
        )
        ids: dict[str, Any] = {"child_id": child.child_id, "locality": locality}
        who = child.ident
        if born is not None and not pre_birth:
            body = {**ids, "date_of_birth": born.value}
            self.add("/children", REGISTERED, child, body, child_id=who, date_of_birth=born)
        elif (expected := child.expected or born) is not None:
            body = {**ids, "expected_date_of_birth": expected.value}
            where: dict[str, Val[Any]] = {"child_id": who, "expected_date_of_birth": expected}
            self.add("/unborn-children", REGISTERED, child, body, **where)
            if born is not None:
                body = {"date_of_birth": born.value}
                self.add("/births", born.value, born, body, date_of_birth=born)
        self.upn()

    def upn(self) -> None:
        """The UPN, sealed by case events: a command of its own, not the registration's, so
        that it is kept whichever return's registration the import keeps (a child's UPN is
        in the census of the year it was given, not those before)."""
        upn = self.child.upn
        if upn is not None:
            self.add("/personal-details", REGISTERED, upn, {"upn": upn.value}, upn=upn)

    def characteristics(self) -> None:
        """Sex, ethnicity and disabilities, recorded on the day of birth (an unborn child's
        on its first referral: its sex is not known)."""
        child = self.child
        if child.ethnicity is None:
            return
        first = min((e.referral.value for e in child.episodes), default=REGISTERED)
        on = child.born.value if child.born is not None else first
        sex = child.sex.value if child.sex is not None and child.born else Sex.NOT_KNOWN.value
        body = {
            "recorded_on": on,
            "sex": sex,
            "ethnicity": child.ethnicity.value,
            "disabilities": [d.value for d in child.disabilities],
        }
        self.add(
            "/characteristics",
            on,
            child.ethnicity,
            body,
            sex=child.sex,
            ethnicity=child.ethnicity,
            disabilities=child.disabilities,
        )

    # -- an episode of need

    def episode(self, e: Episode) -> None:
        referral_id = f"R-{e.referral.value.isoformat()}"
        self.add(
            "/referrals",
            e.referral.value,
            e,
            {
                "referral_id": referral_id,
                "referral_date": e.referral.value,
                "source": e.source.value,
            },
            referral_date=e.referral,
            source=e.source,
        )
        self.outcome(e, referral_id)
        for a in e.assessments:
            self.assessment(a, e.carried.get(a.start.value))
        for p in e.plans:
            self.cin_plan(p, e)
        for q in e.enquiries:
            self.enquiry(q, e)
        held = {q.conference.value for q in e.enquiries if q.conference is not None}
        for conference in e.conferences:
            if conference.value not in held:  # given again beside its enquiry's: the same one
                self.conference(conference)
        for cp in e.protection:
            self.protection_plan(cp)
        if e.closed is not None and e.reason is not None:
            body = {
                "referral_id": referral_id,
                "closed_on": e.closed.value,
                "reason": e.reason.value,
            }
            self.add(
                "/episode-of-need-closures",
                e.closed.value,
                e.closed,
                body,
                closed_on=e.closed,
                reason=e.reason,
            )

    def outcome(self, e: Episode, referral_id: str) -> None:
        """No further action (decided on the referral's day; unclosed, no earlier than the
        year of the latest census showing it began); else only to carry the primary need a
        year's census printed and none of the episode's parts can."""
        need = e.outcome_need
        if e.nfa.value:
            what = ReferralOutcome.NO_FURTHER_ACTION
            decided = e.referral.value if e.closed else max(e.referral.value, e.year.start)
        elif need is not None:
            what = ReferralOutcome.SECTION_47 if e.enquiries else ReferralOutcome.ASSESSMENT
            decided = e.referral.value
        else:
            return
        body: dict[str, Any] = {
            "referral_id": referral_id,
            "decided_on": decided,
            "outcome": what.value,
        }
        if need is not None:
            body["primary_need"] = need.value
        self.add(
            "/referral-outcomes",
            decided,
            e.nfa,
            body,
            outcome=e.nfa,
            decided_on=e.referral,
            primary_need=need,
        )

    def assessment(self, a: Assessment, need: Val[str] | None) -> None:
        assessment_id = f"A-{a.start.value.isoformat()}"
        self.add(
            "/assessments",
            a.start.value,
            a.start,
            {"assessment_id": assessment_id, "start_date": a.start.value},
            start_date=a.start,
        )
        if a.done is None:
            return
        body: dict[str, Any] = {
            "assessment_id": assessment_id,
            "completion_date": a.done.value,
            "factors": [f.value for f in a.factors],
        }
        if need is not None:
            body["primary_need"] = need.value
        same_day = a.done.value == a.start.value
        self.add(
            "/assessment-completions",
            a.done.value,
            a.done,
            body,
            None if same_day else "end",
            completion_date=a.done,
            factors=a.factors,
            primary_need=need,
        )

    def cin_plan(self, p: CinPlan, e: Episode) -> None:
        """A plan's need is the episode's (the census has one); its end's reason the
        episode's when it ended the episode, else services ceased (RC7)."""
        plan_id = f"CIN-{p.start.value.isoformat()}"
        need = e.need
        if need is None:  # check_child: a problem already
            return
        body = {"plan_id": plan_id, "start_date": p.start.value, "primary_need": need.value}
        self.add(
            "/child-in-need-plans",
            p.start.value,
            p.start,
            body,
            start_date=p.start,
            primary_need=need,
        )
        if p.end is None:
            return
        closing = e.closed is not None and e.reason is not None and e.closed.value == p.end.value
        reason = e.reason if closing and e.reason else None
        code = reason.value if reason else ChildInNeedClosureReason.SERVICES_CEASED_OTHER.value
        self.add(
            "/child-in-need-plan-endings",
            p.end.value,
            p.end,
            {"plan_id": plan_id, "end_date": p.end.value, "reason": code},
            None if p.end.value == p.start.value else "end",
            end_date=p.end,
            reason=reason,
        )

    def enquiry(self, q: Enquiry, e: Episode) -> None:
        discussion_id = f"SD-{q.start.value.isoformat()}"
        body = {
            "discussion_id": discussion_id,
            "discussion_date": q.start.value,
            "section_47_enquiry": True,
        }
        self.add("/strategy-discussions", q.start.value, q.start, body, discussion_date=q.start)
        concluded = _conclusion(q, e)
        if concluded is not None:
            on, outcome = concluded
            body = {"discussion_id": discussion_id, "concluded_on": on, "outcome": outcome}
            self.add("/section-47-outcomes", on, q.not_required, body, outcome=q.not_required)
        if q.conference is not None:
            self.conference(q.conference)

    def conference(self, held: Val[date]) -> None:
        """An initial conference; a plan was required when one started that day."""
        required = any(
            p.start.value == held.value for e in self.child.episodes for p in e.protection
        )
        body = {"conference_date": held.value, "plan_required": required}
        self.add(
            "/initial-child-protection-conferences",
            held.value,
            held,
            body,
            conference_date=held,
        )

    def protection_plan(self, cp: ProtectionPlan) -> None:
        plan_id = f"CP-{cp.start.value.isoformat()}"
        body: dict[str, Any] = {
            "plan_id": plan_id,
            "category": cp.category.value,
            "start_date": cp.start.value,
        }
        if cp.previous is not None:  # the plans before it the platform may not hold
            body["previous_plans"] = cp.previous.value
        self.add(
            "/child-protection-plans",
            cp.start.value,
            cp.start,
            body,
            category=cp.category,
            start_date=cp.start,
            previous_plans=cp.previous,
        )
        for review in cp.reviews:
            self.add(
                "/child-protection-plan-reviews",
                review.value,
                review,
                {"plan_id": plan_id, "review_date": review.value},
                review_date=review,
            )
        if cp.end is None:
            return
        late = cp.end.value == cp.start.value or any(r.value == cp.end.value for r in cp.reviews)
        self.add(
            "/child-protection-plan-endings",
            cp.end.value,
            cp.end,
            {"plan_id": plan_id, "end_date": cp.end.value},
            "cp-end-late" if late else "cp-end",
            end_date=cp.end,
        )


def _json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def _conclusion(q: Enquiry, e: Episode) -> tuple[date, str] | None:
    """How and when the enquiry concluded, as far as the census (the latest year's showing
    it) tells (see the module's docstring); None: still open."""
    if q.conference is not None:
        return q.conference.value, Section47Outcome.CONFERENCE.value
    if q.not_required.value:
        starts = [p.start.value for p in e.plans] + [p.start.value for p in e.protection]
        planned = any(start >= q.start.value for start in starts)
        outcome = Section47Outcome.CHILD_IN_NEED if planned else Section47Outcome.NO_FURTHER_ACTION
        return max(q.start.value, q.year.start), outcome.value
    if e.closed is not None:
        return max(q.start.value, e.closed.value), Section47Outcome.CONFERENCE.value
    return None


# -- checking the bodies with the services' own models ---------------------------------------


def check_bodies(found: _Problems, commands: Iterable[Command]) -> None:
    """Each body as the service's own model reads it: a code not in the DfE's list, an id
    or a day out of range is a problem at the element it came from."""
    for command in commands:
        model = MODELS[_route_path(command.step.path)]
        try:
            model.model_validate(command.step.body)
        except ValidationError as error:
            for e in error.errors():
                found.at(_element_of(command, e["loc"]), _reason(e))


def _route_path(path: str) -> str:
    if path in REGISTRATION_PATHS:
        return path
    return "/" + "/".join(path.split("/")[3:])


def _element_of(command: Command, loc: Sequence[int | str]) -> Val[Any]:
    """The element a field at fault was read from (the list's item, for a list); none
    named: the command's own."""
    where = command.fields.get(str(loc[0]) if loc else "")
    if not where:
        return Val(None, "", command.line, command.file)
    index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(where) else 0
    return where[index]


def _reason(error: Mapping[str, Any]) -> str:
    value = error.get("input")
    if error.get("type") == "enum":
        return f"not a code of the DfE's list: {value!r}"
    if error.get("type") == "missing":
        return "missing"
    return f"{error.get('msg')}: {value!r}"


# -- the file ------------------------------------------------------------------------------


def collection_year(r: _Reader, root: Node) -> CollectionYear | None:
    """The census's year from its Header (CollectionDetails' Year, 2027 for 2026-27; else
    its ReferenceDate, 31 March 2027): the days the census counts from."""
    header = next((n for n in root.children if n.tag == "Header"), None)
    details = next(
        (n for n in (header.children if header else []) if n.tag == "CollectionDetails"), None
    )
    found = {n.tag: n for n in (details.children if details else [])}
    year, reference = found.get("Year"), found.get("ReferenceDate")
    if year is not None and re.fullmatch(r"\d{4}", year.text, re.ASCII):
        return CollectionYear(int(year.text) - 1)
    if reference is not None and ISO_DAY.match(reference.text):
        return CollectionYear.of(date.fromisoformat(reference.text))
    where = year or reference or details or header or root
    r.problem(where.line, "Year", "the census's year is needed (Header/CollectionDetails/Year)")
    return None


def child_id_of(r: _Reader, node: Node) -> Val[str] | None:
    """The Child's LAchildID; a Child without one is a problem of the file (no child named)."""
    ids = next((n for n in node.children if n.tag == "ChildIdentifiers"), None)
    found = next((n for n in (ids.children if ids else []) if n.tag == "LAchildID"), None)
    if found is None or not found.text:
        where = ids or node
        r.problem(where.line, "LAchildID", f"missing from {where.tag}")
        return None
    return r.val(found.text, found)


@dataclass
class CinFile:
    """One census file, read: its year, each child's Child element (the first, of a child
    given twice), the problems of the file itself and of each child (in the file's order)."""

    name: str
    year: CollectionYear | None = None
    problems: list[Problem] = field(default_factory=list)
    children: dict[str, ChildFile] = field(default_factory=dict)
    child_problems: dict[str, list[Problem]] = field(default_factory=dict)
    rows: int = 0


def read_cins(paths: Sequence[Path], locality: str) -> ImportPlan:
    """The CIN census files at `paths` (several years', in any order: they are ordered by
    the year in each one's Header) as each child's commands, made once from what all the
    years say of the child (registered in `locality`: the census has none); every problem
    at its file and line, and no command of a child with any."""
    plan = ImportPlan()
    if not re.match(LOCALITY_PATTERN, locality):
        reason = f"not a locality: {locality!r}"
        plan.problems = [Problem(path.name, 0, "locality", reason) for path in paths]
        return plan
    files = sorted(map(read_file, paths), key=lambda f: f.year.start_year if f.year else 0)
    versions: dict[str, list[ChildFile]] = {}
    problems: dict[str, list[Problem]] = {}
    for f in files:
        plan.problems += f.problems
        plan.rows += f.rows
        for child_id, child in f.children.items():
            versions.setdefault(child_id, []).append(child)
            problems.setdefault(child_id, []).extend(f.child_problems[child_id])
    for child_id, read in versions.items():
        found = _Problems(child_id)
        found.problems = problems[child_id]
        commands = child_commands(found, merged_child(found, read), locality)
        plan.problems += found.problems
        if not found.problems:
            plan.children[child_id] = [cmd.dated() for cmd in commands]
    return plan


def read_cin(path: Path, locality: str) -> ImportPlan:
    """One CIN census file (`read_cins` of it alone)."""
    return read_cins([path], locality)


def read_file(path: Path) -> CinFile:
    """A census file's year and each Child in it, read and checked as far as one file can
    be (see `check_child`); a file that is not well-formed, or has no year, has none."""
    read = CinFile(path.name)
    top = _Reader(read.name, None)
    try:
        root = parse(path.read_bytes())
    except NotWellFormed as error:
        reason = f"{error.reason}; nothing of the file was imported"
        read.problems = [Problem(read.name, error.line, "", reason)]
        return read
    if root.tag != "Message":
        top.problem(root.line, root.tag, "not a CIN census message (its root is not Message)")
    read.year = collection_year(top, root) if not top.problems else None
    if read.year is not None:
        children = [n for n in root.children if n.tag == "Children"]
        top.elements(root)
        if not children:
            top.problem(root.line, "Children", "missing from Message")
        for group in children:
            read_children(read, top, group, read.year)
    read.problems = top.problems
    return read


def read_children(read: CinFile, top: _Reader, group: Node, year: CollectionYear) -> None:
    """Each Child of a Children element (a child given twice: a problem, the second not
    read; the child is refused)."""
    for node in group.children:
        if node.tag != "Child":
            top.problem(node.line, node.tag, "not an element of Children")
            continue
        ident = child_id_of(top, node)
        if ident is None:
            continue
        child_id = ident.value
        read.rows += sum(1 for n in node.children if n.tag == "CINdetails")
        r = _Reader(top.file, child_id, year)
        first = read.children.get(child_id)
        if first is not None:
            r.problem(ident.line, ident.tag, f"duplicate of line {first.ident.line}")
        else:
            child = read_child(r, node, ident)
            check_child(r, child)
            read.children[child_id] = child
        read.child_problems.setdefault(child_id, []).extend(r.problems)


def child_commands(found: _Problems, child: ChildFile, locality: str) -> list[Command]:
    """The child's commands (merged from every year's files) in the order they are sent (by
    day; in a day by rank), made of what could be read, so that a code not in the DfE's list
    is reported beside a date that is not a date (the caller sends none of them if there is
    any problem)."""
    check_history(found, child)
    made = _Commands(child)
    made.registration(locality)
    made.characteristics()
    for episode in child.episodes:
        made.episode(episode)
    check_bodies(found, made.found)
    return sorted(made.found, key=lambda cmd: (cmd.day, cmd.rank))

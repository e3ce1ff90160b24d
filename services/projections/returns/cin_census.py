"""The DfE's children in need census (the CIN census XML), derived from the event log.

The census covers every child with an episode of need (a referral to its closure) open at
any time in the collection year, referrals with no further action included, unborn children
too. Each episode is one `CINdetails`: its referral, its assessments (and the factors found),
child in need plans, section 47 enquiries (and their initial conferences) and child protection
plans (and their reviews), each as far as it reached by the end of the year (31 March, the
census's reference date) and only where it was still open at some time in the year (the DfE
rejects an assessment, plan or enquiry that ended before the year began).

Structure, element order and code lists are the DfE's schema (liiatools ships it:
`spec/cin_census/CIN_schema_2024.xsd`); the codes are the facts' own (contracts/case_events/
codes.py: the DfE's lists). A fact the events do not hold is left out, never invented, so
that the DfE's validator names what the event log is missing rather than a guess passing.
The census's own rules shape the derivation: an episode closes when its closure was recorded
(EpisodeOfNeedClosed: its day and reason), a referral with no further action included; an
episode recorded before that event existed closes with the end of its last child in need plan
(the plan's reason is the reason for closure) when nothing else of it is open, and a referral
closed with no further action then has no closure date (the DfE accepts such an episode
open). An initial conference belongs to the section 47 enquiry before it, else to the episode.
The primary need is the first child in need plan's, else the one the assessment found.

Pure: `cin_census` reads only the records it is given. Each `CINdetails` has a provenance row
naming the events it was made from (`Census.rows`), never written into the file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from contracts.case_events.codes import ReferralOutcome, Section47Outcome, Sex
from services.projections.returns.facts import (
    NOT_OF_SCHOOL_AGE,
    ChildRecord,
    CollectionYear,
    Fact,
    Row,
    events_of,
    iso_date,
    upn_or_unknown,
)

# The message's source: this platform (the DfE asks which software made the file).
SOFTWARE_CODE = "childrens-services-platform"
RELEASE = "0.1.0"
SERIAL_NO = "001"

# The column of `Census.rows` holding the child's id (the platform's own: the API filters the
# provenance rows of one child by it).
CHILD = "LAchildID"

# The child's sex: GenderCurrent (the contracts' codes 1, 2, 0, 9) until the 2023-24 census;
# from 2024-25 Sex, M, F or U in the same place (rules 4180, 8750). Not known and indeterminate
# have no letter of their own: U, as is an unborn child's sex whatever a scan said (8750).
SEX_FROM = 2024
SEX = {Sex.MALE.value: "M", Sex.FEMALE.value: "F"}
UNKNOWN_SEX = "U"

# Who the child is, whenever it was registered or recorded: kept whatever the census year (the
# other facts count only if they happened by the end of the year). Of the characteristics, the
# census takes those recorded by the year's end (`recorded_characteristics`).
TIMELESS = frozenset({"ChildRegistered", "UnbornChildRegistered", "ChildCharacteristicsRecorded"})

# The day each kind of fact is about (its first date field; `occurred_on` otherwise).
DAY_FIELD = {
    "ReferralReceived": "referral_date",
    "ReferralOutcomeRecorded": "decided_on",
    "AssessmentStarted": "start_date",
    "AssessmentCompleted": "completion_date",
    "ChildInNeedPlanStarted": "start_date",
    "ChildInNeedPlanEnded": "end_date",
    "StrategyDiscussionHeld": "discussion_date",
    "Section47EnquiryConcluded": "concluded_on",
    "InitialChildProtectionConferenceHeld": "conference_date",
    "ChildProtectionPlanStarted": "start_date",
    "ChildProtectionPlanReviewed": "review_date",
    "ChildProtectionPlanEnded": "end_date",
    "PeriodOfCareStarted": "start_date",
    "PeriodOfCareEnded": "end_date",
    "EpisodeOfNeedClosed": "closed_on",
}

# What starts, ends or adds to each part of an episode, and the id that ties them together
# (a period of care has none: one is open at a time).
STARTS = {
    "AssessmentStarted": ("assessments", "assessment_id"),
    "ChildInNeedPlanStarted": ("plans", "plan_id"),
    "StrategyDiscussionHeld": ("enquiries", "discussion_id"),
    "ChildProtectionPlanStarted": ("protection", "plan_id"),
    "PeriodOfCareStarted": ("care", ""),
}
ENDS = {
    "AssessmentCompleted": ("assessments", "assessment_id"),
    "ChildInNeedPlanEnded": ("plans", "plan_id"),
    "Section47EnquiryConcluded": ("enquiries", "discussion_id"),
    "ChildProtectionPlanEnded": ("protection", "plan_id"),
    "PeriodOfCareEnded": ("care", ""),
}
REVIEWS = {"ChildProtectionPlanReviewed": ("protection", "plan_id")}

# A section 47 enquiry concluded so: no initial conference is needed (ICPCnotRequired).
CONFERENCE_NOT_REQUIRED = frozenset(
    {Section47Outcome.NO_FURTHER_ACTION.value, Section47Outcome.CHILD_IN_NEED.value}
)


@dataclass(frozen=True)
class Census:
    """The census file (UTF-8 XML) and a provenance row for each `CINdetails` in it (the
    child, the referral date, and the events it was made from), in the file's order."""

    xml: bytes
    rows: list[Row]


@dataclass
class Span:
    """A part of an episode that starts and may end (an assessment, a child in need plan, a
    section 47 enquiry, a child protection plan, a period of care), with what was added to it
    (a plan's reviews; an enquiry's initial conference)."""

    start: Fact
    end: Fact | None = None
    more: list[Fact] = field(default_factory=list)


@dataclass
class Episode:
    """An episode of need: a referral and what followed it, up to the next referral."""

    referral: Fact
    outcome: Fact | None = None
    assessments: list[Span] = field(default_factory=list)
    plans: list[Span] = field(default_factory=list)
    enquiries: list[Span] = field(default_factory=list)
    protection: list[Span] = field(default_factory=list)
    care: list[Span] = field(default_factory=list)
    conferences: list[Fact] = field(default_factory=list)  # not after an enquiry of its own
    closed: Fact | None = None  # its closure as recorded (EpisodeOfNeedClosed), if it was
    next_referral: date | None = None

    def spans(self) -> list[Span]:
        return [*self.assessments, *self.plans, *self.enquiries, *self.protection, *self.care]


def day(f: Fact) -> date:
    """The day a fact is about."""
    return f.day(DAY_FIELD.get(f.event_type, "")) or f.occurred_on


def recorded_characteristics(record: ChildRecord, year: CollectionYear) -> Fact | None:
    """The child's sex, ethnicity and disabilities as last recorded by the year's end (an
    unborn child's sex is not known yet); recorded only after it, the first recording (who
    the child is does not change: it was only recorded late)."""
    recorded = record.of("ChildCharacteristicsRecorded")
    by_then = [f for f in recorded if f.occurred_on <= year.end]
    return by_then[-1] if by_then else (recorded[0] if recorded else None)


def as_at_year_end(record: ChildRecord, year: CollectionYear) -> ChildRecord:
    """The child's facts as they stood at the census's reference date: what happened after
    it is next year's census (who the child is stays, whenever it was registered)."""
    kept = tuple(f for f in record.facts if f.occurred_on <= year.end or f.event_type in TIMELESS)
    return ChildRecord(record.child_id, record.locality, kept)


# -- episodes ------------------------------------------------------------------------------


class _Episodes:
    """Sorts a child's facts (oldest first) into episodes: each part of an episode belongs
    to the referral before it started; its end, reviews and conference follow it by id."""

    def __init__(self) -> None:
        self.found: list[Episode] = []
        self.spans: dict[tuple[str, str], Span] = {}
        self.last_enquiry: Span | None = None

    def add(self, f: Fact) -> None:
        kind = f.event_type
        if kind == "ReferralReceived":
            self.found.append(Episode(f))
            self.last_enquiry = None  # a new episode's conference follows its own enquiry
        elif kind == "ReferralOutcomeRecorded":
            self._of_referral(f, "outcome")
        elif kind == "EpisodeOfNeedClosed":
            self._of_referral(f, "closed")
        elif kind in STARTS:
            self._start(f)
        elif kind in ENDS:
            span = self._span_of(f, ENDS)
            if span is not None and span.end is None:
                span.end = f
        elif kind in REVIEWS:
            span = self._span_of(f, REVIEWS)
            if span is not None:
                span.more.append(f)
        elif kind == "InitialChildProtectionConferenceHeld":
            self._conference(f)

    @staticmethod
    def _key(f: Fact, table: Mapping[str, tuple[str, str]]) -> tuple[str, str]:
        part, id_field = table[f.event_type]
        return part, str(f.get(id_field, "")) if id_field else ""

    def _span_of(self, f: Fact, table: Mapping[str, tuple[str, str]]) -> Span | None:
        """The part of an episode a fact ends or adds to: the one of its id; else the last
        one started without an id (a child protection plan's start recorded before the
        chronology kept its plan_id: one plan is open at a time, census rule 8935)."""
        part, _ = table[f.event_type]
        return self.spans.get(self._key(f, table)) or self.spans.get((part, ""))

    def _of_referral(self, f: Fact, name: str) -> None:
        """A referral's outcome or its episode's closure: the episode of that referral."""
        for episode in reversed(self.found):
            if episode.referral.get("referral_id") == f.get("referral_id"):
                setattr(episode, name, f)
                return

    def _start(self, f: Fact) -> None:
        if f.event_type == "StrategyDiscussionHeld" and not f.get("section_47_enquiry"):
            return  # a strategy discussion that started no enquiry is not in the census
        span = Span(f)
        part, _ = STARTS[f.event_type]
        self.spans[self._key(f, STARTS)] = span
        if part == "enquiries":
            self.last_enquiry = span
        if self.found:  # before any referral: no episode the census could put it in
            getattr(self.found[-1], part).append(span)

    def _conference(self, f: Fact) -> None:
        """An initial conference is the one the last enquiry led to, unless that enquiry
        already had one or concluded that none was needed (then it is the episode's own)."""
        enquiry = self.last_enquiry
        if enquiry is not None and not enquiry.more and not _not_required(enquiry):
            enquiry.more.append(f)
        elif self.found:
            self.found[-1].conferences.append(f)


def episodes(record: ChildRecord) -> list[Episode]:
    """The child's episodes of need, oldest first."""
    sorter = _Episodes()
    for f in record.facts:
        sorter.add(f)
    for earlier, later in zip(sorter.found, sorter.found[1:], strict=False):
        earlier.next_referral = day(later.referral)
    return sorter.found


def _not_required(enquiry: Span) -> bool:
    """Whether a section 47 enquiry concluded that no initial conference was needed."""
    return enquiry.end is not None and enquiry.end.get("outcome") in CONFERENCE_NOT_REQUIRED


def _resolved_on(span: Span) -> date | None:
    """When a part of an episode stopped being open: an enquiry at its conference (or its
    conclusion when none was needed), anything else at its end."""
    if span.start.event_type == "StrategyDiscussionHeld":
        if span.more:
            return day(span.more[0])
        return day(span.end) if span.end is not None and _not_required(span) else None
    return day(span.end) if span.end is not None else None


def closure(episode: Episode) -> Fact | None:
    """The fact that closed the episode (its day and reason are CINclosureDate and
    ReasonForClosure): its closure as recorded; for an episode recorded without one, the end
    of its last child in need plan, when nothing else of the episode was open then or started
    after. Otherwise (recorded before the closure event existed, ended with a child
    protection plan or an enquiry) the events hold no closure."""
    if episode.closed is not None:
        return episode.closed
    if not episode.plans or episode.plans[-1].end is None:
        return None
    last = episode.plans[-1].end
    closed = day(last)
    for span in episode.spans():
        resolved = _resolved_on(span)
        if day(span.start) > closed or resolved is None or resolved > closed:
            return None
    if any(day(c) > closed for c in episode.conferences):
        return None
    return last


def no_further_action(episode: Episode) -> bool:
    """Whether the referral was closed with no further action (ReferralNFA)."""
    outcome = episode.outcome
    return outcome is not None and outcome.get("outcome") == ReferralOutcome.NO_FURTHER_ACTION


def ended_on(episode: Episode) -> date | None:
    """When the episode was over, as far as the facts tell: its closure; the decision on a
    referral with no further action not recorded as closed; or, at the latest, the next
    referral (episodes of need do not overlap). None: still open."""
    closed = closure(episode)
    if closed is not None:
        return day(closed)
    if no_further_action(episode) and episode.outcome is not None:
        return day(episode.outcome)
    return episode.next_referral


def in_year(episode: Episode, year: CollectionYear) -> bool:
    """Whether the episode was open at any time in the year."""
    end = ended_on(episode)
    return day(episode.referral) <= year.end and (end is None or end >= year.start)


def _open_in(span: Span, year: CollectionYear) -> bool:
    resolved = _resolved_on(span)
    return day(span.start) <= year.end and (resolved is None or resolved >= year.start)


# -- the XML -------------------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, text: str | None) -> ET.Element | None:
    """A child element with this text; none when the text is unknown."""
    if text is None or text == "":
        return None
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def _sub_day(parent: ET.Element, tag: str, when: date | None) -> None:
    _sub(parent, tag, iso_date(when))


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _unique(codes: Iterable[object]) -> list[str]:
    """Codes in their order, each once (the DfE rejects a code given twice)."""
    return list(dict.fromkeys(str(c) for c in codes if c))


def header(year: CollectionYear, la: str, records: Sequence[ChildRecord]) -> ET.Element:
    """The message header. Its DateTime is when the newest fact it was made from was
    recorded: the data's "as at" (a pure function has no clock)."""
    message = ET.Element("Message")
    head = ET.SubElement(message, "Header")
    details = ET.SubElement(head, "CollectionDetails")
    _sub(details, "Collection", "CIN")
    _sub(details, "Year", str(year.start_year + 1))
    _sub_day(details, "ReferenceDate", year.end)
    source = ET.SubElement(head, "Source")
    _sub(source, "SourceLevel", "L")
    _sub(source, "LEA", la)
    _sub(source, "SoftwareCode", SOFTWARE_CODE)
    _sub(source, "Release", RELEASE)
    _sub(source, "SerialNo", SERIAL_NO)
    newest = max((f.recorded_at for r in records for f in r.facts), default=None)
    if newest is not None:
        _sub(source, "DateTime", newest.replace(microsecond=0).isoformat())
    return message


def sex_element(recorded: Fact | None, unborn: bool, year: CollectionYear) -> tuple[str, str]:
    """The sex's element and code for the year: Sex (M, F, U) from 2024-25, GenderCurrent
    (1, 2, 0, 9) before. An unborn child's is not known (U; 0 before 2024-25); a born child's
    blank when never recorded (the validator names the gap)."""
    old = year.start_year < SEX_FROM
    if unborn:
        return ("GenderCurrent", Sex.NOT_KNOWN.value) if old else ("Sex", UNKNOWN_SEX)
    sex = None if recorded is None else recorded.get("sex")
    if sex is None:
        return ("GenderCurrent" if old else "Sex"), ""
    return ("GenderCurrent", str(sex)) if old else ("Sex", SEX.get(str(sex), UNKNOWN_SEX))


def identifiers(
    child: ET.Element,
    record: ChildRecord,
    recorded: Fact | None,
    upn: str | None,
    year: CollectionYear,
) -> list[Fact]:
    """ChildIdentifiers: the child's id, UPN (from the caller: sealed, not a fact), date of
    birth (or, not yet born at the year's end, the expected one) and sex. Returns the facts
    used."""
    ids = ET.SubElement(child, "ChildIdentifiers")
    _sub(ids, CHILD, record.child_id)
    birth = record.last("ChildBorn") or record.first("ChildRegistered")
    unborn = record.first("UnbornChildRegistered")
    known = upn_or_unknown(upn, birth.day("date_of_birth") if birth else None, year)
    _sub(ids, "UPNunknown" if known == NOT_OF_SCHOOL_AGE else "UPN", known or None)
    if birth is not None:
        _sub_day(ids, "PersonBirthDate", birth.day("date_of_birth"))
    elif unborn is not None:
        _sub_day(ids, "ExpectedPersonBirthDate", unborn.day("expected_date_of_birth"))
    _sub(ids, *sex_element(recorded, birth is None and unborn is not None, year))
    return [f for f in (birth if birth is not None else unborn, recorded) if f is not None]


def characteristics(child: ET.Element, recorded: Fact | None) -> None:
    """ChildCharacteristics: the child's ethnicity and disabilities."""
    element = ET.SubElement(child, "ChildCharacteristics")
    if recorded is None:
        return
    _sub(element, "Ethnicity", recorded.get("ethnicity"))
    disabilities = _unique(recorded.get("disabilities") or [])
    if disabilities:
        listed = ET.SubElement(element, "Disabilities")
        for code in disabilities:
            _sub(listed, "Disability", code)


def assessment(parent: ET.Element, span: Span) -> list[Fact | None]:
    """An Assessments group: started, authorised (if by the year's end), and the factors
    found (only for an authorised assessment)."""
    element = ET.SubElement(parent, "Assessments")
    _sub_day(element, "AssessmentActualStartDate", day(span.start))
    if span.end is None:
        return [span.start]
    _sub_day(element, "AssessmentAuthorisationDate", day(span.end))
    factors = _unique(span.end.get("factors") or [])
    if factors:
        found = ET.SubElement(element, "FactorsIdentifiedAtAssessment")
        for code in factors:
            _sub(found, "AssessmentFactors", code)
    return [span.start, span.end]


def cin_plan(parent: ET.Element, span: Span) -> list[Fact | None]:
    """A CINPlanDates group: the plan's start, and its end if it ended by the year's end."""
    element = ET.SubElement(parent, "CINPlanDates")
    _sub_day(element, "CINPlanStartDate", day(span.start))
    _sub_day(element, "CINPlanEndDate", day(span.end) if span.end is not None else None)
    return [span.start, span.end]


def section_47(parent: ET.Element, span: Span) -> list[Fact | None]:
    """A Section47 group: the strategy discussion that started the enquiry, the conference
    target, the initial conference, and whether the enquiry concluded none was needed."""
    element = ET.SubElement(parent, "Section47")
    _sub_day(element, "S47ActualStartDate", day(span.start))
    _sub_day(element, "InitialCPCtarget", span.start.day("icpc_due_date"))
    conference = span.more[0] if span.more else None
    _sub_day(element, "DateOfInitialCPC", day(conference) if conference is not None else None)
    _sub(element, "ICPCnotRequired", _flag(conference is None and _not_required(span)))
    return [span.start, span.end, conference]


def protection_plan(parent: ET.Element, span: Span, year: CollectionYear) -> list[Fact | None]:
    """A ChildProtectionPlans group, with the reviews held in the year. The category of
    abuse is the plan's (no fact changes it: latest = initial)."""
    element = ET.SubElement(parent, "ChildProtectionPlans")
    start = span.start
    _sub_day(element, "CPPstartDate", day(start))
    _sub_day(element, "CPPendDate", day(span.end) if span.end is not None else None)
    _sub(element, "InitialCategoryOfAbuse", start.get("category"))
    _sub(element, "LatestCategoryOfAbuse", start.get("category"))
    previous = start.get("previous_plans")
    _sub(element, "NumberOfPreviousCPP", None if previous is None else str(previous))
    reviews = [r for r in span.more if year.contains(day(r)) and day(r) > day(start)]
    if reviews:
        held = ET.SubElement(element, "Reviews")
        for review in reviews:
            _sub_day(held, "CPPreviewDate", day(review))
    return [start, span.end, *reviews]


def primary_need(episode: Episode) -> Fact | None:
    """The fact giving the episode's PrimaryNeedCode (rule 8610): its first child in need
    plan's start; with no plan (or none yet), the last authorised assessment that found one;
    with neither (an assessment still under way), the need the referral was accepted for, or
    the one the child's period of care began for."""
    if episode.plans and episode.plans[0].start.get("primary_need"):
        return episode.plans[0].start
    found = [a.end for a in episode.assessments if a.end is not None and a.end.get("primary_need")]
    if found:
        return sorted(found, key=day)[-1]
    outcome = episode.outcome
    if outcome is not None and outcome.get("primary_need"):
        return outcome
    # A child looked after on a referral older than any assessment the platform holds: the
    # need the period of care began for.
    care = [c.start for c in episode.care if c.start.get("category_of_need")]
    return care[0] if care else None


def _case(element: ET.Element, episode: Episode, year: CollectionYear) -> list[Fact | None]:
    """The episode's own items: referral, source, primary need, closure and reason, and an
    initial conference held in the year that followed no enquiry of its own."""
    referral = episode.referral
    _sub_day(element, "CINreferralDate", day(referral))
    _sub(element, "ReferralSource", referral.get("source"))
    need = primary_need(episode)
    code = None if need is None else need.get("primary_need") or need.get("category_of_need")
    _sub(element, "PrimaryNeedCode", code)
    closed = closure(episode)
    if closed is not None:
        _sub_day(element, "CINclosureDate", day(closed))
        _sub(element, "ReasonForClosure", closed.get("reason"))
    conference = next((c for c in episode.conferences if year.contains(day(c))), None)
    if conference is not None:
        _sub_day(element, "DateOfInitialCPC", day(conference))
    return [referral, episode.outcome, need, closed, conference]


def cin_details(child: ET.Element, episode: Episode, year: CollectionYear) -> list[Fact | None]:
    """A CINdetails group, in the schema's order; returns the facts it was made from."""
    element = ET.SubElement(child, "CINdetails")
    used = _case(element, episode, year)
    parts: list[tuple[list[Span], Callable[[ET.Element, Span], list[Fact | None]]]] = [
        (episode.assessments, assessment),
        (episode.plans, cin_plan),
        (episode.enquiries, section_47),
    ]
    for spans, build in parts:
        for span in spans:
            if _open_in(span, year):
                used += build(element, span)
    _sub(element, "ReferralNFA", _flag(no_further_action(episode)))
    for span in episode.protection:
        if _open_in(span, year):
            used += protection_plan(element, span, year)
    return used


def child_element(
    children: ET.Element,
    record: ChildRecord,
    found: list[Episode],
    year: CollectionYear,
    upn: str | None,
) -> list[Row]:
    """A Child: identifiers, characteristics and a CINdetails per episode; a row for each."""
    child = ET.SubElement(children, "Child")
    recorded = recorded_characteristics(record, year)
    who = identifiers(child, record, recorded, upn, year)
    characteristics(child, recorded)
    rows = []
    for episode in found:
        used = cin_details(child, episode, year)
        rows.append(
            Row(
                values={
                    CHILD: record.child_id,
                    "CINreferralDate": iso_date(day(episode.referral)),
                },
                events=events_of([*used, *who]),
            )
        )
    return rows


def cin_census(
    records: Sequence[ChildRecord],
    year: CollectionYear,
    upns: Mapping[str, str],
    la: str = "878",
) -> Census:
    """The CIN census of the year for the council `la` (its DfE number): every child with an
    episode of need open at any time in the year, children in the order of their ids."""
    message = header(year, la, records)
    children = ET.SubElement(message, "Children")
    rows: list[Row] = []
    for record in sorted(records, key=lambda r: r.child_id):
        as_at = as_at_year_end(record, year)
        found = [e for e in episodes(as_at) if in_year(e, year)]
        if found:
            rows += child_element(children, as_at, found, year, upns.get(record.child_id))
    ET.indent(message)
    return Census(xml=ET.tostring(message, encoding="utf-8", xml_declaration=True), rows=rows)

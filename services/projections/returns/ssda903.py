"""The SSDA903 return (children looked after), derived from the event log.

Every table of the DfE's collection for a collection year, made by pure functions from the
children's facts (`facts.py`): who is in the return and each value follow the DfE's SSDA903
guidance, as Data to Insight's validator (`lac_validator`) reads it. The facts carry the
national codes (contracts/*/codes.py), so a value is the fact's own code; a value the facts do
not hold is left blank (the validator then names the gap) rather than guessed.

The return covers the collection year (1 April to 31 March) with what had happened by its
end: a fact of a later day (a move, a period of care ending) is not in that year's return, so
last year's return made today is the return that should have been sent, corrected by whatever
was recorded late. The UPNs are sealed personal data, not facts: the caller gives them.
"""

from __future__ import annotations

import csv
import io
from calendar import monthrange
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from contracts.case_events.codes import Sex, SocialWorkerChangeReason
from services.projections.returns.facts import (
    ChildRecord,
    CollectionYear,
    Fact,
    Row,
    age_on,
    dfe_date,
    events_of,
    sorted_rows,
    upn_or_unknown,
)

# The tables and their columns, in the DfE's order: `lac_validator/config.py` `column_names`
# (which recognises each CSV by its set of columns). liiatools' `SSDA903_schema_2024.yml` has
# the same columns in the same order for the tables it has, except UASC (CHILD, DOB, SEX, DUC
# there); it calls SWEpisodes "SocialWorker", has no DoLo table (new in 2026-27), codes SEX 1/2
# where the DfE has used M/F/U since 2024-25, lists the placement codes before 2025-26's (H5,
# P2, Z1; no K3, Z11-Z14), and has "PCCHAN " with a trailing space.
TABLES: dict[str, tuple[str, ...]] = {
    "Header": ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"),
    "Episodes": (
        "CHILD",
        "DECOM",
        "RNE",
        "LS",
        "CIN",
        "PLACE",
        "PLACE_PROVIDER",
        "DEC",
        "REC",
        "REASON_PLACE_CHANGE",
        "HOME_POST",
        "PL_POST",
        "URN",
    ),
    "Reviews": ("CHILD", "DOB", "REVIEW", "REVIEW_CODE"),
    "UASC": ("CHILD", "SEX", "DOB", "DUC"),
    "OC2": (
        "CHILD",
        "DOB",
        "SDQ_SCORE",
        "SDQ_REASON",
        "CONVICTED",
        "HEALTH_CHECK",
        "IMMUNISATIONS",
        "TEETH_CHECK",
        "HEALTH_ASSESSMENT",
        "SUBSTANCE_MISUSE",
        "INTERVENTION_RECEIVED",
        "INTERVENTION_OFFERED",
    ),
    "OC3": ("CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM"),
    "AD1": (
        "CHILD",
        "DOB",
        "DATE_INT",
        "DATE_MATCH",
        "FOSTER_CARE",
        "NB_ADOPTR",
        "SEX_ADOPTR",
        "LS_ADOPTR",
    ),
    "PlacedAdoption": (
        "CHILD",
        "DOB",
        "DATE_PLACED",
        "DATE_PLACED_CEASED",
        "REASON_PLACED_CEASED",
    ),
    "PrevPerm": ("CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"),
    "Missing": ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"),
    "SWEpisodes": ("CHILD", "DOB", "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON"),
    "DoLo": ("CHILD", "DOB", "DOLO_START", "DOLO_END"),
}

# Each table's file (the names the validator's own tooling uses); it knows a file by its columns.
FILE_NAMES: dict[str, str] = {
    "Header": "header.csv",
    "Episodes": "episodes.csv",
    "Reviews": "reviews.csv",
    "UASC": "uasc.csv",
    "OC2": "oc2.csv",
    "OC3": "oc3.csv",
    "AD1": "ad1.csv",
    "PlacedAdoption": "placed_for_adoption.csv",
    "PrevPerm": "previous_permanence.csv",
    "Missing": "missing.csv",
    "SWEpisodes": "sw_episodes.csv",
    "DoLo": "dolo.csv",
}

# How the DfE sorts each table: by child, then by the day each row starts.
SORT: dict[str, tuple[str, ...]] = {
    "Header": ("CHILD",),
    "Episodes": ("CHILD", "DECOM"),
    "Reviews": ("CHILD", "REVIEW"),
    "UASC": ("CHILD",),
    "OC2": ("CHILD",),
    "OC3": ("CHILD",),
    "AD1": ("CHILD",),
    "PlacedAdoption": ("CHILD", "DATE_PLACED"),
    "PrevPerm": ("CHILD",),
    "Missing": ("CHILD", "MIS_START"),
    "SWEpisodes": ("CHILD", "SW_DECOM"),
    "DoLo": ("CHILD", "DOLO_START"),
}

# Placements that are a temporary absence from the usual one: no provider (rule 213) and no
# reason for the change into or out of them (rules 225, 226).
TEMPORARY = frozenset({"T0", "T1", "T2", "T3", "T4"})
# Placed for adoption with the current foster carer(s): a move into one keeps the carers, so
# its new episode is T (placement only) or U (with legal status), never P or B (rule 217).
SAME_CARERS = frozenset({"A3", "A5"})
# Accommodated for a series of short breaks: no postcodes (rules 214, 398), no reviews (399),
# never "continuously looked after" (OC2).
SHORT_BREAKS = frozenset({"V3", "V4"})
ADOPTED = frozenset({"E11", "E12"})
# The DfE's SEX since 2024-25 (lac2024_25 rule 101 and the MOTHER rules 174, 393, 607 read
# M, F, U): the CIN census codes (contracts' Sex) as letters; "not recorded" and "indeterminate"
# have no code of their own and are U. Until 2023-24 SEX was 1 or 2 (lac2022_23 rule 101), with
# no code for the others (left blank: the validator names them).
SEX_FROM = 2024
SEX = {
    Sex.MALE.value: "M",
    Sex.FEMALE.value: "F",
    Sex.NOT_KNOWN.value: "U",
    Sex.INDETERMINATE.value: "U",
}
SEX_UNTIL_2024 = {Sex.MALE.value: "1", Sex.FEMALE.value: "2"}
# SSDA903 categories of need (the CIN census's N9 and N0 have no SSDA903 code).
NEEDS = frozenset({"N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"})
# Care leavers' birthdays the OC3 table reports around; the information relates to the period
# from three months before to one month after the birthday.
CARE_LEAVER_AGES = range(17, 22)
MONTHS_BEFORE, MONTHS_AFTER = 3, 1
CARE_LEAVER_STATUSES = frozenset({"eligible", "relevant", "former_relevant"})
THIRTEEN_WEEKS = 91
# SW_REASON of a social worker episode that replaces none: the child's first contact (rules
# SW10a, SW10b), the reason the first allocation carries (or is given when it carries none).
FIRST_CONTACT = SocialWorkerChangeReason.FIRST_CONTACT.value


def _bit(value: object) -> str:
    """A yes/no item as the DfE codes it (1/0); blank when not recorded."""
    if value is None:
        return ""
    return "1" if value else "0"


def _text(value: object) -> str:
    return "" if value is None else str(value)


def sex_code(sex: object, year: CollectionYear) -> str:
    """SEX as the year's return codes it (M, F, U since 2024-25; 1 or 2 before); blank when
    not recorded or with no code in the year's list."""
    codes = SEX if year.start_year >= SEX_FROM else SEX_UNTIL_2024
    return codes.get(_text(sex), "")


def _months_later(day: date, months: int) -> date:
    """The same day `months` later (or earlier), the month's last day when it has no such day."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    month += 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def _birthday(born: date, age: int) -> date:
    """The day a child turns `age` (28 February for a 29 February birthday, as pandas does)."""
    try:
        return born.replace(year=born.year + age)
    except ValueError:
        return date(born.year + age, 2, 28)


# -- periods of care and episodes --------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A period of care: its start, and its end if the child had left care by the year's end."""

    started: Fact
    ended: Fact | None = None

    @property
    def start(self) -> date:
        return self.started.day("start_date") or self.started.occurred_on

    @property
    def end(self) -> date | None:
        if self.ended is None:
            return None
        return self.ended.day("end_date") or self.ended.occurred_on

    def holds(self, day: date) -> bool:
        """Whether the child was looked after (in this period) on the day."""
        end = self.end
        return self.start <= day and (end is None or day <= end)


@dataclass
class Episode:
    """An SSDA903 episode: a stretch of a period of care with one legal status and one
    placement. `legal` is the fact that set its legal status (the period's start or a change),
    `placement` the placement's start; `closed_by` the facts that ended it."""

    period: Period
    start: date
    rne: str
    legal: Fact
    placement: Fact | None
    end: date | None = None
    rec: str = ""
    move: Fact | None = None  # the placement change that ended it (its reason)
    closed_by: list[Fact] = field(default_factory=list)

    @property
    def ls(self) -> str:
        return _text(self.legal.get("legal_status"))

    @property
    def place(self) -> str:
        return "" if self.placement is None else _text(self.placement.get("placement_type"))

    def overlaps(self, year: CollectionYear) -> bool:
        return year.overlaps(self.start, self.end)


@dataclass
class _Change:
    """What changed on one day of a period of care."""

    day: date
    legal: Fact | None = None
    placement: Fact | None = None


def periods(record: ChildRecord, until: date) -> list[Period]:
    """The child's periods of care that had started by `until`; an end after it is not known
    yet. A second start while a period is open is the same period."""
    out: list[Period] = []
    current: Fact | None = None
    for f in record.of("PeriodOfCareStarted", "PeriodOfCareEnded"):
        if f.occurred_on > until:
            break
        if f.event_type == "PeriodOfCareStarted":
            current = current or f
        elif current is not None:
            out.append(Period(current, f))
            current = None
    if current is not None:
        out.append(Period(current))
    return out


def _change_day(f: Fact) -> date:
    return f.day("change_date") or f.day("start_date") or f.occurred_on


def _changes(record: ChildRecord, period: Period, until: date) -> list[_Change]:
    """The legal status changes and placements of the period, by day (up to `until`)."""
    end = period.end
    by_day: dict[date, _Change] = {}
    for f in record.of("LegalStatusChanged", "PlacementStarted", "PlacementChanged"):
        day = _change_day(f)
        if day < period.start or day > until or (end is not None and day >= end):
            continue
        change = by_day.setdefault(day, _Change(day))
        if f.event_type == "LegalStatusChanged":
            change.legal = f
        else:
            change.placement = f
    return [by_day[d] for d in sorted(by_day)]


def _reason_for_new_episode(current: Episode, change: _Change) -> str | None:
    """RNE: L legal status only; P placement (and carers) only; T placement only, same carers;
    B both; U both, same carers. None when nothing the SSDA903 records changed."""
    legal = change.legal is not None and change.legal.get("legal_status") != current.ls
    if change.placement is None:
        return "L" if legal else None
    same_carers = change.placement.get("placement_type") in SAME_CARERS
    if legal:
        return "U" if same_carers else "B"
    return "T" if same_carers else "P"


def _period_episodes(record: ChildRecord, period: Period, until: date) -> list[Episode]:
    """A new episode at the start of care (S) and on each change of legal status or placement;
    each ends the day the next begins (X1), the last when the period ended (its reason)."""
    changes = _changes(record, period, until)
    first = changes[0] if changes and changes[0].day == period.start else None
    later = changes[1:] if first is not None else changes
    opening = Episode(
        period=period,
        start=period.start,
        rne="S",
        legal=(first.legal if first is not None else None) or period.started,
        placement=first.placement if first is not None else None,
    )
    episodes = [opening]
    for change in later:
        current = episodes[-1]
        rne = _reason_for_new_episode(current, change)
        if rne is None:
            continue
        current.end, current.rec = change.day, "X1"
        current.move = change.placement
        current.closed_by = [f for f in (change.legal, change.placement) if f is not None]
        legal = change.legal if rne in ("L", "B", "U") and change.legal else current.legal
        episodes.append(
            Episode(
                period=period,
                start=change.day,
                rne=rne,
                legal=legal,
                placement=change.placement or current.placement,
            )
        )
    if period.ended is not None:
        last = episodes[-1]
        last.end, last.rec = period.end, _text(period.ended.get("reason"))
        last.closed_by = [period.ended]
    return episodes


# -- a child, as the year's return sees them -------------------------------------------------


@dataclass(frozen=True)
class Child:
    """A child's facts read for one collection year: up to its end (`until`), their date of
    birth, characteristics, periods of care and episodes."""

    record: ChildRecord
    year: CollectionYear
    born_fact: Fact | None
    characteristics: Fact | None
    periods: tuple[Period, ...]
    episodes: tuple[Episode, ...]

    @property
    def child_id(self) -> str:
        return self.record.child_id

    @property
    def until(self) -> date:
        return self.year.end

    @property
    def born(self) -> date | None:
        return None if self.born_fact is None else self.born_fact.day("date_of_birth")

    @property
    def dob(self) -> str:
        return dfe_date(self.born)

    @property
    def in_year(self) -> list[Episode]:
        """The episodes open at some time in the year."""
        return [e for e in self.episodes if e.overlaps(self.year)]

    def of(self, *event_types: str) -> list[Fact]:
        """The child's facts of these types that had happened by the year's end."""
        return [f for f in self.record.of(*event_types) if f.occurred_on <= self.until]

    def period_on(self, day: date) -> Period | None:
        return next((p for p in self.periods if p.holds(day)), None)

    def legal_status_on(self, day: date) -> str:
        """The legal status on the day (the later episode's on a day one ends and one starts)."""
        found = [e for e in self.episodes if e.start <= day and (e.end is None or day <= e.end)]
        return found[-1].ls if found else ""

    def age_on(self, day: date) -> int | None:
        return None if self.born is None else age_on(self.born, day)


def _born(record: ChildRecord) -> Fact | None:
    """The fact giving the date of birth: the birth of a child registered unborn, else the
    registration. A date of birth is for all time, whenever it was recorded."""
    for f in (record.last("ChildBorn"), *record.of("ChildRegistered")):
        if f is not None and f.day("date_of_birth") is not None:
            return f
    return None


def _characteristics(record: ChildRecord, until: date) -> Fact | None:
    """The characteristics as last recorded by the year's end (each recording replaces the
    last); for a child recorded only later, the first recording."""
    found = record.of("ChildCharacteristicsRecorded")
    before = [f for f in found if f.occurred_on <= until]
    if before:
        return before[-1]
    return found[0] if found else None


def child(record: ChildRecord, year: CollectionYear) -> Child:
    """The child as the year's return reads them."""
    spans = periods(record, year.end)
    episodes = [e for p in spans for e in _period_episodes(record, p, year.end)]
    return Child(
        record=record,
        year=year,
        born_fact=_born(record),
        characteristics=_characteristics(record, year.end),
        periods=tuple(spans),
        episodes=tuple(episodes),
    )


# -- Header ----------------------------------------------------------------------------------


def _status_day(c: Child) -> date:
    """The day the year's return reports a girl's motherhood as at: the year's end, or the day
    she ceased to be looked after if she had by then (rule 625: her first child is not born
    after it)."""
    ends = [e.end for e in c.in_year]
    if any(end is None or end > c.until for end in ends):
        return c.until
    return max((end for end in ends if end is not None), default=c.until)


def _motherhood_fact(c: Child) -> Fact | None:
    """The recording of the girl's motherhood: the last by the year's end that records it (a
    recording that leaves it out does not unmake it); recorded only later, the first."""
    found = [f for f in c.record.of("ChildCharacteristicsRecorded") if f.get("mother") is not None]
    before = [f for f in found if f.occurred_on <= c.until]
    if before:
        return before[-1]
    return found[0] if found else None


def motherhood(c: Child) -> tuple[str, str, Fact | None]:
    """MOTHER (1/0) and MC_DOB, with the fact they come from: for a girl looked after in the
    year (rules 393, 607), not only on short breaks (rule 399) and not a care leaver the
    return reports only in OC3 (rule 628). A mother as at `_status_day`: one whose first child
    was born after it was not a mother yet then. Blank when not recorded (the validator names
    the gap); MC_DOB blank when her first child's birth is not recorded (rule 611)."""
    traits = c.characteristics
    girl = traits is not None and _text(traits.get("sex")) == Sex.FEMALE.value
    looked_after = [e for e in c.in_year if e.ls not in SHORT_BREAKS]
    fact = _motherhood_fact(c) if girl else None
    if fact is None:
        return "", "", None
    first_born = fact.day("first_child_born_on")
    if not looked_after:
        # On short breaks only (rule 399), or a care leaver the return reports only in OC3:
        # no MOTHER (rule 628), so no MC_DOB either (rule 612), though last year's had it (624).
        return "", "", None
    if not fact.get("mother") or (first_born is not None and first_born > _status_day(c)):
        return "0", "", fact
    return "1", dfe_date(first_born), fact


def header_row(c: Child, upns: Mapping[str, str]) -> Row:
    """Sex, date of birth and ethnicity as recorded by the year's end, motherhood, and the UPN
    the caller gives."""
    traits = c.characteristics
    mother, first_born, motherhood_fact = motherhood(c)
    return Row(
        values={
            "CHILD": c.child_id,
            "SEX": "" if traits is None else sex_code(traits.get("sex"), c.year),
            "DOB": c.dob,
            "ETHNIC": "" if traits is None else _text(traits.get("ethnicity")),
            "UPN": upn_or_unknown(upns.get(c.child_id), c.born, c.year),
            "MOTHER": mother,
            "MC_DOB": first_born,
        },
        events=events_of([c.born_fact, traits, motherhood_fact]),
    )


# -- Episodes --------------------------------------------------------------------------------


def _need(c: Child, period: Period) -> Fact | None:
    """The category of need the period started with (CIN, the same for each of its episodes:
    rule 504): as recorded when the child became looked after; for a period recorded without it,
    the primary need of the child in need plan open that day, if it has an SSDA903 code. The
    fact it comes from (read it with `need_code`)."""
    if period.started.get("category_of_need") in NEEDS:
        return period.started
    found = None
    for plan in c.of("ChildInNeedPlanStarted"):
        started = plan.day("start_date") or plan.occurred_on
        if started > period.start:
            break
        ended = [
            e
            for e in c.of("ChildInNeedPlanEnded")
            if e.get("plan_id") == plan.get("plan_id")
            and (e.day("end_date") or e.occurred_on) < period.start
        ]
        if not ended and plan.get("primary_need") in NEEDS:
            found = plan
    return found


def need_code(need: Fact | None) -> str:
    """CIN from the fact `_need` found: a period's start's category, or a plan's primary need."""
    if need is None:
        return ""
    return _text(need.get("category_of_need") or need.get("primary_need"))


def _reason_for_change(e: Episode, following: Episode | None) -> str:
    """REASON_PLACE_CHANGE, on the episode a move ended (not into or out of a temporary
    placement)."""
    if e.move is None or following is None or following.rne not in ("P", "T", "B", "U"):
        return ""
    if e.place in TEMPORARY or following.place in TEMPORARY:
        return ""
    return _text(e.move.get("reason"))


def episode_row(c: Child, e: Episode, following: Episode | None, need: Fact | None) -> Row:
    """One episode; its end (DEC, REC) only if it ended by the year's end. URN is the Ofsted
    number the placement was recorded with (none for a placement type that has none).

    The postcodes are districts (EX4): the platform holds no full postcode, by design. The
    rules that need a full one (392c's format; 169, 179: the LA of placement the validator
    looks up from PL_POST; 392a: the distance between HOME_POST and PL_POST; 392d: the two
    compared; 1015: an own provision placed outside the council's area) cannot pass until the
    return has full postcodes from somewhere the platform does not reach."""
    short_break = e.ls in SHORT_BREAKS
    placement = e.placement
    home = "" if short_break else _text(e.period.started.get("home_postcode"))
    provider = "" if placement is None or e.place in TEMPORARY else placement.get("provider")
    ended = e.end is not None and e.end <= c.until
    return Row(
        values={
            "CHILD": c.child_id,
            "DECOM": dfe_date(e.start),
            "RNE": e.rne,
            "LS": e.ls,
            "CIN": need_code(need),
            "PLACE": e.place,
            "PLACE_PROVIDER": _text(provider),
            "DEC": dfe_date(e.end) if ended else "",
            "REC": e.rec if ended else "",
            "REASON_PLACE_CHANGE": _reason_for_change(e, following) if ended else "",
            "HOME_POST": home,
            "PL_POST": "" if short_break or placement is None else _text(placement.get("postcode")),
            "URN": "" if placement is None else _text(placement.get("urn")),
        },
        events=events_of(
            [e.period.started, need, e.legal, placement, *(e.closed_by if ended else [])]
        ),
    )


def episode_rows(c: Child) -> list[Row]:
    """The child's episodes open at some time in the year (earlier ones of the same period
    are last year's), each with its period's category of need."""
    rows = []
    needs = {p.start: _need(c, p) for p in c.periods}
    for i, e in enumerate(c.episodes):
        if not e.overlaps(c.year):
            continue
        following = c.episodes[i + 1] if i + 1 < len(c.episodes) else None
        rows.append(episode_row(c, e, following, needs[e.period.start]))
    return rows


# -- Reviews ---------------------------------------------------------------------------------


def review_rows(c: Child) -> list[Row]:
    """The looked after reviews held in the year while in care (none for short breaks), with
    how the child took part (REVIEW_CODE; blank when not recorded)."""
    rows = []
    for f in c.of("LookedAfterReviewHeld"):
        day = f.day("review_date") or f.occurred_on
        if not c.year.contains(day) or c.period_on(day) is None:
            continue
        if c.legal_status_on(day) in SHORT_BREAKS:
            continue
        values = {
            "CHILD": c.child_id,
            "DOB": c.dob,
            "REVIEW": dfe_date(day),
            "REVIEW_CODE": _text(f.get("participation")),
        }
        rows.append(Row(values=values, events=events_of([f, c.born_fact])))
    return rows


# -- UASC ------------------------------------------------------------------------------------


def _uasc_ceased(c: Child, latest: Fact) -> date | None:
    """The day UASC status ceased (DUC): as recorded, else the 18th birthday, when it ends
    at the latest (rule 304), and which the DfE expects for a child still UASC (205B compares
    the years' DUC with it)."""
    ceased = latest.day("uasc_ceased_on")
    if ceased is None and c.born is not None:
        ceased = _birthday(c.born, 18)
    return ceased


def uasc_rows(c: Child) -> list[Row]:
    """A child recorded as an unaccompanied asylum-seeking child by the year's end whose status
    had not ceased before the year began, with the day it ceased (or will cease)."""
    recorded = c.of("ChildCharacteristicsRecorded")
    if not any(f.get("unaccompanied_asylum_seeking") for f in recorded):
        return []
    latest = recorded[-1]
    ceased = _uasc_ceased(c, latest)
    if ceased is not None and ceased < c.year.start:
        return []  # no longer UASC this year (rule 205A)
    traits = c.characteristics
    values = {
        "CHILD": c.child_id,
        "SEX": "" if traits is None else sex_code(traits.get("sex"), c.year),
        "DOB": c.dob,
        "DUC": dfe_date(ceased),
    }
    uasc = [f for f in recorded if f.get("unaccompanied_asylum_seeking")]
    return [Row(values=values, events=events_of([uasc[0], latest, c.born_fact]))]


# -- OC2: looked after continuously for 12 months at 31 March -------------------------------


def continuously_looked_after(c: Child) -> bool:
    """Looked after throughout the year (from 1 April, so for 12 months at 31 March), never
    on short breaks in it: the validator's CONTINUOUSLY_LOOKED_AFTER."""
    year = c.year
    held = any(p.start <= year.start and (p.end is None or p.end >= year.end) for p in c.periods)
    return held and not any(e.ls in SHORT_BREAKS for e in c.in_year)


def _sdq(c: Child, outcomes: Fact) -> tuple[str, str]:
    """The SDQ score or the reason there is none: for children aged 4 or over at the year's
    end and under 17 at its start (rules 188, 189)."""
    young = (c.age_on(c.year.end) or 0) < 4
    old = (c.age_on(c.year.start) or 0) >= 17
    if young or old:
        return "", ""
    return _text(outcomes.get("sdq_score")), _text(outcomes.get("sdq_reason"))


def oc2_values(c: Child, outcomes: Fact | None) -> dict[str, str]:
    """The health and offending outcomes as last recorded in the year; conviction for
    children 10 or over at 31 March (rule 542), the development check for under-5s (546),
    the interventions only with a substance misuse problem (158, 159, 193)."""
    values = dict.fromkeys(TABLES["OC2"], "")
    values.update({"CHILD": c.child_id, "DOB": c.dob})
    if outcomes is None:
        return values
    age = c.age_on(c.year.end) or 0
    score, reason = _sdq(c, outcomes)
    misuse = bool(outcomes.get("substance_misuse"))
    received = outcomes.get("intervention_received") if misuse else None
    values.update(
        {
            "SDQ_SCORE": score,
            "SDQ_REASON": "" if score else reason,
            "CONVICTED": _bit(outcomes.get("convicted")) if age >= 10 else "",
            "HEALTH_CHECK": _bit(outcomes.get("health_check")) if age < 5 else "",
            "IMMUNISATIONS": _bit(outcomes.get("immunisations")),
            "TEETH_CHECK": _bit(outcomes.get("teeth_check")),
            "HEALTH_ASSESSMENT": _bit(outcomes.get("health_assessment")),
            "SUBSTANCE_MISUSE": _bit(outcomes.get("substance_misuse")),
            "INTERVENTION_RECEIVED": _bit(received),
            "INTERVENTION_OFFERED": (
                _bit(outcomes.get("intervention_offered")) if misuse and not received else ""
            ),
        }
    )
    return values


def oc2_rows(c: Child) -> list[Row]:
    if not continuously_looked_after(c):
        return []
    recorded = [
        f
        for f in c.of("HealthOutcomesRecorded")
        if c.year.contains(f.day("recorded_on") or f.occurred_on)
    ]
    outcomes = recorded[-1] if recorded else None
    return [Row(values=oc2_values(c, outcomes), events=events_of([outcomes, c.born_fact]))]


# -- OC3: care leavers around their 17th to 21st birthdays ----------------------------------


def _days_in_care_since(c: Child, since: date, until: date | None = None) -> int:
    """Days looked after (not on short breaks) from `since` to `until` (the year's end)."""
    last = min(until or c.until, c.until)
    days = 0
    for e in c.episodes:
        if e.ls in SHORT_BREAKS:
            continue
        start, end = max(e.start, since), min(e.end or last, last)
        if end >= start:
            days += (end - start).days + 1
    return days


def _former_child_in_care(c: Child, birthday: date) -> Fact | None:
    """Whether the young person was a care leaver the OC3 counts on the birthday (looked after
    for 13 weeks since their 14th birthday, some of it at 16 or over, all before the
    birthday): recorded so by then (an eligible, relevant or former relevant status), or shown
    so by their own episodes. The status fact if any."""
    status = [
        f
        for f in c.of("CareLeaverStatusRecorded")
        if f.get("status") in CARE_LEAVER_STATUSES and f.occurred_on <= birthday
    ]
    if status:
        return status[-1]
    born = c.born
    if born is None:
        return None
    since_14 = _days_in_care_since(c, _birthday(born, 14), birthday)
    at_16 = _days_in_care_since(c, _birthday(born, 16), birthday) > 0
    return c.periods[0].started if since_14 >= THIRTEEN_WEEKS and at_16 else None


def care_leaver_birthday(c: Child) -> date | None:
    """The 17th to 21st birthday falling in the year, if any."""
    if c.born is None:
        return None
    days = [_birthday(c.born, age) for age in CARE_LEAVER_AGES]
    return next((d for d in days if c.year.contains(d)), None)


def _in_touch(contacts: list[Fact]) -> Fact | None:
    """Whether the council was in touch in the period: died if the young person had; yes if
    any contact was made; else the last contact's code."""
    died = [f for f in contacts if f.get("in_touch") == "DIED"]
    touched = [f for f in contacts if f.get("in_touch") == "YES"]
    found = died or touched or contacts
    return found[-1] if found else None


def _accommodation(c: Child, by: date) -> tuple[str, list[Fact]]:
    """The accommodation as at `by`: its letter, and its suitability as last assessed."""
    placed = [f for f in c.of("CareLeaverAccommodationRecorded") if f.occurred_on <= by]
    if not placed:
        return "", []
    latest = placed[-1]
    later = [f for f in c.of("SuitabilityReassessed") if latest.occurred_on <= f.occurred_on <= by]
    suitability = (later[-1] if later else latest).get("suitability")
    code = f"{_text(latest.get('accommodation'))}{_text(suitability)}"
    return code, [latest, *later[-1:]]


def oc3_values(c: Child, birthday: date) -> tuple[dict[str, str], list[Fact]]:
    """IN_TOUCH from the contacts of the period around the birthday; ACTIV and ACCOM as at its
    end. "0" (not applicable) when the young person died or went home (rule 344), and when not
    in touch and nothing is known."""
    start = _months_later(birthday, -MONTHS_BEFORE)
    end = min(_months_later(birthday, MONTHS_AFTER), c.until)
    contacts = [
        f
        for f in c.of("ContactRecorded")
        if start <= (f.day("contact_date") or f.occurred_on) <= end
    ]
    touch = _in_touch(contacts)
    code = "" if touch is None else _text(touch.get("in_touch"))
    activities = [f for f in c.of("EETActivityRecorded") if f.occurred_on <= end]
    activ = _text(activities[-1].get("activity")) if activities else ""
    accom, housing = _accommodation(c, end)
    if code in ("DIED", "RHOM"):
        activ, accom = "0", "0"
    elif code and code != "YES":
        activ, accom = activ or "0", accom or "0"
    elif not code:
        activ, accom = "", ""
    used = [touch, *(activities[-1:] if activ not in ("", "0") else []), *housing]
    return {"IN_TOUCH": code, "ACTIV": activ, "ACCOM": accom}, [f for f in used if f]


def oc3_row(c: Child) -> Row | None:
    """A care leaver whose 17th to 21st birthday falls in the year. A young person still
    looked after on the birthday is not yet a care leaver and has no row: rule 1007 wants no
    care leaver information of them, and rules 131 to 133 a code in every row there is."""
    birthday = care_leaver_birthday(c)
    leaver = _former_child_in_care(c, birthday) if birthday is not None else None
    if birthday is None or leaver is None or c.period_on(birthday) is not None:
        return None
    values, used = oc3_values(c, birthday)
    return Row(
        values={"CHILD": c.child_id, "DOB": c.dob, **values},
        events=events_of([leaver, c.born_fact, *used]),
    )


# -- adoption --------------------------------------------------------------------------------


def ad1_rows(c: Child) -> list[Row]:
    """A child adopted in the year (a period ended E11 or E12): the decision that adoption was
    in their best interests (DATE_INT) and the match with adopters, as last recorded before."""
    rows = []
    for p in c.periods:
        if p.ended is None or p.end is None or not c.year.contains(p.end):
            continue
        if p.ended.get("reason") not in ADOPTED:
            continue
        decided = [f for f in c.of("AdoptionDecisionMade") if f.occurred_on <= p.end]
        matched = [f for f in c.of("AdoptionMatched") if f.occurred_on <= p.end]
        decision = decided[-1] if decided else None
        match = matched[-1] if matched else None
        rows.append(
            Row(
                values=ad1_values(c, decision, match),
                events=events_of([p.ended, decision, match, c.born_fact]),
            )
        )
    return rows


def ad1_values(c: Child, decision: Fact | None, match: Fact | None) -> dict[str, str]:
    values = dict.fromkeys(TABLES["AD1"], "")
    values.update({"CHILD": c.child_id, "DOB": c.dob})
    if decision is not None:
        values["DATE_INT"] = dfe_date(decision.day("decided_on"))
    if match is not None:
        values.update(
            {
                "DATE_MATCH": dfe_date(match.day("matched_on")),
                "FOSTER_CARE": _bit(match.get("adopted_by_foster_carer")),
                "NB_ADOPTR": _text(match.get("number_of_adopters")),
                "SEX_ADOPTR": _text(match.get("adopters_sex")),
                "LS_ADOPTR": _text(match.get("adopters_legal_status")),
            }
        )
    return values


def placed_adoption_rows(c: Child) -> list[Row]:
    """Each decision that the child should be placed for adoption still standing at some time
    in the year, with its reversal (day and reason) if it was reversed by the year's end."""
    decisions = c.of("AdoptionDecisionMade")
    reversals = c.of("AdoptionDecisionReversed")
    rows = []
    for i, decision in enumerate(decisions):
        decided = decision.day("decided_on") or decision.occurred_on
        next_one = decisions[i + 1].occurred_on if i + 1 < len(decisions) else None
        reversal = next(
            (
                r
                for r in reversals
                if decided <= r.occurred_on and (next_one is None or r.occurred_on <= next_one)
            ),
            None,
        )
        reversed_on = None if reversal is None else reversal.day("reversed_on")
        if reversed_on is not None and reversed_on < c.year.start:
            continue
        values = {
            "CHILD": c.child_id,
            "DOB": c.dob,
            "DATE_PLACED": dfe_date(decided),
            "DATE_PLACED_CEASED": dfe_date(reversed_on),
            "REASON_PLACED_CEASED": "" if reversal is None else _text(reversal.get("reason")),
        }
        rows.append(Row(values=values, events=events_of([decision, reversal, c.born_fact])))
    return rows


# -- PrevPerm --------------------------------------------------------------------------------


def prev_perm_rows(c: Child) -> list[Row]:
    """A child who started to be looked after in the year: the permanence order they had
    before (recorded since any earlier period of care ended); blank if not recorded."""
    started = [p for p in c.periods if c.year.contains(p.start)]
    if not started:
        return []
    period = started[-1]
    before = [p.end for p in c.periods if p.end is not None and p.end < period.start]
    since = max(before) if before else date.min
    found = [f for f in c.of("PreviousPermanenceRecorded") if f.occurred_on >= since]
    fact = found[-1] if found else None
    values = {
        "CHILD": c.child_id,
        "DOB": c.dob,
        "PREV_PERM": "" if fact is None else _text(fact.get("arrangement")),
        "LA_PERM": "" if fact is None else _text(fact.get("local_authority")),
        "DATE_PERM": "" if fact is None else dfe_date(fact.day("order_date")),
    }
    return [Row(values=values, events=events_of([period.started, fact, c.born_fact]))]


# -- Missing ---------------------------------------------------------------------------------


def missing_rows(c: Child) -> list[Row]:
    """Each time the child was missing (M) or away without authorisation (A) while looked
    after, open at some time in the year; its end if it had ended by the year's end."""
    rows = []
    for f in c.of("MissingEpisodeRecorded"):
        start = f.day("started_on") or f.occurred_on
        end = f.day("ended_on")
        if not c.year.overlaps(start, end) or c.period_on(start) is None:
            continue
        values = {
            "CHILD": c.child_id,
            "DOB": c.dob,
            "MISSING": _text(f.get("kind")),
            "MIS_START": dfe_date(start),
            "MIS_END": dfe_date(end) if end is not None and end <= c.until else "",
        }
        rows.append(Row(values=values, events=events_of([f, c.born_fact])))
    return rows


# -- SWEpisodes ------------------------------------------------------------------------------


@dataclass
class _Allocation:
    worker: str
    start: date
    reason: str
    facts: list[Fact]
    end: date | None = None


def _allocations(c: Child) -> list[_Allocation]:
    """The child's social workers in turn: each allocation ends when the next begins or when
    it is ended. One with no allocation open before it is a first contact."""
    out: list[_Allocation] = []
    for f in c.of("SocialWorkerAllocated", "SocialWorkerAllocationEnded"):
        open_ = out[-1] if out and out[-1].end is None else None
        if f.event_type == "SocialWorkerAllocationEnded":
            if open_ is not None and open_.worker == f.get("worker_id"):
                open_.end = f.day("ended_on") or f.occurred_on
                open_.facts.append(f)
            continue
        start = f.day("allocated_on") or f.occurred_on
        if open_ is not None:
            open_.end = start
            open_.facts.append(f)
        reason = _text(f.get("reason")) or ("" if open_ is not None else FIRST_CONTACT)
        out.append(_Allocation(_text(f.get("worker_id")), start, reason, [f]))
    return [a for a in out if a.end is None or a.end > a.start]


def sw_episode_rows(c: Child) -> list[Row]:
    """The child's social worker episodes open at some time in the year, whether or not the
    child was looked after then (rule SW12); an end after the year's end is not known yet."""
    rows = []
    for a in _allocations(c):
        if not c.year.overlaps(a.start, a.end):
            continue
        ended = a.end is not None and a.end <= c.until
        values = {
            "CHILD": c.child_id,
            "DOB": c.dob,
            "SW_ID": a.worker,
            "SW_DECOM": dfe_date(a.start),
            "SW_DEC": dfe_date(a.end) if ended else "",
            "SW_REASON": a.reason,
        }
        used = a.facts if ended else a.facts[:1]
        rows.append(Row(values=values, events=events_of([*used, c.born_fact])))
    return rows


# -- DoLo ------------------------------------------------------------------------------------


def dolo_rows(c: Child) -> list[Row]:
    """Each deprivation of liberty order in force at some time in the year: it ends when it was
    ended, else when it expired (if by the year's end)."""
    authorised = c.of("DeprivationOfLibertyAuthorised")
    ended = c.of("DeprivationOfLibertyEnded")
    rows = []
    for i, f in enumerate(authorised):
        start = f.day("authorised_on") or f.occurred_on
        following = authorised[i + 1].occurred_on if i + 1 < len(authorised) else date.max
        stop = next((e for e in ended if start <= e.occurred_on <= following), None)
        end = stop.day("ended_on") if stop is not None else f.day("expires_on")
        end = end if end is not None and end <= c.until else None
        if not c.year.overlaps(start, end):
            continue
        values = {
            "CHILD": c.child_id,
            "DOB": c.dob,
            "DOLO_START": dfe_date(start),
            "DOLO_END": dfe_date(end),
        }
        rows.append(Row(values=values, events=events_of([f, stop, c.born_fact])))
    return rows


# -- the return ------------------------------------------------------------------------------

_LOOKED_AFTER_TABLES: dict[str, Callable[[Child], list[Row]]] = {
    "Episodes": episode_rows,
    "Reviews": review_rows,
    "UASC": uasc_rows,
    "OC2": oc2_rows,
    "AD1": ad1_rows,
    "PlacedAdoption": placed_adoption_rows,
    "PrevPerm": prev_perm_rows,
    "Missing": missing_rows,
    "SWEpisodes": sw_episode_rows,
    "DoLo": dolo_rows,
}


def due_by(c: Child, as_at: date) -> bool:
    """Whether the care leaver's OC3 row is due by `as_at`: a return made during the year (the
    return so far) reports a birthday once its period (to a month after it) has passed; the
    year's return (as at its end or later) reports every birthday of the year."""
    birthday = care_leaver_birthday(c)
    return as_at >= c.year.end or (
        birthday is not None and _months_later(birthday, MONTHS_AFTER) <= as_at
    )


def ssda903(
    records: Sequence[ChildRecord],
    year: CollectionYear,
    upns: Mapping[str, str],
    as_at: date | None = None,
) -> dict[str, list[Row]]:
    """Every table of the year's SSDA903 return (each sorted as the DfE sorts it): the children
    looked after at any time in the year, and the care leavers the OC3 reports on (who are in
    the Header and OC3 only, if not looked after in the year).

    Made `as_at` a day before the year ends (the facts the caller gives are those known by
    then), it is the return so far: an OC3 row whose birthday's period has not passed is not
    due yet. OC2 is reported for the children looked after since the year began, whose
    outcomes the council records during the year (what is still missing shows as missing)."""
    as_at = as_at or year.end
    tables: dict[str, list[Row]] = {name: [] for name in TABLES}
    for record in records:
        c = child(record, year)
        looked_after = bool(c.in_year)
        leaver = oc3_row(c)
        if leaver is not None and not due_by(c, as_at):
            leaver = None
        if not looked_after and leaver is None:
            continue
        tables["Header"].append(header_row(c, upns))
        if leaver is not None:
            tables["OC3"].append(leaver)
        if looked_after:
            for name, rows_of in _LOOKED_AFTER_TABLES.items():
                tables[name].extend(rows_of(c))
    return {name: sorted_rows(rows, *SORT[name]) for name, rows in tables.items()}


def to_csv(table: str, rows: Iterable[Row]) -> str:
    """The table as the DfE's CSV: a header line, the columns in order, dates dd/mm/yyyy,
    blank for a value not known, lines ending CRLF."""
    columns = TABLES[table]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.values.get(column, "") for column in columns])
    return out.getvalue()


def files(tables: Mapping[str, Sequence[Row]]) -> dict[str, str]:
    """Each table's file (name -> CSV text): every table, an empty one as its header line."""
    return {FILE_NAMES[name]: to_csv(name, tables.get(name, ())) for name in TABLES}


def with_upns(tables: Mapping[str, Sequence[Row]], upns: Mapping[str, str]) -> dict[str, list[Row]]:
    """The tables with each child's UPN in the Header (derived without them, to learn which
    children a return names before their UPNs are asked for): a recorded UPN replaces the
    blank or the unknown-UPN code."""
    header = [
        replace(r, values={**r.values, "UPN": upns[r.values["CHILD"]]})
        if upns.get(r.values["CHILD"])
        else r
        for r in tables["Header"]
    ]
    return {**{name: list(rows) for name, rows in tables.items()}, "Header": header}

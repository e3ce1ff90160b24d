"""Reading a council's SSDA903 return into the commands that record what it says: the inverse
of the export (services/projections/returns/ssda903.py), which is the source of truth for what
each column means and which event it comes from.

    read_ssda903(folder, locality) -> ImportPlan

`folder` holds the return's CSVs under the names the export writes (`ssda903.FILE_NAMES`;
header.csv required, the others optional), or the export's zip unpacked: a folder per
collection year ("2025-26", "2026-27"), each holding them. Every year folder given is read, and
each child's rows of all of them are merged before any command is made (the later year's row
wins where two describe the same thing: an episode open across 31 March has its end only in
the later year's), so a fact two years share is one command with one body, which the
content-hashed idempotency key records once. Read the years together: a year read alone does
not know what came before it (below), and a fact still open at its end (a missing episode, a
deprivation of liberty) has another body once a later year ends it.

What each table becomes (each body validated by the service's own model: a row that fails is
a `Problem` naming its file, line, column and reason, and nothing of its child is imported):

- Header: the child registered (the UPN in its personal details, which case events seals; UN1
  to UN5 are none) and their characteristics, recorded on the date of birth; a later year that
  says otherwise is recorded again from its 1 April. A child with a fact before their birth (a
  social worker allocated before it) is registered unborn and born on the date of birth.
- Episodes: periods of care (legal status, home postcode district, category of need), legal
  status changes, placements and moves (provider, postcode district, URN; a move's reason is
  the REASON_PLACE_CHANGE of the episode it ended), the period and placement ended with REC.
- Reviews, Missing, PrevPerm (recorded the day the year's period of care began): one command
  each. AD1 and PlacedAdoption: each decision (DATE_PLACED, DATE_INT), the match made under it
  and its reversal. SWEpisodes: allocations (in an import team of the locality, which with
  the social workers is the plan's reference data), ended unless the next replaces them. DoLo:
  each authorisation, DOLO_END as its expiry.
- UASC: the characteristics' asylum status and the day it ceased (none recorded when it is
  the 18th birthday, the day the export gives by default).
- OC2: the health outcomes, recorded on the year's 1 April (the child was looked after then).
- OC3: care leaver status (from leaving care, or three months before the birthday), and on the
  birthday the contact, the activity and the accommodation.

What the return does not hold is filled with what the export cannot tell apart: a placement's
`in_council_area` (own provision or with parents: in the area; others not), a temporary
placement's provider (the one before), a move into or out of a temporary placement's reason
(OTHER), a deprivation of liberty's basis (the inherent jurisdiction) and whether it ended or
expired, full postcodes (cut to their district, which is all the platform keeps), the
disabilities (SSDA903 has none). A period of care that began before the earliest file (its
first episode is not S) starts the day before that episode, as the episode's RNE implies:
with the same legal status (P, T) or another (L, B, U), and the episode's placement from then
(L) or from the episode (P, T, B, U); that day is in no year the files cover.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from contracts.case_events.codes import (
    DeprivationOfLibertyBasis,
    SdqReason,
    Sex,
    SocialWorkerChangeReason,
)
from deploy.demo.journey import Step
from deploy.returns.importing import Dated, ImportPlan, Problem
from services.accommodation.routes.children import COMMANDS as ACCOMMODATION
from services.case_events.domain import commands as c
from services.case_events.routes.commands import CHILD_COMMANDS
from services.education.routes.children import COMMANDS as EDUCATION
from services.projections.returns import ssda903
from services.projections.returns.facts import CollectionYear, age_on
from shared.calendar import add_months

T = TypeVar("T")

HEADER = "Header"
TABLE_OF_FILE = {name: table for table, name in ssda903.FILE_NAMES.items()}
# A row's identity in its table (beside CHILD): two rows alike are a duplicate.
KEYS: dict[str, tuple[str, ...]] = {
    "Header": (),
    "Episodes": ("DECOM",),
    "Reviews": ("REVIEW",),
    "UASC": (),
    "OC2": (),
    "OC3": (),
    "AD1": (),
    "PlacedAdoption": ("DATE_PLACED",),
    "PrevPerm": (),
    "Missing": ("MIS_START",),
    "SWEpisodes": ("SW_DECOM", "SW_ID"),
    "DoLo": ("DOLO_START",),
}
# The days that tell a return's collection year (none is after its end).
DATED = {
    "Episodes": ("DECOM", "DEC"),
    "Reviews": ("REVIEW",),
    "SWEpisodes": ("SW_DECOM", "SW_DEC"),
    "Missing": ("MIS_START", "MIS_END"),
}
UNKNOWN_YEAR = 0
# A folder of the export's zip: the collection year's label.
YEAR_FOLDER = re.compile(r"^(\d{4})-\d{2}$")
DFE_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
# The unknown-UPN codes (UN1 not of school age ... UN5): no UPN to record.
NO_UPN = re.compile(r"^UN[1-5]$")
FULL_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?[0-9][A-Z]{2}$")

# The day a child's registration is ordered on: before anything else of theirs.
REGISTERED = date(1900, 1, 1)
# The order of commands of one day (then the order they were made in): registration, the
# characteristics, care starting or changing, care leaver status, the facts that need care
# open, the adoption, social workers and liberty in their own order, care ending.
R_REGISTER, R_TRAITS, R_CARE, R_STATUS, R_FACTS, R_ADOPTION, R_WORKER, R_LIBERTY, R_ENDS = range(9)

Route = tuple[str, str]
REGISTER: Route = ("case_events", "/children")
UNBORN: Route = ("case_events", "/unborn-children")
BIRTH: Route = ("case_events", "/births")
TRAITS: Route = ("case_events", "/characteristics")
PERIOD: Route = ("case_events", "/periods-of-care")
LEGAL: Route = ("case_events", "/legal-status-changes")
PERIOD_END: Route = ("case_events", "/period-of-care-endings")
PLACEMENT: Route = ("accommodation", "/placements")
MOVE: Route = ("accommodation", "/placement-changes")
PLACEMENT_END: Route = ("accommodation", "/placement-endings")
REVIEW: Route = ("case_events", "/looked-after-reviews")
HEALTH: Route = ("case_events", "/health-outcomes")
STATUS: Route = ("case_events", "/care-leaver-status")
CONTACT: Route = ("case_events", "/contacts")
ACTIVITY: Route = ("education", "/eet-activities")
HOUSING: Route = ("accommodation", "/care-leaver-accommodation")
DECISION: Route = ("case_events", "/adoption-decisions")
REVERSAL: Route = ("case_events", "/adoption-decision-reversals")
MATCH: Route = ("case_events", "/adoption-matches")
PREVIOUS: Route = ("case_events", "/previous-permanence")
MISSING: Route = ("case_events", "/missing-episodes")
ALLOCATE: Route = ("case_events", "/social-worker-allocations")
DEALLOCATE: Route = ("case_events", "/social-worker-allocation-endings")
LIBERTY: Route = ("case_events", "/deprivation-of-liberty")
LIBERTY_END: Route = ("case_events", "/deprivation-of-liberty-endings")

# Each command's body model: the service's own.
MODELS: dict[Route, type[BaseModel]] = {
    REGISTER: c.RegisterChild,
    UNBORN: c.RegisterUnbornChild,
    **{("case_events", r.path): r.command for r in CHILD_COMMANDS},
    **{("accommodation", r.path): r.command for r in ACCOMMODATION},
    **{("education", r.path): r.command for r in EDUCATION},
}

SEX_CODES = {
    "M": Sex.MALE.value,
    "F": Sex.FEMALE.value,
    "U": Sex.NOT_KNOWN.value,
    "1": Sex.MALE.value,  # until 2023-24
    "2": Sex.FEMALE.value,
}
RNE_CODES = frozenset({"S", "L", "P", "T", "B", "U"})
LEGAL_CHANGE = frozenset({"L", "B", "U"})
PLACEMENT_CHANGE = frozenset({"P", "T", "B", "U"})
CONTINUES = "X1"  # REC: the episode ended, the period of care goes on
TEMPORARY_MOVE_REASON = "OTHER"  # into or out of a temporary placement the return has none
IN_AREA = frozenset({"PR0", "PR1"})  # with parents, or the council's own provision
DEFAULT_PROVIDER = "PR0"
FIRST_CONTACT = SocialWorkerChangeReason.FIRST_CONTACT.value
LIBERTY_BASIS = DeprivationOfLibertyBasis.INHERENT_JURISDICTION.value
NOT_APPLICABLE = "0"  # OC3's ACTIV and ACCOM when nothing applies
GONE = frozenset({"DIED", "RHOM"})  # OC3: no activity or accommodation then
OC2_VALUES = ssda903.TABLES["OC2"][2:]
HEALTH_BITS = ("immunisations", "teeth_check", "health_assessment")

PLACEMENT_COLUMNS = {
    "placement_id": "DECOM",
    "start_date": "DECOM",
    "placement_type": "PLACE",
    "provider": "PLACE_PROVIDER",
    "in_council_area": "PLACE_PROVIDER",
    "postcode": "PL_POST",
    "urn": "URN",
    "reason": "REASON_PLACE_CHANGE",
}
TRAIT_COLUMNS = {
    "recorded_on": "DOB",
    "sex": "SEX",
    "ethnicity": "ETHNIC",
    "mother": "MOTHER",
    "first_child_born_on": "MC_DOB",
    "unaccompanied_asylum_seeking": "DUC",
    "uasc_ceased_on": "DUC",
}
OC2_COLUMNS = {
    "recorded_on": "CHILD",
    "sdq_score": "SDQ_SCORE",
    "sdq_reason": "SDQ_REASON",
    "convicted": "CONVICTED",
    "health_check": "HEALTH_CHECK",
    "immunisations": "IMMUNISATIONS",
    "teeth_check": "TEETH_CHECK",
    "health_assessment": "HEALTH_ASSESSMENT",
    "substance_misuse": "SUBSTANCE_MISUSE",
    "intervention_received": "INTERVENTION_RECEIVED",
    "intervention_offered": "INTERVENTION_OFFERED",
}
ALLOCATION_COLUMNS = {
    "allocated_on": "SW_DECOM",
    "ended_on": "SW_DEC",
    "worker_id": "SW_ID",
    "team_id": "SW_ID",
    "reason": "SW_REASON",
}
MATCH_COLUMNS = {
    "matched_on": "DATE_MATCH",
    "adopted_by_foster_carer": "FOSTER_CARE",
    "number_of_adopters": "NB_ADOPTR",
    "adopters_sex": "SEX_ADOPTR",
    "adopters_legal_status": "LS_ADOPTR",
}


# -- reading the files -----------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One row of a file: where it is, the collection year of its folder, and its values."""

    file: str
    line: int
    year: int
    values: Mapping[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")

    @property
    def child(self) -> str:
        return self["CHILD"]


class Bad(Exception):
    """A value that cannot be read (the column and why)."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column = column
        self.reason = reason


def read_ssda903(folder: Path, locality: str, *, year: int | None = None) -> ImportPlan:
    """The return's commands, child by child, and the reference data they name. `year` (the
    collection year's first year: 2026 for 2026-27) is for a folder of CSVs not named by its
    year's label, whose own dates would otherwise tell it."""
    plan = ImportPlan()
    lines: list[Line] = []
    folders = _return_folders(folder, year)
    if not folders:
        header = ssda903.FILE_NAMES[HEADER]
        plan.problems.append(Problem(str(folder), 0, "", f"no {header}: the Header is required"))
    for start_year, path, prefix in folders:
        read = _read_folder(path, prefix, start_year, plan.problems)
        lines += read.lines
        plan.rows += read.rows
    for child_id, view in _children(lines, plan.problems).items():
        history = History(child_id, plan.problems)
        child_commands(view, locality, history)
        plan.children[child_id] = history.commands()
    refused = {p.child for p in plan.problems if p.child is not None}
    plan.children = {k: v for k, v in plan.children.items() if k not in refused}
    plan.reference = reference_steps(locality, plan.children.values())
    return plan


def _return_folders(folder: Path, year: int | None) -> list[tuple[int, Path, str]]:
    """The folders holding a return (year, folder, the name its files are reported under):
    the folder itself, or those under it (the export's year folders), oldest year first."""
    header = ssda903.FILE_NAMES[HEADER]
    if not folder.is_dir():
        return []
    found = []
    for sub in sorted({p.parent for p in folder.rglob(header) if p.is_file()}):
        matched = YEAR_FOLDER.match(sub.name)
        start_year = int(matched.group(1)) if matched else year or _year_of(sub)
        found.append((start_year, sub, "" if sub == folder else sub.relative_to(folder).as_posix()))
    return sorted(found, key=lambda f: f[0])


def _year_of(folder: Path) -> int:
    """A folder's collection year: its name if it is a year's label, else the year of the latest
    day its episodes, reviews, missing and social worker episodes name (a return names none
    after its year's end); 0 when nothing tells it."""
    matched = YEAR_FOLDER.match(folder.name)
    if matched:
        return int(matched.group(1))
    days: list[date] = []
    for table, columns in DATED.items():
        path = folder / ssda903.FILE_NAMES[table]
        if path.is_file():
            rows = csv.DictReader(io.StringIO(_text_of(path)))
            days += [d for r in rows for col in columns if (d := _parsed_day(r.get(col) or ""))]
    return CollectionYear.of(max(days)).start_year if days else UNKNOWN_YEAR


@dataclass
class Read:
    """A file's (or a folder's) rows that could be read, and how many rows it had."""

    lines: list[Line] = field(default_factory=list)
    rows: int = 0

    def __iadd__(self, other: Read) -> Read:
        self.lines += other.lines
        self.rows += other.rows
        return self


def _text_of(path: Path) -> str:
    """A CSV's text: UTF-8 (with or without the byte order mark a spreadsheet writes), else
    Windows-1252, which case-management systems' exports still use."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _read_folder(folder: Path, prefix: str, year: int, problems: list[Problem]) -> Read:
    read = Read()
    for table, name in ssda903.FILE_NAMES.items():
        path = folder / name
        if path.is_file():
            shown = f"{prefix}/{name}" if prefix else name
            read += read_table(_text_of(path), shown, table, year, problems)
    return read


def read_table(text: str, file: str, table: str, year: int, problems: list[Problem]) -> Read:
    """A table's rows (blank lines skipped). A short or long row, a row without a child, a
    duplicate and a missing column are problems of the child named (a missing column: of every
    child in the file, beside the file's own problem)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    read = Read()
    if not header:
        problems.append(Problem(file, 0, "", "empty: no header line"))
        return read
    seen: dict[tuple[str, ...], int] = {}
    for fields in reader:
        if not any(f.strip() for f in fields):
            continue
        read.rows += 1
        values = dict(zip(header, (f.strip() for f in fields), strict=False))
        row = Line(file, reader.line_num, year, values)
        problem = _row_problem(row, fields, header, table, seen)
        if problem is not None:
            problems.append(problem)
        else:
            read.lines.append(row)
    missing = [col for col in ssda903.TABLES[table] if col not in header]
    for col in missing:
        problems.append(Problem(file, 0, col, "missing column: the file is not imported"))
        problems += [
            Problem(file, r.line, col, f"not imported: {file} has no {col} column", r.child)
            for r in read.lines
        ]
    if missing:
        read.lines = []
    return read


def _row_problem(
    row: Line,
    fields: Sequence[str],
    header: Sequence[str],
    table: str,
    seen: dict[tuple[str, ...], int],
) -> Problem | None:
    child = row.child or None
    if len(fields) != len(header):
        what = "truncated" if len(fields) < len(header) else "too long"
        reason = f"{what}: {len(fields)} values where the header has {len(header)} columns"
        return Problem(row.file, row.line, "", reason, child)
    if child is None:
        return Problem(row.file, row.line, "CHILD", "blank: every row names its child")
    key = (row.child, *(_key_text(row[col]) for col in KEYS[table]))
    if key in seen:
        column = KEYS[table][-1] if KEYS[table] else "CHILD"
        return Problem(row.file, row.line, column, f"duplicate of line {seen[key]}", child)
    seen[key] = row.line
    return None


# -- a child's rows, all years merged ---------------------------------------------------------


@dataclass
class ChildRows:
    """A child's rows of every file, by table and year (the years oldest first)."""

    child_id: str
    born: date
    rows: dict[str, dict[int, list[Line]]]

    @property
    def years(self) -> list[int]:
        return sorted(self.rows[HEADER])

    def of(self, table: str, year: int) -> list[Line]:
        return self.rows.get(table, {}).get(year, [])

    def one(self, table: str, year: int) -> Line | None:
        found = self.of(table, year)
        return found[0] if found else None

    def merged(self, table: str) -> list[Line]:
        """The table's rows of every year, one for each key: the latest year's (which knows an
        end the year before did not), in the order of their keys."""
        by_key: dict[tuple[str, ...], Line] = {}
        for year in sorted(self.rows.get(table, {})):
            for row in self.rows[table][year]:
                by_key[tuple(_key_text(row[col]) for col in KEYS[table])] = row
        return [by_key[k] for k in sorted(by_key)]


def _children(lines: Iterable[Line], problems: list[Problem]) -> dict[str, ChildRows]:
    """Each child of the Header, with their rows; a row of a child the year's Header does not
    name is a problem (of that child)."""
    by_child: dict[str, dict[str, dict[int, list[Line]]]] = {}
    for row in lines:
        table = TABLE_OF_FILE[Path(row.file).name]
        years = by_child.setdefault(row.child, {}).setdefault(table, {})
        years.setdefault(row.year, []).append(row)
    out: dict[str, ChildRows] = {}
    header = ssda903.FILE_NAMES[HEADER]
    for child_id, rows in sorted(by_child.items()):
        headers = rows.get(HEADER, {})
        for years in rows.values():
            problems += [
                Problem(r.file, r.line, "CHILD", f"not in the year's {header}", child_id)
                for year, found in years.items()
                if year not in headers
                for r in found
            ]
        if not headers:
            continue
        latest = headers[max(headers)][0]
        try:
            born = _day(latest, "DOB")
        except Bad as bad:
            problems.append(Problem(latest.file, latest.line, bad.column, bad.reason, child_id))
            continue
        out[child_id] = ChildRows(child_id, born, rows)
    return out


# -- values ------------------------------------------------------------------------------------


def _parsed_day(text: str) -> date | None:
    """dd/mm/yyyy as the DfE writes a day (or yyyy-mm-dd); None if it is not a day."""
    text = text.strip()
    dfe, iso = DFE_DATE.match(text), ISO_DATE.match(text)
    try:
        if dfe:
            return date(int(dfe.group(3)), int(dfe.group(2)), int(dfe.group(1)))
        if iso:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
    except ValueError:
        return None
    return None


def _key_text(text: str) -> str:
    """A key column's value, a day as a day (the same day however it is written)."""
    day = _parsed_day(text)
    return day.isoformat() if day is not None else text


def _day(row: Line, column: str) -> date:
    found = _maybe_day(row, column)
    if found is None:
        raise Bad(column, "blank: a date is required")
    return found


def _maybe_day(row: Line, column: str) -> date | None:
    text = row[column]
    if not text:
        return None
    day = _parsed_day(text)
    if day is None:
        raise Bad(column, f"not a date (dd/mm/yyyy): {text!r}")
    return day


def _bit(row: Line, column: str) -> bool | None:
    text = row[column]
    if text in ("", "1", "0"):
        return None if not text else text == "1"
    raise Bad(column, f"unknown code {text!r}: 1 or 0")


def _number(row: Line, column: str) -> int | None:
    text = row[column]
    if not text:
        return None
    if not text.isdigit():
        raise Bad(column, f"not a whole number: {text!r}")
    return int(text)


def _code(row: Line, column: str) -> str | None:
    return row[column] or None


def _district(row: Line, column: str) -> str | None:
    """A postcode's district (outward code), which is all the platform keeps of one."""
    text = row[column].upper()
    if not text:
        return None
    full = FULL_POSTCODE.match(text)
    return full.group(1) if full else text


# -- the commands of a child -------------------------------------------------------------------


@dataclass
class History:
    """A child's commands as they are made, each checked against its service's body model;
    `commands` puts them in the order they are sent: by day, then by `R_...` rank, then in
    the order they were made."""

    child_id: str
    problems: list[Problem]
    made: list[tuple[date, int, int, Dated]] = field(default_factory=list)

    def add(
        self,
        row: Line,
        day: date,
        rank: int,
        route: Route,
        body: Mapping[str, Any],
        columns: Mapping[str, str],
    ) -> None:
        service, path = route
        clean = {k: _json(v) for k, v in body.items() if v is not None}
        errors = _invalid(MODELS[route], clean)
        for name, reason in errors:
            self.problem(row, columns.get(name, name), reason)
        if errors:
            return
        url = path if route in (REGISTER, UNBORN) else f"/children/{self.child_id}{path}"
        dated = Dated(day, Step(service, url, clean), row.file, row.line, dict(columns))
        self.made.append((day, rank, len(self.made), dated))

    def problem(self, row: Line, column: str, reason: str) -> None:
        self.problems.append(Problem(row.file, row.line, column, reason, self.child_id))

    def each(self, rows: Iterable[Line], read: Callable[[Line], T]) -> list[T]:
        """Each row read (`read` raises `Bad` for a value it cannot read: a problem)."""
        out = []
        for row in rows:
            try:
                out.append(read(row))
            except Bad as bad:
                self.problem(row, bad.column, bad.reason)
        return out

    def commands(self) -> list[Dated]:
        return [made[-1] for made in sorted(self.made, key=lambda m: m[:3])]


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _invalid(model: type[BaseModel], body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The body's faults as the service's model finds them: (field, reason)."""
    try:
        model.model_validate(body)
    except ValidationError as error:
        return [(str(e["loc"][0]) if e["loc"] else "", _reason(e)) for e in error.errors()]
    return []


def _reason(error: ErrorDetails) -> str:
    value, kind, message = error.get("input"), error["type"], error["msg"]
    if kind == "missing":
        return "blank: a value is required"
    if kind == "enum":
        return f"unknown code {value!r}: {message.removeprefix('Input should be ')}"
    if kind == "string_pattern_mismatch":
        return f"not in the expected form ({error.get('ctx', {}).get('pattern')}): {value!r}"
    return f"{message.removeprefix('Value error, ')}: {value!r}"


def child_commands(view: ChildRows, locality: str, h: History) -> None:
    """Every command of the child's rows, in the order the services take them (the
    registration, made last, sorts first)."""
    characteristics(view, h)
    spans = care(view, h)
    _guarded(h, view.merged("Reviews"), lambda r: review(r, h))
    for year in view.years:
        _guarded(h, view.of("OC2", year), lambda r: health(view, r, h))
        _guarded(h, view.of("OC3", year), lambda r: care_leaver(view, r, spans, h))
        _guarded(h, view.of("PrevPerm", year), lambda r: previous_permanence(r, spans, h))
    _guarded(h, view.merged("Missing"), lambda r: missing(r, h))
    adoption(view, h)
    social_workers(view, import_team(locality), h)
    liberty(view, h)
    register(view, locality, h)


def _guarded(h: History, rows: Iterable[Line], build: Callable[[Line], None]) -> None:
    for row in rows:
        try:
            build(row)
        except Bad as bad:
            h.problem(row, bad.column, bad.reason)


def _year(row: Line) -> CollectionYear:
    if row.year == UNKNOWN_YEAR:
        raise Bad("", "the collection year is not known: name the folder by it (2026-27)")
    return CollectionYear(row.year)


# -- the child: registration and characteristics ---------------------------------------------


def register(view: ChildRows, locality: str, h: History) -> None:
    """The child, with the latest year's date of birth and the last UPN recorded (UN1 to UN5
    say there is none to record). A child with a fact before their birth (a social worker
    allocated before it) is registered unborn, expected the day they were born, and the birth
    recorded that day, as the platform records a child known before birth."""
    headers = [row for year in view.years for row in view.of(HEADER, year)]
    upns = [r for r in headers if r["UPN"] and not NO_UPN.match(r["UPN"])]
    row = upns[-1] if upns else headers[-1]
    personal = {"upn": row["UPN"]} if upns else None
    columns = {"child_id": "CHILD", "date_of_birth": "DOB", "personal": "UPN"}
    child = {"child_id": view.child_id, "locality": locality, "personal": personal}
    if min((m[0] for m in h.made), default=view.born) >= view.born:
        body = {**child, "date_of_birth": view.born}
        h.add(row, REGISTERED, R_REGISTER, REGISTER, body, columns)
        return
    body = {**child, "expected_date_of_birth": view.born}
    h.add(row, REGISTERED, R_REGISTER, UNBORN, body, {**columns, "expected_date_of_birth": "DOB"})
    h.add(row, view.born, R_REGISTER, BIRTH, {"date_of_birth": view.born}, columns)


def characteristics(view: ChildRows, h: History) -> None:
    """Sex, ethnicity, motherhood (SSDA903 has no disabilities) and asylum status: as the
    earliest year says, recorded on the date of birth (so every year's return reads them);
    again from 1 April of a later year that says otherwise. A year with no UASC row (its status
    ceased before the year) and no MOTHER (not looked after) changes neither."""
    earlier: dict[str, Any] | None = None
    asylum: dict[str, Any] = {"unaccompanied_asylum_seeking": False}
    for year in view.years:
        header = view.of(HEADER, year)[0]
        for uasc in view.of("UASC", year):
            try:
                asylum = _asylum(uasc, view.born)
            except Bad as bad:
                h.problem(uasc, bad.column, bad.reason)
        try:
            body = _traits(header, earlier, asylum)
        except Bad as bad:
            h.problem(header, bad.column, bad.reason)
            continue
        if body is None or body == earlier:
            continue
        day = view.born if earlier is None else max(view.born, CollectionYear(year).start)
        h.add(header, day, R_TRAITS, TRAITS, {"recorded_on": day, **body}, TRAIT_COLUMNS)
        earlier = body


def _traits(
    header: Line, earlier: Mapping[str, Any] | None, asylum: Mapping[str, Any]
) -> dict[str, Any] | None:
    text = header["SEX"]
    sex = SEX_CODES.get(text)
    if text and sex is None:
        raise Bad("SEX", f"unknown code {text!r}: M, F or U (1 or 2 until 2023-24)")
    mother, first_born = _bit(header, "MOTHER"), _maybe_day(header, "MC_DOB")
    if mother is None and earlier is not None:
        mother, first_born = earlier.get("mother"), earlier.get("first_child_born_on")
    ethnicity = _code(header, "ETHNIC")
    if (sex, ethnicity, mother) == (None, None, None) and not asylum[
        "unaccompanied_asylum_seeking"
    ]:
        return None
    return {
        "sex": sex,
        "ethnicity": ethnicity,
        **asylum,
        "mother": mother,
        "first_child_born_on": first_born,
    }


def _asylum(row: Line, born: date) -> dict[str, Any]:
    """Unaccompanied and seeking asylum; the day it ceased unless it is the 18th birthday (the
    day the export gives when none is recorded: recorded, a day yet to come is refused)."""
    ceased = _maybe_day(row, "DUC")
    eighteenth = add_months(born, 18 * 12)
    return {
        "unaccompanied_asylum_seeking": True,
        "uasc_ceased_on": None if ceased == eighteenth else ceased,
    }


# -- periods of care, legal statuses and placements -------------------------------------------


@dataclass(frozen=True)
class Episode:
    row: Line
    start: date
    rne: str
    end: date | None
    rec: str | None

    def __getitem__(self, column: str) -> str:
        return self.row[column]

    @property
    def ends_care(self) -> bool:
        return self.rec is not None and self.rec != CONTINUES


@dataclass(frozen=True)
class Span:
    """A period of care as imported: its start and its end (None: still open)."""

    start: date
    end: date | None


PERIOD_COLUMNS = {
    "start_date": "DECOM",
    "legal_status": "LS",
    "home_postcode": "HOME_POST",
    "category_of_need": "CIN",
}


def _episode(row: Line) -> Episode:
    rne = row["RNE"]
    if rne not in RNE_CODES:
        raise Bad("RNE", f"unknown code {rne!r}: S, L, P, T, B or U")
    end, rec = _maybe_day(row, "DEC"), _code(row, "REC")
    if (end is None) != (rec is None):
        raise Bad("DEC" if end is None else "REC", "DEC and REC go together: both or neither")
    return Episode(row, _day(row, "DECOM"), rne, end, rec)


def care(view: ChildRows, h: History) -> list[Span]:
    """The periods of care of the child's episodes (of every year, merged), each opened,
    changed and ended by the commands that make the export give the episodes back. A period
    that began before the files began by the first decision to place the child for adoption
    they name (a decision about a child in care), if that is earlier."""
    episodes = sorted(h.each(view.merged("Episodes"), _episode), key=lambda e: e.start)
    periods = _periods(episodes, h)
    decided = [
        day
        for table, column in (("PlacedAdoption", "DATE_PLACED"), ("AD1", "DATE_INT"))
        for row in (r for year in view.years for r in view.of(table, year))
        if (day := _parsed_day(row[column])) is not None
    ]
    spans = []
    for i, period in enumerate(periods):
        following = periods[i + 1][0].start if i + 1 < len(periods) else None
        spans.append(_period(period, following, min(decided, default=None), h))
    return spans


def _periods(episodes: Sequence[Episode], h: History) -> list[list[Episode]]:
    """The episodes by period of care: one starts after an episode that ended care. An
    episode out of sequence is a problem."""
    periods: list[list[Episode]] = []
    for e in episodes:
        before = periods[-1][-1] if periods else None
        fault = _out_of_sequence(before, e)
        if fault is not None:
            h.problem(e.row, *fault)
        if before is None or before.ends_care:
            periods.append([e])
        else:
            periods[-1].append(e)
    if episodes and episodes[-1].rec == CONTINUES:
        h.problem(
            episodes[-1].row, "REC", "X1 (the period of care goes on), but no episode follows"
        )
    return periods


def _out_of_sequence(before: Episode | None, e: Episode) -> tuple[str, str] | None:
    if before is None:
        return None
    where = f"the episode before ({before.row.file} line {before.row.line})"
    if before.ends_care:
        if e.rne != "S":
            return "RNE", f"{e.rne}, but {where} ended the period of care: a new one starts with S"
        if before.end is not None and e.start < before.end:
            return "DECOM", f"before {where} ended the period of care"
        return None
    if e.rne == "S":
        return "RNE", f"S, but {where} {'goes on (X1)' if before.rec else 'has not ended'}"
    if before.end != e.start:
        ended = before.end.strftime("%d/%m/%Y") if before.end else "has no DEC"
        return "DECOM", f"not the day {where} ended ({ended})"
    return None


def _period(
    period: list[Episode], following: date | None, decided: date | None, h: History
) -> Span:
    """A period of care's commands; its end ordered before the next period's start when that
    is the same day."""
    start, placed = _opening(period, decided, h)
    for before, e in pairwise(period):
        if e.rne in LEGAL_CHANGE:
            _legal_change(e, h)
        if e.rne in PLACEMENT_CHANGE:
            placed = _place(e, e.start, before if placed else None, h) or placed
    last = period[-1]
    if last.end is None or not last.ends_care:
        return Span(start, None)
    rank = R_CARE if following == last.end else R_ENDS
    body = {"end_date": last.end, "reason": last.rec}
    h.add(last.row, last.end, rank, PERIOD_END, body, {"end_date": "DEC", "reason": "REC"})
    if placed:
        h.add(last.row, last.end, rank, PLACEMENT_END, {"end_date": last.end}, {"end_date": "DEC"})
    return Span(start, last.end)


def _opening(period: Sequence[Episode], decided: date | None, h: History) -> tuple[date, bool]:
    """The period's start, and whether a placement is open after its first episode began. A
    period that began before the earliest file starts the day before its first episode (or
    on the first decision to place for adoption, if earlier), as the episode's RNE implies (a
    legal status other than the episode's for L, B and U; the placement from then for L, from
    the episode for the others)."""
    first = period[0]
    start, legal = first.start, first["LS"]
    if first.rne != "S":
        start = min(start - timedelta(days=1), decided or date.max)
        if first.rne in LEGAL_CHANGE:
            legal = _another_status(legal)
    body = {
        "start_date": start,
        "legal_status": legal,
        "home_postcode": next(filter(None, (_district(e.row, "HOME_POST") for e in period)), None),
        "category_of_need": next(filter(None, (e["CIN"] for e in period)), None),
    }
    h.add(first.row, start, R_CARE, PERIOD, body, PERIOD_COLUMNS)
    placed = False
    if first.rne in ("S", "L"):
        placed = _place(first, start, None, h)
    if first.rne in LEGAL_CHANGE:
        _legal_change(first, h)
    if first.rne in PLACEMENT_CHANGE:
        placed = _place(first, first.start, None, h)
    return start, placed


def _another_status(legal: str) -> str:
    """A legal status other than this one, for the day before an episode that changed it when
    the one it changed from is in no file."""
    return "C1" if legal == "C2" else "C2"


def _legal_change(e: Episode, h: History) -> None:
    body = {"change_date": e.start, "legal_status": e["LS"]}
    h.add(e.row, e.start, R_CARE, LEGAL, body, {"change_date": "DECOM", "legal_status": "LS"})


def _place(e: Episode, day: date, before: Episode | None, h: History) -> bool:
    """The episode's placement from the day: a move from the one `before` (with the reason
    that episode gives), else the period's first placement. Whether there is one."""
    place = e["PLACE"]
    if not place:
        return False
    fallback = (before["PLACE_PROVIDER"] if before is not None else "") or DEFAULT_PROVIDER
    provider = e["PLACE_PROVIDER"] or (fallback if place in ssda903.TEMPORARY else None)
    body: dict[str, Any] = {
        "placement_id": f"P{day:%Y%m%d}",
        "start_date": day,
        "placement_type": place,
        "provider": provider,
        "in_council_area": provider in IN_AREA,
        "postcode": _district(e.row, "PL_POST"),
        "urn": _code(e.row, "URN"),
    }
    if before is None:
        h.add(e.row, day, R_CARE, PLACEMENT, body, PLACEMENT_COLUMNS)
        return True
    temporary = {place, before["PLACE"]} & ssda903.TEMPORARY
    reason = before["REASON_PLACE_CHANGE"] or (TEMPORARY_MOVE_REASON if temporary else None)
    if reason is None:
        h.problem(before.row, "REASON_PLACE_CHANGE", "blank: the move that ended it has a reason")
        return True
    h.add(e.row, day, R_CARE, MOVE, {**body, "reason": reason}, PLACEMENT_COLUMNS)
    return True


# -- reviews, health, care leavers, previous permanence, missing ------------------------------


def review(row: Line, h: History) -> None:
    day = _day(row, "REVIEW")
    body = {"review_date": day, "participation": _code(row, "REVIEW_CODE")}
    columns = {"review_date": "REVIEW", "participation": "REVIEW_CODE"}
    h.add(row, day, R_FACTS, REVIEW, body, columns)


def health(view: ChildRows, row: Line, h: History) -> None:
    """The year's health outcomes, recorded on its 1 April (the child, looked after all year,
    was then): a blank the return leaves for the child's age (conviction under 10, the
    development check from 5, the SDQ outside 4 to 16) is recorded as no (SDQ1)."""
    if not any(row[col] for col in OC2_VALUES):
        return
    year = _year(row)
    score, reason = _number(row, "SDQ_SCORE"), _code(row, "SDQ_REASON")
    if score is None and reason is None:
        if age_on(view.born, year.end) >= 4 and age_on(view.born, year.start) < 17:
            raise Bad("SDQ_SCORE", "blank, as is SDQ_REASON: one of them is required at 4 to 16")
        reason = SdqReason.AGE_OUTSIDE_4_TO_17.value
    body: dict[str, Any] = {
        "recorded_on": year.start,
        "sdq_score": score,
        "sdq_reason": reason,
        "convicted": bool(_bit(row, "CONVICTED")),
        "health_check": bool(_bit(row, "HEALTH_CHECK")),
        **{name: bool(_bit(row, OC2_COLUMNS[name])) for name in HEALTH_BITS},
        "substance_misuse": bool(_bit(row, "SUBSTANCE_MISUSE")),
        "intervention_received": _bit(row, "INTERVENTION_RECEIVED"),
        "intervention_offered": _bit(row, "INTERVENTION_OFFERED"),
    }
    h.add(row, year.start, R_FACTS, HEALTH, body, OC2_COLUMNS)


def care_leaver(view: ChildRows, row: Line, spans: Sequence[Span], h: History) -> None:
    """A care leaver around the 17th to 21st birthday in the year: their status (from leaving
    care, or three months before the birthday), and on the birthday the contact (IN_TOUCH),
    the activity and the accommodation (letter and suitability). "0" (not applicable) is no
    fact, but for the activity of a young person in touch (ACTIV "0": not known)."""
    year = _year(row)
    ages = (add_months(view.born, 12 * age) for age in ssda903.CARE_LEAVER_AGES)
    birthday = next((day for day in ages if year.contains(day)), None)
    if birthday is None:
        raise Bad("DOB", f"no 17th to 21st birthday in {year.label}: OC3 is of those ages")
    left = [s.end for s in spans if s.end is not None and s.end <= birthday]
    since = max([add_months(birthday, -ssda903.MONTHS_BEFORE), *left])
    status = "relevant" if age_on(view.born, since) < 18 else "former_relevant"
    columns = {"recorded_on": "DOB", "contact_date": "DOB", "status": "DOB"}
    h.add(row, since, R_STATUS, STATUS, {"recorded_on": since, "status": status}, columns)
    touch = _code(row, "IN_TOUCH")
    if touch is not None:
        body = {"contact_date": birthday, "in_touch": touch}
        h.add(row, birthday, R_FACTS, CONTACT, body, {**columns, "in_touch": "IN_TOUCH"})
    if touch in GONE:
        return
    activity, accommodation = row["ACTIV"], row["ACCOM"]
    if activity and (activity != NOT_APPLICABLE or touch == "YES"):
        body = {"recorded_on": birthday, "activity": activity}
        h.add(row, birthday, R_FACTS, ACTIVITY, body, {**columns, "activity": "ACTIV"})
    if accommodation and accommodation != NOT_APPLICABLE:
        body = {
            "recorded_on": birthday,
            "accommodation": accommodation[:1],
            "suitability": accommodation[1:],
        }
        named = {**columns, "accommodation": "ACCOM", "suitability": "ACCOM"}
        h.add(row, birthday, R_FACTS, HOUSING, body, named)


def previous_permanence(row: Line, spans: Sequence[Span], h: History) -> None:
    """The permanence order before the period of care that started in the year (the export's
    PrevPerm row is of the last), recorded the day it started."""
    arrangement = _code(row, "PREV_PERM")
    if arrangement is None:
        return
    year = _year(row)
    started = [s.start for s in spans if year.contains(s.start)]
    day = started[-1] if started else year.start
    body = {
        "recorded_on": day,
        "arrangement": arrangement,
        "order_date": _maybe_day(row, "DATE_PERM"),
        "local_authority": _code(row, "LA_PERM"),
    }
    columns = {
        "recorded_on": "CHILD",
        "arrangement": "PREV_PERM",
        "order_date": "DATE_PERM",
        "local_authority": "LA_PERM",
    }
    h.add(row, day, R_FACTS, PREVIOUS, body, columns)


def missing(row: Line, h: History) -> None:
    start = _day(row, "MIS_START")
    body = {"started_on": start, "ended_on": _maybe_day(row, "MIS_END"), "kind": row["MISSING"]}
    columns = {"started_on": "MIS_START", "ended_on": "MIS_END", "kind": "MISSING"}
    h.add(row, start, R_FACTS, MISSING, body, columns)


# -- adoption ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A decision that the child should be placed for adoption (PlacedAdoption's DATE_PLACED,
    AD1's DATE_INT), and its reversal if any."""

    row: Line
    decided: date
    reversed_on: date | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Match:
    row: Line
    decided: date | None
    matched: date | None
    body: Mapping[str, Any]


def _decision(row: Line) -> Decision:
    ceased = _maybe_day(row, "DATE_PLACED_CEASED")
    reason = _code(row, "REASON_PLACED_CEASED")
    if (ceased is None) != (reason is None):
        column = "DATE_PLACED_CEASED" if ceased is None else "REASON_PLACED_CEASED"
        raise Bad(column, "DATE_PLACED_CEASED and REASON_PLACED_CEASED go together")
    return Decision(row, _day(row, "DATE_PLACED"), ceased, reason)


def _match(row: Line) -> Match:
    matched = _maybe_day(row, "DATE_MATCH")
    body = {
        "matched_on": matched,
        "adopted_by_foster_carer": _bit(row, "FOSTER_CARE"),
        "number_of_adopters": _number(row, "NB_ADOPTR"),
        "adopters_sex": _code(row, "SEX_ADOPTR"),
        "adopters_legal_status": _code(row, "LS_ADOPTR"),
    }
    return Match(row, _maybe_day(row, "DATE_INT"), matched, body)


def adoption(view: ChildRows, h: History) -> None:
    """Each decision in turn, with the match made under it (the last decision before the
    match) and its reversal: made in that order, so that one day's are taken in it."""
    decisions = {d.decided: d for d in h.each(view.merged("PlacedAdoption"), _decision)}
    adopted = [row for year in view.years for row in view.of("AD1", year)]
    matches = {m.matched: m for m in h.each(adopted, _match) if m.matched is not None}
    for m in h.each(adopted, _match):
        if m.decided is not None and m.decided not in decisions:
            decisions[m.decided] = Decision(m.row, m.decided)
    ordered = sorted(decisions.values(), key=lambda d: d.decided)
    for m in matches.values():
        if not any(m.matched is not None and d.decided <= m.matched for d in ordered):
            h.problem(m.row, "DATE_MATCH", "before any decision to place for adoption")
    for i, d in enumerate(ordered):
        until = ordered[i + 1].decided if i + 1 < len(ordered) else date.max
        column = "DATE_INT" if TABLE_OF_FILE[Path(d.row.file).name] == "AD1" else "DATE_PLACED"
        h.add(
            d.row,
            d.decided,
            R_ADOPTION,
            DECISION,
            {"decided_on": d.decided},
            {"decided_on": column},
        )
        for m in matches.values():
            if m.matched is not None and d.decided <= m.matched < until:
                h.add(m.row, m.matched, R_ADOPTION, MATCH, m.body, MATCH_COLUMNS)
        if d.reversed_on is not None:
            body = {"reversed_on": d.reversed_on, "reason": d.reason}
            columns = {"reversed_on": "DATE_PLACED_CEASED", "reason": "REASON_PLACED_CEASED"}
            h.add(d.row, d.reversed_on, R_ADOPTION, REVERSAL, body, columns)


# -- social workers and deprivation of liberty -------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    row: Line
    worker: str
    start: date
    end: date | None
    reason: str | None


def _allocation(row: Line) -> Allocation:
    return Allocation(
        row, row["SW_ID"], _day(row, "SW_DECOM"), _maybe_day(row, "SW_DEC"), _code(row, "SW_REASON")
    )


def social_workers(view: ChildRows, team: str, h: History) -> None:
    """Each social worker episode an allocation (in the import's team of the locality), ended
    unless the next begins that day with another worker for a reason (which ends it). A first
    contact (FCONTA) the day the last one ended is recorded with no reason, which the export
    reads as a first contact: the platform takes FCONTA only after a gap (rule SW10b), which
    an older return may not have kept."""
    allocations = sorted(
        h.each(view.merged("SWEpisodes"), _allocation), key=lambda a: (a.start, a.end or date.max)
    )
    ended: date | None = None
    for i, a in enumerate(allocations):
        reason = None if a.reason == FIRST_CONTACT and ended == a.start else a.reason
        body = {"allocated_on": a.start, "worker_id": a.worker, "team_id": team, "reason": reason}
        h.add(a.row, a.start, R_WORKER, ALLOCATE, body, ALLOCATION_COLUMNS)
        following = allocations[i + 1] if i + 1 < len(allocations) else None
        ended = a.end
        if a.end is None or _replaces(following, a):
            continue
        body = {"ended_on": a.end, "worker_id": a.worker}
        h.add(a.row, a.end, R_WORKER, DEALLOCATE, body, ALLOCATION_COLUMNS)


def _replaces(following: Allocation | None, a: Allocation) -> bool:
    """Whether the next allocation ends this one (another worker, that day, for a reason)."""
    return (
        following is not None
        and following.start == a.end
        and following.worker != a.worker
        and following.reason not in (None, FIRST_CONTACT)
    )


def liberty(view: ChildRows, h: History) -> None:
    """Each deprivation of liberty authorised, its end (DOLO_END) recorded as its expiry (a day
    yet to come may be); ended that day too when another follows (which needs it closed)."""
    orders = sorted(
        h.each(
            view.merged("DoLo"), lambda r: (r, _day(r, "DOLO_START"), _maybe_day(r, "DOLO_END"))
        ),
        key=lambda o: o[1],
    )
    for i, (row, start, end) in enumerate(orders):
        body = {"authorised_on": start, "basis": LIBERTY_BASIS, "expires_on": end}
        columns = {"authorised_on": "DOLO_START", "basis": "DOLO_START", "expires_on": "DOLO_END"}
        h.add(row, start, R_LIBERTY, LIBERTY, body, columns)
        if end is not None and i + 1 < len(orders):
            h.add(row, end, R_LIBERTY, LIBERTY_END, {"ended_on": end}, {"ended_on": "DOLO_END"})


# -- reference data ----------------------------------------------------------------------------


def import_team(locality: str) -> str:
    """The team the import puts the social workers it names in (the return names no team)."""
    return "SSDA903-" + re.sub(r"[^A-Za-z0-9]+", "-", locality).strip("-")


def reference_steps(locality: str, children: Iterable[Sequence[Dated]]) -> list[Step]:
    """What the commands name that the platform may not know: the import's team in the
    locality, and the social workers (each a manager's command; one the platform knows
    already is answered "already recorded", which is what the import wanted). The locality is
    not added: it must be one of the council's (a mistyped one is refused, not created)."""
    workers = sorted(
        {
            str(d.step.body["worker_id"])
            for commands in children
            for d in commands
            if d.step.path.endswith(ALLOCATE[1])
        }
    )
    team = import_team(locality)
    steps: list[Step] = []
    if workers:
        name = f"{locality}: social workers named in imported SSDA903 returns"
        body = {"team_id": team, "name": name, "locality": locality}
        steps.append(Step("case_events", "/reference/teams", body, exists_ok=True))
    steps += [
        Step("case_events", "/reference/social-workers", {"worker_id": w, "team_id": team}, True)
        for w in workers
    ]
    return steps

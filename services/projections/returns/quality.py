"""The live data-quality board of the statutory returns: every rule of the DfE's that this
collection year's SSDA903 and CIN census break, child by child, kept up to date as events
arrive (GET /returns/quality; its page /dashboard/data-quality).

Councils run the DfE's validators once a year, on the files they are about to send; here they
run all the time, on the returns as the export would make them today:

- The chronology projection marks each child a batch of events touched (`returns_touched`,
  in the batch's transaction: sql/011_returns_quality.sql).
- The checker, a task of the projections worker, takes the children waiting (those events
  touched first, oldest first; a batch at a time), reads their facts as the export reads them,
  derives this year's SSDA903 (and last year's, for the rules that compare the two) and CIN
  census with the export's own functions, has Data to Insight's validators check them, and
  in one transaction replaces those children's issues and clears the touches it read (a touch
  that came meanwhile stays, and the child is checked again).
- The county is swept at start, every `returns_check_interval_s`, when the day changes (a
  return as at today changes with the day alone) and when the live build changes (a rebuild):
  every child is queued behind those events touched, checked in short batches while no event
  waits. Once the sweep is through, the rules of the council's whole return (a header's, a
  count over every child), which a batch cannot judge, are checked on the county's returns in
  the background, by a validators' process of its own. A build swapped in that was never
  checked starts with the board of the build it replaced (each child then checked again).
- The validators need pandas < 2: they run in their own environment (.venv-returns), in one
  long-lived process (`deploy/returns/validate.py --serve`), started again if it dies, hangs
  or answers out of step (each request has an id its answer echoes).
- A batch that cannot be checked (the validators fail on it, or the returns cannot be
  derived from its facts) is split in halves until the child it fails on is alone: that
  child gets one issue ("unchecked", the class of the failure) and the others carry on.
- Nothing person-level leaves the board's own rows: an XSD issue says the element, never the
  value rejected; a failure is named by its class (`last_error`, the health, the log), never
  by its text or the validators' stderr (they may quote a child's facts).
- The checker's writes give way to the projection (lock_timeout; ids locked in the code
  points' order, as the projection sorts them), and retry later.
- `returns_check` false (CSP_RETURNS_CHECK=false): no checker at all (health "off").

What the live check cannot know: the UPNs. They are sealed in case events and asked for with
the caller's own token when a return is exported; the checker has no caller. The chronology
says which children have a UPN recorded (a sealed field is named, never its value), so the
returns are derived with a placeholder of the right form for each of those children: a child
of school age with no UPN is still reported (442, 8770Q), and the rules that test a UPN's
value are left to the export's check (`DROPPED`).

Several workers may run: one checks at a time (a PostgreSQL advisory lock, held on a
connection of its own while it checks), the others wait to take over.

The bound (tests/e2e/test_returns_quality.py measures it, on 2 shared cores): a fact is on the
board (or off it) within the check under way, the rest after it (as long as that check took,
at most `REST_MOST_S`), and its child's own check. A check costs ~0.7 s of the validators' own
for one child, ~1.2 s for 50, ~3 s for 200. Measured before the rest was added: 1-1.5 s from a
recording's answer with nothing else to check, at most 3.0 s while a county of ~900 children
was being swept, 2-4.6 s for children recorded fact by fact one after another; up to ~11 s
with the machine's cores taken by other work; p50 4.1 s, p99 11 s with 50 commands a second
offered (make bench). The rest let the tests' demo county load at 39 commands a second
against 34 (one run each). A backlog (a register feed's hundreds of children, a rebuild) is
worked through at ~60 children a second, oldest first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import asyncpg
from prometheus_client import Gauge, Histogram

from contracts.ids import upn_check_letter
from services.projections.boards import disclosure
from services.projections.boards.model import Board, Figure
from services.projections.builds import live_build
from services.projections.chronology.queries import end_of
from services.projections.returns import cin_census, ssda903
from services.projections.returns.facts import ChildRecord, CollectionYear, Fact
from services.projections.returns.queries import build_records, fetched
from services.projections.returns.rules import NAMES, NOT_YET
from shared.clock import Clock
from shared.logging import get_logger
from shared.retry import keep_running, unless_stopped
from shared.settings import Settings

log = get_logger(__name__)

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_VALIDATORS = ROOT / ".venv-returns" / "bin" / "python"
BATCH_SIZE = 200  # children events touched a check takes at once (~1 s fixed, ~1.5 s more)
SWEEP_BATCH_SIZE = 100  # children the sweep queued a check takes at once: short, not to delay
COUNTY_CHUNK = 500  # children whose facts are read at once for the whole return's check
CHECK_INTERVAL_S = 3600.0  # every child swept this often (and at start, and each day)
# What a check took: children touched by events, a full batch of them, or the sweep's.
Checked = Literal["events", "backlog", "sweep"]
POLL_S = 0.5  # how often an idle checker looks for children touched
# After a check of children events touched that took all there were (fewer than a batch), the
# checker rests as long as that check took (at most REST_MOST_S): while a county is loaded, a
# child's touches gather and it is checked once rather than after each event (each check costs
# the validators ~0.7 s however few children), and the validators take at most about half a
# core. A backlog (a full batch) is worked through without rests; on a quiet platform the rest
# is long over when a fact comes, and it is checked at once.
REST_MOST_S = 5.0
# A check the validators take longer over is abandoned: this, and this more for each child.
ANSWER_TIMEOUT_S = 30.0
ANSWER_TIMEOUT_PER_CHILD_S = 0.2
START_TIMEOUT_S = 120.0
LOCK = "returns_quality"  # the advisory lock of the one checker at work
LOCK_TIMEOUT = "200ms"  # the checker's writes wait no longer for the projection's rows
TEMP_PREFIX = "returns-quality-"  # a check's folder of files (person-level CSV and XML)
STALE_AFTER_S = 3600.0  # such a folder older than this was left by a worker killed
UNCHECKED = "unchecked"  # the rule of a child whose returns could not be checked
UNCHECKED_RETURN = "cin"
BOARD = "returns-quality"

RETURNS = ("ssda903", "cin")
NO_UPN = (
    "the live check holds no UPN (a placeholder stands for each UPN recorded): checked at export"
)
# The rules that test a UPN's value: the placeholder would pass or fail them for nothing.
DROPPED: dict[str, dict[str, str]] = {
    "ssda903": {
        "168": f"the UPN's form; {NO_UPN}",
        "208": f"this year's UPN against last year's; {NO_UPN}",
        "444": f"a UPN reported twice; {NO_UPN}",
    },
    "cin": {
        "1510": f"the UPN's check letter; {NO_UPN}",
        "1520": f"a UPN reported twice; {NO_UPN}",
        "1530": f"the UPN's local authority; {NO_UPN}",
        "1540": f"the UPN's digits; {NO_UPN}",
        "1550": f"the UPN's last character; {NO_UPN}",
        "1560Q": f"the former UPN's form; {NO_UPN}",
    },
}
UPN_ELEMENTS = frozenset({"UPN", "FormerUPN"})  # the XSD's checks of a UPN's value, dropped

# The platform's metrics all start `csp_` (docs/operations.md, "Health and metrics").
WAITING = Gauge("csp_returns_quality_waiting", "Children events touched, not checked again yet")
CHECKS = Histogram(
    "csp_returns_quality_check_seconds",
    "How long a check of a batch of children took (reading, deriving, validating, writing)",
    buckets=(0.5, 1, 1.5, 2, 3, 5, 8, 13, 21, 34, 60),
)
DELAY = Histogram(
    "csp_returns_quality_delay_seconds",
    "From a child's first touch to its issues on the board",
    buckets=(0.5, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 300, 600),
)


# -- the returns as the export makes them, for some children or all (pure) -------------------


@dataclass(frozen=True)
class Issue:
    """A rule the returns break: for a child (its locality and the worker who can put it
    right) or, `child_id` None, for the council's whole return."""

    return_name: str
    rule: str
    message: str
    child_id: str | None
    locality: str | None
    worker_id: str | None
    table_name: str
    field: str
    known: str | None = None  # why the platform cannot pass the rule yet (rules.NOT_YET)

    @property
    def key(self) -> tuple[str, str, str | None, str, str]:
        return (self.return_name, self.rule, self.child_id, self.table_name, self.field)


def as_at(record: ChildRecord, day: date) -> ChildRecord:
    """The child's facts as at the end of `day`, as a chronology as at that day reads them:
    what had happened by then and had been recorded by then."""
    end = end_of(day)
    return replace(
        record, facts=tuple(f for f in record.facts if f.occurred_on <= day and f.recorded_at < end)
    )


def allocated_worker(record: ChildRecord) -> str | None:
    """Who can put the child's record right: the social worker allocated now, else (a care
    leaver's) the personal adviser last allocated; None when nobody is."""
    current: Fact | None = None
    for f in record.of("SocialWorkerAllocated", "SocialWorkerAllocationEnded"):
        if f.event_type == "SocialWorkerAllocated":
            current = f
        elif current is not None and current.get("worker_id") == f.get("worker_id"):
            current = None
    if current is not None and current.get("worker_id"):
        return str(current.get("worker_id"))
    adviser = record.last("PersonalAdviserAllocated")
    return str(adviser.get("adviser_id")) if adviser and adviser.get("adviser_id") else None


def placeholder_upn(child_id: str, la: str) -> str:
    """A UPN of the DfE's form standing for the one recorded for the child (never its value):
    the council's number, nine digits from the child's id, and its check letter."""
    code = la if re.fullmatch(r"[0-9]{3}", la) else "000"
    digits = int.from_bytes(hashlib.sha256(child_id.encode()).digest()[:8], "big") % 10**9
    body = f"{code}{digits:09d}"
    return upn_check_letter(f"?{body}") + body


@dataclass(frozen=True)
class Derived:
    """The year's returns as files: SSDA903's CSVs (this year's and last year's), the CIN
    census XML and the order of its children (the XSD's errors name a child by position), and
    who each child is to the board (locality, allocated worker)."""

    year: CollectionYear
    ssda903: dict[str, str]
    previous: dict[str, str]
    cin: bytes
    cin_children: tuple[str, ...]
    about: dict[str, tuple[str, str | None]]


def derive(
    records: Sequence[ChildRecord], today: date, upns: Mapping[str, str], la: str
) -> Derived:
    """The returns the export would make today from these children's facts (as at today):
    this year's SSDA903 and CIN census, and last year's SSDA903 from the same facts, as the
    export puts it beside this year's (routes/returns.py): what happened by 31 March as known
    now."""
    this = CollectionYear.of(today)
    last = this.previous
    current = ssda903.ssda903(records, this, upns, today)
    previous = ssda903.ssda903(records, last, upns, today)
    census = cin_census.cin_census(records, this, upns, la)
    order = tuple(
        (child.findtext("ChildIdentifiers/LAchildID") or "")
        for child in ET.fromstring(census.xml).iter("Child")
    )
    return Derived(
        year=this,
        ssda903=ssda903.files(current),
        previous=ssda903.files(previous),
        cin=census.xml,
        cin_children=order,
        about={r.child_id: (r.locality, allocated_worker(r)) for r in records},
    )


def _has_children(files: Mapping[str, str]) -> bool:
    """Whether an SSDA903's Header has a row (its CSV more than the line of column names)."""
    header = files.get(ssda903.FILE_NAMES["Header"], "")
    return len(header.splitlines()) > 1


def write_files(derived: Derived, folder: Path) -> dict[str, Any]:
    """The files in `folder`, and the validators' request naming them. An SSDA903 naming no
    child is left out (the validator cannot read an empty year): this year's when none of the
    children was looked after in it (nothing to check), last year's likewise or when all of it
    was recorded since (the rules comparing the two years have nothing to compare)."""
    request: dict[str, Any] = {"year": derived.year.start_year}
    for option, files in (("ssda903", derived.ssda903), ("previous", derived.previous)):
        if not _has_children(files):
            continue
        into = folder / option
        into.mkdir()
        for name, text in files.items():
            (into / name).write_text(text, encoding="utf-8")
        request[option] = str(into)
    cin = folder / "cin.xml"
    cin.write_bytes(derived.cin)
    request["cin"] = str(cin)
    return request


# xmlschema names the only Child of a census without an index: /Message/Children/Child/...
_CHILD_IN_PATH = re.compile(r"/Children/Child(?:\[(\d+)\])?(?=/|$)")
XSD_LABEL = "CIN census schema"  # an XSD issue's message: this and the element, never a value


def _xsd_issue(error: Mapping[str, Any], order: Sequence[str]) -> tuple[str | None, str, str]:
    """(child, table, field) of an XSD error, from its path: /Message/Children/Child[3]/...,
    or /Message/Children/Child/... when the census has one child (the first)."""
    path = str(error.get("path") or "")
    found = _CHILD_IN_PATH.search(path)
    index = (int(found.group(1)) if found.group(1) else 1) - 1 if found else -1
    child = order[index] if 0 <= index < len(order) else None
    steps = [re.sub(r"\[\d+\]$", "", s) for s in path.split("/") if s]
    return child, (steps[-2] if len(steps) > 1 else "Message"), (steps[-1] if steps else "")


def _naming(about: Collection[str]) -> Callable[[str], str | None]:
    """The child a validator's id names. SSDA903's validator upper-cases every value it
    reads, the child's id too: an id named is the child of that id if there is one, else the
    one child whose id it is upper-cased; two children differing only in case cannot be told
    apart (None: neither is named). An id of no child checked is kept as it is."""
    upper: dict[str, list[str]] = {}
    for known in about:
        upper.setdefault(known.upper(), []).append(known)

    def child_named(named: str) -> str | None:
        if named in about:
            return named
        candidates = upper.get(named.upper(), [])
        if len(candidates) == 1:
            return candidates[0]
        return None if candidates else named

    return child_named


def issues_of(
    report: Mapping[str, Any], derived: Derived, children: Collection[str] | None = None
) -> list[Issue]:
    """The validators' report as the board's issues: one per rule, child, table and field
    (a rule broken on several rows of a table is one issue), each with the child's locality
    and worker, the rules `DROPPED` left out, and the rules the platform cannot pass yet
    flagged `known`. `children`: the children checked (a batch): only their issues, never a
    rule of the whole return (made of a batch, such a rule would count the batch alone)."""
    found: dict[tuple[str, str, str | None, str, str], Issue] = {}
    child_named = _naming(derived.about)

    def add(kind: str, rule: str, message: str, named: str | None, table: str, at: str) -> None:
        if rule in DROPPED.get(kind, {}):
            return
        child = None if named is None else child_named(named)
        if named is not None and child is None:
            return  # ambiguous: no child can be named for it
        if children is not None and (child is None or child not in children):
            return
        locality, worker = derived.about.get(child, (None, None)) if child else (None, None)
        issue = Issue(
            kind, rule, message, child, locality, worker, table, at, NOT_YET[kind].get(rule)
        )
        found.setdefault(issue.key, issue)

    for kind in RETURNS:
        part = report.get(kind)
        if not isinstance(part, Mapping):
            continue
        for e in part.get("errors", []):
            named = str(e["child"]) if e.get("child") not in (None, "") else None
            add(kind, str(e["rule"]), str(e["message"]), named, str(e["table"]), e["field"] or "")
        for e in part.get("xsd_errors", []):
            named, table, at = _xsd_issue(e, derived.cin_children)
            if at not in UPN_ELEMENTS:
                # The XSD's reason quotes the value it rejects (a child's data): never shown.
                add(kind, "XSD", f"{XSD_LABEL}: {at}", named, table, at)
    return sorted(found.values(), key=_order)


def _order(issue: Issue) -> tuple[str, ...]:
    return (issue.return_name, issue.rule, issue.child_id or "", issue.table_name, issue.field)


# -- the partnership view: counts by rule and locality, small numbers suppressed (pure) -------


def partnership(issues: Sequence[Issue], today: date, threshold: int) -> dict[str, Any]:
    """How many children break each rule, in the county and in each locality, as the boards'
    partnership view shows counts (boards/disclosure.py): a count from 1 to threshold-1 hidden,
    and whatever would let it be worked out from the others (the localities add up to the
    county). The rules of the council's whole return are counted as they are (no child)."""
    localities = sorted({i.locality for i in issues if i.child_id and i.locality})
    rules: dict[tuple[str, str], Issue] = {}
    children: dict[tuple[str, str], dict[str | None, set[str]]] = {}
    anyone: dict[str | None, set[str]] = {loc: set() for loc in (None, *localities)}
    council: dict[tuple[str, str], list[Issue]] = {}
    for i in issues:
        if i.child_id is None:
            council.setdefault((i.return_name, i.rule), []).append(i)
            continue
        rule = (i.return_name, i.rule)
        rules.setdefault(rule, i)
        places = children.setdefault(rule, {loc: set() for loc in (None, *localities)})
        for loc in (None, i.locality):
            if loc in places:
                places[loc].add(i.child_id)
                anyone[loc].add(i.child_id)

    def key(rule: tuple[str, str]) -> str:
        return f"{rule[0]}.{rule[1]}"

    sheet = {
        loc: Board(
            board=BOARD,
            title="Data quality of the statutory returns",
            as_at=today,
            locality=loc,
            figures=[
                Figure(key="children", label="Children", count=len(anyone[loc])),
                *(
                    Figure(key=key(rule), label=_label(rules[rule]), count=len(places[loc]))
                    for rule, places in sorted(children.items())
                ),
            ],
        )
        for loc in (None, *localities)
    }
    shown = disclosure.protect(sheet, threshold)

    def count(loc: str | None, name: str) -> int | None:
        return next(f.count for f in shown[loc].figures if f.key == name)

    return {
        "children": {
            "county": count(None, "children"),
            "localities": {loc: count(loc, "children") for loc in localities},
        },
        "rules": [
            {
                "return": rule[0],
                "return_title": NAMES[rule[0]],
                "rule": rule[1],
                "message": _label(rules[rule]),
                "known": rules[rule].known,
                "children": count(None, key(rule)),
                "suppressed": count(None, key(rule)) is None,
                "localities": {loc: count(loc, key(rule)) for loc in localities},
            }
            for rule in sorted(children, key=_rule_order)
        ],
        "council": council_wide(council),
    }


def _label(issue: Issue) -> str:
    """A rule's label in the counts: the rule's message; the XSD's (one rule, many elements)
    the schema's name."""
    return XSD_LABEL if issue.rule == "XSD" else issue.message


def council_wide(council: Mapping[tuple[str, str], Sequence[Issue]]) -> list[dict[str, Any]]:
    """The rules the council's whole return breaks (no child named): about no child."""
    return [
        {
            "return": rule[0],
            "return_title": NAMES[rule[0]],
            "rule": rule[1],
            "message": found[0].message,
            "known": found[0].known,
            "where": sorted({f"{i.table_name} {i.field}".strip() for i in found}),
        }
        for rule, found in sorted(council.items(), key=lambda kv: _rule_order(kv[0]))
    ]


def _rule_order(rule: tuple[str, str]) -> tuple[str, int, str]:
    digits = re.match(r"\d+", rule[1])
    return (rule[0], int(digits.group()) if digits else 10**9, rule[1])


# -- the validators' process ------------------------------------------------------------------


class ValidatorsMissingError(Exception):
    """The validators cannot be started (not installed where the setting says, or they fail
    before they are ready): not a child's fault, so no batch is split over it."""


class ValidatorsFailedError(Exception):
    """The validators could not check a request. Its text never quotes the validators' own
    words (they may quote a child's data): the class says what happened."""

    @property
    def cause(self) -> str:
        """The kind of failure, as a child's "unchecked" issue and `last_error` name it."""
        return type(self).__name__


class ValidatorsAnswerError(ValidatorsFailedError):
    """The validators answered that a rule failed on the request (the process carries on)."""

    def __init__(self, error_class: str) -> None:
        super().__init__(f"the validators could not check the request: {error_class}")
        self.error_class = error_class

    @property
    def cause(self) -> str:
        return self.error_class


class ValidatorsTimedOutError(ValidatorsFailedError):
    """No answer in the time a request of its size may take (the process is stopped)."""


class ValidatorsStoppedError(ValidatorsFailedError):
    """The process ended, or its pipe broke, before it answered."""


class ValidatorsOutOfStepError(ValidatorsFailedError):
    """An answer that is not JSON, or answers another request: the process is stopped (a
    request and its answer are never paired wrongly)."""


class DerivationFailedError(Exception):
    """The returns could not be derived from a batch's facts (a defect met by some child's
    facts): named by the original exception's class, never its text (it may quote facts)."""

    def __init__(self, error_class: str) -> None:
        super().__init__(f"the returns could not be derived: {error_class}")
        self.cause = error_class


def answer_timeout(children: int) -> float:
    """How long a check of `children` may take before it is abandoned: ~0.7 s for one child,
    ~3 s for 200 on 2 shared cores, a county's ~1,800 ~15 s; generously more."""
    return ANSWER_TIMEOUT_S + ANSWER_TIMEOUT_PER_CHILD_S * max(children, 0)


def class_name(value: object) -> str:
    """An exception's class as the validators named it, nothing after it (an older
    validate.py said "Class: text")."""
    found = re.match(r"[A-Za-z_][\w.]*", str(value))
    return found.group() if found else "Exception"


def validators_python(settings: Settings) -> Path:
    """The Python of the validators' environment: `returns_validators`, else the repository's
    .venv-returns (the Docker image builds one at the same place)."""
    configured = settings.returns_validators
    return Path(configured) if configured else DEFAULT_VALIDATORS


PASSED_ON = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


def _environment() -> dict[str, str]:
    """The validators' process environment: none of the worker's own (its database password,
    keys): a third party's code is given what it needs to run and nothing else."""
    kept = {k: v for k, v in os.environ.items() if k in PASSED_ON}
    return {**kept, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def rules_run(report: Mapping[str, Any]) -> dict[str, str]:
    """The rules each return of a report was checked with, as the board names them beside the
    validators' versions: "lac2026_27", or "lac2026_27, standing in for lac2027_28" from the
    1 April of a year whose own rules the validators do not have yet (docs/returns.md)."""
    run = {}
    for kind in RETURNS:
        checked = report.get(kind)
        if isinstance(checked, dict) and checked.get("ruleset"):
            standing_in = checked.get("ruleset_stands_in_for")
            run[f"{kind} rules"] = str(checked["ruleset"]) + (
                f", standing in for {standing_in}" if standing_in else ""
            )
    return run


class Validators:
    """One long-lived `deploy.returns.validate --serve` process: a request a line in, a report
    a line out, each with the request's id; started when first needed and again after it
    died, hung or got out of step (an answer to a request abandoned, e.g. on cancellation)."""

    def __init__(self, python: Path) -> None:
        self.python = python
        self.versions: dict[str, str] = {}
        self.rules: dict[str, str] = {}  # the rules its last report ran (`rules_run`)
        self._process: asyncio.subprocess.Process | None = None
        self._stderr: deque[str] = deque(maxlen=40)
        self._ready = False  # what it says on stderr once ready may quote a child's data
        self._drain: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._sent = 0
        self._pending = False  # a request sent and not answered: the process is out of step

    async def check(self, request: Mapping[str, Any], children: int = 0) -> dict[str, Any]:
        """The validators' report on the request (of `children` children, for its timeout)."""
        async with self._lock:
            process = await self._running()
            assert process.stdin is not None and process.stdout is not None
            self._sent += 1
            ident, timeout = self._sent, answer_timeout(children)
            self._pending = True
            try:
                process.stdin.write(json.dumps({**request, "id": ident}).encode() + b"\n")
                await process.stdin.drain()
                line = await asyncio.wait_for(process.stdout.readline(), timeout)
            except TimeoutError as error:
                await self._stop()
                raise ValidatorsTimedOutError(f"no answer in {timeout:.0f} s") from error
            except OSError as error:
                await self._stop()
                raise ValidatorsStoppedError(type(error).__name__) from error
            except ValueError as error:  # a line longer than the pipe's limit
                await self._stop()
                raise ValidatorsOutOfStepError("an answer longer than the limit") from error
            if not line:
                await self._stop()
                code = process.returncode
                raise ValidatorsStoppedError(f"the validators stopped (exit status {code})")
            self._pending = False
            try:  # a county's report is a few MB: parsed off the worker's loop
                answer = await asyncio.to_thread(json.loads, line)
            except ValueError as error:
                await self._stop()
                raise ValidatorsOutOfStepError("an answer that is not JSON") from error
            if not isinstance(answer, dict) or answer.get("id") != ident:
                await self._stop()
                raise ValidatorsOutOfStepError(f"an answer to another request than {ident}")
            if "error" in answer:
                raise ValidatorsAnswerError(class_name(answer["error"]))
            self.rules.update(rules_run(answer))
            return answer

    def last_words(self) -> str:
        return " | ".join(self._stderr)[-1500:] or "no message"

    async def _running(self) -> asyncio.subprocess.Process:
        if self._process is not None and self._process.returncode is None and not self._pending:
            return self._process
        await self._stop()
        if not self.python.exists():
            log.error("the DfE's validators are not installed", python=str(self.python))
            raise ValidatorsMissingError(
                "the DfE's validators are not installed (make install builds .venv-returns; "
                "CSP_RETURNS_VALIDATORS names another)"
            )
        self._stderr.clear()
        self._ready = False
        process = await asyncio.create_subprocess_exec(
            str(self.python),
            "-m",
            "deploy.returns.validate",
            "--serve",
            cwd=ROOT,
            env=_environment(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=256 * 1024 * 1024,  # a county's report is one line of a few MB
        )
        self._process = process
        self._drain = asyncio.create_task(self._keep_last_words(process))
        assert process.stdout is not None
        try:
            ready = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)
            said = json.loads(ready) if ready else {}
        except (TimeoutError, ValueError):
            said = {}
        if not isinstance(said, dict) or said.get("ready") is not True:
            # Before its first request it has read no child's data: its words can be logged.
            log.error("the DfE's validators did not start", stderr=self.last_words())
            await self._stop()
            raise ValidatorsMissingError("the DfE's validators did not start (see the log)")
        self._ready = True
        self._stderr.clear()
        self.versions = dict(said.get("validators", {}))
        log.info("the DfE's validators started", pid=process.pid, versions=self.versions)
        return process

    async def _keep_last_words(self, process: asyncio.subprocess.Process) -> None:
        """Read its stderr (a pipe never left to fill); kept only until it is ready."""
        assert process.stderr is not None
        while line := await process.stderr.readline():
            if not self._ready:
                self._stderr.append(line.decode("utf-8", "replace").rstrip())

    async def _stop(self) -> None:
        process, self._process = self._process, None
        self._pending = False
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain
            self._drain = None

    async def close(self) -> None:
        """Stop the process: its input closed first, so it ends as the CLI does; killed if it is
        still starting or a request is unanswered (abandoned): it reads no more input until
        it answers."""
        async with self._lock:
            process, answering = self._process, self._ready and not self._pending
            if process is not None and process.stdin is not None and answering:
                process.stdin.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 5)
            await self._stop()


# -- reading the facts ------------------------------------------------------------------------


async def records_of(
    conn: asyncpg.Connection, day: date, child_ids: Sequence[str]
) -> list[ChildRecord]:
    """These children's facts as at `day`, as the export reads every child's: the rows
    fetched on the worker's loop, the records built (every fact's details parsed) in a
    thread, so the loop that feeds the boards never waits on a batch's (or a county's)."""
    rows, localities = await fetched(conn, day, child_ids)
    return await asyncio.to_thread(build_records, rows, localities)


async def county_records(conn: asyncpg.Connection, day: date) -> list[ChildRecord]:
    """Every child's facts as at `day`, as the export reads them, a few hundred children at a
    time: the worker's loop (which feeds the boards) is never held up long by a county's
    facts."""
    children = [
        r["child_id"]
        for r in await conn.fetch(
            'SELECT child_id FROM chronology_children ORDER BY child_id COLLATE "C"'
        )
    ]
    found: list[ChildRecord] = []
    for start in range(0, len(children), COUNTY_CHUNK):
        found += await records_of(conn, day, children[start : start + COUNTY_CHUNK])
    return found


async def upns_held(conn: asyncpg.Connection, child_ids: Sequence[str] | None) -> set[str]:
    """The children (of these, or all) with a UPN recorded and not erased: the chronology
    names a sealed field a recording set, never its value. As the export's UPNs are, the last
    recorded whenever it was."""
    rows = await conn.fetch(
        "SELECT child_id FROM chronology"
        " WHERE ($1::text[] IS NULL OR child_id = ANY($1::text[]))"
        " AND event_type IN ('PersonalDetailsRecorded', 'ChildPersonalDataErased')"
        " GROUP BY child_id"
        " HAVING bool_or(event_type = 'PersonalDetailsRecorded' AND 'upn' = ANY(sealed))"
        " AND NOT bool_or(event_type = 'ChildPersonalDataErased')",
        None if child_ids is None else list(child_ids),
    )
    return {r["child_id"] for r in rows}


# -- the checker ------------------------------------------------------------------------------


@dataclass
class Touched:
    """Children read from `returns_touched`: the mark each had, and when each touched by an
    event began to wait (a child the sweep queued is not waiting on an event)."""

    marks: dict[str, int] = field(default_factory=dict)
    since: dict[str, datetime] = field(default_factory=dict)


class LeadershipLostError(Exception):
    """The connection holding the checker's lock was lost: another worker may check now."""


class Checker:
    """Keeps the board's issues up to date in the live build (see the module's docstring).

    One loop checks batches of children: those events touched, oldest first, while any wait;
    else those the sweep queued, in shorter batches (never both in one batch). The sweep (at
    start, every `returns_check_interval_s`, when the day or the live build changes) queues
    every child; once it is through, the council's whole return is checked in the
    background, in a validators' process of its own. So a child an event touched waits for
    the check under way at most, never for the county.

    A batch that cannot be checked (the validators fail on it, or the returns cannot be
    derived) is split in halves, each checked again, until the child it fails on is found:
    that child is given one issue, "unchecked", and the others carry on. Off altogether
    when `returns_check` is false (CSP_RETURNS_CHECK)."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, clock: Clock) -> None:
        self.settings = settings
        self.pool = pool
        self.clock = clock
        self.enabled = bool(getattr(settings, "returns_check", True))
        self.python = validators_python(settings)
        self.validators = Validators(self.python)
        self.batch_size = settings.returns_check_batch_size
        self.interval_s = settings.returns_check_interval_s
        self._swept: tuple[str, date, float] | None = None  # build, day, monotonic time
        self._schema: str | None = None  # the build the last cycle checked
        self._whole: asyncio.Task[None] | None = None
        self._whole_due = False  # the whole return is checked once the sweep is through
        self._unavailable_until = 0.0
        self._rest_until = 0.0  # no check of children events touched before (REST_MOST_S)
        self._said_unavailable = False
        self._lock: asyncpg.Connection | None = None
        self.status: dict[str, Any] = (
            {"ok": True, "validators": "starting"}
            if self.enabled
            else {"ok": True, "validators": "off", "status": "off"}
        )

    async def health(self) -> dict[str, Any]:
        return dict(self.status)

    def _failed(self, error: BaseException) -> None:
        """The loop failed: not ok, by the error's class (its text may name a host or a
        child), until a cycle succeeds again."""
        self.status = {
            "ok": False,
            "validators": self.status.get("validators", "starting"),
            "error": type(error).__name__,
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Check until `stop`: as the one checker at work (the lock), else waiting to be."""
        if not self.enabled:
            log.info("the returns' data-quality check is off (CSP_RETURNS_CHECK)")
            return
        removed = await asyncio.to_thread(purge_stale_folders, Path(tempfile.gettempdir()))
        if removed:
            log.info("stale folders of the returns' checks removed", folders=removed)
        try:
            # A check under way when the worker is told to stop is abandoned, not finished
            # (its children stay touched, and are checked after the next start): the
            # validators take seconds, and the database is stopping too.
            await unless_stopped(
                keep_running(
                    lambda: self._lead(stop),
                    stop,
                    # A checker never takes the worker down: the boards keep being fed.
                    transient=(Exception,),
                    what="checking the returns' data quality",
                    on_failure=self._failed,
                ),
                stop,
            )
        finally:
            await self._stop_whole_return()
            await self.validators.close()

    async def _lead(self, stop: asyncio.Event) -> float | None:
        conn = await asyncpg.connect(self.settings.dsn())
        locked = False
        try:
            lock = conn.execute("SELECT pg_advisory_lock(hashtext($1))", LOCK)
            if await unless_stopped(lock, stop) is None:  # told to stop first: the wait given up
                return None
            locked = True
            self._lock = conn
            self._swept = None  # taking over: the county first
            await keep_running(
                self._step,
                stop,
                transient=(OSError, asyncpg.PostgresError, ValidatorsFailedError),
                what="checking the returns' data quality (a batch)",
            )
            return None
        finally:
            self._lock = None
            await self._stop_whole_return()
            # No longer the checker at work: its validators' process (~350 MB) goes too.
            await self.validators.close()
            if locked and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", LOCK)
            with contextlib.suppress(Exception):
                await conn.close()

    async def _step(self) -> float | None:
        """A cycle; a failure said in the health and on the board (its class only)."""
        try:
            again_in = await self.cycle()
        except Exception as error:
            self._failed(error)
            if self._schema is not None and not isinstance(error, LeadershipLostError):
                with contextlib.suppress(Exception):
                    await self._state(self._schema, last_error=type(error).__name__)
            raise
        if not self.status["ok"]:
            self.status = {"ok": True, "validators": self.status.get("validators", "starting")}
        return again_in

    async def cycle(self) -> float | None:
        """One step: the sweep when it is due, then a batch of the children waiting. Returns
        how long to wait before the next (None: at once)."""
        if self._lock is None or self._lock.is_closed():
            raise LeadershipLostError("the checker's lock connection was lost")
        schema = await live_build(self.pool)
        if schema is None:
            return 1.0
        self._schema = schema
        if time.monotonic() < self._unavailable_until:
            return min(self._unavailable_until - time.monotonic(), 60.0)
        today = self.clock.today()
        if self._sweep_due(schema, today):
            await self._sweep(schema)
            self._swept = (schema, today, time.monotonic())
            self._whole_due = True
        started = time.monotonic()
        if self._rest_until > started:
            return self._rest_until - started
        try:
            checked = await self._check(schema, today)
        except ValidatorsMissingError as missing:
            await self._unavailable(schema, str(missing))
            return None
        if checked is None:
            return POLL_S
        if checked == "events":  # a backlog ("backlog": a full batch) is worked on at once
            ended = time.monotonic()
            self._rest_until = ended + min(ended - started, REST_MOST_S)
        return None

    def _sweep_due(self, schema: str, today: date) -> bool:
        if self._swept is None:
            return True
        build, day, at = self._swept
        return build != schema or day != today or time.monotonic() - at >= self.interval_s

    async def _sweep(self, schema: str) -> None:
        """Every child queued behind those events touched (a child already waiting keeps its
        place), and every child with issues (one no longer registered has them removed). A
        build never checked starts with the board of the build it replaced (a rebuild's
        swap leaves no empty board while its sweep runs)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
            # The projection upserts touches as the batch commits: the checker gives way.
            await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            inherited = await _inherit_board(conn, schema)
            # In the order of the ids' code points, as the projection touches them.
            queued = await conn.fetchval(
                "WITH queued AS (INSERT INTO returns_touched (child_id, swept)"
                " SELECT child_id, true FROM (SELECT child_id FROM chronology_children"
                " UNION SELECT child_id FROM returns_issues WHERE child_id IS NOT NULL) c"
                ' ORDER BY child_id COLLATE "C" ON CONFLICT (child_id) DO NOTHING RETURNING 1)'
                " SELECT count(*) FROM queued"
            )
        log.info(
            "every child queued for the returns' data-quality check",
            queued=queued,
            inherited=inherited,
        )

    async def _check(self, schema: str, today: date) -> Checked | None:
        """Check a batch of the children waiting (those events touched first, oldest first;
        else those the sweep queued): which were checked ("backlog": a full batch of those
        events touched, so more may wait), None if none was waiting."""
        started = time.monotonic()
        async with (
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            # One snapshot: the touches read are those whose facts are read.
            await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
            waiting = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE NOT swept) AS events,"
                " count(*) FILTER (WHERE swept) AS swept FROM returns_touched"
            )
            WAITING.set(waiting["events"])
            # Those events touched, else those the sweep queued: never both in one check, so
            # a child an event touched waits for no child the sweep queued but the one check
            # under way (a short one).
            swept = not waiting["events"]
            rows = await conn.fetch(
                "SELECT child_id, mark, touched_at FROM returns_touched WHERE swept = $1"
                ' ORDER BY touched_at, child_id COLLATE "C" LIMIT $2',
                swept,
                SWEEP_BATCH_SIZE if swept else self.batch_size,
            )
            touched = Touched(
                {r["child_id"]: r["mark"] for r in rows},
                {} if swept else {r["child_id"]: r["touched_at"] for r in rows},
            )
            children = sorted(touched.marks)
            records = await records_of(conn, today, children) if children else []
            held = await upns_held(conn, children) if children else set()
        if not children:
            await self._whole_return_after_sweep(schema, today)
            return None
        issues, failed = await self._checked(records, held, today)
        if failed:
            log.warning(
                "children whose returns could not be checked",
                children=len(failed),
                errors=sorted(set(failed.values())),
            )
            issues += unchecked(records, failed)
        await self._write(schema, CollectionYear.of(today).start_year, touched, issues)
        CHECKS.observe(time.monotonic() - started)
        self.status = {"ok": True, "validators": "ready"}
        self._said_unavailable = False
        log.debug("returns checked", children=len(children), issues=len(issues))
        if swept:
            return "sweep"
        return "backlog" if len(children) >= self.batch_size else "events"

    async def _checked(
        self, records: Sequence[ChildRecord], held: set[str], today: date
    ) -> tuple[list[Issue], dict[str, str]]:
        """These children's issues, and the children that could not be checked (each with
        the class of what failed): a batch that fails is split in halves, each checked again,
        until the child it fails on is alone. The validators are restarted only when they
        stopped, hung or got out of step (an answer of theirs that a rule failed is not)."""
        if not records:
            return [], {}
        try:
            report, derived = await self._validated(self.validators, records, held, today)
        except (ValidatorsFailedError, DerivationFailedError) as error:
            if len(records) == 1:
                return [], {records[0].child_id: error.cause}
            half = len(records) // 2
            first, failed = await self._checked(records[:half], held, today)
            second, more = await self._checked(records[half:], held, today)
            return first + second, {**failed, **more}
        children = {r.child_id for r in records}
        return await asyncio.to_thread(issues_of, report, derived, children), {}

    async def _validated(
        self, validators: Validators, records: Sequence[ChildRecord], held: set[str], today: date
    ) -> tuple[dict[str, Any], Derived]:
        """The returns derived as the export derives them, and the validators' report."""
        la = self.settings.local_authority
        upns = {child: placeholder_upn(child, la) for child in held}
        try:
            derived = await asyncio.to_thread(derive, records, today, upns, la)
        except Exception as error:  # a defect some child's facts meet: that child is found
            raise DerivationFailedError(type(error).__name__) from error
        with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as folder:
            request = await asyncio.to_thread(write_files, derived, Path(folder))
            return await validators.check(request, len(records)), derived

    async def _write(self, schema: str, year: int, touched: Touched, issues: list[Issue]) -> None:
        """In one transaction: the children's issues replaced (a persisting issue keeps when
        it was first found), the touches read cleared unless touched again since, the state.
        No row of returns_touched is locked ahead: the DELETE's check of the mark is atomic
        for each row, and should the projection's upsert hold one, the checker gives up
        (lock_timeout) and checks again later, never the projection."""
        children = sorted(touched.marks)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
            await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            now: datetime = await conn.fetchval("SELECT now()")
            await _replace_issues(conn, "child_id = ANY($1::text[])", [children], issues, now)
            await conn.execute(
                "DELETE FROM returns_touched t USING unnest($1::text[], $2::bigint[])"
                " AS read(child_id, mark) WHERE t.child_id = read.child_id AND t.mark = read.mark",
                children,
                [touched.marks[c] for c in children],
            )
            await conn.execute(
                "UPDATE returns_quality_state SET year = $1, checked_at = $2,"
                " validators = $3::jsonb, unavailable = NULL, last_error = NULL, updated_at = $2",
                year,
                now,
                json.dumps({**self.validators.versions, **self.validators.rules}),
            )
        for since in touched.since.values():
            DELAY.observe(max(0.0, (now - since).total_seconds()))

    async def _whole_return(self, schema: str, today: date) -> None:
        """The rules of the council's whole return (a header's, a count over every child),
        checked on the county's returns in the background: a validators' process of its own,
        started for the check and stopped after it (the batches never wait for it)."""
        started = time.monotonic()
        validators = Validators(self.python)
        try:
            async with (
                self.pool.acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                records = await county_records(conn, today)
                held = await upns_held(conn, None)
            report, derived = await self._validated(validators, records, held, today)
            found = await asyncio.to_thread(issues_of, report, derived)
            issues = [i for i in found if i.child_id is None]
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                now: datetime = await conn.fetchval("SELECT now()")
                await _replace_issues(conn, "child_id IS NULL", [], issues, now)
                await conn.execute(
                    "UPDATE returns_quality_state SET county_at = $1, updated_at = $1", now
                )
            log.info(
                "the council's whole returns checked",
                children=len(records),
                issues=len(issues),
                seconds=round(time.monotonic() - started, 1),
            )
        except Exception as error:  # by its class: its text may quote a child's facts
            log.warning("the check of the council's whole returns failed", error=_named(error))
        finally:
            await validators.close()

    async def _whole_return_after_sweep(self, schema: str, today: date) -> None:
        """Once the sweep is through (nothing queued), the whole return's check in the
        background: the two never compete for the processors."""
        if not self._whole_due:
            return
        self._whole_due = False
        await self._stop_whole_return()
        self._whole = asyncio.create_task(self._whole_return(schema, today))

    async def _stop_whole_return(self) -> None:
        task, self._whole = self._whole, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _unavailable(self, schema: str, why: str) -> None:
        """The validators cannot run: said once in the log, and on the board (503 with why);
        tried again after the interval (they may be installed meanwhile)."""
        if not self._said_unavailable:
            log.error("the returns' data-quality board is unavailable", reason=why)
            self._said_unavailable = True
        self.status = {"ok": True, "validators": "unavailable"}
        self._unavailable_until = time.monotonic() + min(self.interval_s, 300.0)
        await self._state(schema, unavailable=why)

    async def _state(
        self, schema: str, unavailable: str | None = None, last_error: str | None = None
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
            await conn.execute(
                "UPDATE returns_quality_state SET unavailable = $1, last_error = $2,"
                " updated_at = now()",
                unavailable,
                last_error,
            )


def _named(error: BaseException) -> str:
    """An error as the log names it: its class, and the failure's own class when it wraps one
    (the validators' or the derivation's), never a text that may quote a child's facts."""
    cause = getattr(error, "cause", None)
    name = type(error).__name__
    return f"{name}({cause})" if isinstance(cause, str) and cause != name else name


def unchecked(records: Sequence[ChildRecord], failed: Mapping[str, str]) -> list[Issue]:
    """An issue for each child whose returns could not be checked: named by the class of what
    failed (never its text). Filed under the CIN census, which names every child the returns
    do; the child is checked again on its next touch or sweep."""
    about = {r.child_id: r for r in records}
    found = []
    for child, cause in sorted(failed.items()):
        record = about.get(child)
        found.append(
            Issue(
                return_name=UNCHECKED_RETURN,
                rule=UNCHECKED,
                message=f"could not be checked: {cause}",
                child_id=child,
                locality=record.locality if record else None,
                worker_id=allocated_worker(record) if record else None,
                table_name="",
                field="",
            )
        )
    return found


def purge_stale_folders(folder: Path, older_than_s: float = STALE_AFTER_S) -> int:
    """Remove the checks' temporary folders (person-level CSV and XML) a worker killed in a
    check left behind: those older than `older_than_s` (a check under way, another worker's,
    is younger). How many were removed."""
    removed = 0
    limit = time.time() - older_than_s
    for found in folder.glob(f"{TEMP_PREFIX}*"):
        try:
            if found.is_dir() and not found.is_symlink() and found.stat().st_mtime < limit:
                shutil.rmtree(found, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed


async def _inherit_board(conn: asyncpg.Connection, schema: str) -> int:
    """A build never checked, its board empty (a rebuild just swapped in), takes the board
    of the build it replaced: its issues and when it was checked (the sweep checks each child
    again). A savepoint: whatever fails here (that build gone meanwhile) leaves the sweep
    as it was. How many issues were copied."""
    state = await conn.fetchrow("SELECT checked_at FROM returns_quality_state")
    if state is None or state["checked_at"] is not None:
        return 0
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM returns_issues)"):
        return 0
    previous = await conn.fetchval(
        "SELECT b.schema_name FROM board_builds b JOIN board_builds l ON l.schema_name = $1"
        " WHERE NOT b.live AND b.schema_name <> $1 AND b.created_at < l.created_at"
        " ORDER BY b.created_at DESC LIMIT 1",
        schema,
    )
    if previous is None or not re.fullmatch(r"\w+", previous):
        return 0
    columns = ", ".join(ISSUE_COLUMNS)
    try:
        async with conn.transaction():
            if await conn.fetchval(
                "SELECT to_regclass($1) IS NULL", f'"{previous}".returns_quality_state'
            ):
                return 0
            copied = await conn.fetchval(
                f"WITH copied AS (INSERT INTO returns_issues ({columns})"
                f' SELECT {columns} FROM "{previous}".returns_issues RETURNING 1)'
                " SELECT count(*) FROM copied"
            )
            await conn.execute(
                "UPDATE returns_quality_state s SET year = p.year, checked_at = p.checked_at,"
                " county_at = p.county_at, validators = p.validators, updated_at = now()"
                f' FROM "{previous}".returns_quality_state p'
            )
    except asyncpg.PostgresError as error:
        log.warning("the previous build's board could not be copied", error=_named(error))
        return 0
    return int(copied or 0)


ISSUE_COLUMNS = (
    "return_name",
    "rule",
    "message",
    "child_id",
    "locality",
    "worker_id",
    "table_name",
    "field",
    "known",
    "found_at",
    "checked_at",
)


async def _replace_issues(
    conn: asyncpg.Connection, where: str, args: list[Any], issues: list[Issue], now: datetime
) -> None:
    """The issues `where` says replaced by these: one still found keeps when it was first."""
    before = {
        (r["return_name"], r["rule"], r["child_id"], r["table_name"], r["field"]): r["found_at"]
        for r in await conn.fetch(
            "SELECT return_name, rule, child_id, table_name, field, found_at"
            f" FROM returns_issues WHERE {where}",
            *args,
        )
    }
    await conn.execute(f"DELETE FROM returns_issues WHERE {where}", *args)
    await conn.copy_records_to_table(
        "returns_issues",
        records=[
            (
                i.return_name,
                i.rule,
                i.message,
                i.child_id,
                i.locality,
                i.worker_id,
                i.table_name,
                i.field,
                i.known,
                before.get(i.key, now),
                now,
            )
            for i in issues
        ],
        columns=list(ISSUE_COLUMNS),
    )

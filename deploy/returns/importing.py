"""Importing a council's past statutory returns: its SSDA903 CSVs and CIN census XML, as its
case-management system produced them, turned into the commands the platform's public APIs
take, and recorded through them.

    python -m deploy.returns.import_returns DIR [--locality NAME] [--dry-run]

Reading a return is pure (`deploy/returns/from_ssda903.py`, `deploy/returns/from_cin.py`): each
row becomes commands (`Dated` steps) of its child, and a row that cannot be read is a
`Problem` (file, line, field, reason). A child with any problem is not recorded at all; the
others are. Before anything is sent, each child's commands are decided in memory by the
services' own aggregates (`deploy/returns/rehearsal.py`), so a history the services would
refuse half-way is reported, not half recorded. Every command's idempotency key is made from
its content, so a second import of the same files (or of a fact two files share, such as an
episode open across two years) records nothing again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from deploy.demo.journey import Step
from deploy.returns.rehearsal import rehearsed_children


@dataclass(frozen=True)
class Problem:
    """Why a row (or a whole file) was not imported: what a council's data team fixes."""

    file: str  # the file's name as given
    line: int  # 1-based: a CSV's header is line 1; an XML element's opening tag's line; 0: file
    field: str  # the column or XML element ("" when the row or file as a whole is wrong)
    reason: str
    child: str | None = None  # the child whose history is therefore not imported

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        what = f" {self.field}:" if self.field else ""
        return f"{where}:{what} {self.reason}"


@dataclass(frozen=True)
class Dated:
    """One command of a child's history, the day that orders it among the child's others, and
    the row it came from (reported if the command is refused)."""

    day: date
    step: Step
    file: str
    line: int
    # The column or element each field of the body was read from, where it differs from the
    # field's name: a service refusing the command names a field, the data team the column.
    elements: Mapping[str, str] = field(default_factory=dict)

    def column(self, name: str) -> str:
        """The column or element a field of the body was read from (the field itself when
        it was read from none: an id the reader made)."""
        return self.elements.get(name, name)


@dataclass
class ImportPlan:
    """What a return's files say, as commands: each child's in the order they are sent
    (registration first), the rows that could not be read, and the reference data (teams,
    social workers) the commands name, added first when the platform does not know it."""

    children: dict[str, list[Dated]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    rows: int = 0
    reference: list[Step] = field(default_factory=list)


# -- several returns as one import ------------------------------------------------------------


def merged(plans: Sequence[ImportPlan]) -> ImportPlan:
    """One plan of several returns' (SSDA903's first): each child's commands from all of them,
    ordered by day (stably: a return's own order within a day is kept), each command once (an
    episode open across two years is in both years' files), registered once (`_registered`).
    A child with a problem in any return is imported from none."""
    out = ImportPlan()
    for plan in plans:
        out.problems += plan.problems
        out.rows += plan.rows
        out.reference += [s for s in plan.reference if s not in out.reference]
        for child, dated in plan.children.items():
            out.children.setdefault(child, []).extend(dated)
    for child in list(out.children):
        dated = sorted(out.children[child], key=lambda d: d.day)
        try:
            out.children[child] = _once(_folded(_registered(child, dated)))
        except Mismatch as problem:
            out.problems.append(problem.problem)
    refused = {p.child for p in out.problems if p.child is not None}
    out.children = {k: v for k, v in out.children.items() if k not in refused}
    return out


REGISTRATION_PATHS = ("/children", "/unborn-children")
BIRTHS = "/births"


class Mismatch(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _registered(child: str, dated: Sequence[Dated]) -> list[Dated]:
    """The child registered once: unborn if any return knew them before birth (a referral
    before the birth must find them registered), then born on the day the returns give; else
    as the first return registers them. Returns that give different dates of birth are a
    problem: which is right is for the council to say."""
    births = [
        (d, d.step.body.get("date_of_birth"))
        for d in dated
        if d.step.path == "/children" or d.step.path.endswith(BIRTHS)
    ]
    first = births[0] if births else None
    for d, born in births[1:]:
        if first is not None and born != first[1]:
            reason = f"born {born} here, {first[1]} in {first[0].file}:{first[0].line}"
            raise Mismatch(Problem(d.file, d.line, "date of birth", reason, child))
    unborn = next((d for d in dated if d.step.path == "/unborn-children"), None)
    if unborn is None:
        return [d for d in dated if d.step.path != "/unborn-children"]
    kept = [d for d in dated if d.step.path != "/children"]
    if first is not None and not any(d.step.path.endswith(BIRTHS) for d in kept):
        born = date.fromisoformat(str(first[1]))
        step = Step("case_events", f"/children/{child}{BIRTHS}", {"date_of_birth": str(born)})
        kept.append(Dated(born, step, first[0].file, first[0].line))
        kept.sort(key=lambda d: d.day)
    return kept


CHARACTERISTICS = "/characteristics"


def _folded(dated: Sequence[Dated]) -> list[Dated]:
    """Each recording of the child's characteristics replaces the last, and each return knows
    only some of them (SSDA903 asylum status and motherhood, the CIN census disabilities): a
    recording takes each field its return leaves out from the latest one before it, so that
    neither return's recording erases what the other said."""
    known: dict[str, Any] = {}
    out: list[Dated] = []
    for d in dated:
        if d.step.path.endswith(CHARACTERISTICS):
            body = {**known, **d.step.body}
            known = body
            d = replace(d, step=replace(d.step, body=body))
        out.append(d)
    return out


REGISTRATION_PATHS = ("/children", "/unborn-children")


def _once(dated: Sequence[Dated]) -> list[Dated]:
    seen: set[str] = set()
    registered = False
    kept: list[Dated] = []
    for d in dated:
        if d.step.path in REGISTRATION_PATHS:
            if registered:
                continue
            registered = True
        key = idempotency_key(d.step)
        if key not in seen:
            seen.add(key)
            kept.append(d)
    return kept


PERSONAL = "personal"
PERSONAL_DETAILS = "/personal-details"


def idempotency_key(step: Step) -> str:
    """A command's key from its content alone (`keyed`): the same row imported twice, from
    the same file or another, is the same command and is recorded once."""
    return "import-" + hashlib.sha256(keyed(step).encode()).hexdigest()[:48]


def keyed(step: Step) -> str:
    """What a command's key is made of. Personal fields (the UPN) are named, never their
    values: a key is kept beside the command and outlives an erasure (shared/commands.py
    hashes them with the child's own key for the same reason), so an import records a
    child's UPN once; a correction is a practitioner's."""
    body = dict(step.body)
    if isinstance(body.get(PERSONAL), dict):
        body[PERSONAL] = sorted(body[PERSONAL])
    if step.path.endswith(PERSONAL_DETAILS):
        body = dict.fromkeys(body, "sealed")
    return json.dumps([step.service, step.path, body], sort_keys=True, default=str)


def rehearsed(plan: ImportPlan, today: date) -> ImportPlan:
    """The plan less the children a service would refuse part of (decided in memory by the
    services' aggregates), each reported at the row of the first command refused."""
    steps = {child: [d.step for d in dated] for child, dated in plan.children.items()}
    outcome = rehearsed_children(steps, today)
    problems = list(plan.problems)
    children = dict(plan.children)
    for child, refusal in outcome.refused.items():
        origin = next(d for d in plan.children[child] if d.step is refusal.step)
        column = origin.column(refusal.field)
        problems.append(Problem(origin.file, origin.line, column, refusal.reason, child))
        del children[child]
    return ImportPlan(children, problems, plan.rows, plan.reference)

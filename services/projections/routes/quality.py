"""The live data-quality board of the statutory returns (services/projections/returns/
quality.py keeps it): every rule of the DfE's this collection year's SSDA903 and CIN census
break, by rule, by child and by locality.

The partnership view (the default; `Permission.READ_BOARDS`) counts the children breaking each
rule in the county and in each locality, small numbers suppressed as the boards suppress them.
The council view (`?view=council`; `Permission.READ_PERSON_LEVEL`) names each child, its
locality and the worker allocated, who can put it right: the rows a user limited to some
localities may see, and the read audited with every child it names. Both say when the board
was last checked, and how many children are waiting to be checked again; 503 with the reason
when there can be no board (the validators are not installed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response

from services.projections.builds import reading
from services.projections.returns.facts import CollectionYear
from services.projections.returns.quality import DROPPED, Issue, partnership
from services.projections.returns.rules import NAMES
from services.projections.routes.boards import COUNCIL_VIEW, Locality, council_locality
from shared.access import Permission, requires, visible_rows
from shared.api import Pool, ServiceClock, ServiceSettings

router = APIRouter(tags=["statutory returns"])
QUALITY = [requires(Permission.READ_BOARDS, unless=COUNCIL_VIEW)]
View = Annotated[
    Literal["partnership", "council"],
    Query(
        description="partnership: children counted by rule and locality, small numbers "
        "suppressed; council: each child, its locality and allocated worker"
    ),
]
UNAVAILABLE = {"description": "No board: the DfE's validators are not installed (the reason)"}


@dataclass
class Found:
    """The board as the checker left it in the live build."""

    year: int
    checked_at: datetime | None = None
    county_at: datetime | None = None
    validators: dict[str, str] = field(default_factory=dict)
    unavailable: str | None = None
    last_error: str | None = None
    waiting: int = 0  # children touched by events, not checked again yet
    waiting_since: datetime | None = None
    sweeping: int = 0  # children the sweep queued, not checked yet
    issues: list[tuple[Issue, datetime, datetime]] = field(default_factory=list)


async def found_in(pool: Any, today: date) -> Found:
    """What the checker wrote in the live build: its state, the children waiting and every
    issue (a build the worker has not brought up to date yet has no board: none yet)."""
    async with reading(pool) as conn:
        if await conn.fetchval("SELECT to_regclass('returns_quality_state') IS NULL"):
            return Found(
                year=CollectionYear.of(today).start_year,
                unavailable="the live build has no data-quality board yet: the projections "
                "worker adds it when it starts",
            )
        state = await conn.fetchrow("SELECT * FROM returns_quality_state")
        waiting = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE NOT swept) AS n, count(*) FILTER (WHERE swept) AS"
            " swept, min(touched_at) FILTER (WHERE NOT swept) AS since FROM returns_touched"
        )
        # The child's locality now (a move is honoured before the child is checked again):
        # who may see the row follows it.
        rows = await conn.fetch(
            "SELECT i.*, coalesce(k.locality, i.locality) AS locality_now"
            " FROM returns_issues i LEFT JOIN chronology_children k USING (child_id)"
            " ORDER BY i.return_name, i.rule, i.child_id NULLS FIRST, i.table_name, i.field"
        )
    validators = state["validators"] if state else "{}"
    return Found(
        year=(state and state["year"]) or CollectionYear.of(today).start_year,
        checked_at=state and state["checked_at"],
        county_at=state and state["county_at"],
        validators=json.loads(validators) if isinstance(validators, str) else dict(validators),
        unavailable=state and state["unavailable"],
        last_error=state and state["last_error"],
        waiting=int(waiting["n"]),
        waiting_since=waiting["since"],
        sweeping=int(waiting["swept"]),
        issues=[
            (
                Issue(
                    r["return_name"],
                    r["rule"],
                    r["message"],
                    r["child_id"],
                    r["locality_now"],
                    r["worker_id"],
                    r["table_name"],
                    r["field"],
                    r["known"],
                ),
                r["found_at"],
                r["checked_at"],
            )
            for r in rows
        ],
    )


def _when(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def about(found: Found, view: str) -> dict[str, Any]:
    """What both views say of the board: the year, when it was checked, who is waiting, the
    rules not checked live."""
    year = CollectionYear(found.year)
    return {
        "view": view,
        "year": year.start_year,
        "year_label": year.label,
        "checked_at": _when(found.checked_at),
        "county_checked_at": _when(found.county_at),
        "waiting": found.waiting,
        "waiting_since": _when(found.waiting_since),
        "sweeping": found.sweeping,
        # whether the last check failed; what failed, to the council view only
        "failing": found.last_error is not None,
        "validators": found.validators,
        "not_checked_live": [
            {"return": kind, "return_title": NAMES[kind], "rule": rule, "why": why}
            for kind, rules in DROPPED.items()
            for rule, why in rules.items()
        ],
    }


def issue_row(issue: Issue, found_at: datetime, checked_at: datetime) -> dict[str, Any]:
    return {
        "return": issue.return_name,
        "return_title": NAMES[issue.return_name],
        "rule": issue.rule,
        "message": issue.message,
        "known": issue.known,
        "child_id": issue.child_id,
        "locality": issue.locality,
        "worker_id": issue.worker_id,
        "table": issue.table_name,
        "field": issue.field,
        "found_at": found_at.isoformat(),
        "checked_at": checked_at.isoformat(),
    }


async def council_view(
    request: Request, response: Response | None, found: Found, locality: str | None
) -> tuple[dict[str, Any], str]:
    """Each child's issues (the user's localities; `locality` only, if asked), the read
    audited with each child named once; the rules of the whole return; the counts by rule.
    Returns the answer and the audit record's id."""
    locality = council_locality(request, locality)
    rows = [
        issue_row(i, found_at, checked_at)
        for i, found_at, checked_at in found.issues
        if i.child_id is not None and (locality is None or i.locality == locality)
    ]
    children = {r["child_id"]: {"child_id": r["child_id"], "locality": r["locality"]} for r in rows}
    kept, audit_id = await visible_rows(request, response, list(children.values()))
    seen = {k["child_id"] for k in kept}
    rows = [r for r in rows if r["child_id"] in seen]
    counts: dict[tuple[str, str], set[str]] = {}
    places: dict[tuple[str, str], dict[str, set[str]]] = {}
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        rule = (r["return"], r["rule"])
        counts.setdefault(rule, set()).add(r["child_id"])
        places.setdefault(rule, {}).setdefault(r["locality"] or "", set()).add(r["child_id"])
        first.setdefault(rule, r)
    council = [issue_row(i, f, c) for i, f, c in found.issues if i.child_id is None]
    return {
        **about(found, "council"),
        "last_error": found.last_error,
        "locality": locality,
        "children": len(seen),
        "rules": [
            {
                "return": rule[0],
                "return_title": NAMES[rule[0]],
                "rule": rule[1],
                "message": first[rule]["message"],
                "known": first[rule]["known"],
                "children": len(ids),
                "localities": {loc: len(c) for loc, c in sorted(places[rule].items())},
            }
            for rule, ids in sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ],
        "issues": rows,
        "council": council,
    }, audit_id


def partnership_view(found: Found, today: date, threshold: int) -> dict[str, Any]:
    return {
        **about(found, "partnership"),
        **partnership([i for i, _, _ in found.issues], today, threshold),
    }


@router.get(
    "/returns/quality",
    summary="The live data-quality board of this year's statutory returns: the DfE's rules "
    "they break, by rule and locality (council view: by child, with the allocated worker)",
    responses={503: UNAVAILABLE},
    dependencies=QUALITY,
)
async def returns_quality(
    request: Request,
    response: Response,
    pool: Pool,
    clock: ServiceClock,
    settings: ServiceSettings,
    view: View = "partnership",
    locality: Locality = None,
) -> dict[str, Any]:
    today = clock.today()
    found = await found_in(pool, today)
    if found.unavailable:
        raise HTTPException(503, found.unavailable)
    if view == "council":
        answer, _ = await council_view(request, response, found, locality)
        return answer
    shown = partnership_view(found, today, settings.small_number_threshold)
    if locality is not None:  # the locality's counts in place of the county's
        counts = [r["localities"].get(locality, 0) for r in shown["rules"]]
        shown["locality"] = locality
        shown["rules"] = [
            {**r, "children": n, "suppressed": n is None}
            for r, n in zip(shown["rules"], counts, strict=True)
        ]
    return shown

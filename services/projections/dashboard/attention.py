"""The live page's attention queue (services/projections/attention): what needs a person now,
filtered by locality and kind, each item with its child's chronology and a form to acknowledge
it and assign it to a worker; for the partnership view, how many of each kind.

The form posts here, to the dashboard's own origin, and the dashboard forwards the command to
the escalations service (which records it as `AttentionAcknowledged`, audited) with the user's
own token: the browser never calls another service, and the escalations service never takes a
cookie. Once recorded, the page waits (briefly) for the acknowledgement to reach the queue, so
the page it goes back to shows it, with or without script.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import uuid
from datetime import date
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from structlog.contextvars import get_contextvars

from contracts.escalations.codes import AttentionKind
from contracts.escalations.events import ITEM_ID_PATTERN
from contracts.ids import WORKER_ID_PATTERN
from services.projections.attention.items import LABELS
from services.projections.attention.queries import Item, item
from services.projections.builds import reading
from services.projections.dashboard import (
    BOARD_PAGES,
    Asked,
    Question,
    caller_authorization,
    templates,
)
from services.projections.routes.attention import localities, partnership_counts, queue
from shared.access import Permission, allowed, audit_read, principal_of, requires
from shared.api import Pool, ServiceClock, ServiceSettings
from shared.http import services_trusted
from shared.logging import get_logger

log = get_logger(__name__)

router = APIRouter(include_in_schema=False)

# The items a page lists at most (the longest waiting): past them, a filter narrows the queue.
SHOWN = 200
# How long the acknowledgement may take to reach the queue before the page goes back anyway
# (it takes well under a second; the live page shows it when it arrives).
SHOWN_WITHIN_S = 3.0


def version_of(shown: list[Any]) -> str:
    """What the queue shows, in a few characters: the live page redraws the queue only when
    it changed (a redraw would move a keyboard user's place, and most changes of the read
    model change nothing shown)."""
    return hashlib.sha256(json.dumps(shown, default=str).encode()).hexdigest()[:16]


async def kind_asked(request: Request) -> AttentionKind | None:
    value = request.query_params.get("kind") or None
    if value is None:
        return None
    try:
        return AttentionKind(value)
    except ValueError:
        raise HTTPException(422, f"kind must be one of {', '.join(AttentionKind)}") from None


Kind = Annotated[AttentionKind | None, Depends(kind_asked)]


def council_by_default(request: Request) -> RedirectResponse | None:
    """Whoever may read the queue itself is sent to it (the council view) when the address
    names no view; the others see the partnership view's counts."""
    if "view" in request.query_params:
        return None
    principal = principal_of(request)
    if not allowed(Permission.READ_PERSON_LEVEL, principal):
        return None
    asked = [*request.query_params.multi_items(), ("view", "council")]
    mine = principal.localities
    if mine is not None and len(mine) > 1 and not request.query_params.get("locality"):
        asked.append(("locality", sorted(mine)[0]))  # the council view is of one of theirs
    query = urlencode(asked)
    return RedirectResponse(f"{request.url.path}?{query}", 303)


async def queue_context(
    request: Request,
    pool: Any,
    settings: Any,
    question: Asked,
    kind: AttentionKind | None,
    today: date,
) -> tuple[dict[str, Any], str | None]:
    """What the page's queue shows (the items, or the counts), and the audit record's id of a
    read that names children."""
    context: dict[str, Any] = {
        "view": question.view,
        "locality": question.locality,
        "kind": kind.value if kind else "",
        "kinds": [(k.value, label) for k, label in LABELS.items()],
        "localities": await localities(pool),
        "today": today,
        "back": urlencode(
            {
                "view": question.view,
                **({"locality": question.locality} if question.locality else {}),
                **({"kind": kind.value} if kind else {}),
            }
        ),
        "items": None,
        "counts": None,
        "threshold": settings.small_number_threshold,
    }
    if question.view != "council":
        board = await partnership_counts(
            pool, today, settings.small_number_threshold, question.locality
        )
        context["counts"] = board
        context["version"] = version_of([(f.key, f.count) for f in board.figures])
        return context, None
    items, audit_id = await queue(request, None, pool, today, question.locality, kind, SHOWN)
    context["items"] = items
    context["shown"] = SHOWN
    context["version"] = version_of(
        [
            (i.item_id, i.days_open, i.past_response_time, i.acknowledged_by, i.assigned_to)
            for i in items
        ]
    )
    context["form_key"] = uuid.uuid4().hex  # one command per form shown: a double submit is one
    return context, audit_id


@router.get("/dashboard/live/attention", response_class=HTMLResponse, dependencies=BOARD_PAGES)
async def attention_fragment(
    request: Request,
    question: Question,
    pool: Pool,
    settings: ServiceSettings,
    clock: ServiceClock,
    kind: Kind,
) -> HTMLResponse:
    """The queue alone, as the live page fetches it when the queue changes."""
    context, audit_id = await queue_context(request, pool, settings, question, kind, clock.today())
    return templates.TemplateResponse(
        request,
        "attention_queue.html",
        context,
        headers={"X-Audit-Id": audit_id} if audit_id else None,
    )


# -- acknowledging an item ----------------------------------------------------------------------

ACKNOWLEDGE = [requires(Permission.READ_PERSON_LEVEL, lists_children=True)]
_ITEM = re.compile(ITEM_ID_PATTERN)
_WORKER = re.compile(WORKER_ID_PATTERN)


def _back(query: str) -> str:
    """The live page as it was (its own query only: never an address elsewhere)."""
    kept = {k: v for k, v in parse_qs(query).items() if k in ("view", "locality", "kind")}
    return "/dashboard/live?" + urlencode({k: v[0] for k, v in kept.items()})


async def _forward(
    request: Request, found: Item, assigned_to: str, idempotency_key: str
) -> tuple[int, Any]:
    """The acknowledgement, as a command to the escalations service: its status and answer."""
    settings = request.app.state.settings
    verify = services_trusted(settings)
    async with httpx.AsyncClient(base_url=settings.escalations_url, verify=verify, timeout=10) as c:
        try:
            answer = await c.post(
                f"/attention/{found.kind.value}/{found.item_id}/acknowledgements",
                json={"child_id": found.child_id, "assigned_to": assigned_to},
                headers={
                    "Authorization": caller_authorization(request),
                    "Idempotency-Key": f"attention-{idempotency_key}",
                    "X-Correlation-Id": str(get_contextvars().get("correlation_id", "")),
                },
            )
        except httpx.HTTPError as error:
            log.warning("the escalations service could not be asked", error=repr(error))
            return 503, None
    try:
        return answer.status_code, answer.json()
    except ValueError:
        return answer.status_code, None


async def _shown(pool: Any, item_id: str, version: int) -> bool:
    """Whether the acknowledgement (the item's stream `version`) has reached the queue."""
    deadline = time.monotonic() + SHOWN_WITHIN_S
    while time.monotonic() < deadline:
        async with reading(pool) as conn:
            seq = await conn.fetchval(
                "SELECT seq FROM attention_acknowledgements WHERE item_id = $1::uuid", item_id
            )
        if seq is not None and seq >= version:
            return True
        await asyncio.sleep(0.05)  # the projection applies it within a batch
    return False


def _problem(
    request: Request, found: Item | None, message: str, field: str, status: int, back: str
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "attention_acknowledge.html",
        {
            "title": "Acknowledge",
            "item": found,
            "error": message,
            "field": field,
            "back": back,
            "form_key": uuid.uuid4().hex,
            "query": back.partition("?")[2],
        },
        status_code=status,
    )


@router.post("/dashboard/live/acknowledgements", dependencies=ACKNOWLEDGE)
async def acknowledge(request: Request, pool: Pool, clock: ServiceClock) -> Response:
    """Acknowledge an open item and assign it to a worker: forwarded to the escalations service,
    then back to the live page as it was."""
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    back = _back(form.get("back", ""))
    item_id, assigned_to = form.get("item_id", ""), form.get("assigned_to", "").strip()
    found = None
    if _ITEM.match(item_id):
        async with reading(pool) as conn:
            found = await item(conn, item_id, clock.today())
    if found is None or not principal_of(request).may_see_locality(found.locality):
        # Closed since the page was shown, or never one this user may see: the same answer.
        return _problem(request, None, "This item is no longer open.", "item", 404, back)
    audit_id = await audit_read(request, None, [found.child_id])
    if not _WORKER.match(assigned_to):
        response = _problem(
            request,
            found,
            "Enter the worker's id, for example SW-17 (letters, digits, - and _)",
            "assigned_to",
            422,
            back,
        )
        response.headers["X-Audit-Id"] = audit_id
        return response
    key = form.get("form_key") or uuid.uuid4().hex
    status, answer = await _forward(request, found, assigned_to, key)
    if status not in (200, 201) or not isinstance(answer, dict):
        log.warning("acknowledgement refused", status=status, answer=answer)
        message = (
            "You may not acknowledge this item."
            if status == 403
            else "The acknowledgement could not be recorded: try again."
        )
        response = _problem(
            request, found, message, "assigned_to", 502 if status >= 500 else status, back
        )
        response.headers["X-Audit-Id"] = audit_id
        return response
    await _shown(pool, found.item_id, int(answer.get("stream_version", 1)))
    return RedirectResponse(f"{back}#item-{found.item_id}", 303, headers={"X-Audit-Id": audit_id})

"""The register feed: a school's attendance marks for many children in one call."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from services.education.domain.commands import RecordRegisterFeed
from services.education.domain.learner import FeedRefused, attendance_events
from shared.access import Permission, check_locality, requires
from shared.aggregate import KnownChild
from shared.api import (
    ERRORS,
    Caller,
    CorrelationId,
    IdempotencyKey,
    Pool,
    Recorded,
    ServiceClock,
    ServiceSettings,
    Store,
    command_context,
    recorded,
)
from shared.settings import Settings

router = APIRouter(tags=["attendance"])
# The route is declared once for every app, so its documentation names the setting.
DEFAULT_MAX_MARKS = Settings.model_fields["max_batch_marks"].default


async def _children(pool: Pool, feed: RecordRegisterFeed) -> dict[str, KnownChild]:
    rows = await pool.fetch(
        "SELECT child_id, date_of_birth, locality FROM known_children"
        " WHERE child_id = ANY($1::text[])",
        list({m.child_id for m in feed.marks}),
    )
    return {r["child_id"]: KnownChild(**dict(r)) for r in rows}


@router.post(
    "/attendance/register-feed",
    status_code=201,
    response_model=Recorded,
    summary="Record a school's register feed (thousands of marks)",
    description="All or nothing: one AttendanceRecorded event per child and day, appended "
    "with COPY. Every unknown child, future date or repeated session is listed in a 422; "
    f"more than `CSP_MAX_BATCH_MARKS` marks (default {DEFAULT_MAX_MARKS}) is a 413. Send an "
    "Idempotency-Key (e.g. the feed file's id) so a retried delivery records once.",
    responses={**ERRORS, 413: {"description": "Too many marks in one call"}},
    dependencies=[requires(Permission.RECORD_REGISTER_FEED)],
)
async def register_feed(
    feed: RecordRegisterFeed,
    response: Response,
    request: Request,
    caller: Caller,
    store: Store,
    pool: Pool,
    clock: ServiceClock,
    settings: ServiceSettings,
    idempotency_key: IdempotencyKey = None,
    correlation_id: CorrelationId = None,
) -> Recorded | JSONResponse:
    if len(feed.marks) > settings.max_batch_marks:
        return JSONResponse(
            status_code=413,
            content={
                "detail": (
                    f"{len(feed.marks)} marks; at most {settings.max_batch_marks} per call: "
                    "split the feed"
                )
            },
        )
    ctx = command_context(feed, idempotency_key, correlation_id, caller)
    if idempotency_key is not None:
        earlier = await store.find_command(idempotency_key, ctx.request_hash or "")
        if earlier is not None:
            return recorded(earlier, response)
    children = await _children(pool, feed)
    for locality in {c.locality for c in children.values()}:
        check_locality(request, locality)
    try:
        items = attendance_events(feed, children, clock.today())
    except FeedRefused as refused:
        return JSONResponse(
            status_code=422,
            content={
                "detail": [
                    {"loc": ["body", "marks", i, field], "msg": reason, "type": "register_feed"}
                    for i, field, reason in refused.problems[:1000]
                ]
            },
        )
    return recorded(await store.append_batch(items, ctx), response)

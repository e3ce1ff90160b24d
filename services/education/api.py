"""HTTP command API of the education service, with the register feed."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from contracts.ids import CHILD_ID_PATTERN
from services.education.domain.commands import RecordRegisterFeed
from services.education.domain.learner import FeedRefused, Learner, attendance_events
from services.education.routes import ROUTES
from shared.access import check_locality
from shared.aggregate import KnownChild
from shared.api import (
    ERRORS,
    Caller,
    CorrelationId,
    IdempotencyKey,
    Recorded,
    command_context,
    domain_service_app,
    recorded,
)
from shared.clock import Clock, clock_from
from shared.known_children import KNOWN_CHILDREN_SQL, known_child
from shared.routes import StreamParam, add_command_routes, add_stream_read
from shared.settings import Settings

CHILD = StreamParam("child_id", CHILD_ID_PATTERN, "Pseudonymous child id")


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or clock_from(settings)
    app, state = domain_service_app(
        settings, "Education",
        "Enrolments, attendance (the register feed), Year 11 destinations and EET activity, "
        "published on `education-events`. A child must first be registered with case events.",
        [KNOWN_CHILDREN_SQL])

    @app.post(
        "/attendance/register-feed", status_code=201, response_model=Recorded,
        tags=["attendance"], summary="Record a school's register feed (thousands of marks)",
        description="All or nothing: one AttendanceRecorded event per child and day, appended "
        "with COPY. Every unknown child, future date or repeated session is listed in a 422; "
        f"more than {settings.max_batch_marks} marks is a 413. Send an Idempotency-Key (e.g. "
        "the feed file's id) so a retried delivery records once.",
        responses={**ERRORS, 413: {"description": "Too many marks in one call"}})
    async def register_feed(
        feed: RecordRegisterFeed, response: Response,
        request: Request, caller: Caller,
        idempotency_key: IdempotencyKey = None, correlation_id: CorrelationId = None,
    ) -> Recorded | JSONResponse:
        if len(feed.marks) > settings.max_batch_marks:
            return JSONResponse(status_code=413, content={"detail": (
                f"{len(feed.marks)} marks; at most {settings.max_batch_marks} per call: "
                "split the feed")})
        ctx = command_context(feed, idempotency_key, correlation_id, caller)
        if idempotency_key is not None:
            earlier = await state.store.find_command(idempotency_key, ctx.request_hash or "")
            if earlier is not None:
                return recorded(earlier, response)
        ids = list({m.child_id for m in feed.marks})
        rows = await state.pool.fetch(
            "SELECT child_id, date_of_birth, locality FROM known_children"
            " WHERE child_id = ANY($1::text[])", ids)
        children = {r["child_id"]: KnownChild(**dict(r)) for r in rows}
        for locality in {c.locality for c in children.values()}:
            check_locality(request, locality)
        try:
            items = attendance_events(feed, children, clock.today())
        except FeedRefused as refused:
            return JSONResponse(status_code=422, content={"detail": [
                {"loc": ["body", "marks", i, field], "msg": reason, "type": "register_feed"}
                for i, field, reason in refused.problems[:1000]]})
        return recorded(await state.store.append_batch(items, ctx), response)

    add_command_routes(app, "/children", CHILD, ROUTES, Learner, lambda: state.store, clock,
                       known_child=lambda child_id: known_child(state.pool, child_id))
    add_stream_read(app, "/children", CHILD, Learner, lambda: state.store,
                    known_child=lambda child_id: known_child(state.pool, child_id))
    return app

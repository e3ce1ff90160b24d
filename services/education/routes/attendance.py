"""The register feed: a school's attendance marks for many children in one call.

Who may send what: a schools partner only for the schools its token names (`schools`), a
council practitioner or manager for any school; either way only marks for children on that
school's roll on the day marked, from this service's own enrolments; and only for one of
the council's current schools (its reference data). A refused feed records
nothing and is written to the access audit with every reason; a partner is told only that it
was refused (which children the council knows, and their dates of birth, are not a school's
to find out by trying), council users get each mark's reason.

Feeds sent at the same time for the same children (a school sending several days at once, two
schools with a dual-registered pupil) are all recorded: each is decided on what was recorded
when it was read, appended at the versions it was read at, and decided again if another feed
was recorded in between. Only a true repeat (a session this school has recorded already) is
refused, with a 409 naming the marks.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from contracts.education.events import AttendanceRecorded, education_event_types
from services.education.domain.commands import RecordRegisterFeed
from services.education.domain.learner import (
    ENROLMENT_EVENTS,
    Enrolment,
    FeedRefused,
    attendance_on_the_wire,
    enrolments,
    repeated_sessions,
)
from shared.access import Permission, requires
from shared.aggregate import KnownChild
from shared.api import (
    ERRORS,
    Audit,
    BulkBodyRoute,
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
from shared.auth import Principal, Role
from shared.envelope import DomainEvent, at_start_of
from shared.eventstore import (
    BATCH_ATTEMPTS,
    AppendResult,
    CommandContext,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    retried_on_conflict,
)
from shared.reference_data import check_references
from shared.security import BULK
from shared.settings import Settings

# A feed's marks are validated straight from the body's bytes (BulkBodyRoute).
router = APIRouter(tags=["attendance"], route_class=BulkBodyRoute)
# The route is declared once for every app, so its documentation names the setting.
DEFAULT_MAX_MARKS = Settings.model_fields["max_batch_marks"].default
# All a partner is told of a refused feed: nothing that tells one mark's fault from another's.
REFUSED_FOR_PARTNER = (
    "the feed was refused and nothing was recorded: it marks a child who is not on this "
    "school's roll on a day marked, a day in the future, or a session twice. Check it "
    "against the school's roll; the council's education team can check the roll it holds."
)
# Each child known to this service with its enrolment events, its attendance already recorded
# on the feed's days ($2, each at the start of its day: occurred_at), and its stream's version,
# for a whole feed in one query: one statement, so all as at one moment. The event_type
# predicates are the partial indexes' (services/education/sql): keep them alike.
PUPILS_SQL = (
    "SELECT k.child_id, k.date_of_birth, k.locality, coalesce(("
    " SELECT json_agg(json_build_array(e.event_type, e.schema_version, e.payload)"
    "  ORDER BY e.stream_version) FROM events e WHERE e.stream_id = k.child_id"
    f" AND e.event_type IN ({', '.join(repr(t) for t in ENROLMENT_EVENTS)})"
    "), '[]') AS enrolments, ("
    " SELECT json_agg(json_build_array(e.event_type, e.schema_version, e.payload))"
    "  FROM events e WHERE e.stream_id = k.child_id"
    f" AND e.event_type = '{AttendanceRecorded.event_type}'"
    " AND e.occurred_at = ANY($2::timestamptz[])) AS attendance, coalesce(("
    " SELECT max(e.stream_version) FROM events e WHERE e.stream_id = k.child_id), 0) AS head"
    " FROM known_children k WHERE k.child_id = ANY($1::text[])"
)
ALREADY_RECORDED = "is already recorded from this school, by an earlier feed"


@dataclass(frozen=True)
class Pupils:
    """What a feed is decided on, as at one moment: the children it names that this service
    knows, each one's enrolments, its attendance recorded on the feed's days (any school's),
    and its stream's version then (the feed is appended at it, or decided again)."""

    children: dict[str, KnownChild]
    roll: dict[str, list[Enrolment]]
    recorded: dict[str, list[DomainEvent]]
    heads: dict[str, int]


def _decoded(events: str) -> list[DomainEvent]:
    return [
        education_event_types.decode(event_type, version, payload)
        for event_type, version, payload in json.loads(events)
    ]


async def _pupils(pool: Pool, feed: RecordRegisterFeed) -> Pupils:
    rows = await pool.fetch(
        PUPILS_SQL,
        list({m.child_id for m in feed.marks}),
        [at_start_of(day) for day in {m.date for m in feed.marks}],
    )
    return Pupils(
        children={
            r["child_id"]: KnownChild(r["child_id"], r["date_of_birth"], r["locality"])
            for r in rows
        },
        roll={r["child_id"]: enrolments(_decoded(r["enrolments"])) for r in rows},
        recorded={r["child_id"]: _decoded(r["attendance"]) for r in rows if r["attendance"]},
        heads={r["child_id"]: r["head"] for r in rows},
    )


def sender_key(caller: Principal, school_urn: str, key: str) -> str:
    """The feed's Idempotency-Key in its sender's own space (the agency, and the school it
    sends for), so one school cannot take a key another school's feed will use."""
    return f"register-feed/{caller.agency}/{school_urn}/{key}"


async def _earlier(store: Store, ctx: CommandContext, key: str) -> AppendResult | None:
    """The feed's earlier result under the sender's key; or under the bare key, as feeds were
    recorded before keys had a sender, when it is this very feed (the same school and marks:
    the request hash binds them). A bare key used for anything else is no longer this
    sender's concern."""
    earlier = await store.find_command(ctx.idempotency_key or "", ctx.request_hash)
    if earlier is not None:
        return earlier
    try:
        return await store.find_command(key, ctx.request_hash)
    except IdempotencyKeyReused:
        return None


async def _audit_refusal(
    audit: Audit,
    request: Request,
    caller: Principal,
    feed: RecordRegisterFeed,
    problems: Sequence[tuple[int | None, str, str]],
    status: int,
) -> dict[str, str]:
    """Write the refused feed to the access audit (information governance reads it there: a
    school probing for children shows), with every reason; the X-Audit-Id header. A problem
    with no mark's index refuses every mark (the school is not the sender's)."""
    marks = sorted({i for i, _, _ in problems if i is not None}) or range(len(feed.marks))
    children = [feed.marks[i].child_id for i in marks]
    reasons = Counter(f"{field}: {reason}" for _, field, reason in problems)
    summary = "; ".join(f"{reason} ({n})" for reason, n in reasons.most_common())
    details = "; ".join(
        f"mark {i} {feed.marks[i].child_id} {feed.marks[i].date}: {field} {reason}"
        for i, field, reason in problems
        if i is not None
    )
    audit_id = await audit.record(
        caller,
        f"POST /attendance/register-feed refused ({status})",
        f"/attendance/register-feed school_urn={feed.school_urn}: {len(feed.marks)} marks, "
        f"{len(marks)} refused: {summary}. {details}",
        children,
        request.headers.get("X-Purpose"),
    )
    return {"X-Audit-Id": str(audit_id)}


@router.post(
    "/attendance/register-feed",
    status_code=201,
    response_model=Recorded,
    summary="Record a school's register feed (thousands of marks)",
    description="All or nothing: one AttendanceRecorded event per child and day, appended "
    "with COPY. Feeds for the same children may be sent at the same time (several days at "
    "once; two schools' registers of a dual-registered pupil): each is recorded. "
    "A schools partner sends only for a school its token names (`schools`), else "
    "403; every mark must be for a child on that school's roll on that day. For council "
    "users every unknown child, child not on the roll, impossible date or repeated session "
    "is listed in a 422; a partner's refused feed is one 422 that names no mark. A refused "
    "feed is written to the access audit. "
    f"More than `CSP_MAX_BATCH_MARKS` marks (default {DEFAULT_MAX_MARKS}) is a 413. Send an "
    "Idempotency-Key (e.g. the feed file's id) so a retried delivery records once: keys are "
    "the sender's own (its agency and the school), another school's cannot collide.",
    responses={
        **ERRORS,
        403: {"description": "The token does not name this school"},
        409: {
            "description": "A true repeat: some marks are for sessions this school has "
            "recorded already (the same child, date and session) by an earlier feed under "
            "another Idempotency-Key. Each is named in `detail` (`loc`: its index in `marks`, "
            "with its `date` and `session`). Nothing of this feed was recorded, its other "
            "marks neither: do not drop it, send it again without the marks named. Feeds sent "
            "at the same time are not refused for it (each is recorded), and the same feed "
            "sent again under its own key is a 200 with its first result"
        },
        413: {
            "description": "Too many marks in one call, or a body over `CSP_MAX_BULK_REQUEST_BYTES`"
        },
        503: {
            "description": f"More than {BATCH_ATTEMPTS - 1} other feeds for the same children "
            "were recorded while this one was being recorded: nothing of it was recorded; send "
            "it again after `Retry-After` seconds, with the same Idempotency-Key"
        },
    },
    dependencies=[requires(Permission.RECORD_REGISTER_FEED)],
    openapi_extra=BULK,  # a bulk body: held to CSP_MAX_BULK_REQUEST_BYTES, not the default
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
    audit: Audit,
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
    if not caller.may_send_for_school(feed.school_urn):
        reason = (
            f"is not one of this token's schools ({', '.join(sorted(caller.schools))})"
            if caller.schools
            else "this token names no school (its `schools` claim)"
        )
        headers = await _audit_refusal(
            audit, request, caller, feed, [(None, "school_urn", reason)], 403
        )
        refusal = f"this token may not send school {feed.school_urn}'s register: {reason}"
        return JSONResponse(status_code=403, content={"detail": refusal}, headers=headers)
    key = sender_key(caller, feed.school_urn, idempotency_key) if idempotency_key else None
    ctx = command_context(feed, key, correlation_id, caller)
    if idempotency_key is not None:
        earlier = await _earlier(store, ctx, idempotency_key)
        if earlier is not None:
            return recorded(earlier, response)
    try:  # a school the council does not know of (or closed): refused, and audited as such
        await check_references(request, feed)
    except RequestValidationError as unknown:
        problems = [(None, "school_urn", str(e["msg"])) for e in unknown.errors()]
        headers = await _audit_refusal(audit, request, caller, feed, problems, 422)
        return JSONResponse(
            status_code=422, content={"detail": list(unknown.errors())}, headers=headers
        )
    recorder = FeedRecorder(store, pool, audit, request, caller, clock.today())
    try:
        result = await retried_on_conflict(lambda: recorder.record(feed, ctx, idempotency_key))
    except ConcurrencyConflict:
        return JSONResponse(
            status_code=503,
            content={
                "detail": "other feeds for the same children kept being recorded while this "
                "one was: nothing of it was recorded; send it again, with the same "
                "Idempotency-Key"
            },
            headers={"Retry-After": "1"},
        )
    return result if isinstance(result, JSONResponse) else recorded(result, response)


@dataclass(frozen=True)
class FeedRecorder:
    """Records one request's feed: decided on what is recorded now, appended at the versions
    it was decided at (`Pupils.heads`). Another feed for one of its children recorded in
    between makes the append a ConcurrencyConflict, and the feed is decided again on fresh
    reads: so it is never recorded on a stale check (the roll, or its marks' being new)."""

    store: Store
    pool: Pool
    audit: Audit
    request: Request
    caller: Principal
    today: date

    async def record(
        self, feed: RecordRegisterFeed, ctx: CommandContext, key: str | None
    ) -> AppendResult | JSONResponse:
        pupils = await _pupils(self.pool, feed)
        # A child outside the caller's localities is one it does not know.
        children = {
            k: c for k, c in pupils.children.items() if self.caller.may_see_locality(c.locality)
        }
        try:
            items = attendance_on_the_wire(feed, children, self.today, pupils.roll)
        except FeedRefused as refused:
            return await self._refused(feed, refused.problems)
        repeats = repeated_sessions(feed, pupils.recorded)
        if repeats:
            # This very feed, recorded under its key while this request was deciding it, is
            # that first result, not a repeat.
            earlier = await _earlier(self.store, ctx, key) if key is not None else None
            return earlier or await self._repeated(feed, repeats)
        return await self.store.append_batch(items, ctx, pupils.heads)

    async def _refused(
        self, feed: RecordRegisterFeed, problems: list[tuple[int, str, str]]
    ) -> JSONResponse:
        headers = await _audit_refusal(self.audit, self.request, self.caller, feed, problems, 422)
        detail = (
            [{"loc": ["body", "marks"], "msg": REFUSED_FOR_PARTNER, "type": "register_feed"}]
            if self.caller.role is Role.PARTNER
            else [
                {"loc": ["body", "marks", i, field], "msg": reason, "type": "register_feed"}
                for i, field, reason in problems[:1000]
            ]
        )
        return JSONResponse(status_code=422, content={"detail": detail}, headers=headers)

    async def _repeated(
        self, feed: RecordRegisterFeed, repeats: list[tuple[int, date, str]]
    ) -> JSONResponse:
        """The 409 of a true repeat, naming each mark: the school's own marks for its own
        pupils (all on its roll, or the feed was refused before), so a partner is told too."""
        problems = [
            (i, "session", f"{session} on {day} {ALREADY_RECORDED}") for i, day, session in repeats
        ]
        headers = await _audit_refusal(self.audit, self.request, self.caller, feed, problems, 409)
        detail = [
            {
                "loc": ["body", "marks", i, "session"],
                "msg": f"this child's {session} session on {day} {ALREADY_RECORDED}",
                "type": "already_recorded",
                "date": day.isoformat(),
                "session": session,
            }
            for i, day, session in repeats[:1000]
        ]
        return JSONResponse(status_code=409, content={"detail": detail}, headers=headers)

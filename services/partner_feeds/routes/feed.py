"""Each partner agency's own feed over HTTPS, for agencies that do not run Kafka: the messages
its `partner-<agency>` topic carries (the same message ids, values and headers), paged in
commit order from a cursor the agency keeps, long-polled or as server-sent events.

Only the agency's own `partner` users may read it (Permission.READ_FEED, and the agency in
the path must be the token's: another's is 403). Every page served is in the access audit
(shared/audit.py, `GET /audit`) with the children behind its messages (a partnership audit's
as `partnership-audit:<audit id>`, never a child's id): the share audit already says which
agency was sent which message; this says who fetched it, when, and from which cursor (the
request line), so a page can be named again. A council user reads none of it: the share
audit answers the council's questions with the child's own id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from services.partner_feeds import cursor
from services.partner_feeds.feed_store import (
    RETENTION_DAYS,
    Expired,
    Wakeups,
    check_cursor,
    wait_for_page,
)
from shared.access import Permission, audit_read, forbidden, principal_of, requires
from shared.api import Pool
from shared.envelope import Agency

router = APIRouter(tags=["feed"])

MAX_LIMIT = 1000
MAX_WAIT_S = 60  # a long poll is answered within this, with or without messages
# A live stream ends after this and the client reconnects from its last event (EventSource
# does so by itself, sending Last-Event-ID): the token is checked again at each reconnection,
# so an expired or withdrawn token stops the stream within this time.
STREAM_S = 300.0
STREAM_BATCH = 100
RECONNECT_MS = 1000  # the stream's `retry:` hint

Of = Annotated[Agency, Path(description="The agency whose feed: the token's own.")]
After = Annotated[
    str | None,
    Query(
        max_length=64,
        description="The `next` of the last page (or the `cursor` of the last message) you "
        "processed; omit it to read from the oldest message kept (90 days).",
    ),
]


class FeedMessage(BaseModel):
    """One message, as its record on the agency's topic carries it."""

    cursor: str = Field(description="This message's place: send it as `after` to go on from it.")
    key: str = Field(description="The record's key: the agency's pseudonym of the child.")
    headers: dict[str, str] = Field(
        description="The record's headers (message_id, correlation_id, ce_type...)."
    )
    value: dict[str, Any] = Field(
        description="The record's value: the message (message_id, subject, event_type, facts, "
        "purpose), as the released contract partner-<agency>.json describes it."
    )


class FeedPage(BaseModel):
    agency: Agency
    messages: list[FeedMessage]
    next: str = Field(description="Keep it: the `after` of your next request.")
    more: bool = Field(description="A full page: more may be waiting; ask again at once.")


BAD_CURSOR = {"description": "`after` (or `Last-Event-ID`) is not a cursor this feed made"}
GONE = {
    "description": "Messages after this cursor are past the feed's retention (90 days): read "
    "again from the oldest kept (no `after`) and tell the council of the gap"
}


@router.get(
    "/feeds/{agency}",
    summary="The agency's messages after a cursor, in order (long-poll with `wait`; audited)",
    dependencies=[requires(Permission.READ_FEED, lists_children=True)],
    responses={400: BAD_CURSOR, 410: GONE},
)
async def page(
    request: Request,
    response: Response,
    pool: Pool,
    agency: Of,
    after: After = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Most messages in the page.")
    ] = 100,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_S,
            description="Seconds to wait for a message when none is waiting (long poll): "
            "the answer comes as soon as one is, or empty when the time is up.",
        ),
    ] = 0,
) -> FeedPage:
    _own(request, agency)
    start = _cursor(after, "after")
    with _expired():
        served, after_it = await wait_for_page(
            pool, _wakeups(request), agency, start, limit, wait, request.is_disconnected
        )
    await audit_read(request, response, [s.child_id for s in served])
    return FeedPage(
        agency=agency,
        messages=[FeedMessage(**s.item) for s in served],
        next=cursor.encode(after_it),
        more=len(served) == limit,
    )


@router.get(
    "/feeds/{agency}/live",
    summary="The agency's messages as server-sent events, from a cursor, as they come (audited)",
    dependencies=[requires(Permission.READ_FEED, lists_children=True)],
    responses={400: BAD_CURSOR, 410: GONE},
    response_class=EventSourceResponse,
)
async def live(
    request: Request,
    pool: Pool,
    agency: Of,
    after: After = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=64,
            description="Sent by EventSource on reconnecting: the last event's id (a cursor); "
            "it takes over from `after`.",
        ),
    ] = None,
) -> EventSourceResponse:
    _own(request, agency)
    start = (
        _cursor(last_event_id, "Last-Event-ID")
        if last_event_id is not None
        else _cursor(after, "after")
    )
    with _expired():  # refused before the stream starts, as a status a client sees
        await check_cursor(pool, agency, start)
    events = _stream(request, pool, agency, start)
    return EventSourceResponse(events, ping=15, send_timeout=30)


async def _stream(
    request: Request, pool: asyncpg.Pool, agency: Agency, start: cursor.FeedCursor
) -> AsyncIterator[ServerSentEvent]:
    """Each message an event (`message`, its id the cursor), each batch audited before it
    is sent, until the client goes, the stream's time is up, or retention overtakes it."""
    loop = asyncio.get_running_loop()
    # Until the stream's time is up or the token's, whichever is first: a reconnect checks
    # the token again, so a revoked or expired token streams no longer than it may.
    expires_at = principal_of(request).expires_at
    left_s = STREAM_S if expires_at is None else min(STREAM_S, expires_at - time.time())
    until = loop.time() + left_s
    at = start
    yield ServerSentEvent(comment="the feed of " + agency.value, retry=RECONNECT_MS)
    while (left := until - loop.time()) > 0 and not await request.is_disconnected():
        try:
            served, at = await wait_for_page(
                pool, _wakeups(request), agency, at, STREAM_BATCH, left, request.is_disconnected
            )
        except Expired:
            yield ServerSentEvent(GONE["description"], event="gone")
            return
        if not served:
            continue
        await audit_read(request, None, [s.child_id for s in served])
        for s in served:
            yield ServerSentEvent(
                FeedMessage(**s.item).model_dump_json(), event="message", id=s.item["cursor"]
            )


def _own(request: Request, agency: Agency) -> None:
    """Object-level: an agency's feed is its own users' only."""
    principal = principal_of(request)
    if principal.agency is not agency:
        raise forbidden(f"{principal.agency} partners may read only the {principal.agency} feed")
    if principal.schools:
        # A token naming its schools is one school's system sending its registers; the
        # schools feed holds every school's children, which only the agency's own feed
        # users (tokens naming no school) may read, as only partner-schools may on Kafka.
        raise forbidden("a token that speaks for particular schools may not read the feed")
    if principal.localities is not None:
        # The feed is the agency's, every locality's children in it: a token limited to some
        # localities would be given more than it names.
        raise forbidden("a token limited to some localities may not read the agency's feed")


def _cursor(text: str | None, field: str) -> cursor.FeedCursor:
    if text is None:
        return cursor.START
    try:
        return cursor.decode(text)
    except cursor.InvalidCursor as error:
        where = "header" if field[:1].isupper() else "query"
        raise HTTPException(
            400, [{"loc": [where, field], "msg": str(error), "type": "invalid_cursor"}]
        ) from None


@contextmanager
def _expired() -> Iterator[None]:
    """A cursor retention has overtaken, answered 410."""
    try:
        yield
    except Expired:
        raise HTTPException(410, f"{GONE['description']} ({RETENTION_DAYS} days kept)") from None


def _wakeups(request: Request) -> Wakeups:
    wakeups: Wakeups = request.app.state.wakeups
    return wakeups

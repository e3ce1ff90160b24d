"""The register feed is the sending school's, for the children on its roll: the roll from the
education events, the refusal a partner gets (one answer, whatever the mark), the audit of a
refused feed, and idempotency keys in each sender's own space. No I/O: the route is called
with an in-memory store, a pool that answers the one query, and an audit that keeps rows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import Response
from fastapi.responses import JSONResponse
from starlette.requests import Request

from contracts.education import events as e
from services.education.api import EDUCATION_SQL
from services.education.domain import commands as c
from services.education.domain.learner import (
    NOT_ON_ROLL,
    Enrolment,
    FeedRefused,
    attendance_events,
    enrolments,
)
from services.education.routes.attendance import (
    ALREADY_RECORDED,
    PUPILS_SQL,
    REFUSED_FOR_PARTNER,
    register_feed,
    sender_key,
)
from shared.aggregate import KnownChild
from shared.api import Recorded, command_context
from shared.auth import Principal, Role
from shared.clock import FixedClock
from shared.envelope import Agency, DomainEvent, WireEvent, at_start_of
from shared.eventstore import (
    BATCH_ATTEMPTS,
    AppendResult,
    CommandContext,
    ConcurrencyConflict,
    InMemoryEventStore,
)
from shared.settings import Settings

SCHOOL, OTHER = "113254", "100001"
TODAY = date(2024, 6, 14)
PUPIL = KnownChild("C-1", date(2012, 5, 14), "Exeter")  # on SCHOOL's roll from 2020-09-01
ELSEWHERE = KnownChild("C-2", date(2012, 1, 1), "Exeter")  # on OTHER's roll
LEFT = KnownChild("C-3", date(2012, 1, 1), "Exeter")  # left SCHOOL on 2024-06-05
DUAL = KnownChild("C-4", date(2012, 1, 1), "Exeter")  # on both schools' rolls
CHILDREN = {k.child_id: k for k in (PUPIL, ELSEWHERE, LEFT, DUAL)}
HISTORY: dict[str, list[e.SchoolEnrolled | e.SchoolLeft]] = {
    "C-1": [e.SchoolEnrolled(enrolment_id="EN-1", school_urn=SCHOOL, school_in_council_area=True,
                             start_date=date(2020, 9, 1), year_group=3)],
    "C-2": [e.SchoolEnrolled(enrolment_id="EN-1", school_urn=OTHER, school_in_council_area=True,
                             start_date=date(2020, 9, 1), year_group=3)],
    "C-3": [
        e.SchoolEnrolled(enrolment_id="EN-1", school_urn=SCHOOL, school_in_council_area=True,
                         start_date=date(2020, 9, 1), year_group=3),
        e.SchoolLeft(enrolment_id="EN-1", left_on=date(2024, 6, 5)),
    ],
    "C-4": [e.SchoolEnrolled(enrolment_id=f"EN-{school}", school_urn=school,
                             school_in_council_area=True, start_date=date(2020, 9, 1),
                             year_group=3) for school in (SCHOOL, OTHER)],
}  # fmt: skip
ROLL = {child: enrolments(events) for child, events in HISTORY.items()}

SCHOOL_A = Principal("mis-a", Agency.SCHOOLS, Role.PARTNER, schools=frozenset({SCHOOL}))
SCHOOL_B = Principal("mis-b", Agency.SCHOOLS, Role.PARTNER, schools=frozenset({OTHER}))
NO_SCHOOL = Principal("mis-x", Agency.SCHOOLS, Role.PARTNER)
COUNCIL = Principal("sw-1", Agency.COUNCIL, Role.PRACTITIONER)


def feed(*marks: tuple[str, str], school: str = SCHOOL) -> c.RecordRegisterFeed:
    return c.RecordRegisterFeed(
        school_urn=school,
        marks=[{"child_id": ch, "date": d, "session": "AM", "code": "/"} for ch, d in marks],
    )


# -- the roll ----------------------------------------------------------------------------------


def test_a_roll_runs_from_the_start_date_to_the_day_before_leaving_and_again_on_return() -> None:
    [left, back] = enrolments(
        [
            *HISTORY["C-3"],
            e.SchoolEnrolled(
                enrolment_id="EN-2",
                school_urn=OTHER,
                school_in_council_area=False,
                start_date=date(2024, 6, 10),
                year_group=7,
            ),
        ]
    )
    assert left == Enrolment("EN-1", SCHOOL, date(2020, 9, 1), date(2024, 6, 5))
    assert back == Enrolment("EN-2", OTHER, date(2024, 6, 10))
    assert not left.on_roll(SCHOOL, date(2020, 8, 31))
    assert left.on_roll(SCHOOL, date(2020, 9, 1)) and left.on_roll(SCHOOL, date(2024, 6, 4))
    assert not left.on_roll(SCHOOL, date(2024, 6, 5))  # the boards' school fact ends then too
    assert not left.on_roll(OTHER, date(2022, 1, 1))
    assert back.on_roll(OTHER, date(2030, 1, 1))


def test_marks_for_children_not_on_the_sending_schools_roll_that_day_are_refused() -> None:
    with pytest.raises(FeedRefused) as refused:
        attendance_events(
            feed(
                ("C-1", "2024-06-03"),  # on the roll
                ("C-2", "2024-06-03"),  # another school's pupil
                ("C-3", "2024-06-04"),  # the day before leaving: on the roll
                ("C-3", "2024-06-05"),  # the day of leaving: not
                ("C-1", "2020-08-31"),  # before the enrolment
            ),
            CHILDREN,
            TODAY,
            ROLL,
        )
    assert refused.value.problems == [
        (1, "child_id", NOT_ON_ROLL),
        (3, "child_id", NOT_ON_ROLL),
        (4, "child_id", NOT_ON_ROLL),
    ]
    # Sent as the other school, the same children are the other way round.
    [(child, _)] = attendance_events(
        feed(("C-2", "2024-06-03"), school=OTHER), CHILDREN, TODAY, ROLL
    )
    assert child == "C-2"
    # A known child with no enrolment at all is on nobody's roll.
    with pytest.raises(FeedRefused):
        attendance_events(feed(("C-1", "2024-06-03")), CHILDREN, TODAY, {})


# -- the route ---------------------------------------------------------------------------------


@dataclass
class Pool:
    """Answers the feed's one query, as PostgreSQL would, from CHILDREN and HISTORY, and the
    attendance and stream versions from the service's store."""

    queries: list[str] = field(default_factory=list)
    store: InMemoryEventStore = field(default_factory=InMemoryEventStore)

    async def fetch(
        self, sql: str, child_ids: list[str], days: list[datetime]
    ) -> list[dict[str, Any]]:
        self.queries.append(sql)
        return [
            {
                "child_id": k.child_id,
                "date_of_birth": k.date_of_birth,
                "locality": k.locality,
                "enrolments": json.dumps(
                    [
                        [ev.event_type, ev.schema_version, ev.model_dump(mode="json")]
                        for ev in HISTORY.get(k.child_id, [])
                    ]
                ),
                "attendance": self._attendance(k.child_id, days),
                "head": len(self.store._streams.get(k.child_id, [])),
            }
            for k in CHILDREN.values()
            if k.child_id in child_ids
        ]

    def _attendance(self, child_id: str, days: list[datetime]) -> str | None:
        """As json_agg gives it: NULL when there is none."""
        found = [
            [ev.event_type, ev.schema_version, ev.payload]
            for ev in self.store._streams.get(child_id, [])
            if ev.event_type == "AttendanceRecorded" and ev.occurred_at in days
        ]
        return json.dumps(found) if found else None


@dataclass
class Audit:
    rows: list[dict[str, Any]] = field(default_factory=list)

    async def record(
        self,
        principal: Principal,
        action: str,
        request: str,
        child_ids: list[str],
        purpose: str | None = None,
    ) -> str:
        self.rows.append(
            {"user": principal.user_id, "action": action, "request": request, "ids": child_ids}
        )
        return f"audit-{len(self.rows)}"


async def schools(pool: Any, kind: str) -> dict[str, date | None]:
    """The council's schools, as education's copy of the reference data has them."""
    assert kind == "school"
    return {SCHOOL: None, OTHER: None, "100002": date(2024, 1, 1)}  # the last one closed


@dataclass
class Service:
    store: InMemoryEventStore = field(default_factory=InMemoryEventStore)
    pool: Pool = field(default_factory=Pool)
    audit: Audit = field(default_factory=Audit)

    def __post_init__(self) -> None:
        self.pool.store = self.store  # the query reads what the store has recorded

    def send(
        self, caller: Principal, body: c.RecordRegisterFeed, key: str | None = None
    ) -> tuple[int, Any, Response | JSONResponse]:
        app = SimpleNamespace(state=SimpleNamespace(pool=self.pool, reference_data=schools))
        request = Request(
            {
                "type": "http",
                "method": "POST",
                "path": "/attendance/register-feed",
                "headers": [],
                "app": app,
            }
        )
        response = Response()
        response.status_code = None  # type: ignore[assignment]  # as FastAPI hands it over
        answer = asyncio.run(
            register_feed(
                body,
                response,
                request,
                caller,
                self.store,  # type: ignore[arg-type]
                self.pool,
                FixedClock(datetime(2024, 6, 14, 12, tzinfo=UTC)),
                Settings(service="education"),
                self.audit,  # type: ignore[arg-type]
                idempotency_key=key,
            )
        )
        if isinstance(answer, Recorded):
            return response.status_code or 201, answer, response
        return answer.status_code, json.loads(bytes(answer.body)), answer


def test_a_partner_gets_one_answer_for_unknown_children_other_pupils_and_impossible_dates() -> None:
    service = Service()
    answers = [
        service.send(SCHOOL_A, feed(("C-1", "2024-06-03"), (child, day)))
        for child, day in [
            ("C-nobody", "2024-06-03"),  # unknown to the council
            ("C-2", "2024-06-03"),  # known, another school's
            ("C-2", "2011-01-01"),  # known, another school's, before the date of birth
            ("C-1", "2011-01-01"),  # its own pupil, before the date of birth
            ("C-1", "2099-01-01"),  # its own pupil, in the future
        ]
    ]
    refusal = {"loc": ["body", "marks"], "msg": REFUSED_FOR_PARTNER, "type": "register_feed"}
    for status, body, _ in answers:
        assert (status, body) == (422, {"detail": [refusal]})
    assert "birth" not in REFUSED_FOR_PARTNER and "unknown" not in REFUSED_FOR_PARTNER
    assert service.store._log == []  # nothing recorded from a refused feed
    # Each refusal is in the access audit, with the reasons the partner was not told.
    assert [a[2].headers["X-Audit-Id"] for a in answers] == [f"audit-{i}" for i in range(1, 6)]
    first, _, third, *_ = service.audit.rows
    assert first["action"] == "POST /attendance/register-feed refused (422)"
    assert "school_urn=113254: 2 marks, 1 refused: child_id: unknown child (1)" in first["request"]
    assert first["ids"] == ["C-nobody"] and first["user"] == "mis-a"
    assert "date: is before the child's date of birth" in third["request"]


def test_a_council_user_is_held_to_the_roll_and_told_each_marks_reason() -> None:
    service = Service()
    status, body, answer = service.send(
        COUNCIL,
        feed(("C-1", "2024-06-03"), ("C-nobody", "2024-06-03"), ("C-2", "2024-06-03"),
             ("C-1", "2011-01-01")),
    )  # fmt: skip
    assert status == 422 and answer.headers["X-Audit-Id"] == "audit-1"
    assert [(p["loc"][2:], p["msg"]) for p in body["detail"]] == [
        ([1, "child_id"], "unknown child"),
        ([2, "child_id"], NOT_ON_ROLL),
        ([3, "date"], "is before the child's date of birth"),
    ]
    status, body, _ = service.send(COUNCIL, feed(("C-1", "2024-06-03"), school=SCHOOL))
    assert status == 201 and body.stream_version == 1


def test_a_partner_sends_only_the_schools_its_token_names() -> None:
    service = Service()
    for caller, expected in [(SCHOOL_B, "is not one of this token's schools (100001)"),
                             (NO_SCHOOL, "this token names no school")]:  # fmt: skip
        status, body, answer = service.send(caller, feed(("C-1", "2024-06-03")))
        assert status == 403 and expected in body["detail"], body
        assert answer.headers["X-Audit-Id"]
    assert [r["action"] for r in service.audit.rows] == [
        "POST /attendance/register-feed refused (403)"
    ] * 2
    assert service.audit.rows[0]["ids"] == ["C-1"]
    assert (
        "school_urn=113254: 1 marks, 1 refused: school_urn: is not one of"
        in (service.audit.rows[0]["request"])
    )
    assert service.pool.queries == []  # refused before anything about a child is looked up
    status, _, _ = service.send(SCHOOL_A, feed(("C-1", "2024-06-03")))
    assert status == 201
    assert [len(events) for events in service.store._streams.values()] == [1]


def test_a_feed_from_a_school_the_council_does_not_know_or_closed_is_refused_and_audited() -> None:
    service = Service()
    for school, reason in [("999999", "unknown school '999999'"),
                           ("100002", "school '100002' was retired on 2024-01-01")]:  # fmt: skip
        caller = Principal("mis", Agency.SCHOOLS, Role.PARTNER, schools=frozenset({school}))
        status, body, answer = service.send(caller, feed(("C-1", "2024-06-03"), school=school))
        assert status == 422, body
        [problem] = body["detail"]
        assert problem["loc"] == ["body", "school_urn"]
        assert problem["msg"].startswith(reason) and "known: 100001, 113254" in problem["msg"]
        assert answer.headers["X-Audit-Id"]
        assert (
            f"school_urn={school}: 1 marks, 1 refused: school_urn: {reason}"
            in (service.audit.rows[-1]["request"])
        )
    assert service.store._log == [] and service.pool.queries == []  # no child looked up


def test_a_schools_idempotency_key_is_its_own() -> None:
    service = Service()
    status, first, _ = service.send(SCHOOL_A, feed(("C-1", "2024-06-03")), key="feed-1")
    assert status == 201 and not first.duplicate
    # Another school's feed with the same key is recorded, not answered with the first's
    # result (nor refused as the key's reuse).
    status, other, _ = service.send(
        SCHOOL_B, feed(("C-2", "2024-06-03"), school=OTHER), key="feed-1"
    )
    assert status == 201 and not other.duplicate and other.stream_id != first.stream_id
    # The same school's retry is the first result.
    status, again, _ = service.send(SCHOOL_A, feed(("C-1", "2024-06-03")), key="feed-1")
    assert status == 200 and again.duplicate and again.stream_id == first.stream_id
    assert sender_key(SCHOOL_A, SCHOOL, "k") != sender_key(SCHOOL_B, OTHER, "k")
    assert sender_key(SCHOOL_A, SCHOOL, "k") != sender_key(COUNCIL, SCHOOL, "k")


def test_a_feed_recorded_before_keys_had_a_sender_is_still_found_by_its_sender() -> None:
    service = Service()
    body = feed(("C-1", "2024-06-03"))
    # As the route recorded it before: the bare key.
    legacy = command_context(body, "feed-old", None, COUNCIL)
    items = attendance_events(body, CHILDREN, TODAY, ROLL)
    asyncio.run(service.store.append_batch(items, legacy))
    status, again, _ = service.send(COUNCIL, body, key="feed-old")
    assert status == 200 and again.duplicate and again.stream_id == "batch:feed-old"
    # A different feed under that bare key is not refused as the key's reuse: the key is now
    # the sender's, and this sender has not used it.
    status, other, _ = service.send(COUNCIL, feed(("C-1", "2024-06-04")), key="feed-old")
    assert status == 201 and not other.duplicate


def test_the_roll_is_read_in_one_query_by_the_partial_index() -> None:
    service = Service()
    marks = [("C-1", f"2024-06-{d:02d}") for d in (3, 4, 5, 6, 7, 10, 11, 12, 13, 14)]
    assert service.send(COUNCIL, feed(*marks))[0] == 201
    assert service.pool.queries == [PUPILS_SQL]
    sql = (EDUCATION_SQL / "001_enrolment_events.sql").read_text()
    assert "event_type IN ('SchoolEnrolled', 'SchoolLeft')" in sql
    assert "e.event_type IN ('SchoolEnrolled', 'SchoolLeft')" in PUPILS_SQL

    sql = (EDUCATION_SQL / "002_attendance_by_day.sql").read_text()
    assert "WHERE event_type = 'AttendanceRecorded'" in sql
    assert "e.event_type = 'AttendanceRecorded'" in PUPILS_SQL
    # The index finds a day's attendance by occurred_at: the attendance date's start.
    [(_, [event])] = attendance_events(feed(("C-1", "2024-06-03")), CHILDREN, TODAY, ROLL)
    assert event.occurred_at() == at_start_of(date(2024, 6, 3))


# -- feeds at the same time, and true repeats ---------------------------------------------------


def sessions(*marks: tuple[str, str, str], school: str = SCHOOL) -> c.RecordRegisterFeed:
    """A feed of (child, day, session) marks."""
    return c.RecordRegisterFeed(
        school_urn=school,
        marks=[{"child_id": ch, "date": d, "session": s, "code": "/"} for ch, d, s in marks],
    )


def days_recorded(service: Service, child_id: str) -> list[tuple[int, str, list[str]]]:
    """The child's attendance events: (version, day, sessions)."""
    return [
        (
            ev.stream_version,
            ev.payload["attendance_date"],
            [m["session"] for m in ev.payload["marks"]],
        )
        for ev in service.store._streams.get(child_id, [])
    ]


def test_a_true_repeat_is_a_409_naming_its_sessions_and_nothing_of_the_feed_is_recorded() -> None:
    service = Service()
    monday = sessions(("C-1", "2024-06-03", "AM"), ("C-4", "2024-06-03", "AM"))
    assert service.send(SCHOOL_A, monday, key="monday-am")[0] == 201
    before = list(service.store._log)
    status, body, answer = service.send(
        SCHOOL_A,
        sessions(
            ("C-1", "2024-06-03", "PM"), ("C-4", "2024-06-03", "AM"), ("C-1", "2024-06-03", "AM")
        ),
        key="monday-again",
    )
    assert status == 409, body
    assert body == {
        "detail": [
            {
                "loc": ["body", "marks", i, "session"],
                "msg": f"this child's AM session on 2024-06-03 {ALREADY_RECORDED}",
                "type": "already_recorded",
                "date": "2024-06-03",
                "session": "AM",
            }
            for i in (1, 2)
        ]
    }  # no expected_version: not a conflict to send again as it is
    assert service.store._log == before
    assert answer.headers["X-Audit-Id"] == "audit-1"
    [audited] = service.audit.rows
    assert audited["action"] == "POST /attendance/register-feed refused (409)"
    assert audited["ids"] == ["C-4", "C-1"]
    # Without the repeats, the rest of the day is recorded: the afternoon beside the morning.
    assert service.send(SCHOOL_A, sessions(("C-1", "2024-06-03", "PM")), key="pm")[0] == 201
    assert days_recorded(service, "C-1") == [(1, "2024-06-03", ["AM"]), (2, "2024-06-03", ["PM"])]
    # The other school's register of a dual-registered pupil is its own, not a repeat.
    other = sessions(("C-4", "2024-06-03", "AM"), school=OTHER)
    assert service.send(SCHOOL_B, other, key="monday-am")[0] == 201
    assert [v for v, _, _ in days_recorded(service, "C-4")] == [1, 2]
    # The first feed again under its own key is its first result, not a repeat.
    status, again, _ = service.send(SCHOOL_A, monday, key="monday-am")
    assert status == 200 and again.duplicate


@dataclass
class Meanwhile(Pool):
    """Another request's feed is recorded while this one is decided: before its read is
    answered (`before`) or after (`after`, so the read is stale when this one appends)."""

    before: list[tuple[c.RecordRegisterFeed, CommandContext]] = field(default_factory=list)
    after: list[tuple[c.RecordRegisterFeed, CommandContext]] = field(default_factory=list)

    async def fetch(
        self, sql: str, child_ids: list[str], days: list[datetime]
    ) -> list[dict[str, Any]]:
        if self.before:
            await self._record(*self.before.pop(0))
        rows = await super().fetch(sql, child_ids, days)
        if self.after:
            await self._record(*self.after.pop(0))
        return rows

    async def _record(self, body: c.RecordRegisterFeed, ctx: CommandContext) -> None:
        await self.store.append_batch(attendance_events(body, CHILDREN, TODAY, ROLL), ctx)


def by(caller: Principal, body: c.RecordRegisterFeed, key: str | None = None) -> CommandContext:
    """The command context the route gives `body` sent by `caller` (under `key`)."""
    sent_as = sender_key(caller, body.school_urn, key) if key else None
    return command_context(body, sent_as, None, caller)


def test_a_feed_read_before_another_for_its_children_was_recorded_is_decided_again() -> None:
    tuesday = sessions(("C-1", "2024-06-04", "AM"), ("C-4", "2024-06-04", "AM"))
    service = Service(pool=Meanwhile(after=[(tuesday, by(SCHOOL_A, tuesday))]))
    monday = sessions(("C-1", "2024-06-03", "AM"), ("C-4", "2024-06-03", "AM"))
    status, body, _ = service.send(SCHOOL_A, monday, key="monday")
    assert status == 201 and not body.duplicate
    assert service.pool.queries == [PUPILS_SQL] * 2  # its first read was stale: read again
    for child in ("C-1", "C-4"):
        assert days_recorded(service, child) == [
            (1, "2024-06-04", ["AM"]),
            (2, "2024-06-03", ["AM"]),
        ]


def test_a_repeat_recorded_while_a_feed_is_decided_is_found_when_it_is_decided_again() -> None:
    monday = sessions(("C-1", "2024-06-03", "AM"))
    service = Service(pool=Meanwhile(after=[(monday, by(SCHOOL_A, monday, "first"))]))
    status, body, _ = service.send(SCHOOL_A, monday, key="second")
    assert status == 409 and body["detail"][0]["loc"] == ["body", "marks", 0, "session"]
    assert days_recorded(service, "C-1") == [(1, "2024-06-03", ["AM"])]  # once


def test_the_same_feed_recorded_under_its_key_while_it_is_decided_is_its_first_result() -> None:
    monday = sessions(("C-1", "2024-06-03", "AM"))
    first = (monday, by(SCHOOL_A, monday, "monday"))
    # Found as a repeat, then by its key; found by the store's claim of the key.
    for meanwhile in (Meanwhile(before=[first]), Meanwhile(after=[first])):
        service = Service(pool=meanwhile)
        status, body, _ = service.send(SCHOOL_A, monday, key="monday")
        assert status == 200 and body.duplicate, body
        assert days_recorded(service, "C-1") == [(1, "2024-06-03", ["AM"])]
        assert service.audit.rows == []


@dataclass
class Contended(InMemoryEventStore):
    """A store on which every append meets another writer's."""

    tries: int = 0

    def __post_init__(self) -> None:
        super().__init__()

    async def append_batch(
        self,
        items: Sequence[tuple[str, Sequence[DomainEvent | WireEvent]]],
        ctx: CommandContext,
        heads: Mapping[str, int] | None = None,
    ) -> AppendResult:
        self.tries += 1
        raise ConcurrencyConflict(items[0][0], 0, 1)


def test_a_feed_that_keeps_meeting_other_feeds_is_a_503_to_send_again_not_a_409() -> None:
    store = Contended()
    status, body, answer = Service(store=store).send(
        SCHOOL_A, sessions(("C-1", "2024-06-03", "AM")), key="k"
    )
    assert status == 503 and answer.headers["Retry-After"] == "1"
    assert "send it again" in body["detail"]
    assert store.tries == BATCH_ATTEMPTS

"""A child's chronology as pure functions: an event in, its line out (the child, the day, the
service, who recorded it and when, what it says), for every event type alike; never a personal
value (sealed or not) and never free text. No I/O."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar, cast
from zoneinfo import ZoneInfo

import pytest
from fastapi import HTTPException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.accommodation import events as acc
from contracts.case_events import events as ce
from contracts.education import events as edu
from contracts.escalations import events as esc
from contracts.topics import DOMAIN_TOPICS, domain_events
from services.projections.chronology import entries as en
from services.projections.chronology.projection import Chronology
from services.projections.chronology.queries import (
    CSV_COLUMNS,
    ChildChronology,
    ChronologyEntry,
    RecordedBy,
    end_of,
    to_csv,
)
from services.projections.routes.chronology import checked_kinds
from shared.envelope import Actor, Agency, DatedEvent, DomainEvent, Envelope, new_event_id
from shared.eventstore import CommandContext, make_envelopes
from tests.payloads import FREE_TEXT, payloads

D = date.fromisoformat
SQL = Path(en.__file__).parents[1] / "sql" / "010_chronology.sql"
WORKER = Actor(user_id="sw-17", agency=Agency.COUNCIL, role="practitioner")


def envelope(stream: str, event: DomainEvent, actor: Actor = WORKER, version: int = 0) -> Envelope:
    ctx = CommandContext(actor=actor, correlation_id=new_event_id())
    [made] = make_envelopes(stream, version, [event], ctx)
    return made


def line(stream: str, event: DomainEvent, **options: Any) -> en.Entry:
    return en.entry(envelope(stream, event, **options), event)


def test_a_line_says_when_it_happened_who_recorded_it_when_and_in_which_service() -> None:
    plan = ce.ChildProtectionPlanStarted(
        child_id="C-1", plan_id="P1", category="NEG", start_date=D("2025-01-02"), previous_plans=1
    )
    made = envelope("C-1", plan, version=3)
    got = en.entry(made, plan)
    assert (got.child_id, got.occurred_on, got.recorded_at) == (
        "C-1",
        D("2025-01-02"),
        made.recorded_at,
    )
    assert (got.service, got.event_type, got.stream_id, got.stream_version) == (
        "case_events",
        "ChildProtectionPlanStarted",
        "C-1",
        4,
    )
    assert (got.user_id, got.agency, got.role) == ("sw-17", "council", "practitioner")
    assert got.event_id == made.event_id
    assert got.details == {
        "plan_id": "P1",
        "category": "NEG",
        "start_date": "2025-01-02",
        "previous_plans": 1,
    }
    assert got.summary == (
        "plan id: P1; category: neglect (NEG); start date: 2025-01-02; previous plans: 1"
    )


def test_each_service_is_named_from_the_topic_that_carries_the_event() -> None:
    placement = acc.PlacementEnded(end_date=D("2025-02-01"), placement_id="PL-1")
    mark = edu.AttendanceRecorded(
        attendance_date=D("2025-03-03"),
        school_urn="100001",
        marks=[{"session": "AM", "code": "/"}, {"session": "PM", "code": "N"}],
        sessions_attended=1,
        sessions_missed=1,
    )
    rating = esc.RiskRatingAssigned(
        rated_on=D("2025-01-01"),
        rating="RED",
        previous=None,
        visiting_frequency_days=7,
        source="assessment",
    )
    assert [line("C-1", e).service for e in (placement, mark, rating)] == [
        "accommodation",
        "education",
        "escalations",
    ]
    # A nested fact (the register's marks) is shown when all of it is constrained.
    assert line("C-1", mark).details["marks"] == [
        {"session": "AM", "code": "/"},
        {"session": "PM", "code": "N"},
    ]
    assert "afternoon (PM) no reason yet (N)" in line("C-1", mark).summary
    assert line("C-1", rating).summary.startswith("rated on: 2025-01-01; rating: red")


def test_the_child_is_the_one_the_payload_names_else_the_stream() -> None:
    raised = esc.EscalationRaised(
        escalation_id="E-1",
        child_id="C-9",
        raised_on=D("2025-01-01"),
        raised_by="IRO",
        reason="permanence_planning",
        locality="Exeter",
    )
    assert line("E-1", raised).child_id == "C-9"  # an escalation's stream is the escalation
    assert line("E-1", raised).stream_id == "E-1"
    advanced = esc.EscalationAdvanced(advanced_on=D("2025-01-05"), stage="formal", child_id="C-9")
    assert line("E-1", advanced).child_id == "C-9"
    visit = ce.StatutoryVisitRecorded(
        visit_date=D("2025-01-03"), plan_type="CP", seen=True, seen_alone=True, visitor_id="sw-2"
    )
    assert line("C-1", visit).child_id == "C-1"


def test_only_an_event_registering_a_child_on_its_own_stream_gives_its_locality() -> None:
    born = ce.ChildRegistered(child_id="C-1", date_of_birth=D("2012-01-01"), locality="Exeter")
    unborn = ce.UnbornChildRegistered(
        child_id="C-2", expected_date_of_birth=D("2026-03-01"), locality="North"
    )
    triage = ce.EarlyHelpTriageDiscussed(discussion_date=D("2025-01-01"), locality="Exeter")
    raised = esc.EscalationRaised(
        escalation_id="E-1",
        child_id="C-9",
        raised_on=D("2025-01-01"),
        raised_by="IRO",
        reason="permanence_planning",
        locality="Exeter",
    )
    assert en.registered_locality(envelope("C-1", born), born) == "Exeter"
    assert en.registered_locality(envelope("C-2", unborn), unborn) == "North"
    assert en.registered_locality(envelope("F-1", triage), triage) is None  # a family
    assert en.registered_locality(envelope("E-1", raised), raised) is None  # not its stream


def test_personal_details_show_which_fields_were_recorded_and_never_their_values() -> None:
    sealed = {"given_names": "sealed:v1:AAAA", "address": "sealed:v1:BBBB"}
    recorded = ce.PersonalDetailsRecorded(**sealed)
    got = line("C-1", recorded)
    assert got.details == {}
    assert got.sealed == ("given_names", "address")
    assert got.summary == "recorded (sealed, not shown): given names, address"
    assert "sealed:v1" not in json.dumps([str(v) for v in got.record()])


def test_a_string_the_contract_leaves_open_is_never_shown() -> None:
    class NoteTaken(DatedEvent):  # an event type added tomorrow, with a free-text field
        event_type: ClassVar[str] = "NoteTaken"
        taken_on: date
        worker_id: str = ce.Field(pattern=r"^[a-z0-9-]+$")
        note: str
        mood: str | None = None

    event = NoteTaken(taken_on=D("2025-04-01"), worker_id="sw-3", note="Mum said X at home")
    got = line("C-1", event)
    assert got.details == {"taken_on": "2025-04-01", "worker_id": "sw-3"}
    assert "Mum" not in got.summary and got.occurred_on == D("2025-04-01")
    assert got.service == en.OTHER_SERVICE  # no domain topic declares it


def test_values_read_as_a_person_reads_them() -> None:
    completed = ce.AssessmentCompleted(
        assessment_id="A-1",
        completion_date=D("2025-02-01"),
        factors=[],
        working_days_taken=50,
        within_timescale=False,
    )
    assert line("C-1", completed).summary == (
        "assessment id: A-1; completion date: 2025-02-01; factors: none; "
        "working days taken: 50; within timescale: no"
    )
    assert en.display(esc.EscalationReason.PERMANENCE_PLANNING) == "permanence planning"


def test_the_day_is_the_london_day_it_happened() -> None:
    registered = ce.ChildRegistered(
        child_id="C-1", date_of_birth=D("2012-01-01"), locality="Exeter"
    )
    late_evening = envelope("C-1", registered).model_copy(
        update={"occurred_at": datetime(2025, 6, 30, 23, 30, tzinfo=UTC)}  # 00:30 in BST
    )
    assert en.entry(late_evening, registered).occurred_on == D("2025-07-01")
    dated = ce.ContactRecorded(contact_date=D("2025-07-01"), in_touch="YES")
    assert line("C-1", dated).occurred_on == D("2025-07-01")  # its own day, summer or winter
    winter = ce.ContactRecorded(contact_date=D("2025-01-01"), in_touch="YES")
    assert line("C-1", winter).occurred_on == D("2025-01-01")


def test_as_at_a_day_means_recorded_before_the_london_day_ends() -> None:
    assert end_of(D("2025-07-01")) == datetime(2025, 7, 1, 23, 0, tzinfo=UTC)  # BST
    assert end_of(D("2025-01-01")) == datetime(2025, 1, 2, 0, 0, tzinfo=UTC)  # GMT


@pytest.mark.parametrize(
    ("event_type", "sentence"),
    [
        ("ChildProtectionPlanStarted", "Child protection plan started"),
        ("EWOAttendanceEscalationRaised", "EWO attendance escalation raised"),
        ("Year11DestinationIntended", "Year 11 destination intended"),
        ("Section47EnquiryConcluded", "Section 47 enquiry concluded"),
        ("NEETPanelReviewed", "NEET panel reviewed"),
    ],
)
def test_an_event_type_reads_as_a_sentence(event_type: str, sentence: str) -> None:
    assert en.title(event_type) == sentence


def test_a_kind_reads_as_its_service_or_its_event() -> None:
    assert en.kind_name("case_events") == "case events"
    assert en.kind_name("StatutoryVisitRecorded") == "Statutory visit recorded"


def test_the_row_is_the_tables_columns_in_order() -> None:
    table = SQL.read_text().split("CREATE TABLE chronology (", 1)[1].split(");", 1)[0]
    declared = tuple(re.findall(r"^\s+(\w+)\s", table, re.MULTILINE))
    assert declared == en.COLUMNS
    visit = ce.StatutoryVisitRecorded(
        visit_date=D("2025-01-03"), plan_type="CP", seen=False, visitor_id="sw-2"
    )
    got = line("C-1", visit)
    record = got.record()
    assert len(record) == len(en.COLUMNS)
    by_column = dict(zip(en.COLUMNS, record, strict=True))
    for column in en.COLUMNS[:-2]:
        assert by_column[column] == getattr(got, column), column
    assert by_column["sealed"] == list(got.sealed)
    assert json.loads(record[en.COLUMNS.index("details")])["seen"] is False
    assert "seen alone" not in record[en.COLUMNS.index("summary")]  # not recorded: not shown


def test_kinds_are_every_service_and_every_event_type() -> None:
    kinds = en.kinds()
    assert {t.owner for t in DOMAIN_TOPICS} <= set(kinds)
    assert set(domain_events().types()) <= set(kinds)
    assert checked_kinds(["StatutoryVisitRecorded", "education", "education"]) == [
        "StatutoryVisitRecorded",
        "education",
    ]
    assert checked_kinds(None) == []
    with pytest.raises(HTTPException) as refused:
        checked_kinds(["visits", "education"])
    assert refused.value.status_code == 422
    [error] = cast(list[dict[str, Any]], refused.value.detail)
    assert error["loc"] == ["query", "kind"] and "'visits'" in error["msg"]


def test_the_csv_has_a_row_per_line_with_who_recorded_it() -> None:
    recorded_at = datetime(2025, 1, 3, 10, 0, tzinfo=UTC)
    chronology = ChildChronology(
        child_id="C-1",
        as_at=D("2025-01-31"),
        kinds=[],
        count=1,
        entries=[
            ChronologyEntry(
                occurred_on=D("2025-01-03"),
                recorded_at=recorded_at,
                service="case_events",
                event_type="StatutoryVisitRecorded",
                event="Statutory visit recorded",
                summary="seen: yes",
                details={"seen": True},
                sealed=[],
                recorded_by=RecordedBy(user_id="sw-2", agency="council", role="practitioner"),
                event_id=new_event_id(),
                stream_id="C-1",
                stream_version=2,
            )
        ],
        available=[],
    )
    header, row = to_csv(chronology).splitlines()
    assert header.split(",") == CSV_COLUMNS
    assert row.split(",")[:8] == [
        "C-1",
        "2025-01-31",
        "2025-01-03",
        "Statutory visit recorded",
        "case events",
        "StatutoryVisitRecorded",
        "seen: yes",
        "sw-2",
    ]


class FakeConnection:
    """Records what the projection writes (no database)."""

    def __init__(self) -> None:
        self.copied: list[tuple[str, list[tuple[Any, ...]]]] = []
        self.executed: list[tuple[Any, ...]] = []

    async def copy_records_to_table(
        self, table: str, *, records: list[tuple[Any, ...]], columns: list[str]
    ) -> None:
        assert columns == list(en.COLUMNS)
        self.copied.append((table, list(records)))

    async def execute(self, *args: Any) -> None:
        self.executed.append(args)


async def test_the_projection_writes_a_batch_once_and_forgets_a_rolled_back_one() -> None:
    projection, conn = Chronology(), FakeConnection()
    unborn = ce.UnbornChildRegistered(
        child_id="C-2", expected_date_of_birth=D("2026-03-01"), locality="North"
    )
    born = ce.ChildBorn(date_of_birth=D("2026-02-27"))
    events: tuple[DomainEvent, ...] = (unborn, born)
    for version, event in enumerate(events):
        await projection.apply(conn, envelope("C-2", event, version=version), event)
    await projection.flush(conn)
    [(table, rows)] = conn.copied
    assert table == "chronology" and [r[1] for r in rows] == ["C-2", "C-2"]
    [(_, children, localities)] = [a for a in conn.executed if "chronology_children" in a[0]]
    assert (children, localities) == (["C-2"], ["North"])
    [(_, touched, swept)] = [a for a in conn.executed if "returns_touched" in a[0]]
    assert (touched, swept) == (["C-2"], False)  # to be checked again by the quality board
    await projection.flush(conn)
    assert len(conn.copied) == 1  # nothing twice
    await projection.apply(conn, envelope("C-2", born, version=2), born)
    projection.discard()
    await projection.flush(conn)
    assert len(conn.copied) == 1


async def test_only_the_events_a_return_reads_mark_their_child_for_the_returns_check() -> None:
    from services.projections.registry import TOUCHES_RETURNS

    projection, conn = Chronology(touches=TOUCHES_RETURNS), FakeConnection()
    registered = ce.ChildRegistered(child_id="C-1", date_of_birth=D("2015-01-01"), locality="North")
    rated = esc.RiskRatingAssigned(
        rated_on=D("2026-01-05"),
        rating="RED",
        previous=None,
        visiting_frequency_days=7,
        source="assessment",
    )
    await projection.apply(conn, envelope("C-1", registered), registered)
    await projection.apply(conn, envelope("C-2", rated), rated)
    await projection.flush(conn)
    [(_, touched, _)] = [a for a in conn.executed if "returns_touched" in a[0]]
    assert touched == ["C-1"]  # a risk rating is in no return: C-2 is not checked again
    assert "RiskRatingAssigned" not in TOUCHES_RETURNS


# -- every event type, generically: any values its contract allows --------------------------

EVENT_TYPES = sorted(domain_events().types().items())


@pytest.mark.parametrize(("event_type", "cls"), EVENT_TYPES, ids=[t for t, _ in EVENT_TYPES])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_event_type_has_its_line_and_never_free_text_or_a_sealed_value(
    event_type: str, cls: type[DomainEvent], data: st.DataObject
) -> None:
    payload = data.draw(payloads(cls))
    event = cls.model_validate(payload)
    assert isinstance(event, DomainEvent)
    got = line("C-1", event)
    text = json.dumps([str(v) for v in got.record()])
    assert FREE_TEXT not in text and "NEVERSHOWN" not in text
    assert got.event_type == event_type and got.child_id == payload.get("child_id", "C-1")
    assert got.service in {t.owner for t in DOMAIN_TOPICS}
    assert set(got.details) | set(got.sealed) <= set(payload) - {"child_id"}
    for field in ce.PERSONAL_FIELDS:
        assert field not in got.details
    # The line is made with per-type shortcuts (it runs for every event of every build): it
    # must read as the plain way of showing each field, one at a time, would have it.
    assert (got.details, got.summary, got.sealed) == reference_line(event)


def reference_line(event: DomainEvent) -> tuple[dict[str, Any], str, tuple[str, ...]]:
    """A line's details, summary and sealed fields worked out the plain way."""
    shown = [(n, s) for n, s in en.shown_fields(type(event)) if getattr(event, n) is not None]
    sealed = tuple(n for n, s in shown if s)
    details = {n: en.plain(getattr(event, n)) for n, s in shown if not s}
    lines = [f"{en.words(n)}: {en.display(getattr(event, n))}" for n, s in shown if not s]
    if sealed:
        lines.append(f"recorded (sealed, not shown): {', '.join(en.words(n) for n in sealed)}")
    return details, "; ".join(lines), sealed


ZONES = [UTC, ZoneInfo("Europe/London"), ZoneInfo("America/New_York"), timezone(timedelta(hours=5))]


@given(st.datetimes(datetime(1990, 1, 1), datetime(2040, 12, 31), timezones=st.sampled_from(ZONES)))
def test_the_day_of_an_event_is_its_london_day(at: datetime) -> None:
    plan = ce.ChildProtectionPlanStarted(
        child_id="C-1", plan_id="P1", category="NEG", start_date=D("2025-01-02"), previous_plans=1
    )
    made = envelope("C-1", plan).model_copy(update={"occurred_at": at})
    assert en.entry(made, plan).occurred_on == (at.astimezone(ZoneInfo("Europe/London")).date())

"""The council's reference data, without I/O: the decisions that keep each list (no item
twice, retire only a current one, a team's locality and a worker's team must be current),
the fields each command marks, the refusal a command naming an unknown item gets, and the
copy another service keeps from the events."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from contracts.case_events import events as ce
from contracts.ids import CHILD_ID_PATTERN
from contracts.reference import events as r
from contracts.topics import CASE_EVENTS, EVENTS, domain_events
from services.case_events.domain import commands as c
from services.case_events.domain import reference as ref
from services.education.domain import commands as edu
from shared.aggregate import AlreadyRecorded, Decision, DomainRuleViolation, UnknownStream
from shared.commands import LISTED, referenced_fields, unknown_reference
from shared.envelope import Actor, Agency, DomainEvent
from shared.eventstore import CommandContext, make_envelopes
from shared.reference_data import ReferenceData, check_references

TODAY = Decision(today=date(2025, 6, 1))
CTX = CommandContext(
    actor=Actor(user_id="m-1", agency=Agency.COUNCIL, role="manager"), correlation_id=uuid4()
)
LOCALITIES = {"Exeter": None, "North": None, "Old Town": date(2025, 1, 31)}


def kept(kind: str, *events: DomainEvent) -> ref.ReferenceList:
    """The kind's list as its stream rebuilds it."""
    stream = r.stream_of(kind)
    return ref.ReferenceList.from_history(stream, make_envelopes(stream, 0, list(events), CTX))


def decided(items: ref.ReferenceList, events: list[DomainEvent]) -> ref.ReferenceList:
    for event in events:
        items.when(event)
        items.version += 1
    return items


def test_a_locality_is_added_once_and_a_case_twin_is_refused_as_a_typo() -> None:
    localities = kept(r.LOCALITY)
    added = localities.add(ref.AddLocality(name="Exeter"), TODAY, {})
    assert added == [r.LocalityAdded(name="Exeter")]
    decided(localities, added)
    assert localities.current() == ["Exeter"] and localities.items() == {"Exeter": None}
    with pytest.raises(AlreadyRecorded, match="locality 'Exeter' is already known"):
        localities.add(ref.AddLocality(name="Exeter"), TODAY, {})
    with pytest.raises(DomainRuleViolation) as twin:
        localities.add(ref.AddLocality(name="EXETER"), TODAY, {})
    assert (twin.value.field, twin.value.reason) == (
        "name",
        "differs only in case from the known locality 'Exeter'",
    )


def test_only_a_current_item_is_retired_from_a_day_not_in_the_future() -> None:
    schools = kept(r.SCHOOL, r.SchoolAdded(urn="113254", name="Example Academy"))
    retire = ref.RetireItem(retired_on=date(2025, 5, 31))
    with pytest.raises(UnknownStream):
        schools.retire("999999", retire, TODAY)  # never added: 404
    with pytest.raises(DomainRuleViolation) as future:
        schools.retire("113254", ref.RetireItem(retired_on=date(2025, 6, 2)), TODAY)
    assert future.value.field == "retired_on"
    retired = schools.retire("113254", retire, TODAY)
    assert retired == [r.SchoolRetired(urn="113254", retired_on=date(2025, 5, 31))]
    decided(schools, retired)
    assert schools.items() == {"113254": date(2025, 5, 31)} and schools.current() == []
    with pytest.raises(AlreadyRecorded, match="school '113254' was retired on 2025-05-31"):
        schools.retire("113254", retire, TODAY)


def test_a_retired_item_added_again_is_current_again() -> None:
    localities = kept(
        r.LOCALITY,
        r.LocalityAdded(name="Westward"),
        r.LocalityRetired(name="Westward", retired_on=date(2025, 1, 1)),
    )
    assert localities.current() == []
    decided(localities, localities.add(ref.AddLocality(name="Westward"), TODAY, {}))
    assert localities.items() == {"Westward": None}


def test_a_kept_list_caught_up_folds_only_what_it_has_not_folded() -> None:
    stream = r.stream_of(r.LOCALITY)
    history = make_envelopes(
        stream,
        0,
        [
            r.LocalityAdded(name="Westward"),
            r.LocalityAdded(name="North"),
            r.LocalityRetired(name="Westward", retired_on=date(2025, 1, 1)),
        ],
        CTX,
    )
    localities = ref.ReferenceList.from_history(stream, history[:1])
    assert localities.items() == {"Westward": None} and localities.version == 1
    # Two readers caught up at once: the second hands in events the first has folded.
    localities.caught_up(history[1:]).caught_up(history)
    assert localities.version == 3
    assert localities.items() == {"Westward": date(2025, 1, 1), "North": None}
    assert localities.items() == ref.ReferenceList.from_history(stream, history).items()


def test_a_teams_locality_must_be_current() -> None:
    teams = kept(r.TEAM)
    team = {"team_id": "T-EX-CIN", "name": "Exeter children in need"}
    known = {r.LOCALITY: LOCALITIES}
    for locality, reason in [
        ("Exetre", "unknown locality 'Exetre'; known: Exeter, North; did you mean 'Exeter'?"),
        ("Old Town", "locality 'Old Town' was retired on 2025-01-31; known: Exeter, North"),
    ]:
        with pytest.raises(DomainRuleViolation) as refused:
            teams.add(ref.AddTeam(**team, locality=locality), TODAY, known)
        assert (refused.value.field, refused.value.reason) == ("locality", reason)
    assert teams.add(ref.AddTeam(**team, locality="Exeter"), TODAY, known) == [
        r.TeamAdded(**team, locality="Exeter")
    ]


def test_a_workers_team_must_be_current() -> None:
    workers = kept(r.SOCIAL_WORKER)
    known = {r.TEAM: {"T-EX-CIN": None, "T-OLD": date(2025, 3, 1)}}
    for team in ("T-NOPE", "T-OLD"):
        with pytest.raises(DomainRuleViolation) as refused:
            workers.add(ref.AddSocialWorker(worker_id="SW-1", team_id=team), TODAY, known)
        assert refused.value.field == "team_id" and "known: T-EX-CIN" in refused.value.reason
    assert workers.add(ref.AddSocialWorker(worker_id="SW-1", team_id="T-EX-CIN"), TODAY, known)


def test_each_kind_is_one_stream_no_child_id_can_be() -> None:
    streams = [r.stream_of(kind) for kind in r.KINDS]
    assert streams == [
        "reference:locality",
        "reference:school",
        "reference:team",
        "reference:social_worker",
    ]
    assert not any(re.match(CHILD_ID_PATTERN, s) for s in streams)
    with pytest.raises(LookupError):
        r.stream_of("localities")


def test_the_reference_events_travel_on_case_events_and_every_consumer_decodes_them() -> None:
    names = set(r.reference_event_types.types())
    assert names == {
        f"{k}{change}"
        for k in ("Locality", "School", "Team", "SocialWorker")
        for change in ("Added", "Retired")
    }
    assert names <= set(EVENTS[CASE_EVENTS].types()) and names <= set(domain_events().types())
    assert set(ce.case_event_types.types()) <= set(EVENTS[CASE_EVENTS].types())


# -- the fields a command marks, and the refusal --------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (c.RegisterChild, {"locality": "locality"}),
        (c.RecordTriageDiscussion, {"locality": "locality"}),
        (ce.UnbornChildFacts, {"locality": "locality"}),
        (ce.SocialWorkerAllocationFacts, {"worker_id": "social_worker", "team_id": "team"}),
        # Not checked: an allocation of a worker since retired must still be ended.
        (ce.SocialWorkerAllocationEndFacts, {}),
        (edu.EnrolInSchool, {"school_urn": "school"}),
        (edu.RecordRegisterFeed, {"school_urn": "school"}),
        (ref.AddTeam, {"locality": "locality"}),
        (ref.AddSocialWorker, {"team_id": "team"}),
        (c.RecordReferral, {}),
    ],
)
def test_the_fields_that_name_reference_data(
    model: type[BaseModel], expected: dict[str, str]
) -> None:
    assert referenced_fields(model) == expected


def test_an_optional_or_listed_field_is_found_too() -> None:
    class Both(BaseModel):
        where: ce.Locality | None = None
        teams: list[ce.TeamId] = []

    assert referenced_fields(Both) == {"where": "locality", "teams": "team"}


def test_the_refusal_lists_the_current_ones_and_suggests_the_nearest() -> None:
    assert unknown_reference("locality", "Exetre", LOCALITIES) == (
        "unknown locality 'Exetre'; known: Exeter, North; did you mean 'Exeter'?"
    )
    assert unknown_reference("locality", "Old Town", LOCALITIES) == (
        "locality 'Old Town' was retired on 2025-01-31; known: Exeter, North"
    )
    assert unknown_reference("social_worker", "SW-9", {}) == (
        "unknown social worker 'SW-9'; no social worker is known yet"
    )
    many = {f"{n:06d}": None for n in range(100)}
    listed = unknown_reference("school", "999999", many)
    assert listed.endswith(f"000029 and {100 - LISTED} more") and "000030" not in listed


class Lookups:
    """A service's reference data, and the kinds it was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, pool: Any, kind: str) -> dict[str, date | None]:
        self.asked.append(kind)
        lists: dict[str, dict[str, date | None]] = {
            r.TEAM: {"T-1": None},
            r.SOCIAL_WORKER: {"SW-1": None, "SW-2": date(2025, 1, 1)},
        }
        return lists[kind]


def request(lookup: Any) -> Any:
    """What check_references reads of a request: its app's state."""
    return SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(pool=None, reference_data=lookup))
    )


def test_a_command_naming_unknown_or_retired_items_is_refused_field_by_field() -> None:
    lookups = Lookups()
    allocation = ce.SocialWorkerAllocationFacts(
        allocated_on=date(2025, 5, 1), worker_id="SW-2", team_id="T-2"
    )
    with pytest.raises(RequestValidationError) as refused:
        asyncio.run(check_references(request(lookups), allocation))
    assert [(e["loc"], e["type"], e["input"]) for e in refused.value.errors()] == [
        (["body", "worker_id"], "unknown_reference", "SW-2"),
        (["body", "team_id"], "unknown_reference", "T-2"),
    ]
    assert refused.value.errors()[0]["msg"].startswith("social worker 'SW-2' was retired on")
    current = allocation.model_copy(update={"worker_id": "SW-1", "team_id": "T-1"})
    asyncio.run(check_references(request(lookups), current))  # accepted
    assert lookups.asked == [r.SOCIAL_WORKER, r.TEAM] * 2  # each kind once per command


def test_a_command_naming_none_is_not_looked_up_and_a_service_reading_none_is_a_fault() -> None:
    referral = c.RecordReferral(referral_id="R1", referral_date=date(2025, 1, 1), source="6")
    asyncio.run(check_references(request(None), referral))
    child = c.RegisterChild(child_id="C-1", date_of_birth=date(2015, 1, 1), locality="Exeter")
    with pytest.raises(LookupError, match="reads none"):
        asyncio.run(check_references(request(None), child))


# -- the copy another service keeps ---------------------------------------------------------


class Connection:
    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    async def execute(self, sql: str, *args: Any) -> None:
        assert "ON CONFLICT (kind, item) DO UPDATE" in sql
        self.rows.append(args)


def test_the_copy_keeps_each_item_with_the_day_it_was_retired() -> None:
    copy, conn = ReferenceData(r.ReferenceEvent), Connection()
    events: list[DomainEvent] = [
        r.SchoolAdded(urn="113254", name="Example Academy"),
        r.SchoolRetired(urn="113254", retired_on=date(2025, 5, 31)),
        r.TeamAdded(team_id="T-1", name="Exeter CIN", locality="Exeter"),
        r.SocialWorkerAdded(worker_id="SW-1", team_id="T-1"),
        ce.ChildRegistered(child_id="C-1", date_of_birth=date(2015, 1, 1), locality="Exeter"),
    ]
    for envelope, event in zip(make_envelopes("s", 0, events, CTX), events, strict=True):
        asyncio.run(copy.apply(conn, envelope, event))
    assert conn.rows == [
        ("school", "113254", None),
        ("school", "113254", date(2025, 5, 31)),
        ("team", "T-1", None),
        ("social_worker", "SW-1", None),
    ]  # the child's registration is not reference data

"""The live data-quality board's pure parts (services/projections/returns/quality.py, its
route's views and page): which children a batch touches, the facts as at a day, who can put a
child right, the placeholder UPN, a validators' report turned into the board's issues, the
partnership view's suppression, and the page. No I/O."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import time
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest

from contracts.case_events import events as ce
from contracts.ids import UPN_PATTERN, upn_check_letter
from services.projections.chronology.projection import Chronology
from services.projections.dashboard import chronology as _chronology_page  # noqa: F401
from services.projections.dashboard import returns as _returns_page  # noqa: F401
from services.projections.dashboard import templates
from services.projections.returns import quality as q
from services.projections.returns.facts import ChildRecord, CollectionYear, Fact
from services.projections.returns.queries import records
from services.projections.returns.rules import NOT_YET
from services.projections.routes.quality import (
    Found,
    about,
    council_view,
    issue_row,
    partnership_view,
)
from shared.auth import Principal, Role
from shared.envelope import Actor, Agency, DomainEvent, Envelope, new_event_id
from shared.eventstore import CommandContext, make_envelopes

TODAY = date(2026, 12, 1)
RECORDED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WORKER = Actor(user_id="sw-17", agency=Agency.COUNCIL, role="practitioner")


def fact(event_type: str, on: str, recorded: datetime = RECORDED, **details: Any) -> Fact:
    return Fact(uuid4(), event_type, date.fromisoformat(on), recorded, details)


def record(child_id: str, *facts: Fact, locality: str = "Exeter") -> ChildRecord:
    return ChildRecord(child_id=child_id, locality=locality, facts=facts)


# -- which children a batch touches -----------------------------------------------------------


def envelope(stream: str, event: DomainEvent, version: int = 0) -> Envelope:
    ctx = CommandContext(actor=WORKER, correlation_id=new_event_id())
    [made] = make_envelopes(stream, version, [event], ctx)
    return made


class FakeConnection:
    def __init__(self) -> None:
        self.executed: list[tuple[Any, ...]] = []

    async def copy_records_to_table(self, table: str, **_: Any) -> None:
        pass

    async def execute(self, *args: Any) -> None:
        self.executed.append(args)


def touched(conn: FakeConnection) -> list[list[str]]:
    return [list(args[1]) for args in conn.executed if "returns_touched" in args[0]]


async def test_a_batch_touches_each_child_it_names_once_in_the_order_of_their_ids() -> None:
    projection, conn = Chronology(), FakeConnection()
    events: list[tuple[str, DomainEvent]] = [
        (
            "C-2",
            ce.ChildRegistered(child_id="C-2", date_of_birth=date(2015, 1, 1), locality="North"),
        ),
        ("C-1", ce.ChildBorn(date_of_birth=date(2026, 2, 27))),
        ("C-2", ce.ChildBorn(date_of_birth=date(2015, 1, 1))),
    ]
    for version, (stream, event) in enumerate(events):
        await projection.apply(conn, envelope(stream, event, version), event)
    await projection.flush(conn)
    assert touched(conn) == [["C-1", "C-2"]]
    # In the batch's transaction, with the facts: nothing twice, nothing rolled back.
    await projection.flush(conn)
    born = ce.ChildBorn(date_of_birth=date(2015, 1, 1))
    await projection.apply(conn, envelope("C-3", born), born)
    projection.discard()
    await projection.flush(conn)
    assert touched(conn) == [["C-1", "C-2"]]


def test_a_touch_keeps_a_waiting_childs_place_and_puts_a_swept_one_before_the_sweep() -> None:
    sql = (Path(q.__file__).parents[1] / "sql" / "011_returns_quality.sql").read_text()
    assert "mark       bigint      NOT NULL DEFAULT nextval('returns_touch_marks')" in sql
    flushed = Path(inspect.getsourcefile(Chronology) or "").read_text()
    assert "DO UPDATE SET mark = EXCLUDED.mark," in flushed  # always a new mark
    assert "swept = t.swept AND EXCLUDED.swept," in flushed  # an event's touch is never swept
    assert "touched_at = CASE WHEN t.swept AND NOT EXCLUDED.swept" in flushed
    assert "THEN EXCLUDED.touched_at ELSE t.touched_at END" in flushed  # its place kept
    checker = Path(inspect.getsourcefile(q) or "").read_text()
    assert "FROM returns_touched WHERE swept = $1" in checker
    assert ' ORDER BY touched_at, child_id COLLATE "C" LIMIT $2' in checker
    assert 'swept = not waiting["events"]' in checker  # events' first, never mixed


async def test_a_rebuild_touches_children_as_a_sweep_does() -> None:
    live, rebuild, conn = Chronology(), Chronology(swept=True), FakeConnection()
    born = ce.ChildBorn(date_of_birth=date(2015, 1, 1))
    for projection in (live, rebuild):
        await projection.apply(conn, envelope("C-1", born), born)
        await projection.flush(conn)
    assert [args[2] for args in conn.executed if "returns_touched" in args[0]] == [False, True]


# -- the facts, and who can put them right -----------------------------------------------------


def test_as_at_a_day_is_what_had_happened_and_was_recorded_by_its_end() -> None:
    late = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    child = record(
        "C-1",
        fact("ReferralReceived", "2026-03-30", recorded=datetime(2026, 3, 30, tzinfo=UTC)),
        fact("AssessmentStarted", "2026-03-31", recorded=late),  # recorded after the day
        fact("AssessmentCompleted", "2026-04-01", recorded=datetime(2026, 3, 31, tzinfo=UTC)),
    )
    kept = q.as_at(child, date(2026, 3, 31))
    assert [f.event_type for f in kept.facts] == ["ReferralReceived"]
    assert (kept.child_id, kept.locality) == ("C-1", "Exeter")


def test_the_worker_is_the_social_worker_allocated_now_else_the_personal_adviser() -> None:
    allocated = fact("SocialWorkerAllocated", "2026-01-10", worker_id="SW-1", team_id="T-1")
    moved = fact("SocialWorkerAllocated", "2026-05-10", worker_id="SW-2", team_id="T-1")
    ended = fact("SocialWorkerAllocationEnded", "2026-11-10", worker_id="SW-2")
    other_ended = fact("SocialWorkerAllocationEnded", "2026-06-01", worker_id="SW-1")
    adviser = fact("PersonalAdviserAllocated", "2025-11-07", adviser_id="PA-17")
    assert q.allocated_worker(record("C-1", allocated, moved)) == "SW-2"
    assert q.allocated_worker(record("C-1", allocated, moved, other_ended)) == "SW-2"
    assert q.allocated_worker(record("C-1", allocated, moved, ended)) is None
    assert q.allocated_worker(record("C-1", adviser, allocated, moved, ended)) == "PA-17"
    assert q.allocated_worker(record("C-1", adviser, allocated)) == "SW-1"
    assert q.allocated_worker(record("C-1")) is None


def test_a_placeholder_upn_has_the_dfes_form_and_stands_for_one_child() -> None:
    upn = q.placeholder_upn("DC-7-000001", "878")
    assert re.fullmatch(UPN_PATTERN, upn) and upn[1:4] == "878"
    assert upn[0] == upn_check_letter(upn)
    assert upn == q.placeholder_upn("DC-7-000001", "878")
    assert upn != q.placeholder_upn("DC-7-000002", "878")
    assert re.fullmatch(UPN_PATTERN, q.placeholder_upn("C-1", "not a code"))


# -- a validators' report as the board's issues --------------------------------------------------


def derived(**about: tuple[str, str | None]) -> q.Derived:
    return q.Derived(
        year=CollectionYear(2026),
        ssda903={},
        previous={},
        cin=b"",
        cin_children=("C-9", "C-1"),
        about=dict(about) or {"C-1": ("Exeter", "SW-1"), "C-2": ("North", None)},
    )


def error(rule: str, child: str | None, table: str = "Header", field: str | None = "MOTHER"):  # type: ignore[no-untyped-def]
    return {"rule": rule, "message": f"rule {rule}", "child": child, "table": table, "field": field}


REPORT = {
    "year": 2026,
    "ssda903": {
        "errors": [
            error("393", "C-1"),
            error("393", "C-1"),  # a second row of the same table and field: one issue
            error("191", "C-1", "Episodes", "IMMUNISATIONS"),
            error("191", "C-1", "Episodes", "TEETH_CHECK"),
            error("392c", "C-2", "Episodes", "HOME_POST"),  # known: postcodes
            error("168", "C-2", "Header", "UPN"),  # a UPN's form: not checked live
        ]
    },
    "cin": {
        "errors": [
            error("8610", "C-2", "CINdetails", "ReferralNFA"),
            error("2887Q", None, "Disabilities", None),
        ],
        "xsd_errors": [
            {"path": "/Message/Children/Child[2]/ChildCharacteristics", "reason": "Bogus here"},
            {"path": "/Message/Children/Child[1]/ChildIdentifiers/UPN", "reason": "not a UPN"},
            {"path": "/Message/Header/Source/LEA", "reason": "not an LEA"},
        ],
    },
}


def test_a_report_becomes_an_issue_per_rule_child_table_and_field() -> None:
    issues = q.issues_of(REPORT, derived())
    assert [(i.return_name, i.rule, i.child_id, i.table_name, i.field) for i in issues] == [
        ("cin", "2887Q", None, "Disabilities", ""),
        ("cin", "8610", "C-2", "CINdetails", "ReferralNFA"),
        ("cin", "XSD", None, "Source", "LEA"),
        ("cin", "XSD", "C-1", "Child", "ChildCharacteristics"),
        ("ssda903", "191", "C-1", "Episodes", "IMMUNISATIONS"),
        ("ssda903", "191", "C-1", "Episodes", "TEETH_CHECK"),
        ("ssda903", "392c", "C-2", "Episodes", "HOME_POST"),
        ("ssda903", "393", "C-1", "Header", "MOTHER"),
    ]
    by = {(i.rule, i.child_id): i for i in issues}
    assert (by["393", "C-1"].locality, by["393", "C-1"].worker_id) == ("Exeter", "SW-1")
    assert (by["8610", "C-2"].locality, by["8610", "C-2"].worker_id) == ("North", None)
    assert by["392c", "C-2"].known == NOT_YET["ssda903"]["392c"]
    assert by["393", "C-1"].known is None
    # The XSD's reason quotes the value rejected: the board says the element, never it.
    assert by["XSD", "C-1"].message == "CIN census schema: ChildCharacteristics"
    assert "Bogus" not in repr(issues)


def test_a_batch_reports_its_own_children_and_never_a_rule_of_the_whole_return() -> None:
    issues = q.issues_of(REPORT, derived(), children={"C-1"})
    assert {(i.rule, i.child_id) for i in issues} == {
        ("393", "C-1"),
        ("191", "C-1"),
        ("XSD", "C-1"),
    }


def test_the_rules_dropped_are_those_that_test_a_upns_value() -> None:
    assert set(q.DROPPED["ssda903"]) == {"168", "208", "444"}
    assert set(q.DROPPED["cin"]) == {"1510", "1520", "1530", "1540", "1550", "1560Q"}
    assert all("checked at export" in why for rules in q.DROPPED.values() for why in rules.values())
    # Whether a child of school age has a UPN at all is checked live (442, 8770Q).
    assert not {"442", "209", "210"} & set(q.DROPPED["ssda903"])
    assert "8770Q" not in q.DROPPED["cin"]


def test_an_ssda903_naming_no_child_is_left_out_of_the_request(tmp_path: Path) -> None:
    header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\r\n"
    files = {"header.csv": header + "C-1,F,01/01/2015,WBRI,,,\r\n", "episodes.csv": "CHILD\r\n"}
    made = q.Derived(CollectionYear(2026), files, {"header.csv": header}, b"<Message/>", (), {})
    request = q.write_files(made, tmp_path)
    assert request == {
        "year": 2026,
        "ssda903": str(tmp_path / "ssda903"),
        "cin": str(tmp_path / "cin.xml"),
    }
    assert (tmp_path / "ssda903" / "header.csv").read_text().count("C-1") == 1
    assert not (tmp_path / "previous").exists()


def test_derived_returns_name_each_childs_locality_worker_and_place_in_the_census() -> None:
    children = [
        record(
            f"C-{n}",
            fact("ChildRegistered", "2026-05-01", date_of_birth="2015-01-01", locality="North"),
            fact(
                "ReferralReceived",
                "2026-05-02",
                referral_id=f"R-{n}",
                referral_date="2026-05-02",
                source="1A",
            ),
            fact("SocialWorkerAllocated", "2026-05-02", worker_id=f"SW-{n}", team_id="T-1"),
            locality="North",
        )
        for n in (2, 1)
    ]
    made = q.derive(children, TODAY, {}, "878")
    assert made.year == CollectionYear(2026)
    assert made.about == {"C-2": ("North", "SW-2"), "C-1": ("North", "SW-1")}
    assert made.cin_children == ("C-1", "C-2")  # the census's order: by id
    assert ET.fromstring(made.cin).findtext("Header/Source/LEA") == "878"


# -- the partnership view ------------------------------------------------------------------------


def issue(rule: str, child: str | None, locality: str | None, known: str | None = None) -> q.Issue:
    return q.Issue("ssda903", rule, f"rule {rule}", child, locality, "SW-1", "Header", "", known)


def test_the_partnership_view_counts_children_and_hides_small_numbers_as_the_boards_do() -> None:
    issues = [
        *(issue("393", f"E-{n}", "Exeter") for n in range(6)),
        *(issue("393", f"N-{n}", "North") for n in range(2)),  # small: hidden
        *(issue("191", f"E-{n}", "Exeter") for n in range(7)),
        *(issue("191", f"N-{n}", "North") for n in range(5)),
        issue("2887Q", None, None),
    ]
    shown = q.partnership(issues, TODAY, threshold=5)
    rules = {r["rule"]: r for r in shown["rules"]}
    assert rules["191"]["children"] == 12 and rules["191"]["localities"] == {
        "Exeter": 7,
        "North": 5,
    }
    # North's 2 is small; Exeter's 6 would give it away from the county's 8: hidden too.
    assert rules["393"]["localities"]["North"] is None
    assert rules["393"]["localities"]["Exeter"] is None or rules["393"]["children"] is None
    assert shown["children"] == {"county": 12, "localities": {"Exeter": 7, "North": 5}}
    assert [r["rule"] for r in shown["rules"]] == ["191", "393"]  # in the rules' order
    assert shown["council"][0]["rule"] == "2887Q"
    assert "E-1" not in repr(shown) and "SW-1" not in repr(shown)  # nobody named


def test_known_gaps_are_flagged_in_the_partnership_view() -> None:
    why = NOT_YET["ssda903"]["392c"]
    shown = q.partnership([issue("392c", f"E-{n}", "Exeter", why) for n in range(5)], TODAY, 5)
    assert shown["rules"][0]["known"] == why and shown["rules"][0]["children"] == 5


# -- the route's views and the page -----------------------------------------------------------


def found(*issues: q.Issue) -> Found:
    at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    return Found(
        year=2026,
        checked_at=at,
        county_at=at - timedelta(minutes=5),
        validators={"csc-validator-be-903": "0.1.17"},
        waiting=3,
        waiting_since=at,
        issues=[(i, at, at) for i in issues],
    )


def test_both_views_say_when_the_board_was_checked_and_who_is_waiting() -> None:
    said = about(found(), "council")
    assert (said["year_label"], said["waiting"], said["checked_at"]) == (
        "2026-27",
        3,
        "2026-12-01T10:00:00+00:00",
    )
    assert {(r["return"], r["rule"]) for r in said["not_checked_live"]} >= {("cin", "1510")}
    row = issue_row(issue("393", "E-1", "Exeter"), RECORDED, RECORDED)
    assert (row["child_id"], row["worker_id"], row["return_title"]) == ("E-1", "SW-1", "SSDA903")


@pytest.mark.parametrize("view", ["partnership", "council"])
def test_the_page_shows_the_board_in_either_view(view: str) -> None:
    issues = [issue("393", f"E-{n}", "Exeter") for n in range(6)] + [
        issue("392c", "E-1", "Exeter", NOT_YET["ssda903"]["392c"]),
        issue("2887Q", None, None),
    ]
    if view == "partnership":
        board = partnership_view(found(*issues), TODAY, 5)
    else:
        rows = [issue_row(i, RECORDED, RECORDED) for i in issues if i.child_id]
        board = {**about(found(*issues), "council"), "locality": None, "rules": [], "issues": rows}
        board["council"] = [issue_row(i, RECORDED, RECORDED) for i in issues if not i.child_id]
    request = SimpleNamespace(state=SimpleNamespace(principal=None))
    html = templates.get_template("quality.html").render(
        request=request,
        title="Data quality of the statutory returns",
        board=board,
        localities=["Exeter"],
        unavailable=None,
    )
    assert "2026-27" in html and "rule 393" in html and "known gaps" in html
    assert ("E-3" in html) == (view == "council")
    assert "Rules the council's whole return breaks" in html


def test_the_page_says_why_there_is_no_board() -> None:
    request = SimpleNamespace(state=SimpleNamespace(principal=None))
    html = templates.get_template("quality.html").render(
        request=request, title="Data quality", board=None, unavailable="not installed"
    )
    assert "There is no data-quality board: not installed" in html


class FakeAudit:
    def __init__(self) -> None:
        self.named: list[list[str]] = []

    async def record(self, principal: Any, action: str, line: str, ids: list[str], why: Any) -> str:
        self.named.append(ids)
        return "audit-1"


def asking(localities: frozenset[str] | None) -> tuple[Any, FakeAudit]:
    audit = FakeAudit()
    principal = Principal("tm-1", Agency.COUNCIL, Role.MANAGER, localities)
    request = SimpleNamespace(
        state=SimpleNamespace(principal=principal),
        app=SimpleNamespace(state=SimpleNamespace(audit=audit)),
        method="GET",
        url=SimpleNamespace(path="/returns/quality", query="view=council"),
        headers={},
    )
    return request, audit


async def test_the_council_view_names_each_child_of_the_users_localities_audited_once() -> None:
    issues = [
        issue("393", "E-1", "Exeter"),
        issue("191", "E-1", "Exeter"),
        issue("393", "N-1", "North"),
        issue("2887Q", None, None),
    ]
    request, audit = asking(frozenset({"Exeter"}))
    shown, audit_id = await council_view(request, None, found(*issues), None)
    assert audit_id == "audit-1" and audit.named == [["E-1"]]  # each child once
    assert {(r["child_id"], r["rule"]) for r in shown["issues"]} == {("E-1", "393"), ("E-1", "191")}
    assert shown["locality"] == "Exeter" and shown["children"] == 1
    assert {r["rule"]: r["localities"] for r in shown["rules"]} == {
        "393": {"Exeter": 1},
        "191": {"Exeter": 1},
    }
    assert [r["rule"] for r in shown["council"]] == ["2887Q"]  # the whole return's: no child
    everyone, _ = asking(None)
    shown, _ = await council_view(everyone, None, found(*issues), None)
    assert {r["child_id"] for r in shown["issues"]} == {"E-1", "N-1"}


# -- the review's defects: XSD paths, ids, failures, the protocol, health -----------------------


@pytest.mark.parametrize(
    ("path", "child", "table", "at"),
    [
        ("/Message/Children/Child/ChildIdentifiers/DOB", "C-9", "ChildIdentifiers", "DOB"),
        ("/Message/Children/Child[1]/ChildIdentifiers/DOB", "C-9", "ChildIdentifiers", "DOB"),
        (
            "/Message/Children/Child[2]/CINdetails[1]/ReferralNFA",
            "C-1",
            "CINdetails",
            "ReferralNFA",
        ),
        ("/Message/Children/Child", "C-9", "Children", "Child"),
        ("/Message/Children/Child[3]/Sex", None, "Child", "Sex"),  # no third child
        ("/Message/Header/Source/LEA", None, "Source", "LEA"),
    ],
)
def test_an_xsd_error_names_its_child_with_or_without_an_index(
    path: str, child: str | None, table: str, at: str
) -> None:
    assert q._xsd_issue({"path": path}, ("C-9", "C-1")) == (child, table, at)


def test_the_only_child_of_a_census_keeps_its_xsd_issue_in_a_check_of_one() -> None:
    one = q.Derived(CollectionYear(2026), {}, {}, b"", ("C-1",), {"C-1": ("Exeter", None)})
    report = {
        "cin": {
            "errors": [],
            "xsd_errors": [
                {"path": "/Message/Children/Child/ChildCharacteristics/Sex", "reason": "'X' no"}
            ],
        }
    }
    [found] = q.issues_of(report, one, children={"C-1"})
    assert (found.child_id, found.rule, found.field) == ("C-1", "XSD", "Sex")
    assert found.message == "CIN census schema: Sex"


def test_the_partnership_view_labels_the_schema_never_an_element_or_a_value() -> None:
    issues = [
        q.Issue("cin", "XSD", "CIN census schema: Sex", f"E-{n}", "Exeter", None, "Child", "Sex")
        for n in range(5)
    ]
    shown = q.partnership(issues, TODAY, 5)
    assert shown["rules"][0]["message"] == "CIN census schema"


def test_a_validators_id_names_its_child_exactly_else_the_one_it_upper_cases() -> None:
    about: dict[str, tuple[str, str | None]] = {
        "c-1": ("Exeter", None),
        "C-1": ("North", None),
        "q-7": ("Exeter", None),
    }
    made = q.Derived(CollectionYear(2026), {}, {}, b"", (), about)
    report = {
        "ssda903": {
            "errors": [
                error("393", "C-1"),  # exactly C-1 (never also c-1)
                error("191", "Q-7"),  # upper-cased: the one child it can be
                error("101", "X-1"),  # nobody checked
            ]
        }
    }
    issues = q.issues_of(report, made, children=set(about))
    assert {(i.rule, i.child_id, i.locality) for i in issues} == {
        ("393", "C-1", "North"),
        ("191", "q-7", "Exeter"),
    }
    named = q._naming({"a-1", "A-1", "b-2"})
    assert (named("A-1"), named("a-1"), named("B-2"), named("Z-9")) == ("A-1", "a-1", "b-2", "Z-9")
    assert q._naming({"a-b", "a-B"})("A-B") is None  # a-b or a-B: which is unknown


def test_a_checks_timeout_grows_with_its_children() -> None:
    assert q.answer_timeout(1) == pytest.approx(30.2)
    assert q.answer_timeout(200) == pytest.approx(70.0)
    assert q.answer_timeout(0) == 30.0
    assert set(q._environment()) <= {*q.PASSED_ON, "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}


def settings(**more: Any) -> Any:
    return SimpleNamespace(
        returns_validators=None,
        returns_check_batch_size=200,
        returns_check_interval_s=3600.0,
        local_authority="878",
        **more,
    )


def checker(**more: Any) -> q.Checker:
    return q.Checker(settings(**more), pool=None, clock=None)  # type: ignore[arg-type]


async def test_a_failing_batch_is_split_until_the_child_it_fails_on_is_alone() -> None:
    children = [record(f"C-{n}") for n in range(1, 8)]
    bad = {
        "C-3": q.ValidatorsTimedOutError("no answer"),
        "C-6": q.DerivationFailedError("KeyError"),
    }
    asked: list[list[str]] = []

    async def validated(_: Any, batch: Any, held: Any, today: date) -> Any:
        ids = [r.child_id for r in batch]
        asked.append(ids)
        for child, failure in bad.items():
            if child in ids:
                raise failure
        report = {"ssda903": {"errors": [error("393", c) for c in ids]}}
        return report, q.Derived(
            CollectionYear(2026), {}, {}, b"", (), {c: ("Exeter", None) for c in ids}
        )

    check = checker()
    check._validated = validated  # type: ignore[method-assign,assignment]
    issues, failed = await check._checked(children, set(), TODAY)
    assert failed == {"C-3": "ValidatorsTimedOutError", "C-6": "KeyError"}
    assert sorted(i.child_id or "" for i in issues) == ["C-1", "C-2", "C-4", "C-5", "C-7"]
    assert len(asked) <= 2 * len(children)  # halves, not a child at a time from the start
    made = q.unchecked(children, failed)
    assert [(i.child_id, i.rule, i.message, i.locality) for i in made] == [
        ("C-3", "unchecked", "could not be checked: ValidatorsTimedOutError", "Exeter"),
        ("C-6", "unchecked", "could not be checked: KeyError", "Exeter"),
    ]
    assert all(i.return_name in ("ssda903", "cin") for i in made)


async def test_a_failure_not_of_a_child_is_never_split_over() -> None:
    async def validated(*_: Any) -> Any:
        raise q.ValidatorsMissingError("not installed")

    check = checker()
    check._validated = validated  # type: ignore[method-assign,assignment]
    with pytest.raises(q.ValidatorsMissingError):
        await check._checked([record("C-1"), record("C-2")], set(), TODAY)
    assert await check._checked([], set(), TODAY) == ([], {})


class FakeStream:
    def __init__(self, lines: list[bytes]) -> None:
        self.lines, self.written = lines, b""

    def write(self, data: bytes) -> None:
        self.written += data

    async def drain(self) -> None:
        pass

    async def readline(self) -> bytes:
        return self.lines.pop(0) if self.lines else b""

    def close(self) -> None:
        pass


class FakeProcess:
    def __init__(self, answers: list[bytes]) -> None:
        self.stdin, self.stdout = FakeStream([]), FakeStream(answers)
        self.returncode: int | None = None
        self.killed = False
        self.pid = 1

    def kill(self) -> None:
        self.killed, self.returncode = True, -9

    async def wait(self) -> int:
        return self.returncode or 0


def serving(*answers: bytes) -> tuple[q.Validators, FakeProcess]:
    validators, process = q.Validators(Path("/nowhere/python")), FakeProcess(list(answers))
    validators._process = process  # type: ignore[assignment]
    return validators, process


async def test_each_request_carries_an_id_its_answer_must_echo() -> None:
    validators, process = serving(b'{"id": 1, "year": 2026}\n', b'{"id": 2, "error": "KeyError"}\n')
    assert await validators.check({"year": 2026}, 1) == {"id": 1, "year": 2026}
    assert b'"id": 1' in process.stdin.written
    with pytest.raises(q.ValidatorsAnswerError) as answered:  # the process carries on
        await validators.check({"year": 2026}, 1)
    assert answered.value.cause == "KeyError" and not process.killed


async def test_the_board_names_the_rules_each_return_was_checked_with() -> None:
    validators, _ = serving(
        b'{"id": 1, "year": 2026, "ssda903": {"ruleset": "lac2026_27", "errors": []}}\n',
        b'{"id": 2, "year": 2027, "cin": {"ruleset": "cin2026_27",'
        b' "ruleset_stands_in_for": "cin2027_28", "errors": []}}\n',
    )
    await validators.check({"year": 2026}, 1)
    assert validators.rules == {"ssda903 rules": "lac2026_27"}
    await validators.check({"year": 2027}, 1)  # a year whose own rules are not out yet
    assert validators.rules == {
        "ssda903 rules": "lac2026_27",
        "cin rules": "cin2026_27, standing in for cin2027_28",
    }


@pytest.mark.parametrize(
    ("line", "failure"),
    [
        (b'{"id": 7, "year": 2026}\n', q.ValidatorsOutOfStepError),  # another request's
        (b"Traceback (most recent call last)\n", q.ValidatorsOutOfStepError),
        (b"", q.ValidatorsStoppedError),
    ],
)
async def test_an_answer_out_of_step_stops_the_process(line: bytes, failure: type) -> None:
    validators, process = serving(line)
    with pytest.raises(failure) as failed:
        await validators.check({"year": 2026}, 1)
    assert process.killed or process.returncode is not None
    assert validators._process is None  # started again for the next request
    assert "Traceback" not in str(failed.value)


async def test_an_answer_never_read_leaves_the_process_to_be_started_again() -> None:
    validators, process = serving()
    validators._pending = True  # a request abandoned (cancelled) before its answer
    with pytest.raises(q.ValidatorsMissingError):  # /nowhere/python: not installed
        await validators.check({"year": 2026}, 1)
    assert process.killed


async def test_the_health_says_a_failing_loop_until_a_cycle_succeeds() -> None:
    check = checker()
    outcomes: list[Exception | None] = [q.ValidatorsStoppedError("exit 9"), None]

    async def cycle() -> float | None:
        failure = outcomes.pop(0)
        if failure:
            raise failure
        return None

    check.cycle = cycle  # type: ignore[method-assign]
    with pytest.raises(q.ValidatorsStoppedError):
        await check._step()
    assert await check.health() == {
        "ok": False,
        "validators": "starting",
        "error": "ValidatorsStoppedError",
    }
    await check._step()
    assert (await check.health())["ok"] is True


async def test_the_checker_can_be_turned_off() -> None:
    check = checker(returns_check=False)
    await check.run(asyncio.Event())  # returns at once: no database, no validators
    assert (await check.health())["validators"] == "off"
    assert checker().enabled and checker(returns_check=True).enabled


def test_a_checks_folders_left_by_a_worker_killed_are_removed(tmp_path: Path) -> None:
    old, new, other = (tmp_path / n for n in ("returns-quality-a", "returns-quality-b", "x"))
    for folder in (old, new, other):
        folder.mkdir()
        (folder / "cin.xml").write_text("<Message/>")
    hour_ago = time.time() - 3700
    os.utime(old, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    assert q.purge_stale_folders(tmp_path) == 1
    assert not old.exists() and new.exists() and other.exists()


class RecordedFetches:
    """A connection answering the facts' and localities' queries with canned rows."""

    def __init__(self) -> None:
        self.asked: list[tuple[Any, ...]] = []

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.asked.append((sql, *args))
        if "FROM chronology c" in sql:
            return [
                {
                    "child_id": child,
                    "event_id": uuid4(),
                    "event_type": "ChildRegistered",
                    "occurred_on": date(2026, 5, 1),
                    "recorded_at": RECORDED,
                    "details": '{"locality": "North"}',
                }
                for child in ("C-1", "C-2", "C-3")
            ]
        return [("C-1", "North"), ("C-2", "Exeter")]  # C-3 no longer registered


async def test_the_checker_reads_facts_as_the_export_does_built_off_the_loop() -> None:
    ours, theirs = RecordedFetches(), RecordedFetches()
    mine = await q.records_of(ours, TODAY, ["C-1", "C-2", "C-3"])
    export = await records(theirs, TODAY, ["C-1", "C-2", "C-3"])
    assert ours.asked == theirs.asked  # the same queries, the same arguments
    assert [(r.child_id, r.locality, len(r.facts)) for r in mine] == [
        (r.child_id, r.locality, len(r.facts)) for r in export
    ]
    assert [f.details for r in mine for f in r.facts] == [{"locality": "North"}] * 2


def test_the_checkers_writes_never_lock_ahead_and_give_way_to_the_projection() -> None:
    checker_source = Path(inspect.getsourcefile(q) or "").read_text()
    assert "FOR UPDATE" not in checker_source
    assert 'ORDER BY child_id COLLATE "C"' in checker_source
    assert re.search(r"ORDER BY child_id(?! COLLATE)", checker_source) is None
    assert checker_source.count("SET LOCAL lock_timeout") == 2  # the write's and the sweep's


async def test_after_a_check_of_children_touched_it_rests_as_long_as_that_check_took(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While events keep touching children (a county being loaded), each child's touches
    gather during the rest and it is checked once, not after every event; a check of the
    sweep's children or of a full batch (a backlog: more wait) is followed by no rest, and no
    rest is longer than REST_MOST_S."""
    now = [1000.0]
    monkeypatch.setattr(q, "time", SimpleNamespace(monotonic=lambda: now[0]))

    async def live(pool: object) -> str:
        return "build"

    monkeypatch.setattr(q, "live_build", live)
    c = checker()
    c.clock = SimpleNamespace(today=lambda: date(2024, 6, 3))
    c._lock = SimpleNamespace(is_closed=lambda: False)
    c._swept = ("build", date(2024, 6, 3), now[0])  # the sweep is not due
    checks: list[tuple[float, str | None]] = []
    # What each check finds, and how long it takes.
    outcome: list[tuple[q.Checked | None, float]] = []

    async def check(schema: str, today: date) -> q.Checked | None:
        checked, took = outcome.pop(0)
        checks.append((now[0], checked))
        now[0] += took
        return checked

    c._check = check  # type: ignore[method-assign]

    outcome[:] = [("events", 2.0)]
    assert await c.cycle() is None  # at once, as far as the loop knows
    assert await c.cycle() == pytest.approx(2.0)  # resting: the validators are not asked
    assert checks == [(1000.0, "events")]
    now[0] += 2.0
    outcome[:] = [("sweep", 3.0), ("backlog", 3.0), ("events", 30.0), (None, 0.0)]
    assert await c.cycle() is None and await c.cycle() is None  # no rest after the sweep's
    assert await c.cycle() is None  # nor after a full batch
    assert await c.cycle() == pytest.approx(q.REST_MOST_S)  # the longest rest
    now[0] += q.REST_MOST_S
    assert await c.cycle() == q.POLL_S  # nothing waiting: looked again soon
    assert [at for at, _ in checks] == [1000.0, 1004.0, 1007.0, 1010.0, 1045.0]

"""Reading a CIN census XML back into commands (deploy/returns/from_cin.py): the round trip
(records -> census -> commands decided in memory by the services' aggregates -> census,
byte for byte), the commands one Child becomes, and each kind of bad input reported with its
file, line, element and reason while the other children are read."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from contracts.ids import upn_check_letter
from deploy.demo.county import plan as county_plan
from deploy.demo.journey import Step
from deploy.returns.from_cin import read_cin
from deploy.returns.importing import ImportPlan, Problem, merged, rehearsed
from deploy.returns.rehearsal import records_from_steps, rehearsed_children
from services.projections.returns.cin_census import cin_census
from services.projections.returns.facts import ChildRecord, CollectionYear

TODAY = date(2026, 12, 1)
YEAR = CollectionYear(2026)  # 1 April 2026 - 31 March 2027: the census of "2027"
FILE = "cin.xml"


def valid_upn(serial: int) -> str:
    body = f"878{serial:09d}"
    return upn_check_letter(f"?{body}") + body


def decided(plan: ImportPlan) -> tuple[list[ChildRecord], dict[str, str]]:
    """The plan's children decided in memory, as the platform would hold them: none refused."""
    outcome = rehearsed_children(
        {c: [d.step for d in ds] for c, ds in plan.children.items()}, TODAY
    )
    assert outcome.refused == {}
    return outcome.records(TODAY), outcome.upns


def write(tmp_path: Path, xml: bytes | str, name: str = FILE) -> Path:
    path = tmp_path / name
    path.write_bytes(xml.encode() if isinstance(xml, str) else xml)
    return path


def plain(value: object) -> bool:
    """JSON's own types only (a code as its text, never an enum member): the idempotency key
    and another return's same command compare bodies as JSON."""
    if isinstance(value, dict):
        return all(type(k) is str and plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return type(value) in (str, int, bool)


# -- the round trip ------------------------------------------------------------------------


@cache
def demo_county() -> tuple[list[ChildRecord], dict[str, str]]:
    """A small demo county as the platform would hold it today (its commands decided)."""
    work = county_plan(7, 0.05, TODAY)
    return records_from_steps([s for j in work.journeys + work.later for s in j.steps], TODAY)


def test_the_demo_countys_census_read_back_and_decided_exports_the_same_file(
    tmp_path: Path,
) -> None:
    records, upns = demo_county()
    first = cin_census(records, YEAR, upns).xml
    plan = read_cin(write(tmp_path, first), "Exeter")
    assert plan.problems == []
    assert plan.rows == first.count(b"<CINdetails>")
    assert all(plain(d.step.body) for dated in plan.children.values() for d in dated)
    records_again, upns_again = decided(plan)
    assert cin_census(records_again, YEAR, upns_again).xml == first


def test_two_years_read_together_export_both_years_the_same(tmp_path: Path) -> None:
    """An episode open across the two years is in both files: the same commands, once."""
    records, upns = demo_county()
    files = {y: cin_census(records, CollectionYear(y), upns).xml for y in (2025, 2026)}
    plans = [read_cin(write(tmp_path, xml, f"cin-{y}.xml"), "Exeter") for y, xml in files.items()]
    both = merged(plans)
    records_again, upns_again = decided(both)
    for y, xml in files.items():
        assert cin_census(records_again, CollectionYear(y), upns_again).xml == xml


def test_reading_the_same_file_twice_gives_the_same_commands(tmp_path: Path) -> None:
    """Idempotency is by content: the same file read again makes the same bodies."""
    records, upns = demo_county()
    path = write(tmp_path, cin_census(records, YEAR, upns).xml)
    once, twice = read_cin(path, "Exeter"), read_cin(path, "Exeter")
    assert once.children == twice.children
    again = merged([once, twice])
    assert {c: [d.step for d in ds] for c, ds in again.children.items()} == {
        c: [d.step for d in ds] for c, ds in merged([once]).children.items()
    }


def chars(on: str, sex: str, ethnicity: str = "WBRI", *disabilities: str) -> dict[str, Any]:
    return {
        "recorded_on": on,
        "sex": sex,
        "ethnicity": ethnicity,
        "disabilities": list(disabilities or ["NONE"]),
    }


def referral(on: str, source: str, referral_id: str = "R1") -> dict[str, Any]:
    return {"referral_id": referral_id, "referral_date": on, "source": source}


# Children the small demo county has none of: born after a referral before birth; still
# unborn; a repeat child protection plan with an initial conference of the episode's own; a
# referral with no further action decided after the year began; a primary need found by an
# assessment only, and one given by the referral's outcome only; an episode closed by its
# plan's end (no closure recorded).
HAND_MADE: list[tuple[str, str, dict[str, Any]]] = [
    ("UB1", "/unborn-children", {"expected_date_of_birth": "2026-08-20"}),
    ("UB1", "/referrals", referral("2026-05-10", "3B")),
    ("UB1", "/characteristics", chars("2026-05-10", "0")),
    ("UB1", "/assessments", {"assessment_id": "A1", "start_date": "2026-05-10"}),
    ("UB1", "/births", {"date_of_birth": "2026-08-15"}),
    ("UB1", "/characteristics", chars("2026-08-15", "1")),
    (
        "UB1",
        "/assessment-completions",
        {
            "assessment_id": "A1",
            "completion_date": "2026-08-20",
            "factors": ["3B", "4B"],
            "primary_need": "N1",
        },
    ),
    (
        "UB1",
        "/child-in-need-plans",
        {"plan_id": "P1", "start_date": "2026-08-21", "primary_need": "N1"},
    ),
    ("UB2", "/unborn-children", {"expected_date_of_birth": "2027-02-01"}),
    ("UB2", "/referrals", referral("2026-10-01", "3B")),
    ("UB2", "/characteristics", chars("2026-10-01", "0", "MWBA")),
    ("UB2", "/assessments", {"assessment_id": "A1", "start_date": "2026-10-02"}),
    ("CP1", "/children", {"date_of_birth": "2016-03-01", "personal": {"upn": valid_upn(1)}}),
    ("CP1", "/characteristics", chars("2026-04-10", "2", "WBRI", "AUT", "LD")),
    ("CP1", "/referrals", referral("2026-04-10", "6")),
    (
        "CP1",
        "/referral-outcomes",
        {"referral_id": "R1", "decided_on": "2026-04-10", "outcome": "s47"},
    ),
    (
        "CP1",
        "/strategy-discussions",
        {"discussion_id": "SD1", "discussion_date": "2026-04-11", "section_47_enquiry": True},
    ),
    (
        "CP1",
        "/section-47-outcomes",
        {"discussion_id": "SD1", "concluded_on": "2026-04-20", "outcome": "icpc"},
    ),
    (
        "CP1",
        "/initial-child-protection-conferences",
        {"conference_date": "2026-04-24", "plan_required": True},
    ),
    (
        "CP1",
        "/child-protection-plans",
        {"plan_id": "CP1", "category": "NEG", "start_date": "2026-04-24"},
    ),
    ("CP1", "/child-protection-plan-reviews", {"plan_id": "CP1", "review_date": "2026-07-20"}),
    ("CP1", "/child-protection-plan-endings", {"plan_id": "CP1", "end_date": "2026-08-10"}),
    (
        "CP1",
        "/episode-of-need-closures",
        {"referral_id": "R1", "closed_on": "2026-08-10", "reason": "RC7"},
    ),
    ("CP1", "/referrals", referral("2026-09-01", "6", "R2")),
    (
        "CP1",
        "/strategy-discussions",
        {"discussion_id": "SD2", "discussion_date": "2026-09-02", "section_47_enquiry": True},
    ),
    (
        "CP1",
        "/section-47-outcomes",
        {"discussion_id": "SD2", "concluded_on": "2026-09-10", "outcome": "nfa"},
    ),
    (
        "CP1",
        "/initial-child-protection-conferences",
        {"conference_date": "2026-09-15", "plan_required": True},
    ),
    (
        "CP1",
        "/child-protection-plans",
        {"plan_id": "CP2", "category": "MUL", "start_date": "2026-09-15"},
    ),
    ("CP1", "/child-protection-plan-reviews", {"plan_id": "CP2", "review_date": "2026-11-20"}),
    ("NFA1", "/children", {"date_of_birth": "2012-01-01"}),
    ("NFA1", "/characteristics", chars("2026-03-30", "1")),
    ("NFA1", "/referrals", referral("2026-03-30", "1A")),
    (
        "NFA1",
        "/referral-outcomes",
        {"referral_id": "R1", "decided_on": "2026-04-02", "outcome": "nfa"},
    ),
    ("AS1", "/children", {"date_of_birth": "2019-05-05"}),
    ("AS1", "/characteristics", chars("2026-06-01", "2", "AIND")),
    ("AS1", "/referrals", referral("2026-06-01", "2A")),
    (
        "AS1",
        "/referral-outcomes",
        {
            "referral_id": "R1",
            "decided_on": "2026-06-01",
            "outcome": "assessment",
            "primary_need": "N4",
        },
    ),
    ("AS1", "/assessments", {"assessment_id": "A1", "start_date": "2026-06-02"}),
    (
        "AS1",
        "/assessment-completions",
        {
            "assessment_id": "A1",
            "completion_date": "2026-07-01",
            "factors": ["21"],
            "primary_need": "N9",
        },
    ),
    (
        "AS1",
        "/episode-of-need-closures",
        {"referral_id": "R1", "closed_on": "2026-07-01", "reason": "RC8"},
    ),
    ("OUT1", "/children", {"date_of_birth": "2010-02-02"}),
    ("OUT1", "/characteristics", chars("2026-10-01", "1")),
    ("OUT1", "/referrals", referral("2026-10-01", "5D")),
    (
        "OUT1",
        "/referral-outcomes",
        {
            "referral_id": "R1",
            "decided_on": "2026-10-02",
            "outcome": "assessment",
            "primary_need": "N2",
        },
    ),
    ("OUT1", "/assessments", {"assessment_id": "A1", "start_date": "2026-10-03"}),
    ("PL1", "/children", {"date_of_birth": "2014-09-09"}),
    ("PL1", "/characteristics", chars("2026-04-15", "9")),
    ("PL1", "/referrals", referral("2026-04-15", "3A")),
    ("PL1", "/assessments", {"assessment_id": "A1", "start_date": "2026-04-15"}),
    (
        "PL1",
        "/assessment-completions",
        {
            "assessment_id": "A1",
            "completion_date": "2026-05-20",
            "factors": ["16A"],
            "primary_need": "N5",
        },
    ),
    (
        "PL1",
        "/child-in-need-plans",
        {"plan_id": "P1", "start_date": "2026-05-20", "primary_need": "N5"},
    ),
    (
        "PL1",
        "/child-in-need-plan-endings",
        {"plan_id": "P1", "end_date": "2026-09-30", "reason": "RC4"},
    ),
]


def journeys() -> list[Step]:
    """The hand-made children's commands, as the demo county would send them."""
    steps = []
    for child_id, path, body in HAND_MADE:
        if path in ("/children", "/unborn-children"):
            body = {"child_id": child_id, **body, "locality": "Exeter"}
        else:
            path = f"/children/{child_id}{path}"
        steps.append(Step("case_events", path, body))
    return steps


def test_children_the_demo_county_has_none_of_round_trip_too(tmp_path: Path) -> None:
    records, upns = records_from_steps(journeys(), TODAY)
    first = cin_census(records, YEAR, upns).xml
    assert first.count(b"<Child>") == 7
    for shown in (
        b"<ExpectedPersonBirthDate>2027-02-01",
        b"<NumberOfPreviousCPP>1<",
        b"<ReferralNFA>true",
        b"<ICPCnotRequired>true",
        b"<Sex>U</Sex>",
    ):
        assert shown in first
    plan = read_cin(write(tmp_path, first), "Exeter")
    assert plan.problems == []
    records_again, upns_again = decided(plan)
    assert cin_census(records_again, YEAR, upns_again).xml == first


def test_the_number_of_previous_plans_is_kept_though_the_plans_are_not_held(
    tmp_path: Path,
) -> None:
    """NumberOfPreviousCPP counts the child's plans before this one, some of which may have
    ended before any year imported: the plan is given the file's count and keeps it."""
    xml = message(child("CH1", details(closed=False, extra=PROTECTION.replace(">0<", ">2<"))))
    plan = read_cin(write(tmp_path, xml), "Exeter")
    assert plan.problems == []
    records, upns = decided(plan)
    assert b"<NumberOfPreviousCPP>2<" in cin_census(records, YEAR, upns).xml


# -- what one Child becomes ----------------------------------------------------------------


def message(*children: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        "<Message>\n"
        "  <Header>\n"
        "    <CollectionDetails>\n"
        "      <Collection>CIN</Collection>\n"
        "      <Year>2027</Year>\n"
        "      <ReferenceDate>2027-03-31</ReferenceDate>\n"
        "    </CollectionDetails>\n"
        "  </Header>\n"
        "  <Children>\n" + "".join(children) + "  </Children>\n</Message>\n"
    )


def child(child_id: str, *cin_details: str, ids: str = "") -> str:
    return (
        "    <Child>\n"
        "      <ChildIdentifiers>\n"
        f"        <LAchildID>{child_id}</LAchildID>\n{ids}"
        "        <PersonBirthDate>2015-06-01</PersonBirthDate>\n"
        "        <Sex>F</Sex>\n"
        "      </ChildIdentifiers>\n"
        "      <ChildCharacteristics>\n"
        "        <Ethnicity>WBRI</Ethnicity>\n"
        "        <Disabilities>\n"
        "          <Disability>AUT</Disability>\n"
        "        </Disabilities>\n"
        "      </ChildCharacteristics>\n" + "".join(cin_details) + "    </Child>\n"
    )


ASSESSED = (
    "        <Assessments>\n"
    "          <AssessmentActualStartDate>2026-05-05</AssessmentActualStartDate>\n"
    "          <AssessmentAuthorisationDate>2026-06-10</AssessmentAuthorisationDate>\n"
    "          <FactorsIdentifiedAtAssessment>\n"
    "            <AssessmentFactors>3B</AssessmentFactors>\n"
    "            <AssessmentFactors>4B</AssessmentFactors>\n"
    "          </FactorsIdentifiedAtAssessment>\n"
    "        </Assessments>\n"
    "        <CINPlanDates>\n"
    "          <CINPlanStartDate>2026-06-10</CINPlanStartDate>\n"
    "          <CINPlanEndDate>2026-11-20</CINPlanEndDate>\n"
    "        </CINPlanDates>\n"
)
PROTECTION = (
    "        <ChildProtectionPlans>\n"
    "          <CPPstartDate>2026-05-20</CPPstartDate>\n"
    "          <InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>\n"
    "          <LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse>\n"
    "          <NumberOfPreviousCPP>0</NumberOfPreviousCPP>\n"
    "        </ChildProtectionPlans>\n"
)


def details(
    referral: str = "2026-05-04",
    source: str = "2A",
    *,
    closed: bool = True,
    nfa: str | None = "false",
    extra: str = "",
) -> str:
    closure = (
        "        <CINclosureDate>2026-11-20</CINclosureDate>\n"
        "        <ReasonForClosure>RC7</ReasonForClosure>\n"
        if closed
        else ""
    )
    flag = f"        <ReferralNFA>{nfa}</ReferralNFA>\n" if nfa is not None else ""
    return (
        "      <CINdetails>\n"
        f"        <CINreferralDate>{referral}</CINreferralDate>\n"
        f"        <ReferralSource>{source}</ReferralSource>\n"
        "        <PrimaryNeedCode>N5</PrimaryNeedCode>\n"
        f"{closure}{ASSESSED if closed else ''}{flag}{extra}"
        "      </CINdetails>\n"
    )


def line(text: str, needle: str, nth: int = 1, after: str = "") -> int:
    """The line (1-based) of the nth occurrence of `needle` (after the first `after`)."""
    at = text.index(after) - 1 if after else -1
    for _ in range(nth):
        at = text.index(needle, at + 1)
    return text.count("\n", 0, at) + 1


def test_a_child_becomes_its_registration_characteristics_and_episode_in_order(
    tmp_path: Path,
) -> None:
    upn = valid_upn(7)
    xml = message(child("CH1", details(), ids=f"        <UPN>{upn}</UPN>\n"))
    plan = read_cin(write(tmp_path, xml), "Exeter")
    assert plan.problems == []
    assert plan.rows == 1
    steps = [
        (d.day, d.step.path.removeprefix("/children/CH1"), d.step.body, d.line)
        for d in plan.children["CH1"]
    ]
    assert steps == [
        (
            date(1900, 1, 1),
            "/children",
            {"child_id": "CH1", "locality": "Exeter", "date_of_birth": "2015-06-01"},
            line(xml, "<Child>"),
        ),
        (date(1900, 1, 1), "/personal-details", {"upn": upn}, line(xml, "<UPN>")),
        (
            date(2015, 6, 1),
            "/characteristics",
            {"recorded_on": "2015-06-01", "sex": "2", "ethnicity": "WBRI", "disabilities": ["AUT"]},
            line(xml, "<Ethnicity>"),
        ),
        (
            date(2026, 5, 4),
            "/referrals",
            {"referral_id": "R-2026-05-04", "referral_date": "2026-05-04", "source": "2A"},
            line(xml, "<CINdetails>"),
        ),
        (
            date(2026, 5, 5),
            "/assessments",
            {"assessment_id": "A-2026-05-05", "start_date": "2026-05-05"},
            line(xml, "<AssessmentActualStartDate>"),
        ),
        (
            date(2026, 6, 10),
            "/assessment-completions",
            {
                "assessment_id": "A-2026-05-05",
                "completion_date": "2026-06-10",
                "factors": ["3B", "4B"],
            },
            line(xml, "<AssessmentAuthorisationDate>"),
        ),
        (
            date(2026, 6, 10),
            "/child-in-need-plans",
            {"plan_id": "CIN-2026-06-10", "start_date": "2026-06-10", "primary_need": "N5"},
            line(xml, "<CINPlanStartDate>"),
        ),
        (
            date(2026, 11, 20),
            "/child-in-need-plan-endings",
            {"plan_id": "CIN-2026-06-10", "end_date": "2026-11-20", "reason": "RC7"},
            line(xml, "<CINPlanEndDate>"),
        ),
        (
            date(2026, 11, 20),
            "/episode-of-need-closures",
            {"referral_id": "R-2026-05-04", "closed_on": "2026-11-20", "reason": "RC7"},
            line(xml, "<CINclosureDate>"),
        ),
    ]
    assert all(d.file == FILE for d in plan.children["CH1"])


# -- bad input -------------------------------------------------------------------------------


def test_each_bad_child_is_reported_at_its_element_and_left_out_the_others_read(
    tmp_path: Path,
) -> None:
    twice = "<LAchildID>TWICE"
    upn = valid_upn(1)
    wrong = ("A" if upn[0] != "A" else "B") + upn[1:]
    xml = message(
        child("GOOD", details()),
        child("BADDATE", details(referral="2026-02-30")),
        child("BADCODE", details(source="99")),
        child("TWICE", details(), details()),
        child("NOFLAG", details(nfa=None)),
        child("BADUPN", details(), ids=f"        <UPN>{wrong}</UPN>\n"),
        child("EARLY", details(closed=False, extra=PROTECTION.replace("2026-05-20", "2026-05-01"))),
        child("GOOD2", details(closed=False, extra=PROTECTION)),
    )
    plan = read_cin(write(tmp_path, xml), "Exeter")
    assert set(plan.children) == {"GOOD", "GOOD2"}
    assert plan.problems == [
        Problem(
            FILE,
            line(xml, "2026-02-30"),
            "CINreferralDate",
            "not a date (yyyy-mm-dd): '2026-02-30'",
            "BADDATE",
        ),
        Problem(
            FILE,
            line(xml, "<ReferralSource>99"),
            "ReferralSource",
            "not a code of the DfE's list: '99'",
            "BADCODE",
        ),
        Problem(
            FILE,
            line(xml, "<CINreferralDate>", 2, twice),
            "CINreferralDate",
            f"duplicate of line {line(xml, '<CINreferralDate>', 1, twice)}",
            "TWICE",
        ),
        Problem(
            FILE,
            line(xml, "<CINdetails>", 1, "<LAchildID>NOFLAG"),
            "ReferralNFA",
            "missing from CINdetails",
            "NOFLAG",
        ),
        Problem(
            FILE,
            line(xml, f"<UPN>{wrong}"),
            "UPN",
            f"Value error, the check letter (first character) does not match the UPN: {wrong!r}",
            "BADUPN",
        ),
        Problem(
            FILE,
            line(xml, "<CPPstartDate>2026-05-01"),
            "CPPstartDate",
            "2026-05-01 is before its CINreferralDate 2026-05-04 (line "
            f"{line(xml, '<CINreferralDate>', 1, '<LAchildID>EARLY')})",
            "EARLY",
        ),
    ]
    where = f"{FILE}:{plan.problems[0].line}"
    assert (
        str(plan.problems[0]) == f"{where}: CINreferralDate: not a date (yyyy-mm-dd): '2026-02-30'"
    )


def test_a_child_given_twice_is_reported_and_neither_is_read(tmp_path: Path) -> None:
    xml = message(child("CH1", details()), child("CH2", details()), child("CH1", details()))
    plan = read_cin(write(tmp_path, xml), "Exeter")
    assert set(plan.children) == {"CH2"}
    assert plan.problems == [
        Problem(
            FILE,
            line(xml, "<LAchildID>CH1", 2),
            "LAchildID",
            f"duplicate of line {line(xml, '<LAchildID>CH1')}",
            "CH1",
        )
    ]


def test_unknown_elements_and_repeated_single_ones_are_problems(tmp_path: Path) -> None:
    xml = message(
        child(
            "CH1",
            details().replace(
                "<ReferralSource>2A</ReferralSource>",
                "<ReferralSource>2A</ReferralSource><ReferralSource>6</ReferralSource>",
            ),
        ),
        child(
            "CH2",
            details().replace(
                "<PrimaryNeedCode>", "<PrimaryNeed>N5</PrimaryNeed><PrimaryNeedCode>"
            ),
        ),
        child("CH3", details()),
    )
    plan = read_cin(write(tmp_path, xml), "Exeter")
    assert set(plan.children) == {"CH3"}
    assert plan.problems == [
        Problem(
            FILE,
            line(xml, "<ReferralSource>6"),
            "ReferralSource",
            f"duplicate of line {line(xml, '<ReferralSource>2A')}",
            "CH1",
        ),
        Problem(
            FILE, line(xml, "<PrimaryNeed>"), "PrimaryNeed", "not an element of CINdetails", "CH2"
        ),
    ]


def test_a_truncated_file_is_one_problem_and_nothing_of_it_is_read(tmp_path: Path) -> None:
    xml = message(child("CH1", details()), child("CH2", details()))
    cut = xml[: xml.index("<CINdetails>", xml.index("CH2"))]
    plan = read_cin(write(tmp_path, cut), "Exeter")
    stopped = cut.count("\n") + 1
    assert plan.children == {}
    assert plan.problems == [
        Problem(
            FILE,
            stopped,
            "",
            f"not well-formed XML: no element found at line {stopped}, column 7, where the "
            "parser stopped; nothing of the file was imported",
        )
    ]


@pytest.mark.parametrize(
    "declaration",
    [
        '<!DOCTYPE Message [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n',
        '<!DOCTYPE Message [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n',
    ],
)
def test_a_document_type_is_refused_so_no_entity_is_ever_resolved(
    tmp_path: Path, declaration: str
) -> None:
    xml = message(child("CH1", details())).replace("<Message>", declaration + "<Message>", 1)
    plan = read_cin(write(tmp_path, xml), "Exeter")
    assert plan.children == {}
    assert [(p.line, p.field, p.child) for p in plan.problems] == [(2, "", None)]
    assert "DOCTYPE" in plan.problems[0].reason


def test_a_file_with_no_year_is_one_problem(tmp_path: Path) -> None:
    xml = (
        message(child("CH1", details()))
        .replace("      <Year>2027</Year>\n", "")
        .replace("      <ReferenceDate>2027-03-31</ReferenceDate>\n", "")
    )
    plan = read_cin(write(tmp_path, xml), "Exeter")
    assert plan.children == {}
    assert plan.problems == [
        Problem(
            FILE,
            line(xml, "<CollectionDetails>"),
            "Year",
            "the census's year is needed (Header/CollectionDetails/Year)",
        )
    ]


def test_a_history_a_service_would_refuse_is_reported_at_the_element_it_came_from(
    tmp_path: Path,
) -> None:
    """A review before its plan started: read, but the service refuses it (rehearsed)."""
    reviewed = PROTECTION.replace(
        "          <NumberOfPreviousCPP>0</NumberOfPreviousCPP>\n",
        "          <NumberOfPreviousCPP>0</NumberOfPreviousCPP>\n"
        "          <Reviews>\n"
        "            <CPPreviewDate>2026-05-10</CPPreviewDate>\n"
        "          </Reviews>\n",
    )
    xml = message(child("CH1", details(closed=False, extra=reviewed)), child("CH2", details()))
    plan = rehearsed(read_cin(write(tmp_path, xml), "Exeter"), TODAY)
    assert set(plan.children) == {"CH2"}
    [problem] = plan.problems
    assert (problem.file, problem.line, problem.field, problem.child) == (
        FILE,
        line(xml, "<CPPreviewDate>"),
        "plan_id",
        "CH1",
    )


def test_a_code_in_a_list_is_reported_at_its_own_element_and_other_faults_at_theirs(
    tmp_path: Path,
) -> None:
    xml = message(
        child("FACTOR", details().replace("<AssessmentFactors>4B<", "<AssessmentFactors>8A<")),
        child("NONEED", details().replace("        <PrimaryNeedCode>N5</PrimaryNeedCode>\n", "")),
        child("SEX", details()).replace("<Sex>F</Sex>", "<Sex>X</Sex>"),
        child("FLAG", details(nfa="maybe")),
        child("GOOD", details()),
    )
    plan = read_cin(write(tmp_path, xml), "Exeter")
    assert set(plan.children) == {"GOOD"}
    assert plan.problems == [
        Problem(
            FILE,
            line(xml, "<AssessmentFactors>8A"),
            "AssessmentFactors",
            "not a code of the DfE's list: '8A'",
            "FACTOR",
        ),
        Problem(
            FILE,
            line(xml, "<CINdetails>", 1, "<LAchildID>NONEED"),
            "PrimaryNeedCode",
            "missing (a child in need plan records it)",
            "NONEED",
        ),
        Problem(FILE, line(xml, "<Sex>X"), "Sex", "not M, F or U: 'X'", "SEX"),
        Problem(
            FILE,
            line(xml, "<ReferralNFA>maybe"),
            "ReferralNFA",
            "not true or false: 'maybe'",
            "FLAG",
        ),
    ]

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
from deploy.returns.from_cin import element_of, read_cin, read_cins
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


# Children whose episodes are in both the 2025-26 and the 2026-27 census, each year's file
# showing them differently: unborn at the end of the first year, born in the second; a primary
# need the referral's outcome carried the first year, an assessment the second; one an
# assessment found the first year, a plan started the second; a child protection plan reviewed
# in both years, beside an enquiry that needed no conference concluded after the year began.
ACROSS_YEARS: list[tuple[str, str, dict[str, Any]]] = [
    ("XU1", "/unborn-children", {"expected_date_of_birth": "2026-05-01"}),
    ("XU1", "/referrals", referral("2026-01-10", "3B")),
    ("XU1", "/characteristics", chars("2026-01-10", "0")),
    ("XU1", "/assessments", {"assessment_id": "A1", "start_date": "2026-01-11"}),
    ("XU1", "/births", {"date_of_birth": "2026-04-25"}),
    ("XU1", "/characteristics", chars("2026-04-25", "2")),
    (
        "XU1",
        "/assessment-completions",
        {"assessment_id": "A1", "completion_date": "2026-05-10", "factors": ["3B"]},
    ),
    (
        "XU1",
        "/child-in-need-plans",
        {"plan_id": "P1", "start_date": "2026-05-11", "primary_need": "N1"},
    ),
    ("XA1", "/children", {"date_of_birth": "2018-01-01"}),
    ("XA1", "/characteristics", chars("2026-02-01", "1")),
    ("XA1", "/referrals", referral("2026-02-01", "2A")),
    (
        "XA1",
        "/referral-outcomes",
        {
            "referral_id": "R1",
            "decided_on": "2026-02-01",
            "outcome": "assessment",
            "primary_need": "N4",
        },
    ),
    ("XA1", "/assessments", {"assessment_id": "A1", "start_date": "2026-02-02"}),
    (
        "XA1",
        "/assessment-completions",
        {
            "assessment_id": "A1",
            "completion_date": "2026-05-01",
            "factors": ["21"],
            "primary_need": "N9",
        },
    ),
    (
        "XA1",
        "/episode-of-need-closures",
        {"referral_id": "R1", "closed_on": "2026-06-01", "reason": "RC8"},
    ),
    ("XP1", "/children", {"date_of_birth": "2016-06-06"}),
    ("XP1", "/characteristics", chars("2026-01-05", "1", "WIRI")),
    ("XP1", "/referrals", referral("2026-01-05", "3A")),
    ("XP1", "/assessments", {"assessment_id": "A1", "start_date": "2026-01-06"}),
    (
        "XP1",
        "/assessment-completions",
        {
            "assessment_id": "A1",
            "completion_date": "2026-02-01",
            "factors": ["16A"],
            "primary_need": "N5",
        },
    ),
    (
        "XP1",
        "/child-in-need-plans",
        {"plan_id": "P1", "start_date": "2026-04-10", "primary_need": "N3"},
    ),
    ("XC1", "/children", {"date_of_birth": "2012-03-03"}),
    ("XC1", "/characteristics", chars("2025-09-01", "2", "WBRI", "HAND")),
    ("XC1", "/referrals", referral("2025-09-01", "6")),
    (
        "XC1",
        "/strategy-discussions",
        {"discussion_id": "SD1", "discussion_date": "2025-09-02", "section_47_enquiry": True},
    ),
    (
        "XC1",
        "/section-47-outcomes",
        {"discussion_id": "SD1", "concluded_on": "2025-09-10", "outcome": "icpc"},
    ),
    (
        "XC1",
        "/initial-child-protection-conferences",
        {"conference_date": "2025-09-20", "plan_required": True},
    ),
    (
        "XC1",
        "/child-protection-plans",
        {"plan_id": "CP1", "category": "EMO", "start_date": "2025-09-20"},
    ),
    ("XC1", "/child-protection-plan-reviews", {"plan_id": "CP1", "review_date": "2025-12-10"}),
    (
        "XC1",
        "/strategy-discussions",
        {"discussion_id": "SD2", "discussion_date": "2026-03-20", "section_47_enquiry": True},
    ),
    (
        "XC1",
        "/section-47-outcomes",
        {"discussion_id": "SD2", "concluded_on": "2026-04-05", "outcome": "nfa"},
    ),
    ("XC1", "/child-protection-plan-reviews", {"plan_id": "CP1", "review_date": "2026-06-10"}),
    ("XC1", "/child-protection-plan-endings", {"plan_id": "CP1", "end_date": "2026-09-01"}),
]


def journeys(made: list[tuple[str, str, dict[str, Any]]] = HAND_MADE) -> list[Step]:
    """The hand-made children's commands, as the demo county would send them."""
    steps = []
    for child_id, path, body in made:
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


def message(*children: str, year: int = 2027) -> str:
    """A census message of the year ending 31 March `year` (2027: 2026-27)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        "<Message>\n"
        "  <Header>\n"
        "    <CollectionDetails>\n"
        "      <Collection>CIN</Collection>\n"
        f"      <Year>{year}</Year>\n"
        f"      <ReferenceDate>{year}-03-31</ReferenceDate>\n"
        "    </CollectionDetails>\n"
        "  </Header>\n"
        "  <Children>\n" + "".join(children) + "  </Children>\n</Message>\n"
    )


def child(child_id: str, *cin_details: str, ids: str = "", born: str = "2015-06-01") -> str:
    return (
        "    <Child>\n"
        "      <ChildIdentifiers>\n"
        f"        <LAchildID>{child_id}</LAchildID>\n{ids}"
        f"        <PersonBirthDate>{born}</PersonBirthDate>\n"
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


def test_a_number_that_is_not_ascii_digits_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    """'²' is a digit to str.isdigit, not a number to int: reported at its element."""
    xml = message(
        child("SUP", details(closed=False, extra=PROTECTION.replace(">0<", ">\u00b2<"))),
        child("NEG", details(closed=False, extra=PROTECTION.replace(">0<", ">-1<"))),
        child("GOOD", details(closed=False, extra=PROTECTION)),
    )
    plan = read_cin(write(tmp_path, xml), "Exeter")
    assert set(plan.children) == {"GOOD"}
    assert plan.problems == [
        Problem(
            FILE,
            line(xml, "<NumberOfPreviousCPP>\u00b2"),
            "NumberOfPreviousCPP",
            "not a number: '\u00b2'",
            "SUP",
        ),
        Problem(
            FILE,
            line(xml, "<NumberOfPreviousCPP>-1"),
            "NumberOfPreviousCPP",
            "not a number: '-1'",
            "NEG",
        ),
    ]


def test_a_refused_command_names_the_element_its_field_was_read_from(tmp_path: Path) -> None:
    """A service refuses a field of a body (referral_date: in the future); the data team is
    told the element (CINreferralDate)."""
    xml = message(child("CH1", details(referral="2027-01-05", closed=False, nfa="true")))
    plan = read_cin(write(tmp_path, xml), "Exeter")
    assert plan.problems == []
    [refused] = rehearsed(plan, TODAY).problems
    assert (refused.line, refused.field) == (line(xml, "<CINdetails>"), "CINreferralDate")
    origin = next(d for d in plan.children["CH1"] if d.step.path.endswith("/referrals"))
    assert element_of(origin, "referral_date") == "CINreferralDate"
    assert element_of(origin, "referral_id") == "referral_id"  # made by the reader


# -- several years' files ----------------------------------------------------------------------

LAST_YEAR = 2026  # the census of 2025-26
ICPC_NOT_REQUIRED = (
    "        <Section47>\n"
    "          <S47ActualStartDate>2025-02-12</S47ActualStartDate>\n"
    "          <ICPCnotRequired>true</ICPCnotRequired>\n"
    "        </Section47>\n"
)


def years(tmp_path: Path, this_year: bytes | str, last_year: bytes | str) -> list[Path]:
    """This year's file as a.xml and last year's as b.xml: the names sort the other way
    from the years."""
    return [write(tmp_path, this_year, "a.xml"), write(tmp_path, last_year, "b.xml")]


@pytest.mark.parametrize("names", [("a.xml", "b.xml"), ("b.xml", "a.xml")])
def test_the_demo_countys_two_years_read_together_in_any_name_order_export_the_same(
    tmp_path: Path, names: tuple[str, str]
) -> None:
    records, upns = demo_county()
    this_year = cin_census(records, YEAR, upns).xml
    last_year = cin_census(records, CollectionYear(2025), upns).xml
    paths = [write(tmp_path, this_year, names[0]), write(tmp_path, last_year, names[1])]
    plan = read_cins(sorted(paths), "Exeter")
    assert plan.problems == []
    assert plan.rows == this_year.count(b"<CINdetails>") + last_year.count(b"<CINdetails>")
    records_again, upns_again = decided(plan)
    assert cin_census(records_again, YEAR, upns_again).xml == this_year
    assert cin_census(records_again, CollectionYear(2025), upns_again).xml == last_year


def test_the_hand_made_children_over_two_years_export_both_years_the_same(
    tmp_path: Path,
) -> None:
    """Each year's file shows the child as it stood then (see ACROSS_YEARS; HAND_MADE's
    referral with no further action decided after the year began is in both)."""
    records, upns = records_from_steps(journeys(HAND_MADE + ACROSS_YEARS), TODAY)
    this_year = cin_census(records, YEAR, upns).xml
    last_year = cin_census(records, CollectionYear(2025), upns).xml
    assert last_year.count(b"<Child>") == 5
    for shown in (b"<ExpectedPersonBirthDate>2026-05-01", b"<CPPreviewDate>2025-12-10"):
        assert shown in last_year and shown not in this_year
    plan = read_cins(years(tmp_path, this_year, last_year), "Exeter")
    assert plan.problems == []
    records_again, upns_again = decided(plan)
    assert cin_census(records_again, YEAR, upns_again).xml == this_year
    assert cin_census(records_again, CollectionYear(2025), upns_again).xml == last_year


def test_a_child_in_two_years_files_gets_each_command_once_as_the_later_year_says(
    tmp_path: Path,
) -> None:
    """The same enquiry (no conference needed) in both years: one conclusion, dated by the
    later year; a ReferralSource corrected in the later year: one referral, the later's."""
    last = details("2025-02-10", "2A", closed=False, extra=ICPC_NOT_REQUIRED)
    this = details("2025-02-10", "6", closed=False, extra=ICPC_NOT_REQUIRED)
    paths = years(
        tmp_path,
        message(child("CH1", this), year=2027),
        message(child("CH1", last), year=LAST_YEAR),
    )
    plan = rehearsed(read_cins(paths, "Exeter"), TODAY)
    assert plan.problems == []
    commands = [(d.step.path.removeprefix("/children/CH1"), d) for d in plan.children["CH1"]]
    [referral] = [d for path, d in commands if path == "/referrals"]
    assert (referral.step.body["source"], referral.file) == ("6", "a.xml")
    [concluded] = [d for path, d in commands if path == "/section-47-outcomes"]
    assert concluded.step.body["concluded_on"] == "2026-04-01"
    assert concluded.file == "a.xml"


def test_what_only_an_earlier_year_shows_is_kept_and_its_problems_named_in_its_file(
    tmp_path: Path,
) -> None:
    """An assessment finished last year is not in this year's file: still imported, and a
    code of it not in the DfE's list is reported in last year's file; a date of birth that
    differs between the years is a problem naming both."""
    finished = (
        "        <Assessments>\n"
        "          <AssessmentActualStartDate>2025-02-11</AssessmentActualStartDate>\n"
        "          <AssessmentAuthorisationDate>2025-03-01</AssessmentAuthorisationDate>\n"
        "          <FactorsIdentifiedAtAssessment>\n"
        "            <AssessmentFactors>3B</AssessmentFactors>\n"
        "          </FactorsIdentifiedAtAssessment>\n"
        "        </Assessments>\n"
    )
    last = message(
        child("GOOD", details("2025-02-10", closed=False, extra=finished)),
        child("FACTOR", details("2025-02-10", closed=False, extra=finished.replace("3B", "8A"))),
        child("BORN", details("2025-02-10", closed=False)),
        year=LAST_YEAR,
    )
    this = message(
        child("GOOD", details("2025-02-10", closed=False)),
        child("FACTOR", details("2025-02-10", closed=False)),
        child("BORN", details("2025-02-10", closed=False), born="2015-06-02"),
    )
    plan = read_cins(years(tmp_path, this, last), "Exeter")
    assert set(plan.children) == {"GOOD"}
    assert plan.problems == [
        Problem(
            "b.xml",
            line(last, "<AssessmentFactors>8A"),
            "AssessmentFactors",
            "not a code of the DfE's list: '8A'",
            "FACTOR",
        ),
        Problem(
            "a.xml",
            line(this, "<PersonBirthDate>2015-06-02"),
            "PersonBirthDate",
            "2015-06-02 differs from PersonBirthDate 2015-06-01 in b.xml line "
            f"{line(last, '<PersonBirthDate>', 1, '<LAchildID>BORN')}: the child has one",
            "BORN",
        ),
    ]
    done = [d for d in plan.children["GOOD"] if d.step.path.endswith("/assessment-completions")]
    assert [(d.file, d.line, d.step.body["factors"]) for d in done] == [
        ("b.xml", line(last, "<AssessmentAuthorisationDate>"), ["3B"])
    ]

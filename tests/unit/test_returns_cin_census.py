"""The CIN census XML derived from children's facts (services/projections/returns/cin_census.py):
hand-built records, the XML parsed back and its elements checked value by value."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

from services.projections.returns.cin_census import CHILD, Census, cin_census
from services.projections.returns.facts import ChildRecord, CollectionYear, Fact

YEAR = CollectionYear(2026)  # 1 April 2026 - 31 March 2027


def fact(event_type: str, on: str, **details: Any) -> Fact:
    """A fact as the chronology holds it (days as ISO text)."""
    return Fact(
        event_id=uuid4(),
        event_type=event_type,
        occurred_on=date.fromisoformat(on),
        recorded_at=datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC),
        details=details,
    )


def record(child_id: str, *facts: Fact) -> ChildRecord:
    return ChildRecord(child_id=child_id, locality="Exeter", facts=facts)


def registered(born: str) -> Fact:
    return fact("ChildRegistered", "2026-12-01", date_of_birth=born, locality="Exeter")


def characteristics(on: str, sex: str = "2") -> Fact:
    return fact(
        "ChildCharacteristicsRecorded",
        on,
        recorded_on=on,
        sex=sex,
        ethnicity="WBRI",
        disabilities=["AUT", "LD"],
        unaccompanied_asylum_seeking=False,
    )


def referral(on: str, referral_id: str = "R1", source: str = "2A") -> Fact:
    return fact("ReferralReceived", on, referral_id=referral_id, referral_date=on, source=source)


def outcome(on: str, what: str, referral_id: str = "R1") -> Fact:
    return fact("ReferralOutcomeRecorded", on, referral_id=referral_id, decided_on=on, outcome=what)


def parse(census: Census) -> ET.Element:
    return ET.fromstring(census.xml)


def child(root: ET.Element, child_id: str) -> ET.Element:
    for found in root.iterfind("Children/Child"):
        if found.findtext("ChildIdentifiers/LAchildID") == child_id:
            return found
    raise AssertionError(f"{child_id} is not in the census")


def texts(element: ET.Element | None) -> dict[str, str]:
    """A group's simple elements: tag -> text."""
    assert element is not None
    return {e.tag: e.text or "" for e in element if len(e) == 0}


# -- a child in need: referral, assessment, plan, closure --------------------------------


def cin_child() -> tuple[ChildRecord, dict[str, Fact]]:
    used = {
        "born": registered("2015-06-01"),
        "chars": characteristics("2026-05-04"),
        "referral": referral("2026-05-04"),
        "outcome": outcome("2026-05-04", "assessment"),
        "started": fact(
            "AssessmentStarted", "2026-05-05", assessment_id="A1", start_date="2026-05-05"
        ),
        "done": fact(
            "AssessmentCompleted",
            "2026-06-10",
            assessment_id="A1",
            completion_date="2026-06-10",
            factors=["3B", "4B", "3B"],
        ),
        "plan": fact(
            "ChildInNeedPlanStarted",
            "2026-06-10",
            plan_id="CIN1",
            start_date="2026-06-10",
            primary_need="N5",
        ),
        "ended": fact(
            "ChildInNeedPlanEnded",
            "2026-11-20",
            plan_id="CIN1",
            end_date="2026-11-20",
            reason="RC7",
        ),
    }
    return record("C1", *used.values()), used


def test_a_referral_assessed_planned_and_closed_is_one_cin_details_with_its_dates_and_codes() -> (
    None
):
    rec, _ = cin_child()
    found = child(parse(cin_census([rec], YEAR, {"C1": "A878000000001"})), "C1")
    assert texts(found.find("ChildIdentifiers")) == {
        "LAchildID": "C1",
        "UPN": "A878000000001",
        "PersonBirthDate": "2015-06-01",
        "Sex": "F",
    }
    assert [e.tag for e in found.iterfind("ChildIdentifiers/*")][-1] == "Sex"
    assert found.findtext("ChildCharacteristics/Ethnicity") == "WBRI"
    assert [d.text for d in found.iterfind("ChildCharacteristics/Disabilities/Disability")] == [
        "AUT",
        "LD",
    ]
    [details] = found.findall("CINdetails")
    assert [e.tag for e in details] == [
        "CINreferralDate",
        "ReferralSource",
        "PrimaryNeedCode",
        "CINclosureDate",
        "ReasonForClosure",
        "Assessments",
        "CINPlanDates",
        "ReferralNFA",
    ]
    assert texts(details) == {
        "CINreferralDate": "2026-05-04",
        "ReferralSource": "2A",
        "PrimaryNeedCode": "N5",
        "CINclosureDate": "2026-11-20",
        "ReasonForClosure": "RC7",
        "ReferralNFA": "false",
    }
    assessment = details.find("Assessments")
    assert assessment is not None
    assert texts(assessment) == {
        "AssessmentActualStartDate": "2026-05-05",
        "AssessmentAuthorisationDate": "2026-06-10",
    }
    factors = assessment.iterfind("FactorsIdentifiedAtAssessment/AssessmentFactors")
    assert [f.text for f in factors] == ["3B", "4B"]  # each code once
    assert texts(details.find("CINPlanDates")) == {
        "CINPlanStartDate": "2026-06-10",
        "CINPlanEndDate": "2026-11-20",
    }


def test_what_happened_after_the_year_is_not_in_it() -> None:
    """The 2025 census (to 31 March 2026) of a child referred in March 2026: assessment under
    way at the year's end, no plan, no closure, no factors."""
    rec = record(
        "C2",
        registered("2012-01-01"),
        characteristics("2026-03-20"),
        referral("2026-03-20"),
        outcome("2026-03-20", "assessment"),
        fact("AssessmentStarted", "2026-03-20", assessment_id="A2", start_date="2026-03-20"),
        fact(
            "AssessmentCompleted",
            "2026-04-15",
            assessment_id="A2",
            completion_date="2026-04-15",
            factors=["1B"],
        ),
        fact(
            "ChildInNeedPlanStarted",
            "2026-04-15",
            plan_id="CIN2",
            start_date="2026-04-15",
            primary_need="N1",
        ),
    )
    [details] = child(parse(cin_census([rec], CollectionYear(2025), {})), "C2").findall(
        "CINdetails"
    )
    assert texts(details) == {
        "CINreferralDate": "2026-03-20",
        "ReferralSource": "2A",
        "ReferralNFA": "false",
    }
    assert [texts(a) for a in details.iterfind("Assessments")] == [
        {"AssessmentActualStartDate": "2026-03-20"}
    ]
    assert details.find("CINPlanDates") is None


# -- child protection: section 47, conference, plan and reviews ---------------------------


def cp_child() -> tuple[ChildRecord, dict[str, Fact]]:
    used = {
        "born": registered("2019-02-02"),
        "chars": characteristics("2026-07-01", sex="1"),
        "referral": referral("2026-07-01", source="6"),
        "outcome": outcome("2026-07-01", "s47"),
        "strategy": fact(
            "StrategyDiscussionHeld",
            "2026-07-02",
            discussion_id="SD1",
            discussion_date="2026-07-02",
            section_47_enquiry=True,
            icpc_due_date="2026-07-23",
        ),
        "assessment": fact(
            "AssessmentStarted", "2026-07-02", assessment_id="A3", start_date="2026-07-02"
        ),
        "concluded": fact(
            "Section47EnquiryConcluded",
            "2026-07-15",
            discussion_id="SD1",
            concluded_on="2026-07-15",
            outcome="icpc",
        ),
        "conference": fact(
            "InitialChildProtectionConferenceHeld",
            "2026-07-21",
            conference_date="2026-07-21",
            plan_required=True,
        ),
        # As the chronology had it before it kept the plan's id: its start carries no plan_id.
        "plan": fact(
            "ChildProtectionPlanStarted",
            "2026-07-21",
            category="NEG",
            start_date="2026-07-21",
            previous_plans=2,
        ),
        "review1": fact(
            "ChildProtectionPlanReviewed",
            "2026-10-15",
            plan_id="CP1",
            review_date="2026-10-15",
            next_review_due="2027-04-15",
        ),
        "review2": fact(
            "ChildProtectionPlanReviewed",
            "2027-03-30",
            plan_id="CP1",
            review_date="2027-03-30",
            next_review_due="2027-09-30",
        ),
        "ended": fact(
            "ChildProtectionPlanEnded",
            "2027-03-31",
            plan_id="CP1",
            end_date="2027-03-31",
            days_open=253,
        ),
    }
    after = fact(  # next year's: not in this census
        "ChildProtectionPlanReviewed",
        "2027-04-02",
        plan_id="CP1",
        review_date="2027-04-02",
        next_review_due="2027-10-02",
    )
    return record("C3", *used.values(), after), used


def test_a_section_47_and_a_child_protection_plan_with_its_reviews() -> None:
    rec, _ = cp_child()
    [details] = child(parse(cin_census([rec], YEAR, {})), "C3").findall("CINdetails")
    assert [e.tag for e in details] == [
        "CINreferralDate",
        "ReferralSource",
        "Assessments",
        "Section47",
        "ReferralNFA",
        "ChildProtectionPlans",
    ]
    assert texts(details) == {
        "CINreferralDate": "2026-07-01",
        "ReferralSource": "6",
        "ReferralNFA": "false",
    }  # no primary need: no child in need plan records one; the CP plan is still open
    assert texts(details.find("Section47")) == {
        "S47ActualStartDate": "2026-07-02",
        "InitialCPCtarget": "2026-07-23",
        "DateOfInitialCPC": "2026-07-21",
        "ICPCnotRequired": "false",
    }
    plan = details.find("ChildProtectionPlans")
    assert plan is not None
    assert texts(plan) == {
        "CPPstartDate": "2026-07-21",
        "CPPendDate": "2027-03-31",
        "InitialCategoryOfAbuse": "NEG",
        "LatestCategoryOfAbuse": "NEG",
        "NumberOfPreviousCPP": "2",
    }
    assert [r.text for r in plan.iterfind("Reviews/CPPreviewDate")] == [
        "2026-10-15",
        "2027-03-30",
    ]


def test_an_enquiry_that_needed_no_conference_says_so() -> None:
    rec = record(
        "C4",
        registered("2014-03-03"),
        characteristics("2026-09-01"),
        referral("2026-09-01"),
        outcome("2026-09-01", "s47"),
        fact(
            "StrategyDiscussionHeld",
            "2026-09-02",
            discussion_id="SD4",
            discussion_date="2026-09-02",
            section_47_enquiry=True,
            icpc_due_date="2026-09-23",
        ),
        fact(
            "Section47EnquiryConcluded",
            "2026-09-10",
            discussion_id="SD4",
            concluded_on="2026-09-10",
            outcome="cin",
        ),
    )
    found = child(parse(cin_census([rec], YEAR, {})), "C4")
    assert texts(found.find("CINdetails/Section47")) == {
        "S47ActualStartDate": "2026-09-02",
        "InitialCPCtarget": "2026-09-23",
        "ICPCnotRequired": "true",
    }


def test_child_protection_plans_pair_with_their_reviews_and_ends_by_id() -> None:
    """Plan CP2 starts the day CP1 ends, its start recorded first: by their ids CP1 gets its
    end and CP2 its review (as the last plan started, CP2 would have taken CP1's end)."""

    def started(plan_id: str, on: str, previous: int) -> Fact:
        return fact(
            "ChildProtectionPlanStarted",
            on,
            plan_id=plan_id,
            category="EMO",
            start_date=on,
            previous_plans=previous,
        )

    rec = record(
        "C5",
        registered("2016-01-01"),
        characteristics("2026-04-10"),
        referral("2026-04-10"),
        outcome("2026-04-10", "s47"),
        started("CP1", "2026-05-01", 0),
        started("CP2", "2026-09-01", 1),
        fact(
            "ChildProtectionPlanEnded",
            "2026-09-01",
            plan_id="CP1",
            end_date="2026-09-01",
            days_open=123,
        ),
        fact(
            "ChildProtectionPlanReviewed",
            "2026-11-20",
            plan_id="CP2",
            review_date="2026-11-20",
            next_review_due="2027-05-20",
        ),
    )
    found = child(parse(cin_census([rec], YEAR, {})), "C5")
    plans = [
        (texts(p), [r.text for r in p.iterfind("Reviews/CPPreviewDate")])
        for p in found.iterfind("CINdetails/ChildProtectionPlans")
    ]
    assert plans == [
        (
            {
                "CPPstartDate": "2026-05-01",
                "CPPendDate": "2026-09-01",
                "InitialCategoryOfAbuse": "EMO",
                "LatestCategoryOfAbuse": "EMO",
                "NumberOfPreviousCPP": "0",
            },
            [],
        ),
        (
            {
                "CPPstartDate": "2026-09-01",
                "InitialCategoryOfAbuse": "EMO",
                "LatestCategoryOfAbuse": "EMO",
                "NumberOfPreviousCPP": "1",
            },
            ["2026-11-20"],
        ),
    ]


# -- primary need and closure --------------------------------------------------------------


def assessed(assessment_id: str, start: str, done: str | None, need: str | None) -> list[Fact]:
    """An assessment, and its completion (with the primary need it found) if `done`."""
    facts = [
        fact("AssessmentStarted", start, assessment_id=assessment_id, start_date=start),
    ]
    if done is not None:
        facts.append(
            fact(
                "AssessmentCompleted",
                done,
                assessment_id=assessment_id,
                completion_date=done,
                factors=["2B"],
                primary_need=need,
            )
        )
    return facts


def closed(on: str, reason: str, referral_id: str = "R1") -> Fact:
    return fact("EpisodeOfNeedClosed", on, referral_id=referral_id, closed_on=on, reason=reason)


def test_with_no_child_in_need_plan_the_primary_need_is_the_assessments() -> None:
    first, done = assessed("A6", "2026-06-02", "2026-06-20", "N3")
    shut = closed("2026-06-21", "RC8")
    rec = record(
        "C6",
        registered("2013-05-05"),
        characteristics("2026-06-01"),
        referral("2026-06-01"),
        outcome("2026-06-01", "assessment"),
        first,
        done,
        shut,
    )
    census = cin_census([rec], YEAR, {})
    [details] = child(parse(census), "C6").findall("CINdetails")
    assert texts(details) == {
        "CINreferralDate": "2026-06-01",
        "ReferralSource": "2A",
        "PrimaryNeedCode": "N3",
        "CINclosureDate": "2026-06-21",
        "ReasonForClosure": "RC8",
        "ReferralNFA": "false",
    }
    [row] = census.rows
    assert row.events == tuple(
        f.event_id for f in (rec.facts[2], rec.facts[3], done, shut, first, *rec.facts[:2])
    )


def test_a_plans_primary_need_comes_before_the_assessments() -> None:
    rec, _ = cin_child()
    with_need = [
        fact(f.event_type, f.occurred_on.isoformat(), **{**f.details, "primary_need": "N1"})
        if f.event_type == "AssessmentCompleted"
        else f
        for f in rec.facts
    ]
    under_way = record(  # an assessment still under way at the year's end: no need known yet
        "C7",
        registered("2013-05-05"),
        characteristics("2027-03-01"),
        referral("2027-03-01"),
        outcome("2027-03-01", "assessment"),
        *assessed("A7", "2027-03-02", "2027-04-10", "N2"),
    )
    root = parse(cin_census([record("C1", *with_need), under_way], YEAR, {}))
    assert root.findtext("Children/Child/CINdetails/PrimaryNeedCode") == "N5"
    assert child(root, "C7").findtext("CINdetails/PrimaryNeedCode") is None


def test_a_recorded_closure_closes_an_episode_a_no_further_action_referral_included() -> None:
    nfa = record(
        "C8",
        registered("2011-02-02"),
        characteristics("2026-10-01"),
        referral("2026-10-01"),
        outcome("2026-10-01", "nfa"),
        closed("2026-10-02", "RC8"),
    )
    # A section 47 with no further action last year, closed then; referred again this year.
    again = record(
        "C9",
        registered("2011-02-02"),
        characteristics("2026-01-19"),
        referral("2026-01-19", referral_id="R0"),
        outcome("2026-01-19", "s47", referral_id="R0"),
        fact(
            "StrategyDiscussionHeld",
            "2026-01-19",
            discussion_id="SD9",
            discussion_date="2026-01-19",
            section_47_enquiry=True,
            icpc_due_date="2026-02-09",
        ),
        fact(
            "Section47EnquiryConcluded",
            "2026-01-28",
            discussion_id="SD9",
            concluded_on="2026-01-28",
            outcome="nfa",
        ),
        closed("2026-01-28", "RC7", referral_id="R0"),
        referral("2026-07-19", referral_id="R9"),
        outcome("2026-07-19", "assessment", referral_id="R9"),
        *assessed("A9", "2026-07-19", None, None),
    )
    root = parse(cin_census([nfa, again], YEAR, {}))
    assert [texts(d) for d in child(root, "C8").iterfind("CINdetails")] == [
        {
            "CINreferralDate": "2026-10-01",
            "ReferralSource": "2A",
            "CINclosureDate": "2026-10-02",
            "ReasonForClosure": "RC8",
            "ReferralNFA": "true",
        }
    ]
    assert [texts(d) for d in child(root, "C9").iterfind("CINdetails")] == [
        {"CINreferralDate": "2026-07-19", "ReferralSource": "2A", "ReferralNFA": "false"}
    ]
    # Without its closure, last year's episode would be open until the next referral.
    unclosed = record("C9", *(f for f in again.facts if f.event_type != "EpisodeOfNeedClosed"))
    assert [
        d.findtext("CINreferralDate")
        for d in child(parse(cin_census([unclosed], YEAR, {})), "C9").iterfind("CINdetails")
    ] == ["2026-01-19", "2026-07-19"]


def test_the_recorded_closure_comes_before_a_closure_the_last_plans_end_implies() -> None:
    rec, used = cin_child()
    shut = closed("2026-11-27", "RC3")
    census = cin_census([record("C1", *rec.facts, shut)], YEAR, {})
    details = child(parse(census), "C1").find("CINdetails")
    assert details is not None
    assert (details.findtext("CINclosureDate"), details.findtext("ReasonForClosure")) == (
        "2026-11-27",
        "RC3",
    )
    assert census.rows[0].events[:4] == tuple(
        f.event_id for f in (used["referral"], used["outcome"], used["plan"], shut)
    )


# -- sex, by the census year ---------------------------------------------------------------


def test_sex_is_m_f_or_u_from_2024_25_and_gender_current_before() -> None:
    def sex_of(sex: str, year: CollectionYear, unborn: bool = False) -> dict[str, str]:
        born = (
            fact(
                "UnbornChildRegistered",
                "2024-01-01",
                expected_date_of_birth="2024-06-01",
                locality="Exeter",
            )
            if unborn
            else registered("2015-01-01")
        )
        rec = record("S1", born, characteristics("2024-01-01", sex=sex), referral("2024-01-01"))
        ids = texts(child(parse(cin_census([rec], year, {})), "S1").find("ChildIdentifiers"))
        return {k: v for k, v in ids.items() if k in ("Sex", "GenderCurrent")}

    old = CollectionYear(2023)  # to 31 March 2024
    assert [sex_of(s, YEAR) for s in ("1", "2", "0", "9")] == [
        {"Sex": "M"},
        {"Sex": "F"},
        {"Sex": "U"},
        {"Sex": "U"},
    ]
    assert [sex_of(s, old) for s in ("1", "2", "9")] == [
        {"GenderCurrent": "1"},
        {"GenderCurrent": "2"},
        {"GenderCurrent": "9"},
    ]
    # An unborn child's sex is not known, whatever was recorded (rule 8750).
    assert sex_of("2", old, unborn=True) == {"GenderCurrent": "0"}
    assert sex_of("2", CollectionYear(2024), unborn=True) == {"Sex": "U"}


# -- who is in the census ------------------------------------------------------------------


def test_children_outside_the_year_are_absent() -> None:
    closed_before = record(
        "OLD",
        registered("2010-01-01"),
        characteristics("2025-05-01"),
        referral("2025-05-01"),
        fact(
            "ChildInNeedPlanStarted",
            "2025-06-01",
            plan_id="P",
            start_date="2025-06-01",
            primary_need="N4",
        ),
        fact(
            "ChildInNeedPlanEnded", "2026-02-01", plan_id="P", end_date="2026-02-01", reason="RC7"
        ),
    )
    referred_after = record(
        "NEW", registered("2010-01-01"), characteristics("2027-04-02"), referral("2027-04-02")
    )
    never_referred = record(
        "CARE",
        registered("2011-01-01"),
        fact("PeriodOfCareStarted", "2026-05-01", start_date="2026-05-01", legal_status="C2"),
    )
    rec, _ = cin_child()
    root = parse(cin_census([referred_after, closed_before, never_referred, rec], YEAR, {}))
    assert [c.findtext("ChildIdentifiers/LAchildID") for c in root.iterfind("Children/Child")] == [
        "C1"
    ]


def test_a_referral_with_no_further_action_and_an_unborn_child() -> None:
    rec = record(
        "U1",
        fact(
            "UnbornChildRegistered",
            "2026-12-01",
            expected_date_of_birth="2027-05-01",
            locality="Exeter",
        ),
        characteristics("2027-01-10", sex="0"),
        referral("2027-01-10", source="3B"),
        outcome("2027-01-11", "nfa"),
    )
    found = child(parse(cin_census([rec], YEAR, {})), "U1")
    assert texts(found.find("ChildIdentifiers")) == {
        "LAchildID": "U1",
        "UPNunknown": "UN1",  # not of school age: no UPN to hold
        "ExpectedPersonBirthDate": "2027-05-01",
        "Sex": "U",
    }
    assert [texts(d) for d in found.iterfind("CINdetails")] == [
        {"CINreferralDate": "2027-01-10", "ReferralSource": "3B", "ReferralNFA": "true"}
    ]


# -- provenance and the header -------------------------------------------------------------


def test_each_cin_details_row_names_the_facts_it_was_made_from() -> None:
    cin, cin_used = cin_child()
    cp, cp_used = cp_child()
    census = cin_census([cp, cin], YEAR, {})
    assert CHILD == "LAchildID"
    assert [dict(r.values) for r in census.rows] == [
        {CHILD: "C1", "CINreferralDate": "2026-05-04"},
        {CHILD: "C3", "CINreferralDate": "2026-07-01"},
    ]
    u = cin_used
    assert census.rows[0].events == tuple(
        f.event_id
        for f in (
            u["referral"],
            u["outcome"],
            u["plan"],
            u["ended"],
            u["started"],
            u["done"],
            u["born"],
            u["chars"],
        )
    )
    u = cp_used
    assert census.rows[1].events == tuple(
        f.event_id
        for f in (
            u["referral"],
            u["outcome"],
            u["assessment"],
            u["strategy"],
            u["concluded"],
            u["conference"],
            u["plan"],
            u["ended"],
            u["review1"],
            u["review2"],
            u["born"],
            u["chars"],
        )
    )


def test_the_header_names_the_census_year_and_the_council() -> None:
    rec, _ = cin_child()
    root = parse(cin_census([rec], YEAR, {}, la="201"))
    assert texts(root.find("Header/CollectionDetails")) == {
        "Collection": "CIN",
        "Year": "2027",
        "ReferenceDate": "2027-03-31",
    }
    assert texts(root.find("Header/Source")) == {
        "SourceLevel": "L",
        "LEA": "201",
        "SoftwareCode": "childrens-services-platform",
        "Release": "0.1.0",
        "SerialNo": "001",
        "DateTime": "2026-12-01T09:30:15+00:00",
    }
    assert cin_census([rec], YEAR, {}).xml.startswith(b"<?xml version='1.0' encoding='utf-8'?>")


def test_an_assessment_under_way_takes_the_need_the_referral_was_accepted_for() -> None:
    [started] = assessed("A9", "2027-03-10", None, None)
    accepted = fact(
        "ReferralOutcomeRecorded",
        "2027-03-09",
        referral_id="R1",
        decided_on="2027-03-09",
        outcome="assessment",
        primary_need="N4",
    )
    rec = record(
        "C9",
        registered("2012-01-01"),
        characteristics("2027-03-09"),
        referral("2027-03-09"),
        accepted,
        started,
    )
    census = cin_census([rec], YEAR, {})
    [details] = child(parse(census), "C9").findall("CINdetails")
    assert details.findtext("PrimaryNeedCode") == "N4"
    assert accepted.event_id in census.rows[0].events


def test_a_school_age_child_without_a_upn_is_a_gap_not_a_code() -> None:
    pupil = record("P1", registered("2012-01-01"), referral("2026-06-01"))
    toddler = record("T1", registered("2024-01-01"), referral("2026-06-01"))
    root = parse(cin_census([pupil, toddler], YEAR, {"P1": "H801200001001"}))
    assert texts(child(root, "P1").find("ChildIdentifiers"))["UPN"] == "H801200001001"
    toddler_ids = texts(child(root, "T1").find("ChildIdentifiers"))
    assert toddler_ids["UPNunknown"] == "UN1" and "UPN" not in toddler_ids
    no_upn = parse(cin_census([pupil], YEAR, {}))
    assert {"UPN", "UPNunknown"}.isdisjoint(texts(child(no_upn, "P1").find("ChildIdentifiers")))


def test_a_child_looked_after_with_no_assessment_takes_the_need_care_began_for() -> None:
    care = fact(
        "PeriodOfCareStarted",
        "2026-05-02",
        start_date="2026-05-02",
        legal_status="C2",
        category_of_need="N4",
    )
    rec = record("K1", registered("2015-01-01"), referral("2026-05-01"), care)
    census = cin_census([rec], YEAR, {"K1": "H801200001001"})
    [details] = child(parse(census), "K1").findall("CINdetails")
    assert details.findtext("PrimaryNeedCode") == "N4"
    assert care.event_id in census.rows[0].events

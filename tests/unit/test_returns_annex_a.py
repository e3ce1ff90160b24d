"""Ofsted's Annex A lists, derived from hand-built facts: who is on each list as at a day, the
values Ofsted's data map expects, the facts each row was made from, and the workbook."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import openpyxl
import pytest

from services.projections.returns.annex_a import LISTS, annex_a, workbook
from services.projections.returns.facts import ChildRecord, Fact, Row

AS_AT = date(2026, 12, 1)  # "the six months before" start on 1 June 2026
SAMPLE = (
    Path(__file__).resolve().parents[2]
    / ".venv-returns/lib/python3.11/site-packages/liiatools/spec/annex_a/samples/Annex_A.xlsx"
)


def fact(event_type: str, day: str, **details: Any) -> Fact:
    return Fact(
        event_id=uuid4(),
        event_type=event_type,
        occurred_on=date.fromisoformat(day),
        recorded_at=datetime(2026, 12, 1, 20, tzinfo=UTC),
        details=details,
    )


def child(child_id: str, *facts: Fact) -> ChildRecord:
    """A child's record, facts oldest first (a day's in the order given)."""
    return ChildRecord(child_id, "Exeter", tuple(sorted(facts, key=lambda f: f.occurred_on)))


def identity(born: str = "2015-03-04", **about: Any) -> tuple[Fact, Fact]:
    """Registration (recorded on the day, as the demo's migration did) and characteristics."""
    characteristics = {
        "sex": "2",
        "ethnicity": "WBRI",
        "disabilities": ["NONE"],
        "unaccompanied_asylum_seeking": False,
    } | about
    return (
        fact("ChildRegistered", "2026-12-01", date_of_birth=born, locality="Exeter"),
        fact(
            "ChildCharacteristicsRecorded",
            "2025-01-01",
            recorded_on="2025-01-01",
            **characteristics,
        ),
    )


def only(rows: list[Row]) -> Row:
    assert len(rows) == 1, rows
    return rows[0]


def ids(*facts: Fact) -> tuple[Any, ...]:
    return tuple(f.event_id for f in facts)


# -- Lists 3 and 4: a referral and its assessment ----------------------------------------------


def referred() -> tuple[ChildRecord, dict[str, Fact]]:
    born, about = identity()
    f = {
        "contact": fact(
            "FrontDoorContactReceived",
            "2026-08-31",
            contact_id="CT1",
            contact_date="2026-08-31",
            source="6",
            outcome="referral",
        ),
        "referral": fact(
            "ReferralReceived",
            "2026-09-01",
            referral_id="R2",
            referral_date="2026-09-01",
            source="6",
        ),
        "outcome": fact(
            "ReferralOutcomeRecorded",
            "2026-09-01",
            referral_id="R2",
            decided_on="2026-09-01",
            outcome="assessment",
        ),
        "allocated": fact(
            "SocialWorkerAllocated",
            "2026-09-01",
            allocated_on="2026-09-01",
            team_id="T-EX-CIN",
            worker_id="SW-EX-01",
        ),
        "started": fact(
            "AssessmentStarted",
            "2026-09-01",
            assessment_id="A1",
            start_date="2026-09-01",
            due_date="2026-11-03",
        ),
        "visit": fact(
            "StatutoryVisitRecorded",
            "2026-09-10",
            visit_date="2026-09-10",
            plan_type="CIN",
            seen=True,
            seen_alone=True,
            visitor_id="SW-EX-01",
        ),
        "completed": fact(
            "AssessmentCompleted",
            "2026-10-10",
            assessment_id="A1",
            completion_date="2026-10-10",
            working_days_taken=28,
            within_timescale=True,
        ),
        "plan": fact(
            "ChildInNeedPlanStarted",
            "2026-10-10",
            plan_id="CIN1",
            start_date="2026-10-10",
            primary_need="N1",
        ),
        "born": born,
        "about": about,
    }
    earlier = fact(  # a year before: counted among the last twelve months' referrals
        "ReferralReceived", "2025-12-01", referral_id="R1", referral_date="2025-12-01", source="1A"
    )
    return child("C-1", earlier, *f.values()), f


def test_a_referral_in_the_period_is_on_list_3_with_its_date_source_and_outcome() -> None:
    record, f = referred()
    row = only(annex_a([record], AS_AT, {})["referrals"])
    assert dict(row.values) == {
        "Child Unique ID": "C-1",
        "Gender": "b) Female",
        "Ethnicity": "a) WBRI",
        "Date of Birth": "04/03/2015",
        "Age": "11",
        "Date of Referral": "01/09/2026",
        "Referral Source": "q) 6: Police",
        "Referral NFA?": "b) No",
        "Number of Referrals in Last 12 Months": "1",
        "Allocated Team": "T-EX-CIN",
        "Allocated Worker": "SW-EX-01",
    }
    assert row.events == ids(f["referral"], f["outcome"], f["allocated"], f["born"], f["about"])


def test_its_assessment_is_on_list_4_with_its_dates_and_what_followed() -> None:
    record, f = referred()
    row = only(annex_a([record], AS_AT, {})["assessments"])
    assert dict(row.values) == {
        "Child Unique ID": "C-1",
        "Gender": "b) Female",
        "Ethnicity": "a) WBRI",
        "Date of Birth": "04/03/2015",
        "Age": "11",
        "Does the Child have a Disability": "b) No",
        "Continuous Assessment Start Date": "01/09/2026",
        "Child Seen During Continuous Assessment": "a) Yes",
        "Continuous Assessment Date of Authorisation": "10/10/2026",
        "Was the child assessed as requiring LA children's social care support?": "a) Yes",
        "Allocated Team": "T-EX-CIN",
        "Allocated Worker": "SW-EX-01",
    }
    assert row.events == ids(
        f["started"], f["completed"], f["visit"], f["plan"], f["allocated"], f["born"], f["about"]
    )


def test_the_contact_and_the_open_plan_are_on_lists_1_and_6() -> None:
    record, _ = referred()
    lists = annex_a([record], AS_AT, {})
    contact = only(lists["contacts"])
    assert (contact["Date of Contact"], contact["Contact Source"]) == ("31/08/2026", "q) 6: Police")
    need = only(lists["children_in_need"])
    assert need["CIN Start Date"] == "01/09/2026"  # the referral that led to the services
    assert need["Primary Need Code"] == "N1 - Abuse or neglect"
    assert need["Date Child Was Last Seen"] == "10/09/2026"
    assert (need["CIN Closure Date"], need["Case Status"]) == ("", "c) Child in need plan")


def test_facts_after_the_day_or_before_the_six_months_are_absent() -> None:
    born, about = identity()
    referral = fact(  # the first day of the six months counts
        "ReferralReceived", "2026-06-01", referral_id="R2", referral_date="2026-06-01", source="8"
    )
    record = child(
        "C-2",
        born,
        about,
        fact(
            "ReferralReceived",
            "2026-05-31",
            referral_id="R1",
            referral_date="2026-05-31",
            source="8",
        ),
        referral,
        fact(
            "ReferralReceived",
            "2026-12-02",
            referral_id="R3",
            referral_date="2026-12-02",
            source="8",
        ),
        fact("AssessmentStarted", "2026-12-02", assessment_id="A3", start_date="2026-12-02"),
    )
    lists = annex_a([record], AS_AT, {})
    assert [r["Date of Referral"] for r in lists["referrals"]] == ["01/06/2026"]
    assert only(lists["referrals"])["Referral NFA?"] == ""  # nothing known to follow it yet
    assert only(lists["referrals"])["Number of Referrals in Last 12 Months"] == "1"
    assert lists["assessments"] == []
    assert lists["children_in_need"] == []


def test_the_upns_are_not_written() -> None:
    record, _ = referred()
    lists = annex_a([record], AS_AT, {"C-1": "H801200001001"})
    written = {v for rows in lists.values() for r in rows for v in r.values.values()}
    assert "H801200001001" not in written


# -- List 5 and List 7: section 47 enquiries and child protection plans ------------------------


def test_an_enquiry_its_conference_and_the_plan_are_on_lists_5_and_7() -> None:
    born, about = identity(disabilities=["AUT"])
    discussion = fact(
        "StrategyDiscussionHeld",
        "2026-07-01",
        discussion_id="SD1",
        discussion_date="2026-07-01",
        section_47_enquiry=True,
        icpc_due_date="2026-07-22",
    )
    concluded = fact(
        "Section47EnquiryConcluded",
        "2026-07-10",
        discussion_id="SD1",
        concluded_on="2026-07-10",
        outcome="icpc",
    )
    conference = fact(
        "InitialChildProtectionConferenceHeld",
        "2026-07-20",
        conference_date="2026-07-20",
        plan_required=True,
        within_timescale=True,
    )
    plan = fact(  # the chronology keeps no plan id for a plan's start
        "ChildProtectionPlanStarted",
        "2026-07-20",
        category="EMO",
        start_date="2026-07-20",
        previous_plans=1,
    )
    review = fact(
        "ChildProtectionPlanReviewed", "2026-10-15", plan_id="CP9", review_date="2026-10-15"
    )
    visit = fact(
        "StatutoryVisitRecorded",
        "2026-11-20",
        visit_date="2026-11-20",
        plan_type="CP",
        seen=True,
        seen_alone=False,
    )
    ended = fact("ChildProtectionPlanEnded", "2026-11-25", plan_id="CP9", end_date="2026-11-25")
    record = child(
        "C-3", born, about, discussion, concluded, conference, plan, review, visit, ended
    )
    lists = annex_a([record], AS_AT, {})

    enquiry = only(lists["section_47"])
    assert enquiry["Does the Child have a Disability"] == "a) Yes"
    assert enquiry["Strategy discussion initiating Section 47 Enquiry Start Date"] == "01/07/2026"
    assert enquiry["Was an Initial Child Protection Conference deemed unnecessary?"] == "b) No"
    assert enquiry["Date of Initial Child Protection Conference"] == "20/07/2026"
    assert (
        enquiry["Did the Initial Child Protection Conference Result in a Child Protection Plan"]
        == "a) Yes"
    )
    assert enquiry.events[:3] == ids(discussion, concluded, conference)

    row = only(lists["child_protection"])
    assert row["Child Protection Plan Start Date"] == "20/07/2026"
    assert (
        row["Initial Category of Abuse"] == row["Latest Category of Abuse"] == "d) Emotional abuse"
    )
    assert row["Date of the Last Statutory Visit"] == "20/11/2026"
    assert row["Was the Child Seen Alone?"] == "b) No"
    assert row["Date of latest review conference"] == "15/10/2026"
    assert row["Child Protection Plan End Date"] == "25/11/2026"
    assert row["Number of Previous Child Protection Plans"] == "1"
    assert row.events[:4] == ids(plan, ended, visit, review)


def test_a_plan_that_ended_before_the_six_months_is_absent() -> None:
    born, about = identity()
    record = child(
        "C-4",
        born,
        about,
        fact(
            "ChildProtectionPlanStarted",
            "2025-09-01",
            category="NEG",
            start_date="2025-09-01",
            previous_plans=0,
        ),
        fact("ChildProtectionPlanEnded", "2026-05-31", plan_id="CP1", end_date="2026-05-31"),
    )
    assert annex_a([record], AS_AT, {})["child_protection"] == []


# -- List 8: children in care ------------------------------------------------------------------


def in_care() -> tuple[ChildRecord, dict[str, Fact]]:
    born, about = identity(born="2012-05-06", sex="1", ethnicity="MWBA")
    f = {
        "started": fact(
            "PeriodOfCareStarted",
            "2026-02-01",
            start_date="2026-02-01",
            legal_status="C1",
            first_review_due="2026-02-28",
        ),
        "placed": fact(
            "PlacementStarted",
            "2026-02-01",
            placement_id="P1",
            start_date="2026-02-01",
            placement_type="U6",
            provider="PR1",
            in_council_area=True,
            postcode="EX4",
        ),
        "status": fact(
            "LegalStatusChanged", "2026-05-01", change_date="2026-05-01", legal_status="C2"
        ),
        "moved": fact(
            "PlacementChanged",
            "2026-07-01",
            placement_id="P2",
            previous_placement_id="P1",
            start_date="2026-07-01",
            placement_type="K2",
            provider="PR4",
            in_council_area=False,
            postcode="TA1",
            reason="CHILD",
        ),
        "review": fact(
            "LookedAfterReviewHeld",
            "2026-08-01",
            review_date="2026-08-01",
            next_review_due="2027-02-01",
        ),
        "plan": fact(
            "PermanencePlanRecorded",
            "2026-08-01",
            recorded_on="2026-08-01",
            plan="long_term_fostering",
        ),
        "visit": fact(
            "StatutoryVisitRecorded",
            "2026-11-02",
            visit_date="2026-11-02",
            plan_type="CLA",
            seen=True,
            seen_alone=True,
        ),
        "missing": fact(
            "MissingEpisodeRecorded",
            "2026-09-01",
            started_on="2026-09-01",
            ended_on="2026-09-02",
            kind="M",
        ),
        "interview": fact(
            "ReturnHomeInterviewOffered",
            "2026-09-03",
            offered_on="2026-09-03",
            missing_started_on="2026-09-01",
            accepted=False,
            within_72_hours=True,
        ),
        "allocated": fact(
            "SocialWorkerAllocated",
            "2026-02-01",
            allocated_on="2026-02-01",
            team_id="T-EX-CIC",
            worker_id="SW-9",
        ),
        "born": born,
        "about": about,
    }
    return child("C-5", *f.values()), f


def test_a_child_in_care_is_on_list_8_with_status_placement_and_missing_episodes() -> None:
    record, f = in_care()
    row = only(annex_a([record], AS_AT, {})["children_in_care"])
    expected = {
        "Child Unique ID": "C-5",
        "Gender": "a) Male",
        "Ethnicity": "g) MWBA",
        "Date of Birth": "06/05/2012",
        "Age": "14",
        "Unaccompanied Asylum Seeking Child (UASC) within the Last 12 Months (Y/N))": "b) No",
        "Does the Child have a Disability": "b) No",
        "Date Started to be Looked After": "01/02/2026",
        "Is this a second or subsequent period of being a Looked After Child within the last 12 "
        "months (Y/N)": "b) No",
        "Start date of current legal status": "01/05/2026",
        "Child's Legal Status": "C2: FCO",
        "Date of Latest Statutory Review": "01/08/2026",
        "Date of Last Social Work Visit": "02/11/2026",
        "What is the permanence plan for this child?": "f) Long-term fostering",
        "Number of Placements in the Last 12 months": "2",
        "Start Date of Most Recent Placement": "01/07/2026",
        "Placement Type": "p) K2: Children's Homes",
        "Placement Provider": "e) PR4: Private provision",
        "Placement postcode": "TA1",
        "Placement Location": "b) Out",
        "Number of Episodes the Child has been \u2018Missing\u2019 from their Placement in the "
        "last 12 months": "1",
        "Number of Episodes the Child has been \u2018Absent\u2019 from their Placement in the "
        "last 12 months": "0",
        "Was the child offered a Return Interview after their last missing episode (Y/N)?": (
            "a) Yes"
        ),
        "Did the child accept a Return Interview after their last missing episode (Y/N)?": "b) No",
        "Allocated Team": "T-EX-CIC",
        "Allocated Worker": "SW-9",
    }
    assert {k: v for k, v in row.values.items() if v} == expected
    for fact_ in f.values():
        assert fact_.event_id in row.events


def test_care_that_ended_before_the_six_months_and_short_breaks_are_absent() -> None:
    born, about = identity()
    left = child(
        "C-6",
        born,
        about,
        fact("PeriodOfCareStarted", "2025-01-01", start_date="2025-01-01", legal_status="V2"),
        fact("PeriodOfCareEnded", "2026-05-01", end_date="2026-05-01", reason="E4A"),
    )
    breaks = child(
        "C-7",
        born,
        about,
        fact("PeriodOfCareStarted", "2026-10-01", start_date="2026-10-01", legal_status="V3"),
    )
    recently = child(
        "C-8",
        born,
        about,
        fact("PeriodOfCareStarted", "2025-01-01", start_date="2025-01-01", legal_status="V2"),
        fact("PeriodOfCareEnded", "2026-07-01", end_date="2026-07-01", reason="E4A"),
    )
    rows = annex_a([left, breaks, recently], AS_AT, {})["children_in_care"]
    row = only(rows)
    assert row["Child Unique ID"] == "C-8"
    assert row["Date Ceased to be Looked After"] == "01/07/2026"
    assert row["Reason Ceased to be Looked After"] == (
        "e) E4A: Returned home to live with parents or relatives - part of planning"
    )


# -- List 9: care leavers ----------------------------------------------------------------------


def test_a_care_leaver_is_on_list_9_and_one_aged_25_is_not() -> None:
    born, about = identity(born="2006-01-02")
    status = fact(
        "CareLeaverStatusRecorded", "2024-01-02", recorded_on="2024-01-02", status="former_relevant"
    )
    adviser = fact(
        "PersonalAdviserAllocated", "2024-01-02", allocated_on="2024-01-02", adviser_id="PA-3"
    )
    touch = fact("ContactRecorded", "2026-11-01", contact_date="2026-11-01", in_touch="YES")
    home = fact(
        "CareLeaverAccommodationRecorded",
        "2026-03-01",
        recorded_on="2026-03-01",
        accommodation="D",
        suitability="1",
    )
    reassessed = fact(
        "SuitabilityReassessed", "2026-06-01", reassessed_on="2026-06-01", suitability="2"
    )
    activity = fact(
        "EETActivityRecorded", "2026-10-01", recorded_on="2026-10-01", activity="F4", neet=False
    )
    leaver = child("C-9", born, about, status, adviser, touch, home, reassessed, activity)
    older_born, older_about = identity(born="2001-11-30")
    older = child("C-10", older_born, older_about, status)

    row = only(annex_a([leaver, older], AS_AT, {})["care_leavers"])
    assert {k: v for k, v in row.values.items() if v} == {
        "Child Unique ID": "C-9",
        "Gender": "b) Female",
        "Ethnicity": "a) WBRI",
        "Date of Birth": "02/01/2006",
        "Age": "20",
        "Does the Child have a Disability": "b) No",
        "Allocated Worker": "PA-3",
        "Eligibility Category": "b) Former relevant child",
        "LA in Touch": "a) Yes",
        "Type of Accommodation": (
            "D: Semi-independent, transitional accommodation and self-contained accommodation"
        ),
        "Suitability of Accommodation": "b) Unsuitable",
        "Activity Status": "F4",  # a national code the data map has no entry for: written bare
    }
    assert row.events == ids(status, adviser, touch, home, reassessed, activity, born, about)


# -- List 10: adoption -------------------------------------------------------------------------


def test_a_child_with_a_standing_adoption_decision_is_on_list_10() -> None:
    born, about = identity(born="2022-02-02")
    started = fact("PeriodOfCareStarted", "2025-06-01", start_date="2025-06-01", legal_status="E1")
    decided = fact("AdoptionDecisionMade", "2025-09-01", decided_on="2025-09-01")
    matched = fact("AdoptionMatched", "2026-03-01", matched_on="2026-03-01", number_of_adopters=2)
    placed = fact(
        "PlacementChanged",
        "2026-04-01",
        placement_id="P2",
        start_date="2026-04-01",
        placement_type="A6",
    )
    record = child("C-11", born, about, started, decided, matched, placed)
    row = only(annex_a([record], AS_AT, {})["adoption"])
    assert {k: v for k, v in row.values.items() if v} == {
        "Child Unique ID": "C-11",
        "Gender": "b) Female",
        "Ethnicity": "a) WBRI",
        "Date of Birth": "02/02/2022",
        "Age of Child (Years)": "4",
        "Does the Child have a Disability": "b) No",
        "Date the Child Entered Care": "01/06/2025",
        "Date of Decision that Child Should be Placed for Adoption": "01/09/2025",
        "Date of Placement Order": "01/06/2025",
        "Date of Matching Child and Prospective Adopters": "01/03/2026",
        "Date Placed for Adoption": "01/04/2026",
    }


def test_an_adoption_decision_reversed_over_a_year_ago_is_absent() -> None:
    born, about = identity(born="2022-02-02")
    record = child(
        "C-12",
        born,
        about,
        fact("AdoptionDecisionMade", "2025-01-01", decided_on="2025-01-01"),
        fact("AdoptionDecisionReversed", "2025-11-30", reversed_on="2025-11-30", reason="RD3"),
    )
    assert annex_a([record], AS_AT, {})["adoption"] == []


# -- the workbook ------------------------------------------------------------------------------


def reopened(data: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(data))


def test_the_workbook_has_every_list_in_order_with_its_headings_dates_and_numbers() -> None:
    record, _ = referred()
    book = reopened(workbook(annex_a([record], AS_AT, {})))
    assert book.sheetnames == [f"List {n}" for n in range(1, 12)]
    for title, headings in LISTS.values():
        assert [c.value for c in book[title][1]] == list(headings)
    referrals = book["List 3"]
    assert referrals.max_row == 2
    values = dict(zip(LISTS["referrals"][1], (c.value for c in referrals[2]), strict=True))
    assert values["Date of Referral"] == datetime(2026, 9, 1)  # a real date
    assert referrals["F2"].number_format == "dd/mm/yyyy"
    assert values["Age"] == 11 and values["Number of Referrals in Last 12 Months"] == 1
    assert values["Referral NFA?"] == "b) No"
    assert book["List 2"].max_row == 1  # no rows: its headings all the same


@pytest.mark.skipif(not SAMPLE.exists(), reason="liiatools (.venv-returns) is not installed")
def test_the_headings_are_those_of_ofsteds_template_as_liiatools_ships_it() -> None:
    sample = openpyxl.load_workbook(SAMPLE, read_only=True)
    assert [title for title, _ in LISTS.values()] == sample.sheetnames
    for title, headings in LISTS.values():
        first = next(sample[title].iter_rows(min_row=1, max_row=1, values_only=True))
        assert tuple(first) == headings, title

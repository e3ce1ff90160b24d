"""The SSDA903 return derived from a child's facts (services/projections/returns/ssda903.py):
who is in each table and every value of its rows, the facts each row was made from, and the
CSV the DfE takes. Hand-built records of a few facts each; no I/O."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from contracts.case_events.codes import SocialWorkerChangeReason
from services.projections.returns.facts import ChildRecord, CollectionYear, Fact, Row
from services.projections.returns.ssda903 import TABLES, files, ssda903, to_csv, with_upns

YEAR = CollectionYear(2026)  # 1 April 2026 - 31 March 2027
UPNS = {"C-1": "H801200001001"}
_ids: dict[str, UUID] = {}


def fact(name: str, event_type: str, on: date, **details: Any) -> Fact:
    """A fact with a stable id per `name` (so a test can name the facts it expects)."""
    event_id = _ids.setdefault(name, UUID(int=len(_ids) + 1))
    return Fact(
        event_id=event_id,
        event_type=event_type,
        occurred_on=on,
        recorded_at=datetime(on.year, on.month, on.day, 12),
        details={k: v.isoformat() if isinstance(v, date) else v for k, v in details.items()},
    )


def ids(*names: str) -> tuple[UUID, ...]:
    return tuple(_ids[n] for n in names)


def registered(born: date = date(2015, 3, 2), sex: str = "1") -> list[Fact]:
    return [
        fact("registered", "ChildRegistered", born, date_of_birth=born, locality="Exeter"),
        fact(
            "traits",
            "ChildCharacteristicsRecorded",
            born,
            recorded_on=born,
            sex=sex,
            ethnicity="WBRI",
            disabilities=["NONE"],
            unaccompanied_asylum_seeking=False,
        ),
    ]


def in_care(start: date, legal_status: str = "C1", **need: str) -> list[Fact]:
    """A period of care starting `start`, in a foster placement from the same day (with the
    category of need it started with, if given: `category_of_need="N1"`)."""
    return [
        fact(
            "care",
            "PeriodOfCareStarted",
            start,
            start_date=start,
            legal_status=legal_status,
            home_postcode="EX4",
            **need,
        ),
        fact(
            "placed",
            "PlacementStarted",
            start,
            placement_id="PL-0",
            start_date=start,
            placement_type="U6",
            provider="PR1",
            in_council_area=True,
            postcode="EX2",
        ),
    ]


def moved(name: str, on: date, placement_type: str, reason: str = "CARPL") -> Fact:
    return fact(
        name,
        "PlacementChanged",
        on,
        placement_id=f"PL-{name}",
        start_date=on,
        placement_type=placement_type,
        provider="PR4",
        in_council_area=True,
        postcode="EX16",
        reason=reason,
    )


def legal(name: str, on: date, status: str) -> Fact:
    return fact(name, "LegalStatusChanged", on, change_date=on, legal_status=status)


def record(*facts: Fact, child_id: str = "C-1") -> ChildRecord:
    ordered = sorted(facts, key=lambda f: (f.occurred_on, f.recorded_at))
    return ChildRecord(child_id=child_id, locality="Exeter", facts=tuple(ordered))


def values(rows: list[Row], *columns: str) -> list[tuple[str, ...]]:
    return [tuple(r[c] for c in columns) for r in rows]


EPISODE = ("DECOM", "RNE", "LS", "PLACE", "PLACE_PROVIDER", "DEC", "REC", "REASON_PLACE_CHANGE")


# -- Episodes ---------------------------------------------------------------------------------


def test_a_move_and_a_change_of_legal_status_each_start_an_episode() -> None:
    child = record(
        *registered(),
        *in_care(date(2026, 5, 1)),
        moved("move", date(2026, 7, 1), "U4"),
        legal("order", date(2026, 9, 1), "C2"),
    )

    episodes = ssda903([child], YEAR, UPNS)["Episodes"]

    assert values(episodes, *EPISODE) == [
        ("01/05/2026", "S", "C1", "U6", "PR1", "01/07/2026", "X1", "CARPL"),
        ("01/07/2026", "P", "C1", "U4", "PR4", "01/09/2026", "X1", ""),
        ("01/09/2026", "L", "C2", "U4", "PR4", "", "", ""),
    ]
    assert values(episodes, "CHILD", "HOME_POST", "PL_POST", "CIN", "URN") == [
        ("C-1", "EX4", "EX2", "", ""),
        ("C-1", "EX4", "EX16", "", ""),
        ("C-1", "EX4", "EX16", "", ""),
    ]


def test_both_changing_on_one_day_is_b_and_with_the_same_carers_t_or_u() -> None:
    child = record(
        *registered(),
        *in_care(date(2026, 5, 1)),
        moved("move", date(2026, 6, 1), "U4", reason="CHILD"),
        legal("order", date(2026, 6, 1), "C2"),
        legal("placement order", date(2026, 8, 1), "E1"),
        moved("for adoption", date(2026, 8, 1), "A5"),
        moved("same carers", date(2026, 10, 1), "A3"),
    )

    episodes = ssda903([child], YEAR, UPNS)["Episodes"]

    assert values(episodes, "DECOM", "RNE", "LS", "PLACE", "REASON_PLACE_CHANGE") == [
        ("01/05/2026", "S", "C1", "U6", "CHILD"),
        ("01/06/2026", "B", "C2", "U4", "CARPL"),
        ("01/08/2026", "U", "E1", "A5", "CARPL"),
        ("01/10/2026", "T", "E1", "A3", ""),
    ]


def test_the_end_of_care_gives_the_last_episode_its_day_and_reason() -> None:
    ended = fact(
        "ended", "PeriodOfCareEnded", date(2026, 10, 1), end_date=date(2026, 10, 1), reason="E4A"
    )
    child = record(*registered(), *in_care(date(2026, 5, 1)), ended)

    episodes = ssda903([child], YEAR, UPNS)["Episodes"]

    assert values(episodes, *EPISODE) == [
        ("01/05/2026", "S", "C1", "U6", "PR1", "01/10/2026", "E4A", ""),
    ]
    assert episodes[0].events == ids("care", "placed", "ended")


def test_last_years_return_does_not_know_what_happened_after_31_march() -> None:
    child = record(
        *registered(),
        *in_care(date(2026, 2, 1)),
        moved("move", date(2026, 5, 1), "U4"),
        fact(
            "ended", "PeriodOfCareEnded", date(2026, 9, 1), end_date=date(2026, 9, 1), reason="E13"
        ),
    )

    last_year = ssda903([child], YEAR.previous, UPNS)["Episodes"]
    this_year = ssda903([child], YEAR, UPNS)["Episodes"]

    assert values(last_year, *EPISODE) == [("01/02/2026", "S", "C1", "U6", "PR1", "", "", "")]
    assert values(this_year, *EPISODE) == [
        ("01/02/2026", "S", "C1", "U6", "PR1", "01/05/2026", "X1", "CARPL"),
        ("01/05/2026", "P", "C1", "U4", "PR4", "01/09/2026", "E13", ""),
    ]


def test_an_episode_row_names_the_facts_it_was_made_from() -> None:
    child = record(
        *registered(),
        *in_care(date(2026, 5, 1)),
        moved("move", date(2026, 7, 1), "U4"),
    )

    first, second = ssda903([child], YEAR, UPNS)["Episodes"]

    assert first.events == ids("care", "placed", "move")
    assert second.events == ids("care", "move")


def test_the_category_of_need_the_period_started_with_is_every_episodes_cin() -> None:
    child = record(
        *registered(),
        *in_care(date(2026, 5, 1), category_of_need="N2"),
        moved("move", date(2026, 7, 1), "U4"),
        legal("order", date(2026, 9, 1), "C2"),
    )

    episodes = ssda903([child], YEAR, UPNS)["Episodes"]

    # Rule 504: each episode's CIN is the one of the start of its period of care.
    assert values(episodes, "DECOM", "RNE", "CIN") == [
        ("01/05/2026", "S", "N2"),
        ("01/07/2026", "P", "N2"),
        ("01/09/2026", "L", "N2"),
    ]
    assert episodes[1].events == ids("care", "move", "order")


def test_a_period_recorded_without_its_category_takes_the_open_child_in_need_plans() -> None:
    plan = fact(
        "cin plan",
        "ChildInNeedPlanStarted",
        date(2026, 2, 1),
        plan_id="CIN-1",
        start_date=date(2026, 2, 1),
        primary_need="N4",
    )
    old_row = record(*registered(), plan, *in_care(date(2026, 5, 1)))
    census_only = record(  # N9 is the CIN census's only: not an SSDA903 category
        *registered(), plan, *in_care(date(2026, 5, 1), category_of_need="N9"), child_id="C-2"
    )

    episodes = ssda903([old_row, census_only], YEAR, UPNS)["Episodes"]

    assert values(episodes, "CHILD", "CIN") == [("C-1", "N4"), ("C-2", "N4")]
    assert episodes[0].events == ids("care", "cin plan", "placed")


def test_the_urn_is_the_placements_and_a_temporary_placement_has_none() -> None:
    ofsted = fact(
        "home",
        "PlacementChanged",
        date(2026, 6, 1),
        placement_id="PL-home",
        start_date=date(2026, 6, 1),
        placement_type="K2",
        provider="PR2",
        in_council_area=True,
        postcode="EX16",
        reason="CHILD",
        urn="SC123456",
    )
    child = record(
        *registered(),
        *in_care(date(2026, 5, 1)),
        ofsted,
        moved("hospital", date(2026, 8, 1), "T1"),
    )

    episodes = ssda903([child], YEAR, UPNS)["Episodes"]

    assert values(episodes, "DECOM", "PLACE", "URN") == [
        ("01/05/2026", "U6", ""),
        ("01/06/2026", "K2", "SC123456"),
        ("01/08/2026", "T1", ""),
    ]


# -- who is in the return ---------------------------------------------------------------------


def test_a_child_looked_after_only_before_the_year_is_not_in_it() -> None:
    ended = fact(
        "ended", "PeriodOfCareEnded", date(2026, 1, 10), end_date=date(2026, 1, 10), reason="E4A"
    )
    child = record(*registered(), *in_care(date(2025, 6, 1)), ended)
    not_in_care = record(*registered(), child_id="C-2")

    tables = ssda903([child, not_in_care], YEAR, UPNS)

    assert all(rows == [] for rows in tables.values())
    assert values(ssda903([child], YEAR.previous, UPNS)["Header"], "CHILD") == [("C-1",)]


def test_the_header_has_sex_date_of_birth_ethnicity_and_the_given_upn() -> None:
    child = record(*registered(sex="2"), *in_care(date(2026, 5, 1)))

    (header,) = ssda903([child], YEAR, UPNS)["Header"]

    assert header.values == {
        "CHILD": "C-1",
        "SEX": "F",
        "DOB": "02/03/2015",
        "ETHNIC": "WBRI",
        "UPN": "H801200001001",
        "MOTHER": "",
        "MC_DOB": "",
    }
    assert header.events == ids("registered", "traits")


def test_sex_is_m_f_or_u_from_2024_25_and_1_or_2_before() -> None:
    boy = record(*registered(sex="1"), *in_care(date(2023, 5, 1)))
    indeterminate = record(*registered(sex="9"), *in_care(date(2023, 5, 1)), child_id="C-2")

    for year, expected in (
        (YEAR, [("C-1", "M"), ("C-2", "U")]),
        (CollectionYear(2024), [("C-1", "M"), ("C-2", "U")]),
        (CollectionYear(2023), [("C-1", "1"), ("C-2", "")]),  # no code: the validator says so
    ):
        assert values(ssda903([boy, indeterminate], year, UPNS)["Header"], "CHILD", "SEX") == (
            expected
        )


def motherhood(
    name: str, on: date, mother: bool | None, first_child: date | None = None, sex: str = "2"
) -> Fact:
    """A recording of the child's characteristics with her motherhood (None: not recorded)."""
    return fact(
        name,
        "ChildCharacteristicsRecorded",
        on,
        recorded_on=on,
        sex=sex,
        ethnicity="WBRI",
        disabilities=["NONE"],
        unaccompanied_asylum_seeking=False,
        mother=mother,
        first_child_born_on=first_child,
    )


GIRL = date(2010, 3, 2)


def test_a_looked_after_girls_motherhood_and_her_first_childs_birth() -> None:
    mother = record(
        *registered(born=GIRL, sex="2"),
        *in_care(date(2026, 5, 1)),
        motherhood("a mother", date(2026, 6, 1), True, date(2026, 5, 20)),
    )

    (header,) = ssda903([mother], YEAR, UPNS)["Header"]

    assert (header["SEX"], header["MOTHER"], header["MC_DOB"]) == ("F", "1", "20/05/2026")
    assert header.events == ids("registered", "a mother")


def test_motherhood_is_as_at_the_day_she_left_care_and_stands_until_recorded_otherwise() -> None:
    left = fact(
        "left", "PeriodOfCareEnded", date(2026, 8, 1), end_date=date(2026, 8, 1), reason="E4A"
    )
    after_care = record(  # her child was born after she ceased to be looked after (rule 625)
        *registered(born=GIRL, sex="2"),
        *in_care(date(2026, 5, 1)),
        left,
        motherhood("mother later", date(2026, 10, 5), True, date(2026, 10, 1)),
    )
    not_a_mother = record(  # a later recording that leaves it out does not unmake it
        *registered(born=GIRL, sex="2"),
        *in_care(date(2026, 5, 1)),
        motherhood("not a mother", date(2026, 5, 1), False),
        motherhood("left out", date(2026, 9, 1), None),
        child_id="C-2",
    )
    unrecorded = record(*registered(born=GIRL, sex="2"), *in_care(date(2026, 5, 1)), child_id="C-3")

    headers = ssda903([after_care, not_a_mother, unrecorded], YEAR, UPNS)["Header"]

    assert values(headers, "CHILD", "MOTHER", "MC_DOB") == [
        ("C-1", "0", ""),
        ("C-2", "0", ""),
        ("C-3", "", ""),  # rule 393 names the gap
    ]
    assert headers[1].events == ids("registered", "left out", "not a mother")


def test_no_motherhood_for_a_boy_short_breaks_only_or_a_care_leaver_only_in_oc3() -> None:
    boy = record(
        *registered(born=date(2012, 3, 2), sex="1"),
        motherhood("boy", date(2026, 5, 1), None, sex="1"),
        *in_care(date(2026, 5, 1)),
    )
    short_breaks = record(
        *registered(born=GIRL, sex="2"),
        *in_care(date(2026, 5, 1), legal_status="V3"),
        motherhood("breaks", date(2026, 6, 1), True, date(2026, 1, 3)),
        child_id="C-2",
    )
    leaver = record(
        *registered(born=date(2008, 9, 10), sex="2"),
        fact(
            "relevant",
            "CareLeaverStatusRecorded",
            date(2024, 9, 15),
            recorded_on=date(2024, 9, 15),
            status="relevant",
        ),
        motherhood("leaver", date(2026, 6, 1), True, date(2026, 1, 3)),
        child_id="C-3",
    )

    tables = ssda903([boy, short_breaks, leaver], YEAR, UPNS)

    assert values(tables["Header"], "CHILD", "SEX", "MOTHER", "MC_DOB") == [
        ("C-1", "M", "", ""),
        ("C-2", "F", "", ""),  # rule 399
        ("C-3", "F", "", ""),  # rule 628 (no MOTHER), so none of 612's MC_DOB
    ]
    assert values(tables["OC3"], "CHILD") == [("C-3",)]


# -- the other tables ---------------------------------------------------------------------------


def test_a_review_in_the_year_with_how_the_child_took_part() -> None:
    child = record(
        *registered(),
        *in_care(date(2026, 3, 1)),
        fact(
            "last year's",
            "LookedAfterReviewHeld",
            date(2026, 3, 25),
            review_date=date(2026, 3, 25),
            participation="PN1",
        ),
        fact(
            "review",
            "LookedAfterReviewHeld",
            date(2026, 6, 20),
            review_date=date(2026, 6, 20),
            participation="PN6",
        ),
        fact(
            "unrecorded", "LookedAfterReviewHeld", date(2026, 9, 20), review_date=date(2026, 9, 20)
        ),
    )

    reviews = ssda903([child], YEAR, UPNS)["Reviews"]

    assert [r.values for r in reviews] == [
        {"CHILD": "C-1", "DOB": "02/03/2015", "REVIEW": "20/06/2026", "REVIEW_CODE": "PN6"},
        {"CHILD": "C-1", "DOB": "02/03/2015", "REVIEW": "20/09/2026", "REVIEW_CODE": ""},
    ]
    assert reviews[0].events == ids("review", "registered")


def test_oc2_for_a_child_in_care_all_year_with_the_outcomes_for_their_age() -> None:
    child = record(
        *registered(born=date(2014, 6, 1)),
        *in_care(date(2025, 11, 1)),
        fact(
            "outcomes",
            "HealthOutcomesRecorded",
            date(2026, 11, 5),
            recorded_on=date(2026, 11, 5),
            convicted=False,
            health_check=True,
            immunisations=True,
            teeth_check=False,
            health_assessment=True,
            substance_misuse=True,
            intervention_received=False,
            intervention_offered=True,
            sdq_score=14,
        ),
    )
    started_this_year = record(*registered(), *in_care(date(2026, 5, 1)), child_id="C-2")

    (oc2,) = ssda903([child, started_this_year], YEAR, UPNS)["OC2"]

    assert oc2.values == {
        "CHILD": "C-1",
        "DOB": "01/06/2014",
        "SDQ_SCORE": "14",
        "SDQ_REASON": "",
        "CONVICTED": "0",  # 12 at 31 March
        "HEALTH_CHECK": "",  # only for the under-5s
        "IMMUNISATIONS": "1",
        "TEETH_CHECK": "0",
        "HEALTH_ASSESSMENT": "1",
        "SUBSTANCE_MISUSE": "1",
        "INTERVENTION_RECEIVED": "0",
        "INTERVENTION_OFFERED": "1",
    }
    assert oc2.events == ids("outcomes", "registered")


def test_oc3_for_a_care_leaver_around_their_18th_birthday() -> None:
    born = date(2008, 9, 10)
    leaver = record(
        *registered(born=born),
        fact(
            "status",
            "CareLeaverStatusRecorded",
            date(2024, 9, 15),
            recorded_on=date(2024, 9, 15),
            status="relevant",
        ),
        fact(
            "activity",
            "EETActivityRecorded",
            date(2026, 1, 5),
            recorded_on=date(2026, 1, 5),
            activity="F2",
            neet=False,
        ),
        fact(
            "home",
            "CareLeaverAccommodationRecorded",
            date(2025, 12, 1),
            recorded_on=date(2025, 12, 1),
            accommodation="T",
            suitability="1",
        ),
        fact(
            "unsuitable",
            "SuitabilityReassessed",
            date(2026, 8, 1),
            reassessed_on=date(2026, 8, 1),
            suitability="2",
        ),
        fact(
            "too early",
            "ContactRecorded",
            date(2026, 5, 1),
            contact_date=date(2026, 5, 1),
            in_touch="NO",
        ),
        fact(
            "contact",
            "ContactRecorded",
            date(2026, 8, 20),
            contact_date=date(2026, 8, 20),
            in_touch="YES",
        ),
        fact(
            "missed",
            "ContactRecorded",
            date(2026, 9, 30),
            contact_date=date(2026, 9, 30),
            in_touch="NO",
        ),
    )

    tables = ssda903([leaver], YEAR, UPNS)

    (oc3,) = tables["OC3"]
    assert oc3.values == {
        "CHILD": "C-1",
        "DOB": "10/09/2008",
        "IN_TOUCH": "YES",
        "ACTIV": "F2",
        "ACCOM": "T2",
    }
    assert oc3.events == ids("status", "registered", "contact", "activity", "home", "unsuitable")
    assert values(tables["Header"], "CHILD", "MOTHER") == [("C-1", "")]
    assert tables["Episodes"] == []


def test_missing_and_social_worker_episodes_in_the_year() -> None:
    child = record(
        *registered(),
        fact(
            "worker",
            "SocialWorkerAllocated",
            date(2026, 2, 1),
            allocated_on=date(2026, 2, 1),
            worker_id="SW-1",
            team_id="T-1",
        ),
        *in_care(date(2026, 5, 1)),
        fact(
            "next worker",
            "SocialWorkerAllocated",
            date(2026, 6, 1),
            allocated_on=date(2026, 6, 1),
            worker_id="SW-2",
            team_id="T-1",
            reason="LEFTRL",
        ),
        fact(
            "missing",
            "MissingEpisodeRecorded",
            date(2026, 7, 3),
            started_on=date(2026, 7, 3),
            ended_on=date(2026, 7, 5),
            kind="M",
        ),
        fact(
            "away",
            "MissingEpisodeRecorded",
            date(2026, 8, 3),
            started_on=date(2026, 8, 3),
            kind="A",
        ),
    )

    tables = ssda903([child], YEAR, UPNS)

    assert values(tables["Missing"], "MISSING", "MIS_START", "MIS_END") == [
        ("M", "03/07/2026", "05/07/2026"),
        ("A", "03/08/2026", ""),
    ]
    assert values(tables["SWEpisodes"], "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON") == [
        ("SW-1", "01/02/2026", "01/06/2026", "FCONTA"),
        ("SW-2", "01/06/2026", "", "LEFTRL"),
    ]
    assert tables["SWEpisodes"][0].events == ids("worker", "next worker", "registered")


def test_a_first_contact_is_the_first_allocation_and_the_first_after_a_gap() -> None:
    first = SocialWorkerChangeReason.FIRST_CONTACT.value
    child = record(
        *registered(),
        *in_care(date(2026, 5, 1)),
        fact(
            "first",
            "SocialWorkerAllocated",
            date(2026, 5, 1),
            allocated_on=date(2026, 5, 1),
            worker_id="SW-1",
            team_id="T-1",
            reason=first,
        ),
        fact(
            "first ended",
            "SocialWorkerAllocationEnded",
            date(2026, 6, 1),
            ended_on=date(2026, 6, 1),
            worker_id="SW-1",
        ),
        fact(
            "again",
            "SocialWorkerAllocated",
            date(2026, 9, 1),
            allocated_on=date(2026, 9, 1),
            worker_id="SW-2",
            team_id="T-1",
        ),
    )

    rows = ssda903([child], YEAR, UPNS)["SWEpisodes"]

    assert values(rows, "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON") == [
        ("SW-1", "01/05/2026", "01/06/2026", "FCONTA"),
        ("SW-2", "01/09/2026", "", "FCONTA"),
    ]


def test_previous_permanence_for_a_child_starting_care_blank_when_not_recorded() -> None:
    with_order = record(
        *registered(),
        *in_care(date(2026, 5, 1)),
        fact(
            "order",
            "PreviousPermanenceRecorded",
            date(2026, 5, 1),
            recorded_on=date(2026, 5, 1),
            arrangement="P2",
            order_date=date(2021, 3, 20),
            local_authority="879",
        ),
    )
    unrecorded = record(*registered(), *in_care(date(2026, 5, 1)), child_id="C-2")

    rows = ssda903([with_order, unrecorded], YEAR, UPNS)["PrevPerm"]

    assert values(rows, "CHILD", "PREV_PERM", "LA_PERM", "DATE_PERM") == [
        ("C-1", "P2", "879", "20/03/2021"),
        ("C-2", "", "", ""),
    ]


def test_adoption_decisions_their_reversal_and_an_adoption() -> None:
    adopted = fact(
        "adopted", "PeriodOfCareEnded", date(2027, 2, 1), end_date=date(2027, 2, 1), reason="E11"
    )
    child = record(
        *registered(born=date(2022, 1, 5)),
        *in_care(date(2025, 10, 1), legal_status="C2"),
        fact("decision", "AdoptionDecisionMade", date(2026, 1, 10), decided_on=date(2026, 1, 10)),
        fact(
            "match",
            "AdoptionMatched",
            date(2026, 9, 1),
            matched_on=date(2026, 9, 1),
            adopted_by_foster_carer=False,
            number_of_adopters=2,
            adopters_sex="MF",
            adopters_legal_status="L11",
        ),
        adopted,
    )
    reversed_ = record(
        *registered(),
        *in_care(date(2025, 10, 1)),
        fact("decided", "AdoptionDecisionMade", date(2026, 2, 1), decided_on=date(2026, 2, 1)),
        fact(
            "reversed",
            "AdoptionDecisionReversed",
            date(2026, 6, 1),
            reversed_on=date(2026, 6, 1),
            reason="RD1",
        ),
        child_id="C-2",
    )

    tables = ssda903([child, reversed_], YEAR, UPNS)

    assert values(
        tables["AD1"],
        "CHILD",
        "DATE_INT",
        "DATE_MATCH",
        "FOSTER_CARE",
        "NB_ADOPTR",
        "SEX_ADOPTR",
        "LS_ADOPTR",
    ) == [("C-1", "10/01/2026", "01/09/2026", "0", "2", "MF", "L11")]
    assert values(
        tables["PlacedAdoption"],
        "CHILD",
        "DATE_PLACED",
        "DATE_PLACED_CEASED",
        "REASON_PLACED_CEASED",
    ) == [
        ("C-1", "10/01/2026", "", ""),
        ("C-2", "01/02/2026", "01/06/2026", "RD1"),
    ]


def test_uasc_and_deprivation_of_liberty() -> None:
    child = record(
        fact(
            "registered",
            "ChildRegistered",
            date(2010, 4, 19),
            date_of_birth=date(2010, 4, 19),
            locality="Exeter",
        ),
        fact(
            "uasc",
            "ChildCharacteristicsRecorded",
            date(2026, 5, 1),
            recorded_on=date(2026, 5, 1),
            sex="1",
            ethnicity="BAFR",
            unaccompanied_asylum_seeking=True,
        ),
        *in_care(date(2026, 5, 1), legal_status="V2"),
        fact(
            "dolo",
            "DeprivationOfLibertyAuthorised",
            date(2026, 7, 3),
            authorised_on=date(2026, 7, 3),
            basis="inherent_jurisdiction",
            expires_on=date(2027, 1, 1),
        ),
    )

    tables = ssda903([child], YEAR, UPNS)

    # UASC status ceases at 18 at the latest (rule 304): the date the DfE expects.
    assert [r.values for r in tables["UASC"]] == [
        {"CHILD": "C-1", "SEX": "M", "DOB": "19/04/2010", "DUC": "19/04/2028"}
    ]
    assert values(tables["DoLo"], "DOLO_START", "DOLO_END") == [("03/07/2026", "01/01/2027")]


# -- the files ----------------------------------------------------------------------------------


def test_to_csv_writes_the_header_line_then_each_row_in_the_dfe_order() -> None:
    row = Row(
        values={"CHILD": "C-1", "REVIEW_CODE": "PN1", "REVIEW": "20/06/2026", "DOB": "02/03/2015"}
    )

    assert to_csv("Reviews", [row]) == (
        "CHILD,DOB,REVIEW,REVIEW_CODE\r\nC-1,02/03/2015,20/06/2026,PN1\r\n"
    )


def test_files_has_every_table_an_empty_one_as_its_header_line() -> None:
    out = files({"Reviews": []})

    assert len(out) == len(TABLES)
    assert out["header.csv"] == "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\r\n"
    assert out["episodes.csv"].startswith("CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,")
    assert out["dolo.csv"] == "CHILD,DOB,DOLO_START,DOLO_END\r\n"


def test_no_oc3_row_for_a_young_person_still_looked_after_on_the_birthday() -> None:
    born = date(2009, 6, 10)  # 17 on 10 June 2026, in care since 2025
    still_in_care = record(
        *registered(born=born),
        fact(
            "status",
            "CareLeaverStatusRecorded",
            date(2025, 7, 1),
            recorded_on=date(2025, 7, 1),
            status="eligible",
        ),
        *in_care(date(2025, 1, 6)),
    )

    tables = ssda903([still_in_care], YEAR, UPNS)

    assert values(tables["Episodes"], "CHILD") == [("C-1",)]  # in the return
    assert tables["OC3"] == []  # rule 1007: no care leaver information; 131-133: no blank row


def test_a_return_made_during_the_year_is_the_return_so_far() -> None:
    """As at 1 December 2026: an 18th birthday in September has had its period (OC3), one in
    February has not."""
    september = record(
        *registered(born=date(2008, 9, 10)),
        fact("left", "CareLeaverStatusRecorded", date(2024, 9, 15), status="relevant"),
        fact("seen", "ContactRecorded", date(2026, 8, 20), in_touch="YES"),
    )
    february = record(
        *registered(born=date(2009, 2, 10)),
        fact("left", "CareLeaverStatusRecorded", date(2025, 2, 15), status="relevant"),
        child_id="C-2",
    )
    in_care_all_year = record(*registered(), *in_care(date(2024, 1, 6)), child_id="C-3")
    children = [september, february, in_care_all_year]

    so_far = ssda903(children, YEAR, UPNS, as_at=date(2026, 12, 1))
    at_year_end = ssda903(children, YEAR, UPNS)

    assert values(so_far["OC3"], "CHILD", "IN_TOUCH") == [("C-1", "YES")]
    assert values(at_year_end["OC3"], "CHILD") == [("C-1",), ("C-2",)]
    assert values(so_far["OC2"], "CHILD") == values(at_year_end["OC2"], "CHILD") == [("C-3",)]


def test_upns_go_into_the_header_of_tables_derived_without_them() -> None:
    pupil = record(*registered(born=date(2012, 3, 2)), *in_care(date(2026, 5, 1)))
    toddler = record(*registered(born=date(2024, 3, 2)), *in_care(date(2026, 5, 1)), child_id="C-2")
    without = ssda903([pupil, toddler], YEAR, {})
    filled = with_upns(without, {"C-1": "H801200001001"})
    assert values(without["Header"], "CHILD", "UPN") == [("C-1", ""), ("C-2", "UN1")]
    assert values(filled["Header"], "CHILD", "UPN") == [("C-1", "H801200001001"), ("C-2", "UN1")]
    assert filled["Header"] == ssda903([pupil, toddler], YEAR, {"C-1": "H801200001001"})["Header"]
    assert filled["Episodes"] == without["Episodes"]

"""Data minimisation for partner agencies, as pure functions (no I/O)."""

from __future__ import annotations

import json
from datetime import date
from enum import Enum
from typing import Annotated, get_args, get_origin
from uuid import uuid4

import pytest

from contracts.accommodation.events import PlacementStarted
from contracts.case_events.codes import (
    AdoptersLegalStatus,
    AdoptersSex,
    ChildProtectionCategory,
    ContactOutcome,
    DeprivationOfLibertyBasis,
    Disability,
    Ethnicity,
    LegalStatus,
    MissingKind,
    PlanType,
    ReferralSource,
    Section47Outcome,
    Sex,
)
from contracts.case_events.events import (
    PERSONAL_FIELDS,
    AdoptionMatched,
    ChildBorn,
    ChildCharacteristicsRecorded,
    ChildProtectionPlanStarted,
    ChildRegistered,
    DeprivationOfLibertyAuthorised,
    FrontDoorContactReceived,
    HealthOutcomesRecorded,
    MissingEpisodeRecorded,
    PeriodOfCareStarted,
    PersonalDetailsRecorded,
    ReferralReceived,
    ReturnHomeInterviewOffered,
    Section47EnquiryConcluded,
    SocialWorkerAllocated,
    SocialWorkerAllocationEnded,
    StatutoryVisitRecorded,
    UnbornChildRegistered,
)
from contracts.topics import domain_events
from services.partner_feeds.sharing import (
    DATES,
    ENTITLEMENTS,
    NEVER_SHARED,
    NOT_SHARED,
    PSEUDONYMISED,
    Precision,
    coarsened,
    shares_of,
)
from shared.envelope import Actor, Agency, DomainEvent, Envelope
from shared.eventstore import CommandContext, make_envelopes

KEY = b"unit-test-key"
CTX = CommandContext(
    actor=Actor(user_id="sw", agency=Agency.COUNCIL, role="social_worker"), correlation_id=uuid4()
)


def envelope(event: DomainEvent, stream: str = "C-000123") -> Envelope:
    [found] = make_envelopes(stream, 0, [event], CTX)
    return found


def plan_started(previous_plans: int = 0) -> ChildProtectionPlanStarted:
    """A child protection plan started: an event police, health and schools are sent."""
    return ChildProtectionPlanStarted(
        child_id="C-000123",
        plan_id="CP-1",
        category=ChildProtectionCategory.NEGLECT,
        start_date=date(2026, 3, 1),
        previous_plans=previous_plans,
    )


def test_only_entitled_agencies_receive_an_event_and_only_the_listed_fields() -> None:
    event = plan_started(previous_plans=2)
    shares = {m.agency: m for m in shares_of(envelope(event), event, KEY)}
    assert set(shares) == {Agency.POLICE, Agency.HEALTH, Agency.SCHOOLS}
    # Each gets the plan start only as precisely as it needs, so none can join on the date.
    assert shares[Agency.POLICE].facts == {}  # not the category, nor the date
    assert shares[Agency.HEALTH].facts == {"category": "NEG"}
    assert shares[Agency.SCHOOLS].facts == {"start_date": "2026-W09"}  # the week
    for message in shares.values():
        assert "previous_plans" not in message.facts and "plan_id" not in message.facts
        assert "2026-03-01" not in json.dumps(message.body())


def test_a_date_of_birth_is_shared_coarsened_per_agency_under_a_pseudonym_per_agency() -> None:
    event = ChildRegistered(child_id="C-000123", date_of_birth=date(2012, 5, 17), locality="Exeter")
    shares = shares_of(envelope(event), event, KEY)
    # Not schools: that a child is known to the council is not a pupil's business until the
    # child has a social worker or a plan, and the year group is on the school's own roll.
    assert {m.agency for m in shares} == {Agency.HEALTH, Agency.CAREERS}
    facts = {m.agency: m.facts for m in shares}
    assert facts[Agency.HEALTH] == {"date_of_birth": "2012-05", "locality": "Exeter"}
    assert facts[Agency.CAREERS] == {"date_of_birth": "2011/12"}  # the academic year
    for message in shares:
        body = json.dumps(message.body())
        assert "C-000123" not in body and "2012-05-17" not in body
    assert len({m.subject for m in shares}) == 2  # unlinkable across agencies
    again = shares_of(envelope(event), event, KEY)
    assert [m.subject for m in again] == [m.subject for m in shares]  # stable per agency
    assert {m.subject for m in shares_of(envelope(event), event, b"other")}.isdisjoint(
        m.subject for m in shares
    )


def test_what_no_agency_needs_is_shared_with_none() -> None:
    event = ReferralReceived(referral_id="R1", referral_date=date(2026, 1, 5), source="6")
    assert shares_of(envelope(event), event, KEY) == []


def test_the_child_of_an_event_without_a_child_id_is_its_stream() -> None:
    event = MissingEpisodeRecorded(
        started_on=date(2026, 2, 1), ended_on=None, kind=MissingKind.MISSING
    )
    [police] = shares_of(envelope(event, "C-000999"), event, KEY)
    assert police.agency == Agency.POLICE
    assert police.facts == {"started_on": "2026-02-01", "ended_on": None, "kind": "M"}


def test_every_entitlement_names_real_fields_of_real_events() -> None:
    types = domain_events().types()
    for agency, entitled in ENTITLEMENTS.items():
        for event_type, fields in entitled.items():
            assert event_type in types, (agency, event_type)
            assert set(fields) <= set(types[event_type].model_fields), (agency, event_type)


# What a field an agency receives may be: a code, never free text. A string must be held to a
# pattern (a locality), or sent only as the agency's pseudonym (PSEUDONYMISED).
CODES = (bool, int, date, Enum, type(None))


def test_every_field_an_agency_receives_is_a_code_never_free_text() -> None:
    """Free text (a theme, a title, a note) could name anyone, and no unit test could know it
    does not: whatever the event, an agency is sent codes, numbers, dates and pseudonyms."""
    types = domain_events().types()
    free_text = []
    for agency, entitled in ENTITLEMENTS.items():
        for event_type, fields in entitled.items():
            for f in fields:
                info = types[event_type].model_fields[f]
                kinds = get_args(info.annotation) or (info.annotation,)
                for kind in kinds:
                    if get_origin(kind) is Annotated:  # an optional date's bounds
                        kind = get_args(kind)[0]
                    patterned = any(getattr(m, "pattern", None) for m in info.metadata)
                    if kind is str and (patterned or f in PSEUDONYMISED):
                        continue
                    if not (isinstance(kind, type) and issubclass(kind, CODES)):
                        free_text.append(f"{agency.value} {event_type}.{f}: {kind}")
    assert free_text == []


def test_every_date_an_agency_receives_has_a_declared_precision_and_reason() -> None:
    """No date reaches a partner at a precision nobody chose: each is in DATES with why, and a
    date DATES withholds is not in the agency's fields."""
    types = domain_events().types()
    for agency, entitled in ENTITLEMENTS.items():
        declared = DATES.get(agency, {})
        for event_type, fields in entitled.items():
            model = types[event_type].model_fields
            for f in fields:
                if "date" in str(model[f].annotation):
                    precision, why = declared[f"{event_type}.{f}"]
                    assert precision is not Precision.WITHHELD and why, (agency, event_type, f)
        for name, (precision, why) in declared.items():
            event_type, _, f = name.partition(".")
            assert event_type in entitled and f in types[event_type].model_fields, name
            assert (f in entitled[event_type]) == (precision is not Precision.WITHHELD), name
            assert why, name


def test_a_date_is_coarsened_to_each_precision_deterministically() -> None:
    day = date(2026, 3, 1)  # a Sunday: the last day of ISO week 9
    assert {p: coarsened(day, p) for p in Precision} == {
        Precision.DAY: "2026-03-01",
        Precision.WEEK: "2026-W09",
        Precision.MONTH: "2026-03",
        Precision.QUARTER: "2026-Q1",
        Precision.YEAR: "2026",
        Precision.ACADEMIC_YEAR: "2025/26",
        Precision.WITHHELD: None,
    }
    assert coarsened(date(2025, 12, 29), Precision.WEEK) == "2026-W01"  # ISO year
    assert coarsened(date(2026, 9, 1), Precision.ACADEMIC_YEAR) == "2026/27"
    assert coarsened(date(2026, 8, 31), Precision.ACADEMIC_YEAR) == "2025/26"


def test_a_re_derived_feed_is_the_same_messages() -> None:
    event = plan_started()
    recorded = envelope(event)
    assert shares_of(recorded, event, KEY) == shares_of(recorded, event, KEY)


def test_docs_security_lists_exactly_the_entitlements_in_code() -> None:
    from deploy.local.stack import ROOT
    from services.partner_feeds.sharing import entitlements_markdown

    assert entitlements_markdown() in (ROOT / "docs" / "security.md").read_text(), (
        "docs/security.md is stale: run `make docs`"
    )


# The child's whole record (issue 14): each new fact, and exactly what each agency receives of
# it. The values in fields no agency is sent are distinctive, so a leak would show in a body.
WORKER, TEAM, VISITOR = "SW-leak-worker", "T-leak-team", "SW-leak-visitor"
UPN = "sealed:v1:leak-upn"
WHOLE_RECORD: list[tuple[DomainEvent, dict[Agency, dict[str, object]]]] = [
    (
        UnbornChildRegistered(
            child_id="C-000123", expected_date_of_birth=date(2026, 7, 14), locality="Exeter"
        ),
        {Agency.HEALTH: {"expected_date_of_birth": "2026-07", "locality": "Exeter"}},
    ),
    (
        ChildBorn(date_of_birth=date(2026, 7, 9)),
        {
            Agency.HEALTH: {"date_of_birth": "2026-07"},
            Agency.CAREERS: {"date_of_birth": "2025/26"},
        },
    ),
    (
        ChildCharacteristicsRecorded(
            recorded_on=date(2026, 3, 2),
            sex=Sex.FEMALE,
            ethnicity=Ethnicity.WHITE_ROMA,
            disabilities=[Disability.HEARING, Disability.AUTISM_ASPERGERS],
            unaccompanied_asylum_seeking=True,
        ),
        {},
    ),
    (
        SocialWorkerAllocated(allocated_on=date(2026, 3, 2), worker_id=WORKER, team_id=TEAM),
        {Agency.SCHOOLS: {}},  # that the pupil has a social worker: not who, nor since when
    ),
    (
        SocialWorkerAllocationEnded(ended_on=date(2026, 3, 20), worker_id=WORKER),
        {Agency.SCHOOLS: {}},
    ),
    (
        StatutoryVisitRecorded(
            visit_date=date(2026, 3, 4),
            plan_type=PlanType.CHILD_IN_CARE,
            seen=True,
            seen_alone=True,
            visitor_id=VISITOR,
        ),
        {},
    ),
    (
        FrontDoorContactReceived(
            contact_id="CT-1",
            contact_date=date(2026, 3, 2),
            source=ReferralSource("5A"),
            outcome=ContactOutcome.REFERRAL_TO_CHILDRENS_SOCIAL_CARE,
        ),
        {},
    ),
    (
        Section47EnquiryConcluded(
            discussion_id="SD-1", concluded_on=date(2026, 3, 9), outcome=Section47Outcome.CONFERENCE
        ),
        {Agency.POLICE: {"outcome": "icpc"}},
    ),
    (
        HealthOutcomesRecorded(
            recorded_on=date(2026, 3, 31),
            convicted=True,
            health_check=True,
            immunisations=False,
            teeth_check=True,
            health_assessment=True,
            substance_misuse=True,
            intervention_offered=True,
            sdq_score=17,
        ),
        {Agency.HEALTH: {"recorded_on": "2026-03", "sdq_score": 17, "sdq_reason": None}},
    ),
    (
        ReturnHomeInterviewOffered(
            missing_started_on=date(2026, 3, 1),
            offered_on=date(2026, 3, 3),
            accepted=False,
            within_72_hours=True,
        ),
        {Agency.POLICE: {"missing_started_on": "2026-03-01", "accepted": False}},
    ),
    (
        AdoptionMatched(
            matched_on=date(2026, 3, 2),
            adopted_by_foster_carer=False,
            number_of_adopters=2,
            adopters_sex=AdoptersSex.FEMALE_COUPLE,
            adopters_legal_status=AdoptersLegalStatus.CIVIL_PARTNERS,
        ),
        {},
    ),
    (
        DeprivationOfLibertyAuthorised(
            authorised_on=date(2026, 3, 2), basis=DeprivationOfLibertyBasis.INHERENT_JURISDICTION
        ),
        {},
    ),
    (
        PeriodOfCareStarted(
            start_date=date(2026, 3, 2),
            legal_status=LegalStatus("C2"),
            home_postcode="EX4",
            first_review_due=date(2026, 3, 30),
        ),
        {Agency.HEALTH: {"start_date": "2026-W10"}, Agency.SCHOOLS: {}},  # never the postcode
    ),
    (
        PlacementStarted(
            placement_id="PL-1",
            start_date=date(2026, 3, 2),
            placement_type="U4",
            provider="PR1",
            in_council_area=True,
            postcode="EX2",
        ),
        {},
    ),
    (PersonalDetailsRecorded(upn=UPN), {}),
]


@pytest.mark.parametrize(
    ("event", "expected"), WHOLE_RECORD, ids=[e.event_type for e, _ in WHOLE_RECORD]
)
def test_each_fact_of_the_whole_record_reaches_only_the_agencies_whose_purpose_needs_it(
    event: DomainEvent, expected: dict[Agency, dict[str, object]]
) -> None:
    shares = shares_of(envelope(event), event, KEY)
    assert {m.agency: m.facts for m in shares} == expected
    for message in shares:
        body = json.dumps(message.body())
        for never in (WORKER, TEAM, VISITOR, UPN, "EX4", "EX2", "WROM", "HEAR", "C-000123"):
            assert never not in body, (message.agency, never)


def test_no_agency_is_entitled_to_a_field_that_is_never_shared() -> None:
    """Worker and visitor ids, postcodes, ethnicity, disabilities, the UPN and every sealed
    field, the council's record ids: no entitlement names one, for any event."""
    assert set(PERSONAL_FIELDS) <= set(NEVER_SHARED)
    for agency, entitled in ENTITLEMENTS.items():
        for event_type, fields in entitled.items():
            assert not set(fields) & set(NEVER_SHARED), (agency, event_type)


def test_every_domain_event_is_decided_shared_or_not_and_why() -> None:
    """A new event reaches no partner until it is decided; deciding means a line either in
    ENTITLEMENTS or, with the reason, in NOT_SHARED (the docs show both)."""
    types = set(domain_events().types())
    shared = {t for entitled in ENTITLEMENTS.values() for t in entitled}
    undecided = types - shared - set(NOT_SHARED)
    assert not undecided, f"add each to ENTITLEMENTS or NOT_SHARED in sharing.py: {undecided}"
    assert not shared & set(NOT_SHARED)
    assert set(NOT_SHARED) <= types and all(NOT_SHARED.values())

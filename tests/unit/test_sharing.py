"""Data minimisation for partner agencies, as pure functions (no I/O)."""

from __future__ import annotations

import json
from datetime import date
from uuid import uuid4

from contracts.case_events.codes import ChildProtectionCategory, MissingKind
from contracts.case_events.events import (
    ChildProtectionPlanStarted,
    ChildRegistered,
    MissingEpisodeRecorded,
    ReferralReceived,
)
from contracts.topics import domain_events
from services.partner_feeds.sharing import DATES, ENTITLEMENTS, Precision, coarsened, shares_of
from shared.envelope import Actor, Agency, DomainEvent, Envelope
from shared.eventstore import CommandContext, make_envelopes

KEY = b"unit-test-key"
CTX = CommandContext(
    actor=Actor(user_id="sw", agency=Agency.COUNCIL, role="social_worker"), correlation_id=uuid4()
)


def envelope(event: DomainEvent, stream: str = "C-000123") -> Envelope:
    [found] = make_envelopes(stream, 0, [event], CTX)
    return found


def test_only_entitled_agencies_receive_an_event_and_only_the_listed_fields() -> None:
    event = ChildProtectionPlanStarted(
        child_id="C-000123",
        plan_id="CP-1",
        category=ChildProtectionCategory.NEGLECT,
        start_date=date(2026, 3, 1),
        previous_plans=2,
    )
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
    assert {m.agency for m in shares} == {Agency.HEALTH, Agency.SCHOOLS, Agency.CAREERS}
    facts = {m.agency: m.facts for m in shares}
    assert facts[Agency.HEALTH] == {"date_of_birth": "2012-05", "locality": "Exeter"}
    assert facts[Agency.CAREERS] == {"date_of_birth": "2011/12"}  # the academic year
    assert facts[Agency.SCHOOLS] == {}  # the year group is on the school's own roll
    for message in shares:
        body = json.dumps(message.body())
        assert "C-000123" not in body and "2012-05-17" not in body
    assert len({m.subject for m in shares}) == 3  # unlinkable across agencies
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
    event = ChildProtectionPlanStarted(
        child_id="C-000123",
        plan_id="CP-1",
        category=ChildProtectionCategory.NEGLECT,
        start_date=date(2026, 3, 1),
        previous_plans=0,
    )
    recorded = envelope(event)
    assert shares_of(recorded, event, KEY) == shares_of(recorded, event, KEY)


def test_docs_security_lists_exactly_the_entitlements_in_code() -> None:
    from deploy.local.stack import ROOT
    from services.partner_feeds.sharing import entitlements_markdown

    assert entitlements_markdown() in (ROOT / "docs" / "security.md").read_text(), (
        "docs/security.md is stale: run `make docs`"
    )

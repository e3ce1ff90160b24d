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
from services.partner_feeds.sharing import ENTITLEMENTS, shares_of
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
    assert shares[Agency.POLICE].facts == {"start_date": "2026-03-01"}  # not the category
    assert shares[Agency.HEALTH].facts == {"start_date": "2026-03-01", "category": "NEG"}
    for message in shares.values():
        assert "previous_plans" not in message.facts and "plan_id" not in message.facts


def test_a_date_of_birth_is_shared_as_month_and_year_under_a_pseudonym_per_agency() -> None:
    event = ChildRegistered(child_id="C-000123", date_of_birth=date(2012, 5, 17), locality="Exeter")
    shares = shares_of(envelope(event), event, KEY)
    assert {m.agency for m in shares} == {Agency.HEALTH, Agency.SCHOOLS, Agency.CAREERS}
    for message in shares:
        body = json.dumps(message.body())
        assert message.facts["date_of_birth"] == "2012-05"
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


def test_docs_security_lists_exactly_the_entitlements_in_code() -> None:
    from deploy.local.stack import ROOT
    from services.partner_feeds.sharing import entitlements_markdown

    assert entitlements_markdown() in (ROOT / "docs" / "security.md").read_text(), (
        "docs/security.md is stale: run `make docs`"
    )

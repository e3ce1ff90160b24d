"""The idempotency record of a command never holds a hash of a person's name, address or
notes in the clear: after an erasure, nothing in it can confirm a guessed name offline."""

from __future__ import annotations

import os

from services.case_events.domain.commands import RecordPersonalDetails, RegisterChild
from shared.commands import hashed_body
from shared.eventstore import request_hash

REGISTRATION = RegisterChild(
    child_id="C-000123",
    date_of_birth="2014-09-30",
    locality="Exeter",
    personal={"given_names": "Sam", "family_name": "Example"},
)


def test_personal_fields_are_hashed_only_under_the_childs_own_key() -> None:
    key = os.urandom(32)
    hashed = hashed_body(REGISTRATION, key)
    assert "Sam" not in str(hashed) and "Example" not in str(hashed)
    assert hashed["child_id"] == "C-000123" and hashed["locality"] == "Exeter"
    # A guess checked the old way (the plain body's SHA-256) matches nothing stored.
    plain = request_hash({"body": REGISTRATION.model_dump(mode="json")})
    assert request_hash({"body": hashed}) != plain
    # Without the child's key (destroyed by erasure) a guess cannot be checked.
    assert hashed_body(REGISTRATION, os.urandom(32)) != hashed
    assert hashed_body(REGISTRATION, key) == hashed  # a retry is still recognised


def test_a_body_that_is_all_personal_keeps_nothing_in_the_clear() -> None:
    details = RecordPersonalDetails(address="1 High Street", notes="lives with an aunt")
    assert hashed_body(details, None) == {"personal": None}
    keyed = hashed_body(details, b"k" * 32)
    assert set(keyed) == {"personal"} and "High Street" not in str(keyed)
    other = RecordPersonalDetails(address="2 High Street", notes="lives with an aunt")
    assert hashed_body(other, b"k" * 32) != keyed  # a reused key for another body is seen

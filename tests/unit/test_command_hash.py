"""The idempotency record of a command never holds a hash of a person's name, address or
notes in the clear: after an erasure, nothing in it can confirm a guessed name offline."""

from __future__ import annotations

import os

from services.case_events.domain.commands import RecordPersonalDetails, RegisterChild
from services.education.domain.commands import RecordRegisterFeed
from shared.commands import hashed_body, hashed_content
from shared.eventstore import DIGEST_FORM, RequestHash, request_hash

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


def test_a_body_with_no_personal_part_is_hashed_as_its_own_json() -> None:
    feed = RecordRegisterFeed(
        school_urn="113254",
        marks=[{"child_id": "C-000123", "date": "2024-06-03", "session": "AM", "code": "/"}],
    )
    assert hashed_content(feed, None) is feed
    other = feed.model_copy(update={"school_urn": "113255"})
    assert RequestHash.of({"body": feed}) == RequestHash.of({"body": feed})
    assert RequestHash.of({"body": other}) != RequestHash.of({"body": feed})


def test_a_body_with_a_personal_part_is_hashed_without_it_in_the_clear() -> None:
    key = os.urandom(32)
    content = hashed_content(REGISTRATION, key)
    assert content == hashed_body(REGISTRATION, key)
    digest = RequestHash.of({"body": content})
    assert digest.digest.startswith(DIGEST_FORM)
    # Not the digest of the body with its names in the clear: a guessed name cannot be
    # checked against it without the child's key.
    plain = RequestHash.of({"body": REGISTRATION})
    assert digest != plain


def test_a_retry_across_the_upgrade_is_matched_by_the_earlier_form_only() -> None:
    body = {"body": {"child_id": "C-000123"}}
    earlier = request_hash(body)
    retry = RequestHash.of(body, earlier=lambda: request_hash(body))
    assert retry.matches(retry.digest) and retry.matches(earlier)
    assert not retry.matches(request_hash({"body": {"child_id": "C-000124"}}))
    # A record stored in the new form is never compared with the earlier form.
    assert not RequestHash("2:other", lambda: "2:abc").matches("2:abc")

"""Sealing personal fields and the retention rule: pure functions, no I/O."""

from __future__ import annotations

from datetime import date

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from contracts.case_events.events import SEALED_PATTERN, SealedPersonalDetails
from services.case_events.domain.retention import retention
from services.case_events.personal import ERASED, seal, seal_details, unseal, unseal_details

KEY = AESGCM.generate_key(bit_length=256)


@given(st.text(min_size=1, max_size=300))
def test_a_sealed_value_opens_with_the_childs_key_and_never_shows_the_text(value: str) -> None:
    sealed = seal(KEY, "C-1", "notes", value)
    assert unseal(KEY, "C-1", "notes", sealed) == value
    ciphertext = sealed.removeprefix("sealed:v1:")
    assert value not in ciphertext or len(value) < 6  # a short text may occur by chance
    SealedPersonalDetails(notes=sealed)  # matches the event's pattern (SEALED_PATTERN)


def test_a_sealed_value_cannot_be_moved_to_another_child_or_field() -> None:
    sealed = seal(KEY, "C-1", "given_names", "Sam")
    with pytest.raises(InvalidTag):
        unseal(KEY, "C-2", "given_names", sealed)
    with pytest.raises(InvalidTag):
        unseal(KEY, "C-1", "family_name", sealed)
    with pytest.raises(InvalidTag):
        unseal(AESGCM.generate_key(bit_length=256), "C-1", "given_names", sealed)


def test_without_the_key_every_field_reads_as_erased() -> None:
    class Typed:
        given_names, family_name, address, notes = "Sam", "Example", None, "note"

    sealed = seal_details(KEY, "C-1", Typed()).model_dump()
    assert sealed["address"] is None and sealed["given_names"].startswith("sealed:v1:")
    assert unseal_details(KEY, "C-1", sealed)["notes"] == "note"
    assert unseal_details(None, "C-1", sealed) == {
        "given_names": ERASED,
        "family_name": ERASED,
        "address": None,
        "notes": ERASED,
        "upn": None,
    }
    assert SEALED_PATTERN.startswith("^sealed:v1:")


def test_records_are_kept_to_the_75th_birthday_and_adoptions_for_100_years() -> None:
    assert retention(date(2010, 2, 28), None).keep_until == date(2085, 2, 28)
    assert retention(date(2012, 2, 29), None).keep_until == date(2087, 2, 28)
    adopted = retention(date(2010, 1, 1), date(2013, 6, 30))
    assert adopted.keep_until == date(2113, 6, 30) and "adoption" in adopted.basis

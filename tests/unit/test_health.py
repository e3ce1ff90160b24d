"""/health answers without a token, so it names an error by its kind only: a repr can carry
host names, ports, paths or a database's name."""

from __future__ import annotations

from shared.http import public_check


def test_an_errors_repr_is_reduced_to_its_kind() -> None:
    failed = {
        "ok": False,
        "error": "ConnectionRefusedError(111, \"Connect call failed ('10.0.4.7', 5433)\")",
        "lag": {"case-events": 0},
    }
    assert public_check(failed) == {
        "ok": False,
        "error": "ConnectionRefusedError",
        "lag": {"case-events": 0},
    }


def test_a_written_reason_and_a_healthy_check_are_shown_as_they_are() -> None:
    stalled = {"ok": False, "error": "relay stalled: events waiting longer than 10s"}
    assert public_check(stalled) == stalled
    assert public_check({"ok": True, "error": None}) == {"ok": True, "error": None}

"""What the dashboard says of make run's demo county while it loads (no I/O)."""

from __future__ import annotations

from services.projections.dashboard.demo import STALLED_AFTER_S, progress_text


def test_a_load_under_way_says_how_far_it_has_got_and_how_fast() -> None:
    text = progress_text({"state": "loading", "done": 12_000, "total": 25_714, "rate": 81.4}, 1)
    assert text is not None
    assert "12,000 of 25,714 commands (46%)" in text and "81 a second" in text


def test_a_load_not_moving_for_a_minute_is_said_to_have_stopped() -> None:
    state = {"state": "loading", "done": 10, "total": 100, "rate": 5}
    text = progress_text(state, STALLED_AFTER_S + 1)
    assert text is not None and "stopped loading at 10 of 100 commands (10%)" in text
    assert "is loading" in (progress_text(state, STALLED_AFTER_S - 1) or "")


def test_a_failed_load_says_how_to_resume_it() -> None:
    text = progress_text({"state": "failed", "done": 5, "total": 100}, 0)
    assert text is not None and "did not load completely" in text and "make run" in text


def test_nothing_is_said_once_loaded_or_of_a_state_not_known() -> None:
    assert progress_text({"state": "loaded", "done": 100, "total": 100}, 0) is None
    assert progress_text({"state": "something else"}, 0) is None
    assert progress_text({}, 0) is None

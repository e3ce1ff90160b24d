"""The waits of shared/retry.py: no I/O."""

from __future__ import annotations

from shared.retry import Doubling


def test_a_doubling_wait_doubles_each_time_taken_up_to_its_most_and_starts_again_when_reset() -> (
    None
):
    waits = Doubling(0.01, 0.05)
    assert [waits.take() for _ in range(5)] == [0.01, 0.02, 0.04, 0.05, 0.05]
    waits.reset()
    assert waits.take() == 0.01

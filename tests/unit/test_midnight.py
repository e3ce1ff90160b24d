"""tests/midnight.py, run in a pytest of its own (pytester) whose tests turn the platform's
clock: a failure while London's date turned is run once more; any other failure stands."""

from __future__ import annotations

from datetime import date

import pytest

from tests import infrastructure

INNER = """
from datetime import date, timedelta

import pytest

from tests import infrastructure

RUNS = []


def turn_the_day():  # London's midnight passes while the test runs
    tomorrow = infrastructure.platform_today() + timedelta(days=1)
    infrastructure.platform_today = lambda: tomorrow


async def test_fails_on_the_day_it_turns():
    RUNS.append("turns")
    if infrastructure.platform_today() == date(2026, 3, 28):
        turn_the_day()
        assert False, "the page read on the 28th, held to the 29th"


def test_fails_on_one_day():
    RUNS.append("one day")
    assert False, "a failure of the platform"


def test_fails_again_on_the_new_day():
    RUNS.append("again")
    turn_the_day()
    pytest.fail("not the clock's doing")


def test_runs():
    assert RUNS == ["turns", "turns", "one day", "again", "again"]
"""


def test_a_failure_while_londons_day_turns_is_run_once_more(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The inner tests turn the clock of this process; monkeypatch puts the real one back.
    monkeypatch.setattr(infrastructure, "platform_today", lambda: date(2026, 3, 28))
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_inprocess(
        *("-p", "tests.midnight", "-p", "no:cacheprovider", "-W", "default"),
        *("-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function"),
    )
    result.assert_outcomes(passed=2, failed=2, warnings=2)
    result.stdout.fnmatch_lines(
        [
            "*test_fails_on_the_day_it_turns failed while London's date turned from 2026-03-28 "
            "to 2026-03-29 (AssertionError: the page read on the 28th*run again on 2026-03-29",
        ]
    )
    assert "test_fails_on_one_day failed while" not in result.stdout.str()

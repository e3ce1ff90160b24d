"""A test that fails while London's date turns is run once more, on the new day.

The tests send and expect the platform's dates (`platform_today`: London's), worked out as
they run, while the services work out their own today as they answer. A test running across
London's midnight can hold a page read on one day to the date of the other, and fail on the
clock, not on the platform. Such a failure is run again, once, with a warning saying why; a
failure on one day stands as it is, and so does a second failure. The test body is run again
with the fixtures it had (they are not set up again). Where its first run recorded something
for a fixture's child that cannot be recorded twice, the second run is refused and fails:
no worse than without it.

Registered by tests/conftest.py (`pytest_plugins`); tests/unit/test_midnight.py runs it in a
pytest of its own with a clock it turns.
"""

from __future__ import annotations

import warnings
from collections.abc import Generator
from datetime import date

import pytest

from tests import infrastructure

# The platform's date when a test's setting up began: its fixtures may have worked out dates too.
BEGAN_ON = pytest.StashKey[date]()


class LondonsDayTurned(UserWarning):
    """A test failed while London's date turned, and was run again on the new day."""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[BEGAN_ON] = infrastructure.platform_today()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    except (Exception, pytest.fail.Exception) as failure:  # an error, an assert, pytest.fail
        first_line = next(iter(str(failure).splitlines()), "")[:200]
        began_on, now = item.stash.get(BEGAN_ON, None), infrastructure.platform_today()
        if began_on is None or began_on == now:
            raise
        warnings.warn(
            LondonsDayTurned(
                f"{item.nodeid} failed while London's date turned from {began_on} to {now} "
                f"({type(failure).__name__}: {first_line}); run again on {now}"
            ),
            stacklevel=1,
        )
        item.stash[BEGAN_ON] = now
        item.runtest()
        return None

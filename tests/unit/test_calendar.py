from __future__ import annotations

from datetime import date

from shared.calendar import add_months, add_working_days, is_working_day, working_days_between


def test_bank_holidays_and_weekends_are_not_working_days() -> None:
    assert not is_working_day(date(2024, 12, 25))  # Christmas Day
    assert not is_working_day(date(2024, 5, 27))  # spring bank holiday
    assert not is_working_day(date(2024, 6, 1))  # a Saturday
    assert is_working_day(date(2024, 6, 3))


def test_icpc_due_fifteen_working_days_after_a_strategy_discussion_over_christmas() -> None:
    # After Fri 20 Dec 2024: 23, 24, 27, 30, 31 Dec; 2, 3, 6, 7, 8, 9, 10, 13, 14, 15 Jan
    # (25, 26 Dec and 1 Jan are bank holidays; weekends skipped).
    assert add_working_days(date(2024, 12, 20), 15) == date(2025, 1, 15)
    assert working_days_between(date(2024, 12, 20), date(2025, 1, 15)) == 15


def test_months_clamp_to_the_end_of_a_shorter_month() -> None:
    assert add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)
    assert add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)
    assert add_months(date(2024, 1, 15), 3) == date(2024, 4, 15)


def test_age_in_whole_years_with_a_leap_day_birthday() -> None:
    from shared.calendar import age_on

    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18
    assert age_on(date(2010, 6, 1), date(2026, 6, 1)) == 16

"""Working days on the England and Wales bank-holiday calendar (the `holidays` library).

Statutory timescales in working days (ICPC 15, assessment 45, looked-after review 20, initial
health assessment 20) count Monday to Friday, skipping bank holidays.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

# England and Wales share their bank holidays; the library calls the subdivision "ENG".
_BANK_HOLIDAYS = holidays.country_holidays("GB", subdiv="ENG")


# The boards ask these of the same few thousand dates for every child on every page (a visit
# due 10 working days after the last): kept, as bank holidays do not change once known.
@lru_cache(maxsize=1 << 16)
def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _BANK_HOLIDAYS


@lru_cache(maxsize=1 << 18)
def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (the start day itself does not count)."""
    day = start
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


@lru_cache(maxsize=1 << 18)
def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end`."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_working_day(day)
    return count


def age_on(date_of_birth: date, day: date) -> int:
    """Age in whole years on `day` (a 29 February birthday counts from 1 March)."""
    years = day.year - date_of_birth.year
    return years - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))


def add_months(start: date, months: int) -> date:
    """Same day `months` later, clamped to the month's end (31 Aug + 6 months = 28/29 Feb)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, min(start.day, day))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def months_between(start: date, end: date) -> list[date]:
    """First days of the months from start's month to end's month."""
    months, day = [], start.replace(day=1)
    while day <= end:
        months.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def month_end(day: date) -> date:
    """The last day of the day's month."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)

"""Time, injected: rules that depend on the passing of time take a clock tests can set."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from shared.settings import Settings

LONDON = ZoneInfo("Europe/London")


class Clock(Protocol):
    def now(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return datetime.now(LONDON).date()


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def today(self) -> date:
        return self.at.astimezone(LONDON).date()


def clock_from(settings: Settings) -> Clock:
    """The system clock, unless CSP_FIXED_TODAY pins the date (tests and demos)."""
    if settings.fixed_today is None:
        return SystemClock()
    return FixedClock(
        datetime.combine(settings.fixed_today, datetime.min.time(), tzinfo=UTC).replace(hour=12)
    )

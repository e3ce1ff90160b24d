"""How long a child's record is kept: until the 75th birthday; an adopted child's record for
100 years from the adoption (Adoption Agencies Regulations 2005, regulation 42)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared.calendar import add_months

BIRTHDAY_YEARS = 75
ADOPTION_YEARS = 100


@dataclass(frozen=True)
class Retention:
    keep_until: date
    basis: str


def retention(date_of_birth: date, adopted_on: date | None) -> Retention:
    if adopted_on is not None:
        return Retention(
            add_months(adopted_on, 12 * ADOPTION_YEARS),
            f"adoption record: {ADOPTION_YEARS} years from the adoption",
        )
    return Retention(
        add_months(date_of_birth, 12 * BIRTHDAY_YEARS),
        f"children's services record: until the {BIRTHDAY_YEARS}th birthday",
    )

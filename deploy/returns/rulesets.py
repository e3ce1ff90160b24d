"""Which of a validator's rulesets checks a collection year.

Data to Insight's validators ship one ruleset a collection year (`lac2026_27`, `cin2026_27`),
published some time after the year has begun. Until a year's own is installed, its returns
are checked with the newest earlier one, and the report says which year's rules it stands in
for: a collection year that starts on 1 April must not stop the data-quality board, nor leave
an analyst to guess which rules passed the files. Imports nothing (deploy/returns/validate.py
runs in the validators' own environment; the platform's tests import this too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Ruleset:
    name: str  # the module run: "lac2026_27"
    stands_in_for: str | None = None  # the year's own, when it is not installed yet


def name_of(prefix: str, year: int) -> str:
    """The ruleset of the collection year starting in April of `year`: lac2026_27."""
    return f"{prefix}{year}_{(year + 1) % 100:02d}"


def ruleset_for(available: Iterable[str], prefix: str, year: int) -> Ruleset:
    """The year's own ruleset if installed, else the newest of an earlier year. A year before
    every installed ruleset has none: checking it with a later year's rules would report the
    later year's changes as the council's errors."""
    own = name_of(prefix, year)
    shape = re.compile(rf"^{re.escape(prefix)}(\d{{4}})_\d{{2}}$")
    years = sorted(
        int(found.group(1)) for name in available if (found := shape.match(name)) is not None
    )
    if year in years:
        return Ruleset(own)
    earlier = [y for y in years if y < year]
    if not earlier:
        installed = ", ".join(name_of(prefix, y) for y in years) or "none"
        raise LookupError(f"no {prefix} ruleset for {year} or before (installed: {installed})")
    return Ruleset(name_of(prefix, earlier[-1]), stands_in_for=own)

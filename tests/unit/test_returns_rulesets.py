"""Which of the validators' rulesets checks a collection year (deploy/returns/rulesets.py):
the year's own, else the newest earlier one, named as standing in for it."""

from __future__ import annotations

import pytest

from deploy.returns.rulesets import Ruleset, name_of, ruleset_for

INSTALLED = ["__pycache__", "lac2022_23", "lac2024_25", "lac2023_24", "lac2026_27", "rule_utils"]


def test_the_years_own_rules_when_installed() -> None:
    assert ruleset_for(INSTALLED, "lac", 2024) == Ruleset("lac2024_25")
    assert name_of("cin", 2099) == "cin2099_00"


def test_a_year_not_published_yet_is_checked_with_the_newest_earlier_rules() -> None:
    assert ruleset_for(INSTALLED, "lac", 2027) == Ruleset("lac2026_27", "lac2027_28")
    assert ruleset_for(INSTALLED, "lac", 2030) == Ruleset("lac2026_27", "lac2030_31")
    # A gap: the newest before the year, never a later year's.
    assert ruleset_for(INSTALLED, "lac", 2025) == Ruleset("lac2024_25", "lac2025_26")


def test_a_year_before_every_ruleset_has_none() -> None:
    with pytest.raises(LookupError, match="lac2022_23"):
        ruleset_for(INSTALLED, "lac", 2021)
    with pytest.raises(LookupError, match="installed: none"):
        ruleset_for(INSTALLED, "cin", 2026)  # another validator's names are not its own

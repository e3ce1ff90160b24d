"""docs/returns.md shows the rules the returns do not pass yet as the code allows them."""

from services.projections.returns.rules import NOT_YET, RETURNS_DOC, VALIDATOR_DEFECTS, markdown


def test_docs_list_exactly_the_rules_not_passed_yet() -> None:
    assert markdown() in RETURNS_DOC.read_text(), "docs/returns.md is stale: run `make docs`"


def test_every_rule_not_passed_says_why() -> None:
    for rules in (*NOT_YET.values(), *VALIDATOR_DEFECTS.values()):
        for rule, why in rules.items():
            assert rule and len(why) > 20, rule


def test_the_returns_read_only_the_event_types_they_are_given() -> None:
    """Every event type a derivation names is one `records` fetches (it fetches no other)."""
    import re
    from pathlib import Path

    from contracts.topics import EVENTS
    from services.projections.returns.queries import READS

    types = {t for registry in EVENTS.values() for t in registry.types()}
    here = Path(__file__).resolve().parents[2] / "services" / "projections" / "returns"
    for module in ("ssda903.py", "cin_census.py", "annex_a.py", "facts.py"):
        named = set(re.findall(r'"([A-Z][A-Za-z0-9]+)"', (here / module).read_text())) & types
        assert named <= READS, (module, sorted(named - READS))
    assert types >= READS, sorted(READS - types)

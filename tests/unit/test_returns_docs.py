"""docs/returns.md shows the rules the returns do not pass yet as the code allows them."""

from services.projections.returns.rules import NOT_YET, RETURNS_DOC, VALIDATOR_DEFECTS, markdown


def test_docs_list_exactly_the_rules_not_passed_yet() -> None:
    assert markdown() in RETURNS_DOC.read_text(), "docs/returns.md is stale: run `make docs`"


def test_every_rule_not_passed_says_why() -> None:
    for rules in (*NOT_YET.values(), *VALIDATOR_DEFECTS.values()):
        for rule, why in rules.items():
            assert rule and len(why) > 20, rule

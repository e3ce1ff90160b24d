"""The permission table (shared/access.py) covers every endpoint of every service, and
docs/security.md shows it as it is. Builds each app in memory (nothing is started)."""

from __future__ import annotations

import pytest

from shared.access import GRANTS, RULES, SECURITY_DOC, Permission, find_rule, matrix_markdown
from shared.auth import COUNCIL_ROLES, Principal, Role
from shared.envelope import Agency
from tests.apps import APPS, api_routes


def routes(service: str) -> list[tuple[str, str]]:
    return [(method, r.path) for r in api_routes(service)
            for method in sorted(r.methods)]


@pytest.mark.parametrize("service", APPS)
def test_every_endpoint_of_every_service_has_a_rule(service: str) -> None:
    from shared.access import rules_for

    missing = [f"{m} {p}" for m, p in routes(service)
               if find_rule(rules_for(service), m, p, {}) is None]
    assert not missing, f"endpoints no rule covers (403 to everyone): {missing}"


def test_every_rule_names_an_endpoint_that_exists() -> None:
    every = {s: routes(s) for s in APPS}
    for service, rules in RULES.items():
        for rule in rules:
            assert any(rule.matches(m, p, dict(rule.query)) for m, p in every[service]), \
                f"{service}: {rule.where} matches no endpoint"


def test_partners_see_only_aggregates_and_council_roles_are_council_only() -> None:
    police = Principal("p", Agency.POLICE, Role.PARTNER)
    assert GRANTS[Permission.READ_BOARDS].allows(police)
    for permission in (Permission.READ_CHILD, Permission.READ_PERSONAL, Permission.RECORD,
                       Permission.READ_PERSON_LEVEL, Permission.AUDIT):
        assert not GRANTS[permission].allows(police), permission
    for role in COUNCIL_ROLES:  # a council role claimed by a partner agency gets nothing
        assert not any(g.allows(Principal("x", Agency.HEALTH, role)) for g in GRANTS.values())


def test_docs_show_the_permission_table_as_it_is() -> None:
    assert matrix_markdown() in SECURITY_DOC.read_text(), \
        "docs/security.md is stale: run `make docs`"


def test_docs_show_the_kafka_acls_as_provisioned() -> None:
    from deploy.local.kafka_security import grants_markdown

    assert grants_markdown() in SECURITY_DOC.read_text(), \
        "docs/security.md is stale: run `make docs`"

"""Every endpoint of every service declares its permission (shared/access.py), and
docs/security.md shows them as they are. Builds each app in memory (nothing is started)."""

from __future__ import annotations

import pytest

from deploy.permissions import matrix_markdown, service_rules
from shared.access import GRANTS, SECURITY_DOC, Permission, find_rule
from shared.auth import COUNCIL_ROLES, Principal, Role
from shared.envelope import Agency
from tests.apps import APPS, api_routes, rules_for


def routes(service: str) -> list[tuple[str, str]]:
    return [
        (method, r.path or "") for r in api_routes(service) for method in sorted(r.methods or ())
    ]


@pytest.mark.parametrize("service", APPS)
def test_every_endpoint_of_every_service_has_a_rule(service: str) -> None:
    missing = [
        f"{m} {p}" for m, p in routes(service) if find_rule(rules_for(service), m, p, {}) is None
    ]
    assert not missing, f"endpoints declaring no permission (403 to everyone): {missing}"


def test_every_rule_names_an_endpoint_that_exists() -> None:
    every = {s: routes(s) for s in APPS}
    docs = [("GET", p) for p in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")]
    for service, rules in service_rules().items():
        assert rules == rules_for(service)  # the docs table lists what the apps enforce
        for rule in rules:
            assert any(rule.matches(m, p, dict(rule.query)) for m, p in [*every[service], *docs]), (
                f"{service}: {rule.where} matches no endpoint"
            )


def test_partners_see_only_aggregates_and_council_roles_are_council_only() -> None:
    police = Principal("p", Agency.POLICE, Role.PARTNER)
    assert GRANTS[Permission.READ_BOARDS].allows(police)
    for permission in (
        Permission.READ_CHILD,
        Permission.READ_PERSONAL,
        Permission.RECORD,
        Permission.READ_PERSON_LEVEL,
        Permission.AUDIT,
    ):
        assert not GRANTS[permission].allows(police), permission
    for role in COUNCIL_ROLES:  # a council role claimed by a partner agency gets nothing
        assert not any(g.allows(Principal("x", Agency.HEALTH, role)) for g in GRANTS.values())


def test_docs_show_the_permission_table_as_it_is() -> None:
    assert matrix_markdown() in SECURITY_DOC.read_text(), (
        "docs/security.md is stale: run `make docs`"
    )


def test_docs_show_the_kafka_acls_as_provisioned() -> None:
    from deploy.local.kafka_security import grants_markdown

    assert grants_markdown() in SECURITY_DOC.read_text(), (
        "docs/security.md is stale: run `make docs`"
    )

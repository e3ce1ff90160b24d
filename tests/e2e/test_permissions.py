"""The permission matrix, held against the running platform in secure mode.

Every service process runs against a broker with SASL/SCRAM over TLS and ACLs on, each worker
as its service's own Kafka user. Then:
- every role of every agency calls every endpoint of every service: what docs/security.md
  (each route's declared permission, shared/access.py) allows is not refused, everything
  else is 403; a token naming a role an agency does not have is 401;
- every Kafka user (each service, each partner agency) reads and writes every platform topic
  and joins consumer groups: the broker refuses all but what the ACL table
  (deploy/local/kafka_security.py) grants;
- and the platform works through all of it: a child registered through the API reaches the
  police's own topic, which the police read with their own credentials.
"""

from __future__ import annotations

import functools
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException

from contracts.topics import TOPICS
from deploy.local import kafka_security
from deploy.local.stack import service_processes
from shared.access import AUDITED, Permission, allowed, find_rule
from shared.auth import COUNCIL_ROLES, PARTNER_AGENCIES, Principal, Role
from shared.envelope import Agency
from tests.apps import api_routes, rules_for
from tests.e2e.conftest import SecurePlatform
from tests.infrastructure import (
    HTTP,
    auth,
    join_answer,
    platform_today,
    poll_until,
    read_answer,
    reports_ok,
    write_answer,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PRINCIPALS = [
    *(Principal(f"matrix-{r}", Agency.COUNCIL, r) for r in sorted(COUNCIL_ROLES)),
    *(Principal(f"matrix-{a}", a, Role.PARTNER) for a in sorted(PARTNER_AGENCIES)),
]


def endpoints(service: str) -> list[tuple[str, str, dict[str, str]]]:
    """(method, path template, query) for every route, and once more with each query a rule
    distinguishes (the boards' council view)."""
    out: list[tuple[str, str, dict[str, str]]] = []
    for route in api_routes(service):
        path = route.path
        assert path is not None, route  # every API route is mounted at a path
        for method in sorted(route.methods or ()):
            out.append((method, path, {}))
            for rule in rules_for(service):
                if rule.query and rule.matches(method, path, dict(rule.query)):
                    out.append((method, path, dict(rule.query)))
    return out


# The agency a path's {agency} names (an agency's HTTP feed): the matrix calls the police's.
FEED_OF = Agency.POLICE


def concrete(template: str, platform: SecurePlatform) -> str:
    return (
        template.replace("{child_id}", platform.child)
        .replace("{family_id}", "F-matrix")
        .replace("{escalation_id}", platform.escalation)
        .replace("{board}", "timeliness")
        .replace("{name}", "timeliness")
        .replace("{agency}", FEED_OF.value)
    )


def expected_allowed(permission: Permission, template: str, principal: Principal) -> bool:
    """What the permission table grants; where the path names an agency (its own feed), only
    to that agency's users (the route's object-level check: another's is 403)."""
    own = "{agency}" not in template or principal.agency is FEED_OF
    return allowed(permission, principal) and own


def status(method: str, url: str, headers: dict[str, str], query: dict[str, str]) -> int:
    body: dict[str, Any] = (
        {"content": b"{}", "headers": {**headers, "Content-Type": "application/json"}}
        if method == "POST"
        else {"headers": headers}
    )
    with HTTP.stream(method, url, params=query, timeout=60, **body) as response:
        return response.status_code  # the body is not read: /boards/live never ends


def test_every_role_and_agency_against_every_endpoint(secure: SecurePlatform) -> None:
    tokens = {p: auth(p.role.value, p.agency.value, p.user_id) for p in PRINCIPALS}
    calls: list[tuple[str, str, str, dict[str, str], str, Principal | None, bool]] = []
    for process in service_processes(0):
        service = process.service
        rules = rules_for(service)
        routes = (
            endpoints(service)
            if process.role == "api"
            else [
                ("GET", "/health", {}),
                ("GET", "/metrics", {}),
                ("GET", "/openapi.json", {}),
                ("GET", "/docs", {}),
            ]
        )
        for method, template, query in routes:
            rule = find_rule(rules, method, template, query)
            assert rule is not None, f"{service}: {method} {template} has no rule"
            if rule.permission is Permission.PUBLIC:
                continue  # health and sign-in: checked without a token below
            url = secure.url(process.name) + concrete(template, secure)
            for principal in [*PRINCIPALS, None]:  # None: without a token
                expected = principal is not None and expected_allowed(
                    rule.permission, template, principal
                )
                calls.append((service, method, template, query, url, principal, expected))

    def call(c: tuple[str, str, str, dict[str, str], str, Principal | None, bool]) -> int:
        _, method, _, query, url, principal, _ = c
        return status(method, url, tokens[principal] if principal else {}, query)

    # Many at once (the processes are many; each call waits mostly on its server): the
    # answers are the same as one at a time, as no call records anything.
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(call, calls))
    wrong = []
    for (service, method, template, query, _, principal, expected), got in zip(
        calls, answers, strict=True
    ):
        if principal is None:
            assert got in (401, 303), f"{method} {template} without a token: {got}"
        elif (got == 403) == expected or got == 401:
            wrong.append(
                f"{principal.agency}/{principal.role} {method} {template} "
                f"{query or ''} ({service}): {got}, expected "
                f"{'allowed' if expected else '403'}"
            )
    assert not wrong, "\n".join(wrong[:50])
    checked = sum(1 for c in calls if c[5] is not None)
    assert checked > 1000, checked  # every endpoint of every process, 13 kinds of user
    for process in service_processes(0):
        url = secure.url(process.name)
        poll_until(
            functools.partial(reports_ok, url), 30, 0.2, f"{process.name} to be ok after the matrix"
        )


def test_the_chronology_endpoint_and_page_are_in_the_matrix_for_council_casework_only() -> None:
    """A child's chronology (API and page) is checked above like every route: here, that the
    matrix lists both and holds them to council casework roles (partners: 403)."""
    listed = {(method, path) for method, path, _ in endpoints("projections")}
    rules = rules_for("projections")
    for path in ("/children/{child_id}/chronology", "/dashboard/children/{child_id}/chronology"):
        assert ("GET", path) in listed, path
        rule = find_rule(rules, "GET", path, {})
        assert rule is not None and rule.permission is Permission.READ_CHILD, path
        assert {p.role for p in PRINCIPALS if allowed(rule.permission, p)} == {
            Role.PRACTITIONER,
            Role.MANAGER,
            Role.IRO,
        }


def test_each_agency_reads_its_own_http_feed_and_no_other(secure: SecurePlatform) -> None:
    """The HTTP feed's routes in the matrix: every agency's partner users read their own feed
    (page and live stream) and are refused every other agency's; no council role reads any
    (the share audit answers the council, by child id)."""
    api = secure.url("partner_feeds_api")
    listed = {(method, path) for method, path, _ in endpoints("partner_feeds")}
    rules = rules_for("partner_feeds")
    for path in ("/feeds/{agency}", "/feeds/{agency}/live"):
        assert ("GET", path) in listed, path
        rule = find_rule(rules, "GET", path, {})
        assert rule is not None and rule.permission is Permission.READ_FEED, path
        assert rule.permission in AUDITED
        assert {p for p in PRINCIPALS if allowed(rule.permission, p)} == {
            p for p in PRINCIPALS if p.role is Role.PARTNER
        }
    calls = [
        (principal, agency, path)
        for principal in PRINCIPALS
        for agency in sorted(PARTNER_AGENCIES)
        for path in ("", "/live")
    ]
    tokens = {p: auth(p.role.value, p.agency.value, p.user_id) for p in PRINCIPALS}

    def call(c: tuple[Principal, Agency, str]) -> int:
        principal, agency, path = c
        return status("GET", f"{api}/feeds/{agency.value}{path}", tokens[principal], {})

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(call, calls))
    wrong = [
        f"{p.agency}/{p.role} GET /feeds/{agency}{path}: {got}"
        for (p, agency, path), got in zip(calls, answers, strict=True)
        if got != (200 if p.role is Role.PARTNER and p.agency is agency else 403)
    ]
    assert not wrong, "\n".join(wrong)


def test_a_role_an_agency_does_not_have_is_refused_at_the_door(secure: SecurePlatform) -> None:
    url = f"{secure.url('projections_api')}/boards"
    for agency, role in (
        ("police", "manager"),
        ("council", "partner"),
        ("health", "information_governance"),
        ("platform", "operations"),
    ):
        r = HTTP.get(url, headers=auth(role, agency))
        assert r.status_code == 401 and "not a role of agency" in r.json()["detail"], r.text


def test_object_level_a_practitioner_limited_to_a_locality_sees_only_its_children(
    secure: SecurePlatform,
) -> None:
    north = auth("practitioner", user="sw-north", localities=["North"])
    exeter = auth("practitioner", user="sw-exeter", localities=["Exeter"])
    path = f"/children/{secure.child}"  # an Exeter child
    nobody = "/children/C-never-registered"
    for api in ("case_events_api", "accommodation_api", "education_api", "escalations_api"):
        # Outside the user's localities a child is answered as one that does not exist: a
        # 403, or its locality named, would confirm the id is a child's, and where.
        denied = HTTP.get(secure.url(api) + path, headers=north)
        unknown = HTTP.get(secure.url(api) + nobody, headers=north)
        assert (denied.status_code, unknown.status_code) == (404, 404), denied.text
        assert (
            denied.json()["detail"].replace(secure.child, "C-never-registered")
            == (unknown.json()["detail"])
        )
        assert "Exeter" not in denied.text
        assert HTTP.get(secure.url(api) + path, headers=exeter).status_code == 200
    command = HTTP.post(
        f"{secure.url('case_events_api')}{path}/missing-episodes",
        headers=north,
        json={"started_on": "2025-01-01", "kind": "M"},
    )
    assert command.status_code == 404
    escalation = f"{secure.url('escalations_api')}/escalations/{secure.escalation}"
    assert HTTP.get(escalation, headers=north).status_code == 404
    assert HTTP.get(escalation, headers=exeter).status_code == 200
    # Naming a locality outside one's own for a new child is refused outright.
    elsewhere = HTTP.post(
        f"{secure.url('case_events_api')}/children",
        headers=north,
        json={"child_id": "C-elsewhere-1", "date_of_birth": "2015-01-01", "locality": "Exeter"},
    )
    assert elsewhere.status_code == 403
    # A family's later discussions belong to its first one's locality, whatever a body says.
    family = f"{secure.url('case_events_api')}/families/F-exeter-perm/triage-discussions"
    first = HTTP.post(
        family, headers=exeter, json={"discussion_date": "2025-01-06", "locality": "Exeter"}
    )
    assert first.status_code == 201, first.text
    borrowed = HTTP.post(
        family, headers=north, json={"discussion_date": "2025-01-07", "locality": "North"}
    )
    assert borrowed.status_code == 404, borrowed.text


def test_a_user_limited_to_a_locality_gets_council_figures_of_theirs_only(
    secure: SecurePlatform,
) -> None:
    """The council view's figures, not only its rows: another locality's, or the county's,
    are 403 to a user limited to some; the partnership view (aggregates, suppressed) stays."""
    api = secure.url("projections_api")
    north = auth("practitioner", user="sw-north", localities=["North"])
    two = auth("practitioner", user="sw-two", localities=["North", "Exeter"])
    council = {"view": "council"}
    for path in ("/boards/timeliness", "/dashboard/timeliness", "/dashboard"):
        other = HTTP.get(api + path, headers=north, params={**council, "locality": "Exeter"})
        assert other.status_code == 403 and "outside your localities" in other.text, path
        county = HTTP.get(api + path, headers=two, params=council)
        assert county.status_code == 403, path
        assert HTTP.get(
            api + path, headers=two, params={**council, "locality": "Exeter"}
        ).is_success
    own = HTTP.get(f"{api}/boards/timeliness", headers=north, params=council)
    assert own.status_code == 200 and own.json()["locality"] == "North"  # their only one
    partnership = HTTP.get(f"{api}/boards/timeliness", headers=north, params={"locality": "Exeter"})
    assert partnership.status_code == 200 and partnership.json()["view"] == "partnership"


# -- Kafka ---------------------------------------------------------------------------------


def _config(platform: SecurePlatform, user: str, password: str | None = None) -> dict[str, Any]:
    return kafka_security.client_config(
        f"127.0.0.1:{platform.kafka.kafka_port}",
        user,
        password or platform.kafka.kafka_passwords()[user],
        platform.kafka.tls_dir / "ca.pem",
    )


def can_read(platform: SecurePlatform, user: str, topic: str) -> bool | str:
    """Fetch from partition 0 (no consumer group): True, False (refused), or an error."""
    # A consumer group the user may join (if any), so only the topic's ACL is in question; a
    # user with no consumer group at all (case_events) reads nothing.
    groups = [
        g.name
        for g in kafka_security.grants(platform.namespace)
        if g.principal == user and g.resource == "group"
    ]
    config = {**_config(platform, user), "group.id": f"{groups[0]}.probe" if groups else "none"}
    return read_answer(config, topic, groupless=not groups)


def can_write(platform: SecurePlatform, user: str, topic: str) -> bool | str:
    """Produce one probe message; only sent where the ACLs should refuse it."""
    return write_answer(_config(platform, user), topic)


def can_join(platform: SecurePlatform, user: str, topic: str, group: str) -> bool | str:
    return join_answer({**_config(platform, user), "group.id": group}, topic)


def test_every_kafka_user_against_every_topic(secure: SecurePlatform) -> None:
    ns = secure.namespace
    topics = [f"{ns}{t.name}" for t in TOPICS]
    cases = [(user, topic) for user in kafka_security.users() for topic in topics]
    with ThreadPoolExecutor(8) as pool:
        reads = list(pool.map(lambda c: can_read(secure, *c), cases))
        # Writes are probed only where they must be refused: an allowed probe would put a
        # stranger's message on a live topic. The allowed writes are the platform working.
        refused = [c for c in cases if not kafka_security.may(c[0], "WRITE", "topic", c[1], ns)]
        writes = list(pool.map(lambda c: can_write(secure, *c), refused))
    wrong = [
        f"{u} read {t}: {got}"
        for (u, t), got in zip(cases, reads, strict=True)
        if got is not kafka_security.may(u, "READ", "topic", t, ns)
    ]
    wrong += [
        f"{u} wrote {t}: {got}"
        for (u, t), got in zip(refused, writes, strict=True)
        if got is not False
    ]
    assert not wrong, "\n".join(wrong)
    assert (
        sum(r is True for r in reads)
        == sum(kafka_security.may(u, "READ", "topic", t, ns) for u, t in cases)
        > 6
    )


def test_a_partner_joins_only_its_own_consumer_groups(secure: SecurePlatform) -> None:
    ns = secure.namespace
    own = f"{ns}partner-police"
    assert can_join(secure, "partner-police", own, f"{own}.case-system") is True
    assert can_join(secure, "partner-police", own, f"{ns}partner-health.x") is False
    assert can_join(secure, "partner-police", own, f"{ns}boards.x") is False


def test_a_wrong_password_or_no_tls_gets_nothing(secure: SecurePlatform) -> None:
    topic = f"{secure.namespace}partner-police"
    assert can_read(secure, "partner-police", topic) is True
    for config in (
        _config(secure, "partner-police", password="wrong"),  # pragma: allowlist secret
        {"bootstrap.servers": f"127.0.0.1:{secure.kafka.kafka_port}"},
    ):  # no TLS
        consumer = Consumer({**config, "group.id": "x", "log_level": 0})
        try:
            with pytest.raises(KafkaException):  # refused, or never answered in the clear
                consumer.list_topics(timeout=5)
        finally:
            consumer.close()


def test_a_share_reaches_the_police_through_acls_and_only_them(secure: SecurePlatform) -> None:
    """The whole path in secure mode: API, store, relay (as case_events), partner feeds (as
    partner_feeds), the police's topic, read with the police's own credentials."""
    r = HTTP.post(
        f"{secure.url('case_events_api')}/children/{secure.child}/missing-episodes",
        headers=auth("practitioner"),
        json={"started_on": (platform_today() - timedelta(days=2)).isoformat(), "kind": "M"},
    )
    assert r.status_code == 201, r.text
    consumer = Consumer(
        {
            **_config(secure, "partner-police"),
            "group.id": f"{secure.namespace}partner-police.test",
            "auto.offset.reset": "earliest",
            "log_level": 0,
        }
    )
    consumer.subscribe([f"{secure.namespace}partner-police"])
    seen: list[dict[str, Any]] = []

    def delivered() -> bool:
        message = consumer.poll(0.5)
        if message is not None and not message.error() and (value := message.value()):
            seen.append(json.loads(value))
        return any(m["event_type"] == "MissingEpisodeRecorded" for m in seen)

    try:
        poll_until(delivered, 90, 0, "the police to receive the missing episode")
    finally:
        consumer.close()
    assert all(secure.child not in json.dumps(m) for m in seen)  # pseudonymous only


def test_board_packs_are_drafted_by_council_casework_roles_and_read_by_every_board_reader() -> None:
    """The board pack's routes (quality's commands and record, the dashboard's page, PDF and
    forms) are in the matrix above like every route: here, that drafting and commentary are
    the council's casework roles' (partners and board members: 403) and a pack is read by
    every reader of the boards (a council-view pack is refused by its handler to the others,
    tests/e2e/test_board_pack.py)."""
    for service, method, path, permission in (
        ("quality", "POST", "/board-packs", Permission.RECORD),
        ("quality", "POST", "/board-packs/{pack_id}/commentary", Permission.RECORD),
        ("quality", "GET", "/board-packs", Permission.READ_BOARDS),
        ("quality", "GET", "/board-packs/{pack_id}", Permission.READ_BOARDS),
        ("projections", "GET", "/dashboard/packs", Permission.READ_BOARDS),
        ("projections", "POST", "/dashboard/packs", Permission.RECORD),
        ("projections", "POST", "/dashboard/packs/{pack_id}/commentary", Permission.RECORD),
        ("projections", "GET", "/dashboard/packs/{pack_id}", Permission.READ_BOARDS),
        ("projections", "GET", "/dashboard/packs/{pack_id}.pdf", Permission.READ_BOARDS),
    ):
        assert (method, path) in {(m, p) for m, p, _ in endpoints(service)}, path
        rule = find_rule(rules_for(service), method, path, {})
        assert rule is not None and rule.permission is permission, (service, method, path)
    drafters = {p.role for p in PRINCIPALS if allowed(Permission.RECORD, p)}
    assert drafters == {Role.PRACTITIONER, Role.MANAGER, Role.IRO}
    readers = {p for p in PRINCIPALS if allowed(Permission.READ_BOARDS, p)}
    assert {p for p in PRINCIPALS if p.role is Role.PARTNER} <= readers


def test_the_attention_queue_is_in_the_matrix_for_those_who_read_person_level_rows() -> None:
    """The attention queue (API, page, its form, and the acknowledgement the escalations
    service records) is checked above like every route: here, that the matrix lists each and
    holds the queue to the council's casework roles and the incident management teams, its
    counts to everyone who reads boards."""
    queue = {Role.PRACTITIONER, Role.MANAGER, Role.IRO, Role.INCIDENT_MANAGEMENT}
    for service, method, path, query in (
        ("projections", "GET", "/attention", {}),
        ("projections", "GET", "/dashboard/live", {"view": "council"}),
        ("projections", "GET", "/dashboard/live/attention", {"view": "council"}),
        ("projections", "POST", "/dashboard/live/acknowledgements", {}),
        ("escalations", "POST", "/attention/{kind}/{item_id}/acknowledgements", {}),
    ):
        assert (method, path, query) in endpoints(service), (service, method, path, query)
        rule = find_rule(rules_for(service), method, path, query)
        assert rule is not None and rule.permission is Permission.READ_PERSON_LEVEL, path
        assert rule.lists_children, path  # audited by the handler, with the children named
        assert {p.role for p in PRINCIPALS if allowed(rule.permission, p)} == queue, path
    rule = find_rule(rules_for("projections"), "GET", "/attention/counts", {})
    assert rule is not None and rule.permission is Permission.READ_BOARDS
    assert {p.agency for p in PRINCIPALS if allowed(rule.permission, p)} >= PARTNER_AGENCIES

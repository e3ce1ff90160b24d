"""Who may call what: every endpoint of every service, by role and agency, as data.

A request is matched to the first rule for its method and route (and query, for the boards'
council view); what no rule lists is refused (403), and so is a rule's permission for anyone
its grant does not name. docs/security.md shows this table (`python -m shared.access`
regenerates it) and tests/e2e/test_permissions.py holds the running services to it.

Person-level reads are audited (shared/audit.py): a read of one child named in the path is
recorded here, before the handler runs; a read that lists children (the open plans, a
board's council view) is recorded by its handler with the children it returns.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request, Response

from shared.auth import COUNCIL_ROLES, PARTNER_AGENCIES, Principal, Role
from shared.envelope import Agency


class Permission(StrEnum):
    PUBLIC = "public"
    API_DOCS = "read the API's documentation"
    RECORD = "record a command"
    RECORD_REGISTER_FEED = "send a school register feed"
    READ_CHILD = "read one child's record"
    READ_PERSONAL = "read one child's personal details"
    CHECK_DRIFT = "run the drift checks"
    READ_BOARDS = "read boards (aggregates, small numbers suppressed)"
    READ_PERSON_LEVEL = "read boards' council view and person-level rows"
    METRICS = "read metrics"
    AUDIT = "query the audit"
    SUBJECT_ACCESS = "export a subject access request"
    ERASE = "erase a child's personal data"
    RETENTION = "read the retention report"


@dataclass(frozen=True)
class Grant:
    roles: frozenset[Role] = frozenset()
    partners: frozenset[Agency] = frozenset()  # agencies whose `partner` users are granted

    def allows(self, principal: Principal) -> bool:
        if principal.role is Role.PARTNER:
            return principal.agency in self.partners
        return principal.agency is Agency.COUNCIL and principal.role in self.roles


def grant(*roles: Role, partners: frozenset[Agency] | set[Agency] = frozenset()) -> Grant:
    return Grant(frozenset(roles), frozenset(partners))


P, M, I = Role.PRACTITIONER, Role.MANAGER, Role.IRO  # noqa: E741
GRANTS: dict[Permission, Grant] = {
    Permission.API_DOCS: grant(*COUNCIL_ROLES, partners=PARTNER_AGENCIES),
    Permission.RECORD: grant(P, M, I),
    Permission.RECORD_REGISTER_FEED: grant(P, M, partners={Agency.SCHOOLS}),
    Permission.READ_CHILD: grant(P, M, I),
    Permission.READ_PERSONAL: grant(P, M, I),
    Permission.CHECK_DRIFT: grant(M, Role.OPERATIONS),
    Permission.READ_BOARDS: grant(P, M, I, Role.BOARD_MEMBER, Role.INCIDENT_MANAGEMENT,
                                  partners=PARTNER_AGENCIES),
    Permission.READ_PERSON_LEVEL: grant(P, M, I, Role.INCIDENT_MANAGEMENT),
    Permission.METRICS: grant(Role.OPERATIONS),
    Permission.AUDIT: grant(Role.INFORMATION_GOVERNANCE),
    Permission.SUBJECT_ACCESS: grant(Role.INFORMATION_GOVERNANCE),
    Permission.ERASE: grant(Role.INFORMATION_GOVERNANCE),
    Permission.RETENTION: grant(Role.INFORMATION_GOVERNANCE),
}
# Person-level: every read is audited (who, what, why, when).
AUDITED = {Permission.READ_CHILD, Permission.READ_PERSONAL, Permission.READ_PERSON_LEVEL,
           Permission.SUBJECT_ACCESS}


@dataclass(frozen=True)
class Rule:
    method: str
    path: str  # the route's template; `*` matches the rest, e.g. /children/{child_id}/*
    permission: Permission
    query: tuple[tuple[str, str], ...] = ()  # e.g. (("view", "council"),)
    lists_children: bool = False  # audited by the handler, with the children it returns

    def matches(self, method: str, template: str, query: Any) -> bool:
        return (self.method == method and fnmatch.fnmatchcase(template, self.path)
                and all(query.get(k) == v for k, v in self.query))

    @property
    def where(self) -> str:
        q = "&".join(f"{k}={v}" for k, v in self.query)
        return f"{self.method} {self.path}" + (f"?{q}" if q else "")


def rule(method: str, path: str, permission: Permission, **options: Any) -> Rule:
    return Rule(method, path, permission, **options)


OPERATIONAL = [
    rule("GET", "/health", Permission.PUBLIC),
    rule("GET", "/metrics", Permission.METRICS),
    rule("GET", "/openapi.json", Permission.API_DOCS),
    rule("GET", "/docs", Permission.API_DOCS),
    rule("GET", "/docs/oauth2-redirect", Permission.API_DOCS),
    rule("GET", "/redoc", Permission.API_DOCS),
]
CHILD_COMMANDS = [
    rule("POST", "/children/{child_id}/*", Permission.RECORD),
    rule("GET", "/children/{child_id}", Permission.READ_CHILD),
]
_COUNCIL_VIEW = (("view", "council"),)
RULES: dict[str, list[Rule]] = {
    "case_events": [
        rule("POST", "/children", Permission.RECORD),
        rule("GET", "/children/{child_id}/personal-details", Permission.READ_PERSONAL),
        rule("POST", "/children/{child_id}/erasure", Permission.ERASE),
        rule("GET", "/children/{child_id}/subject-access", Permission.SUBJECT_ACCESS),
        rule("GET", "/retention", Permission.RETENTION),
        *CHILD_COMMANDS,
        rule("POST", "/families/{family_id}/*", Permission.RECORD),
    ],
    "accommodation": CHILD_COMMANDS,
    "education": [
        rule("POST", "/attendance/register-feed", Permission.RECORD_REGISTER_FEED),
        *CHILD_COMMANDS,
    ],
    "escalations": [
        rule("POST", "/escalations", Permission.RECORD),
        rule("POST", "/escalations/{escalation_id}/*", Permission.RECORD),
        rule("GET", "/escalations/{escalation_id}", Permission.READ_CHILD, lists_children=True),
        rule("POST", "/drift-checks", Permission.CHECK_DRIFT),
        *CHILD_COMMANDS,
    ],
    "projections": [
        rule("GET", "/login", Permission.PUBLIC),
        rule("POST", "/login", Permission.PUBLIC),
        rule("GET", "/", Permission.READ_BOARDS),
        rule("GET", "/boards", Permission.READ_BOARDS),
        rule("GET", "/boards/live", Permission.READ_BOARDS),
        rule("GET", "/boards/child-protection/open-plans", Permission.READ_PERSON_LEVEL,
             lists_children=True),
        rule("GET", "/boards/{board}", Permission.READ_PERSON_LEVEL, query=_COUNCIL_VIEW,
             lists_children=True),
        rule("GET", "/boards/{board}", Permission.READ_BOARDS),
        rule("GET", "/dashboard*", Permission.READ_PERSON_LEVEL, query=_COUNCIL_VIEW,
             lists_children=True),
        rule("GET", "/dashboard*", Permission.READ_BOARDS),
        rule("GET", "/definitions", Permission.READ_BOARDS),
    ],
    "partner_feeds": [
        rule("GET", "/shares", Permission.AUDIT),
        rule("GET", "/audit", Permission.AUDIT),
    ],
}


def rules_for(service: str) -> list[Rule]:
    return [*OPERATIONAL, *RULES.get(service, [])]


def find_rule(rules: list[Rule], method: str, template: str, query: Any) -> Rule | None:
    return next((r for r in rules if r.matches(method, template, query)), None)


def allowed(permission: Permission, principal: Principal) -> bool:
    return permission is Permission.PUBLIC or (
        permission in GRANTS and GRANTS[permission].allows(principal))


def principal_of(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise HTTPException(401, "authentication required")
    return principal  # type: ignore[no-any-return]


def forbidden(detail: str) -> HTTPException:
    return HTTPException(403, detail)


@dataclass
class AccessPolicy:
    """The rules of one service, kept on app.state; `authorise` is every route's dependency."""

    service: str
    rules: list[Rule] = field(default_factory=list)


async def authorise(request: Request, response: Response) -> None:
    policy: AccessPolicy = request.app.state.access
    template = getattr(request.scope.get("route"), "path", request.url.path)
    found = find_rule(policy.rules, request.method, template, request.query_params)
    if found is not None and found.permission is Permission.PUBLIC:
        return
    principal = principal_of(request)
    if found is None:
        raise forbidden(f"{request.method} {template} is not open to anyone (docs/security.md)")
    if not allowed(found.permission, principal):
        who = (f"{principal.agency} partners" if principal.role is Role.PARTNER
               else f"the council's {principal.role} role")
        raise forbidden(f"{who} may not {found.permission} ({found.where}; docs/security.md)")
    request.state.rule = found
    if found.permission in AUDITED and not found.lists_children:
        child_id = request.path_params.get("child_id")
        await audit_read(request, response, [child_id] if child_id else [])


async def audit_read(request: Request, response: Response | None, child_ids: list[str]
                     ) -> str:
    """Record a person-level read before it is answered; its id goes back in X-Audit-Id (on
    `response`, or on whatever the handler returns: it sets the header itself)."""
    audit = request.app.state.audit
    rule: Rule | None = getattr(request.state, "rule", None)
    action = rule.where if rule else f"{request.method} {request.url.path}"
    audit_id = str(await audit.record(principal_of(request), action, _request_line(request),
                                      child_ids, request.headers.get("X-Purpose")))
    if response is not None:
        response.headers["X-Audit-Id"] = audit_id
    return audit_id


async def visible_rows(request: Request, response: Response | None,
                       rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """Person-level rows (each with `child_id` and `locality`) as this user may see them,
    their read audited: the rows, and the audit record's id."""
    principal = principal_of(request)
    kept = [r for r in rows if principal.may_see_locality(r.get("locality"))]
    return kept, await audit_read(request, response, [str(r["child_id"]) for r in kept])


def _request_line(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def check_locality_of(request: Request, lookup: Any, key: str) -> None:
    """check_locality for a record found by `lookup(key)`: looked up only when the user is
    limited to some localities (nobody else pays the round trip)."""
    if principal_of(request).localities is not None:
        check_locality(request, await lookup(key))


def check_locality(request: Request, locality: str | None) -> None:
    """Object-level: a user limited to some localities sees and acts on their children only."""
    principal = principal_of(request)
    if not principal.may_see_locality(locality):
        raise forbidden(f"this child belongs to locality {locality!r}, outside yours "
                        f"({', '.join(sorted(principal.localities or ()))})")


def matrix_markdown() -> str:
    """The permission table of docs/security.md, generated from RULES and GRANTS."""
    lines = ["| permission | who is granted it | endpoints |", "|---|---|---|"]
    for permission in Permission:
        if permission is Permission.PUBLIC:
            who = "anyone, without a token"
        else:
            g = GRANTS[permission]
            who = ", ".join(f"`{r}`" for r in sorted(g.roles))
            if g.partners:
                who += (" (council); " if g.roles else "") + "partners of " + ", ".join(
                    sorted(a.value for a in g.partners))
            if permission in AUDITED:
                who += " — **audited**"
        endpoints = sorted({f"`{r.where}` ({service})"
                            for service in [*RULES, "every service"]
                            for r in (OPERATIONAL if service == "every service"
                                      else RULES[service])
                            if r.permission is permission})
        lines.append(f"| {permission} | {who} | {'<br>'.join(endpoints)} |")
    return "\n".join(lines) + "\n"


def write_into(doc: Path, marker: str, text: str) -> None:
    body = doc.read_text()
    start, end = f"<!-- {marker}: generated -->", f"<!-- /{marker} -->"
    head, _, rest = body.partition(start)
    _, _, tail = rest.partition(end)
    doc.write_text(f"{head}{start}\n{text}{end}{tail}")


SECURITY_DOC = Path(__file__).resolve().parent.parent / "docs" / "security.md"

if __name__ == "__main__":
    write_into(SECURITY_DOC, "permissions", matrix_markdown())
    print(f"permissions written into {SECURITY_DOC.name}")

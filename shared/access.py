"""Who may call what: each route declares its permission, the grants say who holds it.

Every route of every service declares on itself the permission it needs
(`dependencies=[requires(Permission.RECORD)]`); `authorise`, a dependency of every app,
reads the matched route's declaration before anything else runs. A route that declares
nothing is refused (403), and so is a permission to anyone its grant does not name.
docs/security.md shows every route with its permission (`python -m deploy.permissions`
regenerates it) and tests/e2e/test_permissions.py holds the running services to it.

Person-level reads are audited (shared/audit.py): a read of one child named in the path is
recorded here, before the handler runs; a read that lists children (the open plans, a
board's council view, the retention report, the audit's own queries) is recorded by its
handler with the children it returns, and an erasure by its handler as it is done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response, params
from fastapi.routing import APIRoute, iter_route_contexts

from shared.aggregate import UnknownStream
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
    READ_FEED = "read the agency's own feed over HTTP (the messages of its topic)"
    READ_PERSON_LEVEL = "read boards' council view and person-level rows"
    METRICS = "read metrics"
    AUDIT = "query the audit"
    SUBJECT_ACCESS = "export a subject access request"
    ERASE = "erase a child's personal data"
    RETENTION = "read the retention report"
    READ_REFERENCE_DATA = "read the council's reference data"
    MAINTAIN_REFERENCE_DATA = "maintain the council's localities, schools, teams and workers"
    EXPORT_RETURNS = "export the statutory returns (SSDA903, CIN census, Annex A)"


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
    Permission.READ_BOARDS: grant(
        P, M, I, Role.BOARD_MEMBER, Role.INCIDENT_MANAGEMENT, partners=PARTNER_AGENCIES
    ),
    # Each agency's own users; the route refuses another agency's feed (403).
    Permission.READ_FEED: grant(partners=PARTNER_AGENCIES),
    Permission.READ_PERSON_LEVEL: grant(P, M, I, Role.INCIDENT_MANAGEMENT),
    Permission.METRICS: grant(Role.OPERATIONS),
    Permission.AUDIT: grant(Role.INFORMATION_GOVERNANCE),
    Permission.SUBJECT_ACCESS: grant(Role.INFORMATION_GOVERNANCE),
    Permission.ERASE: grant(Role.INFORMATION_GOVERNANCE),
    Permission.RETENTION: grant(Role.INFORMATION_GOVERNANCE),
    # Lists every command may name: no child in them, and social workers by pseudonymous id.
    Permission.READ_REFERENCE_DATA: grant(*COUNCIL_ROLES),
    # A typo here splits every board: team and service managers keep the lists.
    Permission.MAINTAIN_REFERENCE_DATA: grant(M),
    # The returns are the council's whole cohort, person by person, with each child's UPN: the
    # service and performance managers who sign them off, nobody else (docs/returns.md).
    Permission.EXPORT_RETURNS: grant(M),
}
# Person-level: every read is audited (who, what, why, when), and every erasure. The audit's
# own queries and the retention report name children too (ids, pseudonyms, the 75th birthday).
AUDITED = {
    Permission.READ_CHILD,
    Permission.READ_PERSONAL,
    Permission.READ_PERSON_LEVEL,
    Permission.READ_FEED,
    Permission.SUBJECT_ACCESS,
    Permission.AUDIT,
    Permission.RETENTION,
    Permission.ERASE,
    Permission.EXPORT_RETURNS,
}


@dataclass(frozen=True)
class Access:
    """One permission a route asks for: only when the request's query carries `query` (the
    boards' council view), or always."""

    permission: Permission
    query: tuple[tuple[str, str], ...] = ()  # e.g. (("view", "council"),)
    # audited by the handler, with the children it returns (or, for an erasure, erases)
    lists_children: bool = False

    def applies(self, query: Mapping[str, str]) -> bool:
        return all(query.get(k) == v for k, v in self.query)

    def at(self, method: str, path: str) -> Rule:
        return Rule(method, path, self.permission, self.query, self.lists_children)


@dataclass(frozen=True)
class Rule:
    """A route's declared access, at its method and path: what the docs table shows and what
    the audit records as the action."""

    method: str
    path: str  # the route's template, e.g. /children/{child_id}
    permission: Permission
    query: tuple[tuple[str, str], ...] = ()
    lists_children: bool = False

    def matches(self, method: str, template: str, query: Mapping[str, str]) -> bool:
        return (
            self.method == method
            and self.path == template
            and all(query.get(k) == v for k, v in self.query)
        )

    @property
    def where(self) -> str:
        q = "&".join(f"{k}={v}" for k, v in self.query)
        return f"{self.method} {self.path}" + (f"?{q}" if q else "")


class Requires:
    """A route's permission, declared on the route (`dependencies=[requires(...)]`).

    It checks nothing itself: `authorise`, the dependency of every route of every app, reads
    the matched route's declaration and enforces it before any other dependency runs, so a
    route that declares nothing is refused like one that declares too little."""

    def __init__(self, *options: Access) -> None:
        self.options = options  # the first that applies to the request's query decides

    async def __call__(self) -> None:
        return None

    def applying(self, query: Mapping[str, str]) -> Access | None:
        return next((a for a in self.options if a.applies(query)), None)


def requires(
    permission: Permission, *, lists_children: bool = False, unless: Access | None = None
) -> params.Depends:
    """The route's permission; `unless` names a narrower access that takes over when the
    request's query asks for it (e.g. the council view of a board)."""
    first = (unless,) if unless is not None else ()
    return Depends(Requires(*first, Access(permission, lists_children=lists_children)))


def declaration_of(dependencies: Sequence[params.Depends]) -> Requires | None:
    """The route's own declaration (the last: a route's own overrides its router's)."""
    found = [d.dependency for d in dependencies if isinstance(d.dependency, Requires)]
    return found[-1] if found else None


# The API docs, served by every app (shared/security.py `add_api_docs`) through the gate like
# any route, declaring Permission.API_DOCS; every valid token is granted it.
API_DOCS_PATHS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/docs/assets/{name}")
# Every process serves these (shared/http.py, FastAPI's docs): shown once for every service.
OPERATIONAL_PATHS = frozenset({"/health", "/metrics", *API_DOCS_PATHS})


def rules_of(app: FastAPI) -> list[Rule]:
    """Every route of `app` with its declared access, the narrower (query) ones first; a
    route that declares nothing is absent (refused to everyone)."""
    rules: list[Rule] = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute):
            declared = declaration_of(route.dependencies)
            options = declared.options if declared is not None else ()
            rules += [
                o.at(m, route.path or "") for m in sorted(route.methods or ()) for o in options
            ]
    return rules


def find_rule(
    rules: Sequence[Rule], method: str, template: str, query: Mapping[str, str]
) -> Rule | None:
    return next((r for r in rules if r.matches(method, template, query)), None)


def allowed(permission: Permission, principal: Principal) -> bool:
    return permission is Permission.PUBLIC or (
        permission in GRANTS and GRANTS[permission].allows(principal)
    )


def principal_of(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise HTTPException(401, "authentication required")
    return principal


def forbidden(detail: str) -> HTTPException:
    return HTTPException(403, detail)


async def authorise(request: Request, response: Response) -> None:
    """Every route's first dependency: the matched route's declared access, or 403.

    Routers carry their full paths (no include prefix): FastAPI puts the route as declared
    in the scope, and its path is the template the docs and the audit name."""
    route = request.scope.get("route")
    # Not getattr's default: that is worked out on every request, and request.url builds the
    # whole URL from the headers (17 us a request).
    path: str | None = getattr(route, "path", None)
    template = path if path is not None else request.url.path
    declared = declaration_of(getattr(route, "dependencies", []))
    access = declared.applying(request.query_params) if declared is not None else None
    if access is not None and access.permission is Permission.PUBLIC:
        return
    principal = principal_of(request)
    if access is None:
        raise forbidden(f"{request.method} {template} is not open to anyone (docs/security.md)")
    found = access.at(request.method, template)
    if not allowed(found.permission, principal):
        who = (
            f"{principal.agency} partners"
            if principal.role is Role.PARTNER
            else f"the council's {principal.role} role"
        )
        raise forbidden(f"{who} may not {found.permission} ({found.where}; docs/security.md)")
    request.state.rule = found
    if found.permission in AUDITED and not found.lists_children:
        child_id = request.path_params.get("child_id")
        await audit_read(request, response, [child_id] if child_id else [])


async def audit_read(
    request: Request,
    response: Response | None,
    child_ids: list[str],
    purpose: str | None = None,
) -> str:
    """Record a person-level read before it is answered (or an erasure as it is done); its id
    goes back in X-Audit-Id (on `response`, or on whatever the handler returns: it sets the
    header itself). `purpose`: why, where the request itself says (an erasure's reason)."""
    audit = request.app.state.audit
    rule: Rule | None = getattr(request.state, "rule", None)
    action = rule.where if rule else f"{request.method} {request.url.path}"
    audit_id = str(
        await audit.record(
            principal_of(request),
            action,
            _request_line(request),
            child_ids,
            purpose or request.headers.get("X-Purpose"),
        )
    )
    if response is not None:
        response.headers["X-Audit-Id"] = audit_id
    return audit_id


async def visible_rows(
    request: Request, response: Response | None, rows: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], str]:
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
        check_locality(request, await lookup(key), record=key)


def check_locality(request: Request, locality: str | None, record: str | None = None) -> None:
    """Object-level: a user limited to some localities sees and acts on their children only.

    A `record` outside them is answered exactly as one that does not exist (404): a 403, or a
    message naming its locality, would tell the caller that the id is a child's, and where.
    A locality the caller names itself (a new child's) outside theirs is a 403."""
    principal = principal_of(request)
    if principal.may_see_locality(locality):
        return
    if record is not None:
        raise UnknownStream(record)
    raise forbidden(f"locality {locality!r} is outside yours")


async def whole_council(request: Request) -> None:
    """A route's dependency where what it answers is of the whole council (a statutory
    return): a user limited to some localities is refused it, as the permission alone would
    not (`requires` says who; this, of how much)."""
    if principal_of(request).localities is not None:
        raise forbidden("this is of the whole council: not for a user of some localities")


def write_into(doc: Path, marker: str, text: str) -> None:
    body = doc.read_text()
    start, end = f"<!-- {marker}: generated -->", f"<!-- /{marker} -->"
    head, _, rest = body.partition(start)
    _, _, tail = rest.partition(end)
    doc.write_text(f"{head}{start}\n{text}{end}{tail}")


SECURITY_DOC = Path(__file__).resolve().parent.parent / "docs" / "security.md"

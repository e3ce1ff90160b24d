"""The permission table of docs/security.md, generated from the routes themselves.

Each service's API app is built in memory (nothing is started) and every route is listed with
its method, path and the permission it declares (shared/access.py); the kernel's own routes
(/health, /metrics, the API docs) once, for every service. A stream's commands (two or more
routes under `/children/{child_id}/` with one permission) show as `/children/{child_id}/*`.

`python -m deploy.permissions` (`make docs`) writes it into docs/security.md. It lives here,
not in the kernel, because it imports the services.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from fastapi import FastAPI

from services.accommodation.api import create_app as accommodation
from services.case_events.api import create_app as case_events
from services.education.api import create_app as education
from services.escalations.api import create_app as escalations
from services.partner_feeds.api import create_app as partner_feeds
from services.projections.api import create_app as projections
from services.quality.api import create_app as quality
from shared.access import (
    AUDITED,
    GRANTS,
    OPERATIONAL_PATHS,
    SECURITY_DOC,
    Permission,
    Rule,
    rules_of,
    write_into,
)
from shared.settings import Settings

APIS: dict[str, Callable[[Settings], FastAPI]] = {
    "case_events": case_events,
    "accommodation": accommodation,
    "education": education,
    "escalations": escalations,
    "quality": quality,
    "projections": projections,
    "partner_feeds": partner_feeds,
}
EVERY_SERVICE = "every service"
_UNDER_STREAM = re.compile(r"^(.*/\{\w+\})/[^{}]+$")  # a route under one stream: its stream


# The apps are listed, never served: no token is verified, so this key set is never fetched.
UNUSED_KEY_SET = "https://identity-provider.invalid/jwks.json"


def service_rules() -> dict[str, list[Rule]]:
    """Every service's declared routes, by service."""
    return {
        service: rules_of(create(Settings(service=service, auth_jwks=UNUSED_KEY_SET)))
        for service, create in APIS.items()
    }


def endpoints(service: str, rules: Iterable[Rule]) -> set[str]:
    """`METHOD path` (and query) of each rule, a stream's commands folded into `stream/*`."""
    shown = {(r.method, r.path, r.query) for r in rules}
    under: dict[tuple[str, str, tuple[tuple[str, str], ...]], int] = {}
    for method, path, query in shown:
        if stream := _UNDER_STREAM.match(path):
            key = (method, stream[1], query)
            under[key] = under.get(key, 0) + 1
    folded = set()
    for method, path, query in shown:
        stream = _UNDER_STREAM.match(path)
        if stream and under[(method, stream[1], query)] > 1:
            path = f"{stream[1]}/*"
        where = Rule(method, path, Permission.PUBLIC, query).where
        folded.add(f"`{where}` ({EVERY_SERVICE if path in OPERATIONAL_PATHS else service})")
    return folded


def who(permission: Permission) -> str:
    if permission is Permission.PUBLIC:
        return "anyone, without a token"
    g = GRANTS[permission]
    text = ", ".join(f"`{r}`" for r in sorted(g.roles))
    if g.partners:
        text += (
            (" (council); " if g.roles else "")
            + "partners of "
            + ", ".join(sorted(a.value for a in g.partners))
        )
    if permission in AUDITED:
        text += " — **audited**"
    return text


def matrix_markdown(by_service: dict[str, list[Rule]] | None = None) -> str:
    """The table: each permission, who is granted it, and every route that declares it."""
    by_service = by_service if by_service is not None else service_rules()
    lines = ["| permission | who is granted it | endpoints |", "|---|---|---|"]
    for permission in Permission:
        shown = sorted(
            set().union(
                *(
                    endpoints(service, [r for r in rules if r.permission is permission])
                    for service, rules in by_service.items()
                )
            )
        )
        lines.append(f"| {permission} | {who(permission)} | {'<br>'.join(shown)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    write_into(SECURITY_DOC, "permissions", matrix_markdown())
    print(f"permissions written into {SECURITY_DOC.name}")

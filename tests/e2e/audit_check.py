"""Audit completeness: every person-level read the end-to-end tests make has its audit record.

Every response any test receives through httpx is noted (`ResponseLog`). When a platform
stops, each successful answer from its APIs to a person-level endpoint (an audited permission
in shared/access.py: reads, the audit's own queries, the retention report, erasures; for a
list, one that names children) must carry X-Audit-Id, and the audit log must hold that record,
for that user and that request, naming every child the answer names (an erasure: its child).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import jwt
from starlette.routing import Match

from shared.access import AUDITED, find_rule
from tests.apps import api_routes, rules_for
from tests.infrastructure import Infrastructure, ServiceProcess


@dataclass(frozen=True)
class Seen:
    method: str
    url: str
    status: int
    user: str | None
    audit_id: str | None
    names_children: bool
    children: frozenset[str] = frozenset()  # every child id the answer (a command: body) names


SEEN: list[Seen] = []


def _note(response: httpx.Response) -> None:
    request = response.request
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    try:  # whose request it was (the services verified the token; this only reads it)
        user = jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.PyJWTError:
        user = None  # no token, or not one at all (tests of refusals send those)
    try:
        names = b'"child_id' in response.content  # read already, unless streamed
    except httpx.ResponseNotRead:
        names = False
    # A command names its child in its body (an acknowledgement), an erasure in its path.
    children = _children(request.content) if request.method == "POST" else frozenset()
    SEEN.append(
        Seen(
            request.method,
            str(request.url),
            response.status_code,
            user,
            response.headers.get("x-audit-id"),
            names,
            _children(response.content) if names else children,
        )
    )


def _children(content: bytes) -> frozenset[str]:
    """Every `child_id` (and each of `child_ids`) anywhere in a JSON answer or body."""
    try:
        body = json.loads(content)
    except ValueError:
        return frozenset()
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "child_id" and isinstance(item, str):
                    found.add(item)
                elif key == "child_ids" and isinstance(item, list):
                    found.update(str(c) for c in item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(body)
    return frozenset(found)


def record_responses() -> Iterator[None]:
    """Wrap httpx's send (sync and async) for the session."""
    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def send(self: httpx.Client, request: httpx.Request, **options: Any) -> httpx.Response:
        response = sync_send(self, request, **options)
        _note(response)
        return response

    async def asend(
        self: httpx.AsyncClient, request: httpx.Request, **options: Any
    ) -> httpx.Response:
        response = await async_send(self, request, **options)
        _note(response)
        return response

    httpx.Client.send, httpx.AsyncClient.send = send, asend  # type: ignore[method-assign]
    try:
        yield
    finally:
        httpx.Client.send, httpx.AsyncClient.send = sync_send, async_send  # type: ignore[method-assign]


def person_level_reads(processes: dict[str, ServiceProcess]) -> list[Seen]:
    apis = {p.url: p.module.rsplit(".", 1)[-1] for p in processes.values() if p.role == "api"}
    found = []
    for seen in SEEN:
        parts = urlsplit(seen.url)
        service = apis.get(f"{parts.scheme}://{parts.netloc}")
        if service is None or seen.status != (201 if seen.method == "POST" else 200):
            continue  # a read answered, or an erasure done (not one repeated: 200, no news)
        scope = {"type": "http", "path": parts.path, "method": seen.method}
        template = next(
            (r.path for r in api_routes(service) if r.matches(scope)[0] is Match.FULL), None
        )
        query = dict(q.split("=", 1) for q in parts.query.split("&") if "=" in q)
        rule = find_rule(rules_for(service), seen.method, template or "", query)
        if (
            rule is not None
            and rule.permission in AUDITED
            and (not rule.lists_children or seen.names_children or seen.method == "POST")
        ):
            found.append(seen)
    return found


def _named(seen: Seen) -> frozenset[str]:
    """The children the audit record must name: those in a list's answer, the one whose
    erasure (a command on /children/{child_id}/...) it was, or those a command's body names."""
    path = urlsplit(seen.url).path.split("/")
    if seen.method == "POST" and path[1] == "children":
        return frozenset({path[2]})
    return seen.children


def check_reads_audited(
    processes: dict[str, ServiceProcess], infra: Infrastructure, namespace: str
) -> int:
    reads = person_level_reads(processes)
    missing = [f"{r.method} {r.url} by {r.user}" for r in reads if r.audit_id is None]
    assert not missing, f"person-level reads without an audit record: {missing[:20]}"

    async def recorded() -> dict[str, tuple[str, str, frozenset[str]]]:
        conn = await asyncpg.connect(infra.dsn(f"{namespace}partner_feeds"))
        try:
            rows = await conn.fetch(
                "SELECT audit_id::text, user_id, request, child_ids FROM access_log"
                " WHERE audit_id = ANY($1::uuid[])",
                [r.audit_id for r in reads],
            )
        finally:
            await conn.close()
        return {
            r["audit_id"]: (r["user_id"], r["request"], frozenset(r["child_ids"])) for r in rows
        }

    log = asyncio.run(recorded()) if reads else {}
    nothing: tuple[str, str, frozenset[str]] = ("", "", frozenset())
    wrong = [
        f"{r.method} {r.url} by {r.user}: {log.get(r.audit_id or '')}"
        for r in reads
        if log.get(r.audit_id or "", nothing)[0] != r.user
        or urlsplit(r.url).path != urlsplit(log[r.audit_id or ""][1]).path
        or not _named(r) <= log[r.audit_id or ""][2]
    ]
    assert not wrong, f"audit records missing or not matching the read: {wrong[:20]}"
    return len(reads)

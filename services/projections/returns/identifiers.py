"""The UPNs a return names, asked of case events (which keeps them sealed) with the caller's
own token: the projections service never holds a UPN, and case events audits the read as the
person who asked for the return."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from fastapi import HTTPException
from structlog.contextvars import get_contextvars

from shared.http import services_trusted
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

BATCH = 5_000  # children per request (case events takes up to 20,000, a bulk body)


def refused(status: int, body: str) -> HTTPException:
    """Case events' refusal, as the caller should read it: the caller's own 403 stays a 403
    (they may not read UPNs); its rate limit or unavailability is ours to retry (503); any
    other answer is a fault between the services (502), logged, never echoed."""
    if status == 403:
        return HTTPException(403, "case events refused you the UPNs this return names")
    log.warning("case events refused the UPNs", status=status, body=body[:500])
    if status in (429, 503):
        return HTTPException(503, "case events is busy: try again", headers={"Retry-After": "5"})
    return HTTPException(502, f"case events answered {status} when asked for the UPNs")


async def pupil_numbers(
    settings: Settings, authorization: str, child_ids: Sequence[str]
) -> dict[str, str]:
    """Each child's UPN as last recorded; a child without one is absent."""
    found: dict[str, str] = {}
    verify = services_trusted(settings)
    async with httpx.AsyncClient(
        base_url=settings.case_events_url, verify=verify, timeout=60
    ) as client:
        ids = sorted(set(child_ids))
        for start in range(0, len(ids), BATCH):
            try:
                r = await client.post(
                    "/returns/pupil-numbers",
                    json={"child_ids": ids[start : start + BATCH]},
                    headers={
                        "Authorization": authorization,
                        # The download's own id: case events' access line and audit share it.
                        "X-Correlation-Id": str(get_contextvars().get("correlation_id", "")),
                    },
                )
            except httpx.HTTPError as e:
                log.warning("case events could not be asked for the UPNs", error=repr(e))
                raise HTTPException(
                    503,
                    "case events could not be asked for the UPNs: try again",
                    headers={"Retry-After": "5"},
                ) from e
            if r.status_code != 200:
                raise refused(r.status_code, r.text)
            upns = r.json().get("upns")
            if not isinstance(upns, dict):
                raise refused(r.status_code, r.text)
            found.update({k: v for k, v in upns.items() if isinstance(v, str) and v})
    return found

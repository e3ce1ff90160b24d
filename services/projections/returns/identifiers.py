"""The UPNs a return names, asked of case events (which keeps them sealed) with the caller's
own token: the projections service never holds a UPN, and case events audits the read as the
person who asked for the return."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from fastapi import HTTPException

from shared.settings import Settings

BATCH = 10_000  # children per request (case events takes up to 20,000)


async def pupil_numbers(
    settings: Settings, authorization: str, child_ids: Sequence[str]
) -> dict[str, str]:
    """Each child's UPN as last recorded; a child without one is absent."""
    found: dict[str, str] = {}
    verify: str | bool = settings.http_cafile or True
    async with httpx.AsyncClient(
        base_url=settings.case_events_url, verify=verify, timeout=60
    ) as client:
        ids = sorted(set(child_ids))
        for start in range(0, len(ids), BATCH):
            try:
                r = await client.post(
                    "/returns/pupil-numbers",
                    json={"child_ids": ids[start : start + BATCH]},
                    headers={"Authorization": authorization},
                )
            except httpx.HTTPError as e:
                raise HTTPException(
                    503, f"case events could not be asked for the UPNs ({e!r}): try again"
                ) from e
            if r.status_code != 200:
                raise HTTPException(
                    502 if r.status_code >= 500 else r.status_code,
                    f"case events answered {r.status_code} when asked for the UPNs: {r.text[:300]}",
                )
            found.update({k: v for k, v in r.json()["upns"].items() if v})
    return found

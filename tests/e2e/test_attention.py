"""The incident management teams' attention queue, as they use it, in a real headless browser
(Debian's Chromium, driven by Playwright) against a platform of the module's own (it records):

- a breach (an under-16 placed in an unregulated setting) recorded through the API appears on
  the live page, without a reload, within a second of the 201 (the issue's requirement: the
  time is measured and asserted, not a benchmark);
- acknowledging it with the keyboard alone records an event (`AttentionAcknowledged` on
  escalation-events, with who and to whom) and the item shows it;
- the fact that ends it (the child moved to a regulated placement) takes it off the page;
- a partnership role sees counts of each kind only, suppressed, and never the queue.

Screenshots: test-artifacts/screenshots/attention-*.png.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from contracts.topics import ESCALATION_EVENTS
from deploy.local.stack import ROOT
from shared.settings import Settings
from tests.e2e import conftest as e2e
from tests.e2e.conftest import SHOTS, Platform
from tests.e2e.journey import Practitioner
from tests.infrastructure import HTTP, Infrastructure, auth, platform_today, poll_until, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
IMT = "imt-duty-1"  # the incident management team's member on duty
# How long an outcome the issue sets no time for (an acknowledgement shown, an item taken off)
# is waited for: a deadline, not a promise. Under `make test`'s load a command's 201 once took
# 1.6 s and its item went off the page 5.3 s after it, past the 5 s this test used to allow.
DEADLINE_MS = 30_000


@pytest.fixture(scope="module")
def platform(infra: Infrastructure) -> Iterator[Platform]:
    """A platform of the module's own (it records), without the returns' checker this module
    does not read."""
    with e2e.started_platform(infra, CSP_RETURNS_CHECK="false") as started:
        yield started


async def signed_in(browser: Browser, base: str, role: str, agency: str = "council") -> Page:
    """A page of a user signed in as a person does: the sign-in page, a token pasted,
    submitted. The sign-in cookie then carries every page and the dashboard's own forms."""
    context = await browser.new_context(viewport={"width": 1200, "height": 1000})
    page = await context.new_page()
    await page.goto(f"{base}/dashboard")
    await page.wait_for_url("**/login?next=/dashboard")
    user = IMT if role == "incident_management" else None
    token = auth(role, agency, user)["Authorization"].removeprefix("Bearer ")
    await page.fill("#token", token)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/dashboard")
    return page


def fourteen_today() -> str:
    return (platform_today() - timedelta(days=14 * 365 + 30)).isoformat()


async def tab_to(page: Page, element_id: str, limit: int = 80) -> None:
    """Press Tab until the element has the focus, as a keyboard user reaches it."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} is not reached with the Tab key")


async def test_a_breach_is_on_the_page_within_a_second_acknowledged_by_keyboard_then_cleared(
    platform: Platform, browser: Browser, infra: Infrastructure
) -> None:
    pr = Practitioner(platform)
    child = pr.register(dob=fourteen_today(), locality="Exeter")
    pr.wait_known(child, ("accommodation", "escalations"))
    # The queue shows an item of a child the boards know: the second below is the breach's.
    pr.wait_projected(child)
    url = platform.projections.url
    page = await signed_in(browser, url, "incident_management")
    await page.goto(f"{url}/dashboard/live")
    assert page.url.endswith("/dashboard/live?view=council")  # sent to the queue itself
    await expect(page.locator("#live-status")).to_have_text("live", timeout=15_000)
    marker = await page.evaluate("window.attentionMarker = Math.random()")

    start = (platform_today() - timedelta(days=1)).isoformat()
    pr.child(
        "accommodation",
        child,
        "/placements",
        placement_id="P-1",
        start_date=start,
        placement_type="H5",  # semi-independent, unregistered: unregulated for a 14-year-old
        provider="PR4",
        in_council_area=True,
    )
    recorded = time.monotonic()  # the 201: the breach is committed
    row = page.locator(f'tr[data-child="{child}"][data-kind="accommodation_breach"]')
    await row.wait_for(state="attached", timeout=10_000)
    shown_after = time.monotonic() - recorded
    assert shown_after < 1.0, f"shown {shown_after:.3f} s after the 201"
    assert await page.evaluate("window.attentionMarker") == marker  # the same page: no reload
    text = await row.inner_text()
    for expected in ("Placement the law does not allow", "Exeter", "aged 13-17", "1 day"):
        assert expected in text, (expected, text)
    assert "Not yet" in text
    await page.screenshot(path=SHOTS / "attention-queue.png", full_page=True)

    # Acknowledged and assigned with the keyboard alone: Tab to the worker's id, type, Enter.
    item_id = await row.get_attribute("data-item")
    assert item_id
    await tab_to(page, f"assign-{item_id}")
    await page.keyboard.type("SW-17")
    await page.keyboard.press("Enter")
    await page.wait_for_url(lambda u: u.endswith(f"/dashboard/live?view=council#item-{item_id}"))
    row = page.locator(f"#item-{item_id}")
    await expect(row.locator("[data-acknowledged]")).to_have_text(
        f"By {IMT}, assigned to SW-17", timeout=DEADLINE_MS
    )
    await page.screenshot(path=SHOTS / "attention-acknowledged.png", full_page=True)
    await expect(page.locator("#live-status")).to_have_text("live", timeout=15_000)
    marker = await page.evaluate("window.attentionMarker = Math.random()")  # the page posted

    # The event itself, on the escalations topic: who acknowledged, whom it is assigned to.
    topic = f"{platform.namespace}{ESCALATION_EVENTS}"
    records = await read_topic(infra.kafka_bootstrap, topic)
    acknowledged = [
        json.loads(r.value) for r in records if r.key == f"attention-{item_id}".encode() and r.value
    ]
    assert len(acknowledged) == 1, acknowledged
    event = acknowledged[0]
    assert event["event_type"] == "AttentionAcknowledged"
    assert event["actor"]["user_id"] == IMT and event["actor"]["role"] == "incident_management"
    assert event["payload"]["assigned_to"] == "SW-17"
    assert (
        event["payload"]["child_id"] == child and event["payload"]["kind"] == "accommodation_breach"
    )
    # ... and audited, with the child, as the incident management team's member.
    audits = audit_of(platform, child)
    assert any(
        a["user_id"] == IMT
        and a["action"] == "POST /attention/{kind}/{item_id}/acknowledgements"
        and a["child_ids"] == [child]
        for a in audits
    ), audits

    # The fact that ends it: the child moved to a regulated placement. Off the page, live.
    pr.child(
        "accommodation",
        child,
        "/placement-changes",
        placement_id="P-2",
        start_date=platform_today().isoformat(),
        placement_type="U3",
        provider="PR1",
        in_council_area=True,
        reason="CHILD",
    )
    await expect(row).to_have_count(0, timeout=DEADLINE_MS)
    assert await page.evaluate("window.attentionMarker") == marker
    await page.screenshot(path=SHOTS / "attention-cleared.png", full_page=True)
    await page.context.close()


def audit_of(platform: Platform, child: str) -> list[dict[str, Any]]:
    """The access audit's records naming the child, as information governance reads them."""
    response = HTTP.get(
        f"{platform.partner_feeds.url}/audit",
        headers=auth("information_governance"),
        params={"child_id": child},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    reads: list[dict[str, Any]] = response.json()["reads"]
    return reads


@pytest.fixture(scope="module")
def missing(platform: Platform) -> dict[str, Any]:
    """A 14-year-old of Mid Devon gone missing today: the queue's item, as a manager reads it,
    with the days it can have been open when read (`open_for`: 0, or 1 if London's date
    turned in between; a module's fixture is not made again when its test is rerun)."""
    pr = Practitioner(platform)
    child = pr.register(dob=fourteen_today(), locality="Mid Devon")
    started = platform_today()
    pr.child("case_events", child, "/missing-episodes", started_on=started.isoformat(), kind="M")
    poll_until(lambda: listed(platform, child, auth("manager")) != [], 60, 0.05, "listed")
    before = platform_today()
    [item] = listed(platform, child, auth("manager"))
    open_for = {(before - started).days, (platform_today() - started).days}
    return {**item, "open_for": open_for}


def listed(platform: Platform, child: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = HTTP.get(
        f"{platform.projections.url}/attention", params={"kind": "missing"}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-audit-id"]  # a read naming children: audited
    return [i for i in response.json()["items"] if i["child_id"] == child]


def test_the_queue_over_http_names_children_to_the_council_and_counts_to_partners(
    platform: Platform, missing: dict[str, Any]
) -> None:
    child, api = missing["child_id"], platform.projections.url
    assert missing["locality"] == "Mid Devon" and missing["age_band"] == "13-17"
    assert missing["record"] == f"/dashboard/children/{child}/chronology"
    assert missing["acknowledged"] is None and missing["days_open"] in missing["open_for"]
    # A user of another locality is not told of it; partners may not read the queue at all.
    assert listed(platform, child, auth("manager", localities=["Exeter"])) == []
    assert HTTP.get(f"{api}/attention", headers=auth("partner", "police")).status_code == 403
    counts = HTTP.get(f"{api}/attention/counts", headers=auth("partner", "police"))
    assert counts.status_code == 200
    figure = next(f for f in counts.json()["figures"] if f["key"] == "open.missing")
    assert figure["suppressed"] and figure["count"] is None  # one child: a small number
    assert child not in counts.text
    # The acknowledgement's own checks, at the escalations API: a worker's id, and who may.
    ack = f"{platform.escalations.url}/attention/missing/{missing['item_id']}/acknowledgements"
    bad = {"child_id": child, "assigned_to": "not a worker id"}
    assert HTTP.post(ack, json=bad, headers=auth("incident_management")).status_code == 422
    good = {"child_id": child, "assigned_to": "SW-2"}
    assert HTTP.post(ack, json=good, headers=auth("partner", "police")).status_code == 403
    assert HTTP.post(ack, json=good, headers=auth("board_member")).status_code == 403
    # An Idempotency-Key names one request, the item in its path too: used again for another
    # item, it is refused, not answered with the first item's acknowledgement.
    worker = {**auth("incident_management"), "Idempotency-Key": f"ack-{uuid.uuid4()}"}
    assert HTTP.post(ack, json=good, headers=worker).status_code == 201
    another = ack.replace(missing["item_id"], str(uuid.uuid4()))
    reused = HTTP.post(another, json=good, headers=worker)
    assert reused.status_code == 422, reused.text
    assert reused.json()["detail"][0]["type"] == "idempotency_key_reused"


async def test_a_partnership_role_sees_counts_of_each_kind_only(
    platform: Platform, browser: Browser, missing: dict[str, Any]
) -> None:
    url, child = platform.projections.url, missing["child_id"]
    page = await signed_in(browser, url, "partner", "police")
    response = await page.goto(f"{url}/dashboard/live")
    assert response is not None and response.status == 200
    assert page.url.endswith("/dashboard/live")  # no queue for them: the counts
    counted = page.locator('.app-attention-counts tr[data-count="open.missing"]')
    await expect(counted).to_contain_text("suppressed")
    assert await page.locator("tr[data-item]").count() == 0
    assert child not in await page.content()
    await page.screenshot(path=SHOTS / "attention-partnership.png", full_page=True)
    refused = await page.goto(f"{url}/dashboard/live?view=council")
    assert refused is not None and refused.status == 403
    await page.context.close()


async def test_a_rebuild_holds_the_queue_row_for_row_as_the_live_build_has_it(
    platform: Platform, infra: Infrastructure, missing: dict[str, Any]
) -> None:
    """Items opened, acknowledged and cleared by the tests above (and the missing child's, open)
    are rebuilt from offset 0 exactly as the live build holds them: the acknowledgements come
    on another topic than the items, in whichever order."""
    worker = platform.projections_worker
    rebuilt = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.projections", "rebuild"],
        cwd=ROOT,
        env=worker.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    database = Settings(service="projections", namespace=platform.namespace).database
    connection = await asyncpg.connect(infra.dsn(database))
    try:
        builds = await connection.fetch("SELECT schema_name, live FROM board_builds")
        live = next(b["schema_name"] for b in builds if b["live"])
        before = next(b["schema_name"] for b in builds if not b["live"])

        async def tables(schema: str) -> list[list[tuple[Any, ...]]]:
            return [
                [
                    tuple(r)
                    for r in await connection.fetch(
                        f'SELECT * FROM "{schema}".{table} ORDER BY item_id'
                    )
                ]
                for table in ("attention_items", "attention_acknowledgements")
            ]

        now, then = await tables(live), await tables(before)
    finally:
        await connection.close()
    assert now == then
    items, acknowledgements = now
    assert any(r[1] == "accommodation_breach" and r[9] is not None for r in items)  # cleared
    assert any(str(r[0]) == missing["item_id"] and r[9] is None for r in items)  # still open
    assert len(acknowledgements) >= 1

"""The dashboard in a real headless browser (Debian's Chromium, driven by Playwright) against
the running platform, loaded with a small demo county through the public APIs. Screenshots of
every page are kept under test-artifacts/screenshots/."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from services.projections.boards.declarations import BOARDS
from tests.e2e.conftest import SHOTS, Platform
from tests.e2e.journey import Practitioner, consumed
from tests.infrastructure import auth, platform_today

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def signed_in(
    browser: Browser, base: str, role: str = "manager", agency: str = "council", **options: object
) -> Page:
    """A new page, signed in as a person does: the sign-in page, a token pasted, submitted."""
    page = await browser.new_page(**options)  # type: ignore[arg-type]
    await page.goto(f"{base}/dashboard")
    await page.wait_for_url("**/login?next=/dashboard")  # sent to sign in
    await page.fill("#token", auth(role, agency)["Authorization"].removeprefix("Bearer "))
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/dashboard")
    return page


async def test_signing_in_with_a_bad_token_says_why(county: Platform, browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto(f"{county.projections.url}/login")
    await page.fill("#token", "not-a-token")
    await page.click("button[type=submit]")
    assert "The token was not accepted" in await page.inner_text(".govuk-error-summary")
    await page.goto(f"{county.projections.url}/dashboard/timeliness")
    assert "/login" in page.url  # still not signed in
    await page.close()


async def test_a_partner_sees_the_partnership_view_and_never_the_council_view(
    county: Platform,
    browser: Browser,
) -> None:
    page = await signed_in(browser, county.projections.url, role="partner", agency="police")
    assert "Oversight boards" in await page.inner_text("h1")
    response = await page.goto(f"{county.projections.url}/dashboard/priority-cohort?view=council")
    assert response is not None and response.status == 403
    await page.close()


async def figure(page: Page, key: str) -> str:
    return (await page.locator(f'tr[data-key="{key}"] [data-count]').first.inner_text()).strip()


async def test_every_board_page_renders_its_figures(county: Platform, browser: Browser) -> None:
    page = await signed_in(
        browser, county.projections.url, viewport={"width": 1200, "height": 1000}
    )
    blocked: list[str] = []
    page.on(
        "console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None
    )
    url = county.projections.url
    response = await page.goto(f"{url}/dashboard?view=council")
    assert response is not None and response.status == 200
    headers = await response.all_headers()
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    # The page's own scripts run under that policy (no inline script is needed).
    assert await page.evaluate("document.body.classList.contains('js-enabled')")
    await page.screenshot(path=SHOTS / "index.png", full_page=True)
    for board, title in BOARDS.items():
        response = await page.goto(f"{url}/dashboard/{board}?view=council")
        assert response is not None and response.status == 200, board
        assert await page.locator("h1").inner_text() == title
        rows = page.locator(f'table[data-board="{board}"] tbody tr')
        assert await rows.count() > 0, f"{board} shows no figures"
        links = page.locator(f'table[data-board="{board}"] a[href="/definitions#{board}"]')
        assert await links.count() == await rows.count()  # every figure links to its definition
        await page.screenshot(path=SHOTS / f"{board}.png", full_page=True)
    await page.goto(f"{url}/definitions")
    assert await page.locator("#timeliness").count() == 1
    await page.screenshot(path=SHOTS / "definitions.png")
    # The assets are served by the platform itself (no CDN): the stylesheet applies.
    background = await page.evaluate(
        "getComputedStyle(document.querySelector('.govuk-footer')).backgroundColor"
    )
    assert background not in ("", "rgba(0, 0, 0, 0)")
    assert blocked == []  # nothing the pages use was refused by the policy
    await page.close()


async def test_the_locality_filter_and_the_as_at_date_change_the_figures(
    county: Platform,
    browser: Browser,
) -> None:
    url = county.projections.url
    page = await signed_in(browser, url)
    await page.goto(f"{url}/dashboard/children-in-care?view=council")
    everyone = int(await figure(page, "in_care"))
    assert everyone > 0
    localities = await page.locator("#locality option").all_inner_texts()
    counts = {}
    for locality in localities[1:]:
        await page.select_option("#locality", label=locality)
        await page.click("button[type=submit]")  # keyboard users: the same form and button
        await page.wait_for_url(f"**locality={locality.replace(' ', '+')}**")
        counts[locality] = int(await figure(page, "in_care"))
    assert sum(counts.values()) == everyone  # the localities partition the county
    assert len(set(counts.values())) > 1
    await page.select_option("#locality", label="All localities")
    year_ago = (platform_today() - timedelta(days=365)).isoformat()
    await page.fill("#as_at", year_ago)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"**as_at={year_ago}**")
    assert int(await figure(page, "in_care")) != everyone
    await page.screenshot(path=SHOTS / "children-in-care-a-year-ago.png", full_page=True)
    await page.close()


async def test_the_live_page_shows_a_new_event_without_a_reload(
    platform: Platform,
    browser: Browser,
) -> None:
    """On the modules' shared platform, not the county: the child taken into care here would
    be in the county's statutory returns, which tests/e2e/test_returns.py holds to every rule.
    What the modules before recorded is all on the boards before the count is read."""
    await consumed(platform)
    page = await signed_in(browser, platform.projections.url)
    # The figures are fetched again once the feed is joined: a change committed between the
    # page's drawing and the feed's joining (or while it reconnected) is not left unshown
    # until the next one, which on a quiet evening can be hours.
    async with page.expect_request(lambda r: "/dashboard/live/figures" in r.url):
        await page.goto(f"{platform.projections.url}/dashboard/live?view=council")
    await page.wait_for_selector("#live-status:has-text('live')")
    in_care = page.locator('[data-figure="children-in-care.in_care"]')
    before = int(await in_care.inner_text())
    marker = await page.evaluate("window.liveMarker = Math.random()")

    pr = Practitioner(platform)
    child = pr.register(dob="2015-06-01", locality="Exeter")
    pr.child(
        "case_events",
        child,
        "/periods-of-care",
        start_date=platform_today().isoformat(),
        legal_status="V2",
    )
    # A locator assertion (polling with a deadline), not a JavaScript string: the page's
    # Content-Security-Policy forbids evaluating strings.
    await expect(in_care).to_have_text(str(before + 1), timeout=60_000)
    assert await page.evaluate("window.liveMarker") == marker  # the same page: no reload
    await expect(page.locator("#attention [data-attention-version]")).to_have_count(1)
    await page.screenshot(path=SHOTS / "live.png", full_page=True)
    await page.close()


async def test_the_sign_in_cookie_is_the_dashboards_only_and_signing_out_clears_it(
    county: Platform, browser: Browser
) -> None:
    """Cookies are scoped by host, not port: the browser sends the dashboard's cookie to every
    service on the host, and only the dashboard's app takes it."""
    page = await signed_in(browser, county.projections.url)
    own = await page.goto(f"{county.projections.url}/openapi.json")
    assert own is not None and own.status == 200
    for service in ("case_events", "education"):
        response = await page.goto(f"{getattr(county, service).url}/openapi.json")
        assert response is not None and response.status == 401, service
    await page.goto(f"{county.projections.url}/dashboard")
    await page.click("text=Sign out")
    await page.wait_for_url(f"{county.projections.url}/login")
    assert await page.context.cookies() == []
    await page.goto(f"{county.projections.url}/dashboard")
    assert "/login" in page.url  # signed out: sent to sign in again
    await page.close()


async def test_a_childs_chronology_from_a_board_row_filtered_by_kind_and_printable(
    county: Platform, browser: Browser
) -> None:
    url = county.projections.url
    page = await signed_in(browser, url, viewport={"width": 1200, "height": 1000})
    await page.goto(f"{url}/dashboard/priority-cohort?view=council")
    links = page.locator('a[href^="/dashboard/children/"][href$="/chronology"]')
    assert await links.count() > 0  # each child the board names links to its chronology
    await links.first.click()
    await page.wait_for_url("**/dashboard/children/*/chronology")
    assert await page.locator("h1").inner_text() == "Chronology"
    rows = page.locator("table[data-chronology] tbody tr")
    everything = await rows.count()
    assert everything > 0
    days = [str(await t.get_attribute("datetime")) for t in await rows.locator("th time").all()]
    assert days == sorted(days)  # in date order, oldest first
    await page.screenshot(path=SHOTS / "chronology.png", full_page=True)

    # One kind ticked: only its lines, as many as the filter said.
    kind = page.locator('input[name="kind"]').first
    event_type = await kind.get_attribute("value")
    label = await page.locator(f'label[for="kind-{event_type}"]').inner_text()
    await kind.check()
    await page.click("button[type=submit]")
    await page.wait_for_url(f"**kind={event_type}**")
    assert {await r.get_attribute("data-event-type") for r in await rows.all()} == {event_type}
    assert label.endswith(f"({await rows.count()})")
    assert await page.locator(f'input[name="kind"][value="{event_type}"]').is_checked()

    # Printed: the lines and what they are, without the filters or the site's navigation.
    assert await page.locator("[data-app-print]").is_visible()  # scripts run: a Print button
    await page.emulate_media(media="print")
    for hidden in ("form", ".govuk-service-navigation", ".govuk-footer", "[data-app-print]"):
        assert await page.locator(hidden).first.is_hidden(), hidden
    assert await page.locator(".app-print-only").is_visible()
    assert await rows.first.is_visible()
    await page.screenshot(path=SHOTS / "chronology-print.png", full_page=True)
    chronology = page.url
    await page.close()

    partner = await signed_in(browser, url, role="partner", agency="police")
    response = await partner.goto(chronology)
    assert response is not None and response.status == 403  # council casework roles only
    await partner.close()


async def test_a_demo_county_still_loading_says_how_far_it_has_got_on_every_page(
    county: Platform, browser: Browser
) -> None:
    """make run prints its URLs before the demo county is loaded; whoever signs in at once is
    told the boards are still filling, and how far the load has got (the loader's progress
    file, as make run's projections API is given it)."""
    from deploy.demo.county import Progress

    file = Path(county.projections.env["CSP_DEMO_PROGRESS_FILE"])
    loaded = await asyncio.to_thread(file.read_text)
    assert json.loads(loaded)["state"] == "loaded"  # the county's own load wrote it
    page = await signed_in(browser, county.projections.url)
    banner = page.locator("[data-demo-progress]")
    assert await banner.count() == 0  # loaded: nothing to say
    try:
        progress = Progress(25_714, file)
        progress.done = 12_000
        progress.write("loading")
        for path in ("/dashboard", "/dashboard/timeliness", "/definitions"):
            await page.goto(f"{county.projections.url}{path}")
            await expect(banner).to_contain_text("12,000 of 25,714 commands (46%)")
        await page.screenshot(path=SHOTS / "demo-county-loading.png")
        progress.write("failed")
        await page.reload()
        await expect(banner).to_contain_text("did not load completely")
    finally:
        await asyncio.to_thread(file.write_text, loaded)
    await page.reload()
    assert await banner.count() == 0
    await page.close()

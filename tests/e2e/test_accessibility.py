"""Every dashboard page meets WCAG 2.2 AA and is usable by keyboard alone, in a real headless
browser (Debian's Chromium, driven by Playwright) on the shared demo county: axe-core's rules
find nothing on any page, a check that can fail (a planted fault is caught and named), and Tab
reaches every link, button and field of each page in order, each showing the GOV.UK focus
style, the skip link first. The key tasks are done with the keyboard alone: signing in,
changing a board's as-at date and locality, opening a child's chronology, downloading a CSV.
A page that fails is photographed in test-artifacts/screenshots/a11y-*.png."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.async_api import Browser, Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from services.projections.boards.declarations import BOARDS
from tests.e2e.accessibility import (
    assert_accessible,
    axe_violations,
    described,
    keyboard_walk,
    skip_link_moves_focus_to_main,
)
from tests.e2e.conftest import SHOTS, Platform
from tests.infrastructure import auth, platform_today

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
TOKEN = auth("manager")["Authorization"].removeprefix("Bearer ")
LOADED_WITHIN_MS = 30_000  # Playwright's default


async def tab_to(page: Page, selector: str, most: int = 400) -> None:
    """Press Tab until the element the selector names has the focus, as a person would."""
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{most} presses of Tab never reached {selector} on {page.url}")


async def signed_in_by_keyboard(browser: Browser, base: str) -> Page:
    """The sign-in page with the keyboard alone: Tab to the token field, paste, Enter."""
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await page.goto(f"{base}/dashboard")
    await page.wait_for_url("**/login?next=/dashboard")
    await tab_to(page, "#token")
    await page.keyboard.insert_text(TOKEN)  # as a paste
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/dashboard")
    return page


async def pages_of(page: Page, base: str) -> dict[str, str]:
    """Every page of the dashboard a council manager sees: name -> path."""
    pages = {
        "index": "/dashboard",
        "index-council": "/dashboard?view=council",
        "definitions": "/definitions",
        "live": "/dashboard/live",
        "data-quality": "/dashboard/data-quality",
        "data-quality-council": "/dashboard/data-quality?view=council",
        "returns": "/dashboard/returns",
        "packs": "/dashboard/packs",  # the board pack's form (a pack made records: not here)
        "not-found": "/dashboard/no-such-board",
    }
    for board in BOARDS:
        pages[board] = f"/dashboard/{board}"
        pages[f"{board}-council"] = f"/dashboard/{board}?view=council"
    await page.goto(f"{base}/dashboard/priority-cohort?view=council")
    child = page.locator('a[href^="/dashboard/children/"][href$="/chronology"]').first
    pages["chronology"] = str(await child.get_attribute("href"))
    return pages


# The board pages share one template: every one is checked by axe, and these (one of each
# shape: a trend board, the attendance matrix, a board of monthly counts, the plan of other
# boards' figures) are walked by the keyboard too, in both views.
WALKED = {"timeliness", "attendance", "front-door", "improvement-plan"}


async def checked(page: Page, name: str, walk: bool = True) -> list[str]:
    """What is wrong with the page as it is now, to the keyboard (if `walk`) and to axe:
    empty if nothing. The keyboard first, from the top of the page as loaded."""
    problems = (await keyboard_walk(page)).problems() if walk else []
    if walk and not await skip_link_moves_focus_to_main(page):
        problems.append("Enter on the skip link does not move the focus to the main content")
    violations = await axe_violations(page)
    if violations:
        problems.append(described("axe-core", violations))
    if problems:
        await page.screenshot(path=SHOTS / f"a11y-{name}.png", full_page=True)
    return [f"{name} ({page.url}):\n  " + "\n  ".join(problems)] if problems else []


async def test_every_page_meets_wcag_22_aa_and_works_by_keyboard(
    county: Platform, browser: Browser
) -> None:
    base = county.projections.url
    failures: list[str] = []
    anonymous = await browser.new_page(viewport={"width": 1200, "height": 900})
    await anonymous.goto(f"{base}/login")
    failures += await checked(anonymous, "sign-in")
    await anonymous.fill("#token", "not-a-token")  # the page as it says why
    await anonymous.click("button[type=submit]")
    await anonymous.wait_for_url(f"{base}/login")
    await anonymous.wait_for_load_state()
    failures += await checked(anonymous, "sign-in-refused")
    await anonymous.close()

    page = await signed_in_by_keyboard(browser, base)
    for name, path in (await pages_of(page, base)).items():
        try:
            await page.goto(f"{base}{path}")
        except PlaywrightTimeout:  # said, and the other pages checked still
            failures.append(f"{name} ({path}): not loaded in {LOADED_WITHIN_MS} ms")
            continue
        board = name.removesuffix("-council")
        failures += await checked(page, name, walk=board not in BOARDS or board in WALKED)
    await page.context.close()
    assert not failures, "\n".join(sorted(failures))


async def test_the_check_fails_on_a_planted_violation(county: Platform, browser: Browser) -> None:
    """The checks can fail: a real page with an image without a text alternative and a button
    without a name is refused by axe, each rule named with the element that breaks it; a link
    whose focus is not shown and one that jumps the tab order are refused by the walk."""
    page = await signed_in_by_keyboard(browser, county.projections.url)
    await assert_accessible(page, "the index, as served")
    await page.evaluate(
        """() => {
          const main = document.getElementById('main-content');
          const img = document.createElement('img');
          img.id = 'planted-image';
          img.src = '/static/app/none.png';
          const button = document.createElement('button');
          button.id = 'planted-button';
          main.append(img, button);
        }"""
    )
    with pytest.raises(AssertionError) as failed:
        await assert_accessible(page, "the index, planted", SHOTS / "a11y-planted.png")
    message = str(failed.value)
    assert re.search(r"image-alt \(critical\).*\n\s+#planted-image", message), message
    assert re.search(r"button-name \(critical\).*\n\s+#planted-button", message), message

    # The keyboard's: a link whose focus is not shown, and one out of the tab order (a positive
    # tabindex: Tab reaches it before, or after, every other, not where it is on the page).
    await page.reload()
    await page.evaluate(
        """() => {
          const main = document.getElementById('main-content');
          const unseen = document.createElement('a');
          unseen.href = '#planted-unseen';
          unseen.textContent = 'Focus not shown';
          unseen.style.outline = 'none';
          const jumps = document.createElement('a');
          jumps.href = '#planted-jumps';
          jumps.textContent = 'Out of order';
          jumps.className = 'govuk-link';
          jumps.tabIndex = 1;
          main.prepend(jumps);
          main.append(unseen);
        }"""
    )
    problems = "\n".join((await keyboard_walk(page)).problems())
    assert 'no visible focus indicator on a #planted-unseen "Focus not shown"' in problems
    assert "Tab did not reach every interactive element in order" in problems, problems
    await page.context.close()


async def test_the_key_tasks_by_keyboard_alone(county: Platform, browser: Browser) -> None:
    """Signed in, a board's as-at date and locality changed and shown, its CSV downloaded, and
    a child's chronology opened, with no mouse."""
    base = county.projections.url
    page = await signed_in_by_keyboard(browser, base)
    await page.goto(f"{base}/dashboard/children-in-care?view=council")
    localities = await page.locator("#locality option").all_inner_texts()
    locality = localities[1]
    # A day whose day and month are the same number, typed as digits: right whichever order
    # the browser's locale puts them in (Chromium's date field is day/month or month/day).
    today = platform_today()
    day = date(today.year - 1, today.month, today.month)
    await tab_to(page, "#as_at")
    await page.keyboard.type(f"{day.month:02d}{day.month:02d}{day.year}")
    assert await page.input_value("#as_at") == day.isoformat()
    await tab_to(page, "#locality")
    await page.keyboard.type(locality)  # a closed select chooses as its options are typed
    assert await page.locator("#locality option:checked").inner_text() == locality
    await tab_to(page, "button[type=submit]")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**as_at={day.isoformat()}**")
    assert f"locality={locality.replace(' ', '+')}" in page.url
    assert locality in await page.locator(".govuk-caption-l").inner_text()

    async with page.expect_download() as downloading:
        await tab_to(page, "a[download]")
        await page.keyboard.press("Enter")
    download = await downloading.value
    assert download.suggested_filename.endswith(".csv")

    await page.goto(f"{base}/dashboard/priority-cohort?view=council")
    await tab_to(page, 'a[href^="/dashboard/children/"][href$="/chronology"]')
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/dashboard/children/*/chronology")
    assert await page.locator("h1").inner_text() == "Chronology"
    await page.context.close()

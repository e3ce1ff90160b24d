"""The dashboard's pictures in a real browser against the shared demo county: the attendance
board as the seed's matrix, a board's twelve-month trend and its small multiples by locality,
and the index's headline for the last complete period. Every number a picture shows is held to
the board API's own answer (/boards/<name>), and a suppressed one is a gap, never a 0.
Screenshots are kept under test-artifacts/screenshots/."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from services.projections.boards.model import Figure
from services.projections.dashboard import charts, last_complete_month, month_before
from tests.e2e.conftest import SHOTS, Platform
from tests.e2e.test_dashboard import signed_in
from tests.infrastructure import HTTP, auth, platform_today

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def api_board(county: Platform, name: str, **params: str) -> dict[str, Any]:
    r = HTTP.get(
        f"{county.projections.url}/boards/{name}",
        params=params,
        headers=auth("manager"),
        timeout=60,
    )
    assert r.status_code == 200, r.text
    board: dict[str, Any] = r.json()
    return board


def expected(f: dict[str, Any], unit: str) -> str:
    """A figure of the API as a picture writes it ("" where it shows none)."""
    return charts.shown(charts.value_of(Figure(**f), unit), unit)


async def values(page: Page, selector: str) -> dict[str, str]:
    """data-period (or data-date) to data-value of the cells a selector finds."""
    found: list[list[str]] = await page.eval_on_selector_all(
        selector,
        "cells => cells.map(c => [c.dataset.period || c.dataset.date, c.dataset.value])",
    )
    return dict((period, value) for period, value in found)


async def test_the_attendance_board_is_a_matrix_of_groups_by_dates(
    county: Platform, browser: Browser
) -> None:
    url = county.projections.url
    page = await signed_in(browser, url, viewport={"width": 1280, "height": 900})
    for view in ("council", "partnership"):
        api = api_board(county, "attendance", view=view)
        await page.goto(f"{url}/dashboard/attendance?view={view}")
        dates = sorted({f["period"] for f in api["figures"]})
        shown_dates = await page.eval_on_selector_all(
            "table[data-matrix] thead th[data-date]", "ths => ths.map(t => t.dataset.date)"
        )
        assert shown_dates == dates  # dates across, oldest first
        groups = list(dict.fromkeys(f["key"] for f in api["figures"]))
        shown_groups = await page.eval_on_selector_all(
            "table[data-matrix] tbody tr", "trs => trs.map(t => t.dataset.group)"
        )
        assert shown_groups == groups  # groups down, in the board's order
        suppressed = 0
        for key in groups:
            row = await values(page, f'table[data-matrix] tr[data-group="{key}"] td[data-date]')
            of_key = {f["period"]: f for f in api["figures"] if f["key"] == key}
            assert row == {d: expected(f, "%") for d, f in of_key.items()}, key
            suppressed += sum(f["suppressed"] for f in of_key.values())
            spark = page.locator(f'table[data-matrix] tr[data-group="{key}"] svg[role="img"]')
            assert await spark.get_attribute("aria-label")
            drawn = await values(page, f'table[data-matrix] tr[data-group="{key}"] circle')
            assert drawn == {d: v for d, v in row.items() if v}  # gaps, never zeros
        if view == "partnership":
            assert suppressed > 0  # the small county's groups have small numbers to hide
        # The full figures are kept, collapsed, with the CSV.
        details = page.locator("details[data-every-figure]")
        assert await details.get_attribute("open") is None
        assert await page.locator('table[data-board="attendance"] tbody tr').count() == len(
            api["figures"]
        )
        assert await page.locator('a[href*="format=csv"]').count() == 1
        height = await page.evaluate("document.documentElement.scrollHeight")
        assert height < 3000  # a page a board reads, not a 6,500-pixel table
        await page.screenshot(path=SHOTS / f"attendance-matrix-{view}.png", full_page=True)
    await page.close()


async def test_a_board_shows_its_trend_and_its_localities_with_the_apis_numbers(
    county: Platform, browser: Browser
) -> None:
    url = county.projections.url
    page = await signed_in(browser, url, viewport={"width": 1280, "height": 900})
    await page.goto(f"{url}/dashboard/front-door?view=council")
    api = api_board(county, "front-door", view="council")
    charts_shown = page.locator('figure[data-chart^="trend-"]')
    assert 1 <= await charts_shown.count() <= 4
    first = charts_shown.first
    assert (await first.locator("h3").inner_text()).startswith("Referrals")
    name = await first.locator('svg[role="img"]').get_attribute("aria-label")
    assert name and name.startswith("Referrals: each month")
    monthly = {
        f["period"]: expected(f, "")
        for f in api["figures"]
        if f["key"] == "referrals" and len(f["period"]) == 7
    }
    assert len(monthly) == 12
    assert await values(page, 'figure[data-chart="trend-0"] td[data-period]') == monthly
    assert await values(page, 'figure[data-chart="trend-0"] circle') == monthly
    # By locality: one small chart each, on one scale, with the API's numbers per locality.
    localities = (await page.locator("#locality option").all_inner_texts())[1:]
    small = page.locator("[data-multiples] svg[role='img']")
    assert await small.count() == len(localities)
    assert len({await small.nth(i).get_attribute("data-top") for i in range(len(localities))}) == 1
    table = page.locator("details:has-text('by locality') table")
    for i, place in enumerate(localities):
        local = api_board(county, "front-door", view="council", locality=place)
        want = {
            f["period"]: expected(f, "")
            for f in local["figures"]
            if f["key"] == "referrals" and len(f["period"]) == 7
        }
        got = await table.locator(f"tbody tr td:nth-of-type({i + 1})").evaluate_all(
            "cells => cells.map(c => [c.dataset.period, c.dataset.value])"
        )
        assert dict(got) == want, place
    await page.screenshot(path=SHOTS / "front-door-trends.png", full_page=True)

    # A board of figures as at a day: read as at each month's end, the last being the day.
    await page.goto(f"{url}/dashboard/children-in-care?view=council")
    points = await values(page, 'figure[data-chart="trend-0"] td[data-period]')
    assert len(points) == 12
    today = date.fromisoformat(max(points))  # the page's today, the last of its points
    for day in (today, month_before(today)):
        at = api_board(county, "children-in-care", view="council", as_at=day.isoformat())
        in_care = next(f for f in at["figures"] if f["key"] == "in_care")
        assert points[day.isoformat()] == expected(in_care, ""), day
    await page.screenshot(path=SHOTS / "children-in-care-trends.png", full_page=True)
    await page.close()


async def test_the_index_leads_with_the_last_complete_period_and_which_way_it_moved(
    county: Platform, browser: Browser
) -> None:
    url = county.projections.url
    page = await signed_in(browser, url, viewport={"width": 1280, "height": 900})

    async def check(today: date) -> None:
        await page.goto(f"{url}/dashboard?view=council")
        end = last_complete_month(today)
        previous = month_before(end)
        card = page.locator('[data-board="early-help-triage"]')
        assert await card.locator("[data-when]").inner_text() == f"in {end:%B %Y}"
        api = api_board(county, "early-help-triage", view="council", as_at=end.isoformat())
        by_month = {f["period"]: f for f in api["figures"] if f["key"] == "families_discussed"}
        now, before = by_month[f"{end:%Y-%m}"]["count"], by_month[f"{previous:%Y-%m}"]["count"]
        shown = card.locator('[data-figure="early-help-triage.families_discussed"]')
        assert await shown.inner_text() == str(now)  # the month ended, not the one begun
        change = await card.locator("[data-change]").inner_text()
        delta = now - before
        words = "No change" if delta == 0 else f"{'Up' if delta > 0 else 'Down'} {abs(delta)}"
        assert change == f"{words} since {previous:%B %Y}"
        # Triage is demand: neither way is better. Risk declares lower is better, and says so.
        assert "Neither way is better" in await card.locator("[data-verdict]").inner_text()
        risk = page.locator('[data-board="risk"] [data-movement]')
        judgement = await risk.get_attribute("data-judgement")
        verdict = {"right": "Moving the right way", "wrong": "Moving the wrong way"}
        if judgement in verdict:
            assert await risk.locator("[data-verdict]").inner_text() == verdict[judgement]
        else:  # no change: the arrow and the words say so
            assert judgement == "same" and "No change" in await risk.inner_text()
        # Every board has its period in words; none leads with the month just begun.
        whens = await page.locator("[data-when]").all_inner_texts()
        assert len(whens) >= 20
        begun = f"in {today:%B %Y}"
        assert all(w != begun or today == end for w in whens)
        await page.screenshot(path=SHOTS / "index-last-complete-period.png", full_page=True)
        attendance = await page.locator('[data-board="attendance"] [data-when]').inner_text()
        assert attendance != f"on {today:%-d %b %Y}"  # today's marks are still coming

    await check(platform_today())  # a day that turns while it runs: tests/midnight.py
    await page.close()

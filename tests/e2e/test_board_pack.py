"""The partnership board pack end to end, on the demo county: drafted through the quality API,
commentary written per section by two people, opened in a real browser (Debian's Chromium,
driven by Playwright) and downloaded as a PDF. Its attendance and triage sections have the
seed's shape (the seed is itself a partnership board pack: "Vulnerable groups attending
school - over time", and "Families discussed at triage" against the same months a year
before), with the figures of the boards' API in the partnership view for the pack's day,
suppressed where the board suppresses; the commentary is attributed, the definitions are
there, and every pack generated is in the audit log.

This module records on the shared `county` platform, which its readers must not see change:
a board pack is a quality record (events on `quality-events`, read by no board, no statutory
return and no other module's assertions), so drafting one leaves every figure the dashboard
and returns modules read as it was.
"""

from __future__ import annotations

import io
import re
import uuid
from datetime import date
from typing import Any

import pytest
from playwright.async_api import Browser
from pypdf import PdfReader

from services.projections.boards.model import Figure
from services.projections.dashboard.charts import shown
from services.projections.dashboard.packs import triage_months
from tests.e2e.accessibility import axe_violations, described
from tests.e2e.conftest import SHOTS, Platform
from tests.infrastructure import HTTP, auth, platform_today

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

NONE = "\u2013"  # an en dash: no change to show (no families the year before)
DRAFTER = "pack-drafter"
FIRST, SECOND = "pack-writer-a", "pack-writer-b"
ATTENDANCE_NOTE = "Attendance of children in care is rising week on week."
TRIAGE_NOTES = (
    "Analysis is under way to understand the rise in families discussed.",
    "Police and health now attend every locality's daily triage.",
)


@pytest.fixture(scope="module")
def pack(county: Platform) -> dict[str, Any]:
    """A pack of the attendance and triage boards as at today, the whole county, in the
    partnership view; commentary on triage by two people (in order) and on attendance."""
    quality = county.quality.url
    pack_id = f"BP-test-{uuid.uuid4().hex[:8]}"
    drafted = HTTP.post(
        f"{quality}/board-packs",
        headers=auth("manager", user=DRAFTER),
        json={
            "pack_id": pack_id,
            "title": "Safeguarding partnership executive",
            "as_at": platform_today().isoformat(),
            "boards": ["attendance", "early-help-triage"],
            "localities": [],
            "view": "partnership",
        },
    )
    assert drafted.status_code == 201, drafted.text
    written = [
        (FIRST, "manager", "early-help-triage", TRIAGE_NOTES[0]),
        (SECOND, "iro", "early-help-triage", TRIAGE_NOTES[1]),
        (SECOND, "iro", "attendance", ATTENDANCE_NOTE),
    ]
    for i, (user, role, section, text) in enumerate(written):
        r = HTTP.post(
            f"{quality}/board-packs/{pack_id}/commentary",
            headers=auth(role, user=user),
            json={"commentary_id": f"BPC-{i}", "section": section, "commentary": text},
        )
        assert r.status_code == 201, r.text
    return {"pack_id": pack_id, "as_at": platform_today()}


def board(county: Platform, name: str, as_at: date) -> list[Figure]:
    r = HTTP.get(
        f"{county.projections.url}/boards/{name}",
        params={"as_at": as_at.isoformat(), "view": "partnership"},
        headers=auth("manager"),
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return [Figure(**f) for f in r.json()["figures"]]


def test_a_partner_may_not_draft_or_comment_but_reads_a_partnership_pack(
    county: Platform, pack: dict[str, Any]
) -> None:
    police = auth("partner", "police", user="pack-police")
    body = {
        "pack_id": "BP-by-police",
        "title": "Not theirs to draft",
        "as_at": platform_today().isoformat(),
        "boards": ["attendance"],
    }
    assert (
        HTTP.post(f"{county.quality.url}/board-packs", headers=police, json=body).status_code == 403
    )
    comment = HTTP.post(
        f"{county.quality.url}/board-packs/{pack['pack_id']}/commentary",
        headers=police,
        json={"commentary_id": "BPC-p", "section": "attendance", "commentary": "x"},
    )
    assert comment.status_code == 403
    assert HTTP.get(
        f"{county.quality.url}/board-packs/{pack['pack_id']}", headers=police
    ).is_success
    # A commentary on a board the pack has not, and a pack dated tomorrow: 422 naming the field.
    manager = auth("manager", user=DRAFTER)
    wrong = HTTP.post(
        f"{county.quality.url}/board-packs/{pack['pack_id']}/commentary",
        headers=manager,
        json={"commentary_id": "BPC-x", "section": "timeliness", "commentary": "x"},
    )
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "section"]
    tomorrow = date.fromordinal(platform_today().toordinal() + 1).isoformat()
    future = HTTP.post(
        f"{county.quality.url}/board-packs",
        headers=manager,
        json={**body, "pack_id": "BP-future", "as_at": tomorrow},
    )
    assert future.status_code == 422 and future.json()["detail"][0]["loc"] == ["body", "as_at"]


def _cells(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


async def test_the_pack_has_the_seeds_attendance_and_triage_sections(
    county: Platform, pack: dict[str, Any], browser: Browser
) -> None:
    url = county.projections.url
    page = await browser.new_page(viewport={"width": 1200, "height": 1000})
    await page.goto(f"{url}/login?next=/dashboard/packs")
    await page.fill(
        "#token", auth("manager", user=DRAFTER)["Authorization"].removeprefix("Bearer ")
    )
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{url}/dashboard/packs")
    assert await page.locator(f'tr[data-pack="{pack["pack_id"]}"]').count() == 1
    await page.screenshot(path=SHOTS / "pack-list.png", full_page=True)
    response = await page.goto(f"{url}/dashboard/packs/{pack['pack_id']}")
    assert response is not None and response.status == 200
    audit_id = (await response.all_headers())["x-audit-id"]
    await page.screenshot(path=SHOTS / "pack-cover.png")
    await page.screenshot(path=SHOTS / "pack-full.png", full_page=True)
    as_at = pack["as_at"]

    # Attendance: the seed's tables, groups down and dates across, the boards' figures.
    section = page.locator('section[data-section="attendance"]')
    assert "attendance for one day" in await section.inner_text()
    captions = [
        _cells(c) for c in await section.locator("table[data-matrix] caption").all_inner_texts()
    ]
    assert captions[:4] == [
        "Children in care",
        "Children with EHCP plans",
        "Children in need and those with a child protection plan",
        "RAG rating",
    ]
    care = section.locator('table[data-matrix="Children in care"] tbody tr')
    assert [await r.get_attribute("data-group") for r in await care.all()] == [
        "cic",
        "cic_own_schools",
    ]
    figures = board(county, "attendance", as_at)
    assert figures
    shown_values = []
    for f in figures:
        cell = section.locator(f'tr[data-group="{f.key}"] td[data-date="{f.period}"]')
        value = await cell.get_attribute("data-value")
        if f.suppressed:
            shown_as = await cell.locator('[aria-hidden="true"]').inner_text()
            assert value == "" and shown_as == "s", (f.key, f.period)
        elif f.percentage is None:  # no child in the group that day
            # (a row with no child on any day is drawn as counts by charts.matrix: 0)
            assert value in ("", "0%"), (f.key, f.period)
        else:
            assert value == shown(f.percentage, "%"), (f.key, f.period)
            shown_values.append(value)
    assert shown_values, "the county shows some attendance"

    # Triage: the same months a year before, then these months and the change, as the seed.
    triage = page.locator('section[data-section="early-help-triage"]')
    expected = triage_months(board(county, "early-help-triage", as_at), as_at)
    assert len(expected) == 4
    heads = await triage.locator('table[data-triage="this-year"] thead th').all_inner_texts()
    assert heads == ["Month/Year", *(t.label for t in expected)]
    before = await triage.locator('table[data-triage="year-before"] thead th').all_inner_texts()
    assert before == ["Month/Year", *(t.year_before_label for t in expected)]
    rows = {
        row: await triage.locator(f'tr[data-row="{row}"] td').all_inner_texts()
        for row in ("count", "year_before", "change")
    }
    assert rows["count"] == [("s" if t.suppressed else str(t.count)) for t in expected]
    assert rows["year_before"] == [("s" if t.suppressed else str(t.year_before)) for t in expected]
    assert rows["change"] == [
        "s" if t.suppressed else NONE if t.change is None else f"{t.change:.2f}%" for t in expected
    ]

    # The commentary, attributed, in the order written; the definitions of each board.
    notes = triage.locator("[data-commentary]")
    assert [_cells(n) for n in await notes.locator("p.govuk-body").all_inner_texts()] == list(
        TRIAGE_NOTES
    )
    assert [await n.get_attribute("data-by") for n in await notes.locator("[data-by]").all()] == [
        FIRST,
        SECOND,
    ]
    assert "manager" in await notes.first.inner_text()
    assert ATTENDANCE_NOTE in await section.locator("[data-commentary]").inner_text()
    assert "cic_own_schools" in await section.locator("[data-definitions]").inner_text()
    assert "EarlyHelpTriageDiscussed" in await triage.locator("[data-definitions]").inner_text()
    violations = await axe_violations(page)
    assert not violations, described("the board pack", violations)
    await page.close()
    _audited(county, DRAFTER, audit_id, "GET /dashboard/packs/{pack_id}")


def _audited(county: Platform, user: str, audit_id: str, action: str) -> None:
    reads = HTTP.get(
        f"{county.partner_feeds.url}/audit",
        params={"user_id": user},
        headers=auth("information_governance"),
        timeout=60,
    ).json()["reads"]
    [record] = [a for a in reads if a["audit_id"] == audit_id]
    assert record["action"] == action and "board pack" in record["purpose"]


def test_the_pdf_holds_the_same_figures_and_commentary_and_is_audited(
    county: Platform, pack: dict[str, Any]
) -> None:
    r = HTTP.get(
        f"{county.projections.url}/dashboard/packs/{pack['pack_id']}.pdf",
        headers=auth("manager", user=DRAFTER),
        timeout=120,
    )
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"] == "application/pdf"
    (SHOTS / "pack.pdf").write_bytes(r.content)
    reader = PdfReader(io.BytesIO(r.content))
    text = _cells(" ".join(p.extract_text() or "" for p in reader.pages))
    assert len(reader.pages) >= 3  # the cover, then a page or more per section
    for words in (
        "Safeguarding partnership executive",
        "Families discussed at triage",
        "Increase in families discussed",
        "Children in care",
        *TRIAGE_NOTES,
        ATTENDANCE_NOTE,
        FIRST,
        SECOND,
    ):
        assert words in text, words
    for t in triage_months(board(county, "early-help-triage", pack["as_at"]), pack["as_at"]):
        assert t.label in text
        if not t.suppressed and t.change is not None:
            assert f"{t.change:.2f}%" in text
    for f in board(county, "attendance", pack["as_at"]):
        if not f.suppressed and f.percentage is not None:
            assert shown(f.percentage, "%") in text, f.key
    _audited(county, DRAFTER, r.headers["x-audit-id"], "GET /dashboard/packs/{pack_id}.pdf")


def test_a_council_view_pack_is_not_for_partners(county: Platform) -> None:
    pack_id = f"BP-council-{uuid.uuid4().hex[:8]}"
    r = HTTP.post(
        f"{county.quality.url}/board-packs",
        headers=auth("manager", user=DRAFTER),
        json={
            "pack_id": pack_id,
            "title": "Council performance surgery",
            "as_at": platform_today().isoformat(),
            "boards": ["timeliness"],
            "view": "council",
        },
    )
    assert r.status_code == 201, r.text
    police = auth("partner", "police", user="pack-police")
    assert (
        HTTP.get(f"{county.quality.url}/board-packs/{pack_id}", headers=police).status_code == 403
    )
    page = HTTP.get(f"{county.projections.url}/dashboard/packs/{pack_id}", headers=police)
    assert page.status_code == 403
    listed = HTTP.get(f"{county.quality.url}/board-packs", headers=police).json()["packs"]
    assert pack_id not in {p["pack_id"] for p in listed}


def test_the_dashboards_forms_draft_a_pack_and_add_commentary_through_quality(
    county: Platform,
) -> None:
    """The page's forms post to the dashboard, which forwards each command to the quality
    service with the caller's own token: the pack and the commentary are theirs."""
    url = county.projections.url
    writer = auth("manager", user="pack-form-writer")
    drafted = HTTP.post(
        f"{url}/dashboard/packs",
        headers=writer,
        data={
            "title": "Corporate parenting board",
            "as_at": platform_today().isoformat(),
            "boards": ["care-leavers", "children-in-care"],
            "view": "partnership",
            "form_key": uuid.uuid4().hex,
        },
    )
    assert drafted.status_code == 303, drafted.text
    page = drafted.headers["location"]
    pack_id = page.rsplit("/", 1)[-1]
    noted = HTTP.post(
        f"{url}/dashboard/packs/{pack_id}/commentary",
        headers=writer,
        data={"section": "care-leavers", "commentary": "More care leavers are in touch."},
    )
    assert noted.status_code == 303 and noted.headers["location"].endswith("#care-leavers")
    record = HTTP.get(f"{county.quality.url}/board-packs/{pack_id}", headers=writer).json()
    assert record["boards"] == ["care-leavers", "children-in-care"]
    assert record["drafted"]["user_id"] == "pack-form-writer"
    [note] = record["commentary"]
    assert note["commentary"] == "More care leavers are in touch." and note["user_id"] == (
        "pack-form-writer"
    )
    # A form with no board is shown again with the quality service's reason, nothing recorded.
    empty = HTTP.post(
        f"{url}/dashboard/packs",
        headers=writer,
        data={"title": "No boards", "as_at": platform_today().isoformat()},
    )
    assert empty.status_code == 422 and "govuk-error-summary" in empty.text
    shown = HTTP.get(f"{url}{page}", headers=writer)
    assert shown.status_code == 200 and "More care leavers are in touch." in shown.text

"""The partnership board pack: the boards a meeting reads, as at a day, for the county or some
localities, with each person's commentary; as a printable page and as a PDF.

A pack is drafted, and its commentary written, in the quality service (its events, the text
sealed there: services/quality/routes/packs.py); this page reads them back from it with the
user's own token, so the quality service decides who may read a pack and audits the read of
its free text. The figures are never stored in the pack: they are the boards' for the pack's
day, drawn when the pack is generated, in the pack's view: in the partnership view suppressed
exactly as the boards' API suppresses them. Each section reads like the seed's (a partnership
board pack, figures and commentary as at a date): its headline, its table (the seed's own
shape for attendance and triage), its charts with their numbers, the commentary with who wrote
it and when, and the board's definitions from docs/boards.md. Every pack generated, page or
PDF, is audited (who, which pack, when) like a person-level read.

The forms post here, to the dashboard's own origin, and the dashboard forwards the command to
the quality service with the user's own token, as the live page's acknowledgements do
(services/projections/dashboard/attention.py): the browser never calls another service.

The PDF is drawn by WeasyPrint from the same page: a Python library (on Debian's Pango), in
process, that lays out the GOV.UK stylesheet's print rules and the inline SVG charts as vector
graphics with real text, without a browser to install and start in the service's image.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import gc
import re
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import markdown
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from structlog.contextvars import get_contextvars

from contracts.ids import ID_PATTERN
from services.projections.boards.declarations import BOARDS
from services.projections.boards.model import Board, Figure
from services.projections.dashboard import (
    DEFINITIONS,
    GOVUK,
    HERE,
    Asked,
    Boards,
    Pictures,
    Shown,
    caller_authorization,
    charts,
    last_complete_month,
    latest,
    pictures,
    templates,
)
from shared.access import Permission, allowed, audit_read, requires
from shared.api import ServiceClock, ServiceSettings
from shared.auth import Principal
from shared.http import services_trusted
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

router = APIRouter(include_in_schema=False)
READ = [requires(Permission.READ_BOARDS)]
WRITE = [requires(Permission.RECORD)]
_ID = re.compile(ID_PATTERN)

# The seed's attendance tables ("Vulnerable groups attending school - over time"): its groups,
# each a table of its own with the dates across; the vulnerability cuts after them.
ATTENDANCE_TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Children in care", ("cic", "cic_own_schools")),
    ("Children with EHCP plans", ("ehcp",)),
    (
        "Children in need and those with a child protection plan",
        ("cp_plan", "cin_all", "cin_allocated", "cin_plan"),
    ),
    ("RAG rating", ("rag_red", "rag_amber", "rag_green")),
)
CUTS_TABLE = "Other vulnerable groups"
# The seed's triage table: four months, each against the same month a year before.
TRIAGE_MONTHS = 4


# -- the pure parts: what a pack shows ------------------------------------------------------


@dataclass(frozen=True)
class Commentary:
    commentary_id: str
    section: str
    text: str
    user_id: str
    role: str
    recorded_at: datetime


@dataclass
class Section:
    """One board of the pack: its figures for each place (the county, or each locality), the
    seed-shaped tables, the charts, the commentary and the definitions."""

    board: str
    title: str
    places: list[Place] = field(default_factory=list)
    pictures: Pictures | None = None
    commentary: list[Commentary] = field(default_factory=list)
    definitions: str = ""


@dataclass
class Place:
    locality: str | None
    board: Board
    headline: dict[str, Any] | None = None
    matrices: list[charts.Matrix] = field(default_factory=list)
    triage: list[TriageMonth] = field(default_factory=list)


@dataclass(frozen=True)
class TriageMonth:
    """A month of the seed's triage table: families discussed then and a year before, and
    the change (None where the board gives none, or suppresses it)."""

    period: str  # YYYY-MM
    label: str  # June 2020
    year_before_label: str  # June 2019
    count: int | None
    year_before: int | None
    change: float | None
    suppressed: bool


def sections_chosen(boards: Sequence[str]) -> list[str]:
    """The pack's boards in the order chosen, each once, those the platform has."""
    seen: list[str] = []
    for name in boards:
        if name in BOARDS and name not in seen:
            seen.append(name)
    return seen


def commentary_by_section(
    entries: Iterable[Mapping[str, Any]], boards: Sequence[str]
) -> dict[str, list[Commentary]]:
    """Each section's commentary, attributed, in the order it was written."""
    by: dict[str, list[Commentary]] = {name: [] for name in boards}
    written = sorted(entries, key=lambda c: str(c["recorded_at"]))
    for entry in written:
        if entry["section"] in by:
            recorded = entry["recorded_at"]
            by[entry["section"]].append(
                Commentary(
                    entry["commentary_id"],
                    entry["section"],
                    entry["commentary"],
                    entry["user_id"],
                    entry["role"],
                    recorded
                    if isinstance(recorded, datetime)
                    else datetime.fromisoformat(str(recorded)),
                )
            )
    return by


_ANCHOR = re.compile(r'<a id="([a-z0-9-]+)"></a>')


def definitions_of(name: str, document: str) -> str:
    """The board's section of docs/boards.md (from its anchor to the next), as GOV.UK HTML;
    its links to other sections go to the definitions page."""
    starts = [(m.group(1), m.start(), m.end()) for m in _ANCHOR.finditer(document)]
    for i, (anchor, _, end) in enumerate(starts):
        if anchor == name:
            stop = starts[i + 1][1] if i + 1 < len(starts) else len(document)
            return govuk_html(document[end:stop].strip())
    return ""


def govuk_html(text: str) -> str:
    html = markdown.markdown(text, extensions=["tables"])
    html = html.replace('href="#', 'href="/definitions#')
    for tag, cls in (
        ("<table>", "govuk-table"),
        ("<h2>", "govuk-heading-m"),
        ("<h3>", "govuk-heading-s"),
        ("<p>", "govuk-body"),
        ("<ul>", "govuk-list govuk-list--bullet"),
        ("<ol>", "govuk-list govuk-list--number"),
        ("<th>", "govuk-table__header"),
        ("<td>", "govuk-table__cell"),
        ("<tr>", "govuk-table__row"),
    ):
        html = html.replace(tag, f'{tag[:-1]} class="{cls}">')
    return html


def attendance_matrices(figures: Sequence[Figure], prefix: str) -> list[charts.Matrix]:
    """The attendance board as the seed's tables: a table per family of groups (children in
    care, EHCP, children in need and CP, RAG, then the vulnerability cuts), groups down and
    dates across, each row with its trend."""
    tables = [
        *ATTENDANCE_TABLES,
        (CUTS_TABLE, tuple(sorted({f.key for f in figures if f.key.startswith("cut.")}))),
    ]
    out = []
    for i, (caption, keys) in enumerate(tables):
        chosen = [f for f in figures if f.key in keys]
        if chosen:
            ordered = sorted(chosen, key=lambda f: keys.index(f.key))
            out.append(charts.matrix(caption, ordered, f"{prefix}-{i}"))
    return out


def triage_months(
    figures: Sequence[Figure], as_at: date, months: int = TRIAGE_MONTHS
) -> list[TriageMonth]:
    """The seed's triage table: the last `months` complete months to the day (the month of
    the day too when it is the month's last), each with the same month a year before."""
    end = last_complete_month(as_at).strftime("%Y-%m")
    by = {f.period: f for f in figures if f.key == "families_discussed" and f.period}
    periods = sorted(p for p in by if p <= end)[-months:]
    out = []
    for period in periods:
        f = by[period]
        month = date.fromisoformat(f"{period}-01")
        out.append(
            TriageMonth(
                period,
                f"{month:%B %Y}",
                f"{month.replace(year=month.year - 1):%B %Y}",
                None if f.suppressed else f.count,
                None if f.suppressed else f.denominator,
                None if f.suppressed else f.percentage,
                f.suppressed,
            )
        )
    return out


def stock_figures(board: Board) -> list[Figure]:
    """The figures a section's table lists: those as at the day or over its period, not each
    month's (the monthly ones are the charts', with their numbers)."""
    return [f for f in board.figures if not (f.period and len(f.period) in (7, 10))]


# -- reading the pack from the quality service ---------------------------------------------


async def _quality(
    request: Request,
    settings: Settings,
    method: str,
    path: str,
    json: Any = None,
    key: str | None = None,
) -> httpx.Response:
    verify = services_trusted(settings)
    headers = {
        "Authorization": caller_authorization(request),
        "X-Correlation-Id": str(get_contextvars().get("correlation_id", "")),
        **({"Idempotency-Key": key} if key else {}),
        **({"X-Purpose": p} if (p := request.headers.get("X-Purpose")) else {}),
    }
    async with httpx.AsyncClient(base_url=settings.quality_url, verify=verify, timeout=30) as c:
        try:
            return await c.request(method, path, json=json, headers=headers)
        except httpx.HTTPError as error:
            log.warning("the quality service could not be asked", error=repr(error))
            raise HTTPException(
                503, "the quality service could not be asked: try again", {"Retry-After": "5"}
            ) from error


def _refused(answer: httpx.Response) -> HTTPException:
    """The quality service's refusal as the caller should read it: theirs (403, 404, 422)
    stays theirs; anything else is a fault between the services (502)."""
    try:
        detail = answer.json().get("detail", answer.text)
    except ValueError:
        detail = answer.text
    if answer.status_code in (401, 403, 404, 409, 422):
        return HTTPException(answer.status_code, detail if isinstance(detail, str) else str(detail))
    log.warning("the quality service refused", status=answer.status_code, body=answer.text[:500])
    return HTTPException(502, f"the quality service answered {answer.status_code}")


async def read_pack(request: Request, settings: Settings, pack_id: str) -> dict[str, Any]:
    if not _ID.match(pack_id):
        raise HTTPException(404, f"no board pack {pack_id!r}")
    answer = await _quality(request, settings, "GET", f"/board-packs/{pack_id}")
    if answer.status_code != 200:
        raise _refused(answer)
    pack: dict[str, Any] = answer.json()
    return pack


# -- the pack drawn ---------------------------------------------------------------------------


async def sections_of(request: Request, pack: Mapping[str, Any], shown: Boards) -> list[Section]:
    as_at = date.fromisoformat(pack["as_at"])
    view = pack["view"]
    places: list[str | None] = list(pack["localities"]) or [None]
    chosen = sections_chosen(pack["boards"])
    comments = commentary_by_section(pack["commentary"], chosen)
    document = DEFINITIONS.read_text()
    localities = await shown.localities()
    out = []
    for name in chosen:
        section = Section(name, BOARDS[name], commentary=comments[name])
        section.definitions = definitions_of(name, document)
        for place in places:
            question = Asked(as_at, place, view)
            board = await shown.board(name, question)
            part = Place(place, board, await latest(name, question, shown))
            if name == "attendance":
                part.matrices = attendance_matrices(board.figures, f"{name}-{place or 'all'}")
            elif name == "early-help-triage":
                part.triage = triage_months(board.figures, as_at)
            section.places.append(part)
        if name != "attendance":  # its matrices are its pictures
            first = section.places[0]
            asked = Asked(as_at, first.locality, view)
            section.pictures = await pictures(request, name, first.board, asked, shown, localities)
        out.append(section)
    return out


def may_record(principal: object) -> bool:
    """Whether the page offers the forms (others would only be refused)."""
    return isinstance(principal, Principal) and allowed(Permission.RECORD, principal)


templates.env.globals["may_record_pack"] = may_record
templates.env.globals["stock_figures"] = stock_figures


async def render(request: Request, pack: dict[str, Any], shown: Boards, printing: bool) -> str:
    sections = await sections_of(request, pack, shown)
    drafted = pack["drafted"]
    return templates.get_template("pack.html").render(
        request=request,
        title=pack["title"],
        pack=pack,
        as_at=date.fromisoformat(pack["as_at"]),
        drafted_at=datetime.fromisoformat(str(drafted["recorded_at"])),
        sections=sections,
        threshold=shown.settings.small_number_threshold,
        printing=printing,
        form_key=uuid.uuid4().hex,
    )


@router.get("/dashboard/packs", response_class=HTMLResponse, dependencies=READ)
async def packs_page(
    request: Request, settings: ServiceSettings, clock: ServiceClock, shown: Shown
) -> HTMLResponse:
    answer = await _quality(request, settings, "GET", "/board-packs")
    if answer.status_code != 200:
        raise _refused(answer)
    return _form(request, answer.json()["packs"], clock.today(), await shown.localities())


def _form(
    request: Request,
    packs: list[dict[str, Any]],
    today: date,
    localities: list[str],
    errors: list[tuple[str, str]] | None = None,
    asked: Mapping[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "pack_list.html",
        {
            "title": "Board packs",
            "packs": packs,
            "boards": BOARDS,
            "localities": localities,
            "today": today,
            "errors": errors or [],
            "asked": asked or {"boards": [], "localities": [], "view": "partnership"},
            "form_key": uuid.uuid4().hex,
        },
        status_code=status,
    )


def _errors(answer: httpx.Response) -> list[tuple[str, str]]:
    """The quality service's 422 as (field, message) pairs for an error summary."""
    try:
        detail = answer.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, list):
        return [
            (
                str((d.get("loc") or ["", ""])[1] if len(d.get("loc") or []) > 1 else ""),
                d.get("msg", ""),
            )
            for d in detail
            if isinstance(d, dict)
        ]
    return [("", str(detail or answer.text))]


@router.post("/dashboard/packs", dependencies=WRITE)
async def draft(
    request: Request, settings: ServiceSettings, clock: ServiceClock, shown: Shown
) -> Response:
    """Draft a pack (forwarded to the quality service), then show it."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    pack_id = f"BP-{clock.today():%Y%m%d}-{uuid.uuid4().hex[:8]}"
    body = {
        "pack_id": pack_id,
        "title": (form.get("title") or [""])[0].strip(),
        "as_at": (form.get("as_at") or [""])[0],
        "boards": form.get("boards", []),
        "localities": form.get("localities", []),
        "view": (form.get("view") or ["partnership"])[0],
    }
    key = (form.get("form_key") or [uuid.uuid4().hex])[0]
    answer = await _quality(request, settings, "POST", "/board-packs", body, f"pack-{key}")
    if answer.status_code in (400, 422):
        listed = await _quality(request, settings, "GET", "/board-packs")
        packs = listed.json()["packs"] if listed.status_code == 200 else []
        return _form(
            request, packs, clock.today(), await shown.localities(), _errors(answer), body, 422
        )
    if answer.status_code not in (200, 201):
        raise _refused(answer)
    return RedirectResponse(f"/dashboard/packs/{pack_id}", 303)


@router.post("/dashboard/packs/{pack_id}/commentary", dependencies=WRITE)
async def comment(request: Request, pack_id: str, settings: ServiceSettings) -> Response:
    """A person's commentary on a section (forwarded to the quality service), then back to it."""
    if not _ID.match(pack_id):
        raise HTTPException(404, f"no board pack {pack_id!r}")
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    section = form.get("section", "")
    key = form.get("form_key") or uuid.uuid4().hex
    body = {
        "commentary_id": f"BPC-{key[:16]}",
        "section": section,
        "commentary": form.get("commentary", "").strip() or None,
    }
    answer = await _quality(
        request, settings, "POST", f"/board-packs/{pack_id}/commentary", body, f"pack-{key}"
    )
    if answer.status_code not in (200, 201):
        raise _refused(answer)
    return RedirectResponse(f"/dashboard/packs/{pack_id}#{section}", 303)


# The PDF's route before the page's: `{pack_id}` would otherwise take "BP-1.pdf" (refused by
# its pattern as no pack).
@router.get("/dashboard/packs/{pack_id}.pdf", dependencies=READ)
async def pack_pdf(
    request: Request, pack_id: str, settings: ServiceSettings, shown: Shown
) -> Response:
    pack = await read_pack(request, settings, pack_id)
    html = await render(request, pack, shown, printing=True)
    pdf = await asyncio.to_thread(to_pdf, html)
    audit_id = await audit_read(request, None, [], _purpose(request, pack_id, "PDF"))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{pack_id}.pdf"',
            "X-Audit-Id": audit_id,
            "Cache-Control": "no-store",
        },
    )


@router.get("/dashboard/packs/{pack_id}", response_class=HTMLResponse, dependencies=READ)
async def pack_page(
    request: Request, pack_id: str, settings: ServiceSettings, shown: Shown
) -> HTMLResponse:
    pack = await read_pack(request, settings, pack_id)
    html = await render(request, pack, shown, printing=False)
    audit_id = await audit_read(request, None, [], _purpose(request, pack_id, "page"))
    return HTMLResponse(html, headers={"X-Audit-Id": audit_id, "Cache-Control": "no-store"})


def _purpose(request: Request, pack_id: str, kind: str) -> str:
    return request.headers.get("X-Purpose") or f"board pack {pack_id} ({kind})"


# -- the PDF ---------------------------------------------------------------------------------

STATIC = {"/static/govuk/": GOVUK, "/assets/": GOVUK / "assets", "/static/app/": HERE / "static"}
MIME = {".css": "text/css", ".woff2": "font/woff2", ".woff": "font/woff", ".png": "image/png"}


def local_file(url: str) -> tuple[bytes, str] | None:
    """One of the dashboard's own files (a stylesheet, a font) for a URL of the page: its
    bytes and type, or None for anything else."""
    path = urlsplit(url).path
    for prefix, folder in STATIC.items():
        if path.startswith(prefix):
            target = (folder / path.removeprefix(prefix)).resolve()
            if target.is_relative_to(folder.resolve()) and target.is_file():
                return target.read_bytes(), MIME.get(target.suffix, "application/octet-stream")
    return None


@functools.cache
def _fonts() -> Any:
    """The process's one weasyprint font configuration. A configuration copies the
    `@font-face` fonts it is given into a temporary folder of its own, removed when it is
    collected. Made for each pack, it left a folder behind for every pack drawn by a process
    stopped before then; one for the process copies each font once, into one folder."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def let_go_of_the_fonts() -> None:
    """Remove the fonts' folder, while the interpreter still can: the configuration is held
    in cycles with the documents drawn, and collected only with the last modules, when
    weasyprint's `rmtree` is gone and the folder stays. At exit, and as the API stops:
    uvicorn ends its process by the signal that stopped it, and no exit handler runs."""
    if _fonts.cache_info().currsize:  # a process that drew none has nothing to collect
        _fonts.cache_clear()
        gc.collect()


atexit.register(let_go_of_the_fonts)


# A font configuration is Fontconfig's and Pango's state, not made to be shared between
# threads: the packs a process draws at once take turns (each is Python's work, under the
# GIL, either way).
_DRAWING = threading.Lock()


def to_pdf(html: str) -> bytes:
    """The pack's page as a PDF (A4, the print stylesheet's rules), its text as text. The
    stylesheets and fonts come from disk and nothing from the network: a pack is drawn
    offline, and never asks another host for anything."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class LocalFiles(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            found = local_file(url)
            if found is None:
                raise ValueError(f"not one of the dashboard's files: {url}")
            return URLFetcherResponse(url, body=found[0], headers={"Content-Type": found[1]})

    with _DRAWING:
        pdf: bytes = HTML(
            string=html, base_url="http://pack.invalid/", url_fetcher=LocalFiles()
        ).write_pdf(font_config=_fonts())
    return pdf

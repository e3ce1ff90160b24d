"""The oversight dashboard: a page per board (table, trend chart, locality filter, as-at date,
CSV), a live page for incident management teams, and the definitions. Server-rendered HTML
with the GOV.UK Design System's components, served offline: govuk-frontend comes from the npm
registry at install time (deploy/local/bootstrap.sh) and is served by this service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape
from pathlib import Path
from typing import Annotated, Any, NamedTuple
from urllib.parse import parse_qs, urlencode

import asyncpg
import markdown
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from services.projections.boards.answering import board_on, partnership_board
from services.projections.boards.declarations import BOARDS, HEADLINES
from services.projections.boards.model import Board, Figure
from services.projections.builds import reading
from services.projections.routes.boards import COUNCIL_VIEW, council_locality
from shared.access import Permission, requires, visible_rows
from shared.api import Pool, ServiceClock, ServiceSettings
from shared.auth import COOKIE, InvalidToken
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

HERE = Path(__file__).parent
GOVUK = HERE / "node_modules" / "govuk-frontend" / "dist" / "govuk"
DEFINITIONS = HERE.parents[2] / "docs" / "boards.md"
templates = Jinja2Templates(directory=HERE / "templates")


def bar_chart(title: str, points: list[tuple[str, float]], unit: str) -> str:
    """An accessible inline SVG bar chart (no script needed to read it)."""
    if not points:
        return ""
    width, height, left, bottom, headroom = 640, 230, 40, 40, 24
    top = max(v for _, v in points) or 1
    step = (width - left) / len(points)
    bars = []
    for i, (label, value) in enumerate(points):
        h = (height - bottom - headroom) * value / top
        x = left + i * step + step * 0.15
        y = height - bottom - h
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
            f'fill="#1d70b8"><title>{escape(label)}: {value:g}{unit}</title></rect>'
            f'<text x="{x + step * 0.35:.1f}" y="{y - 3:.1f}" text-anchor="middle">{value:g}</text>'
            f'<text x="{x + step * 0.35:.1f}" y="{height - bottom + 15}" text-anchor="middle">'
            f"{escape(label[-5:])}</text>"
        )
    summary = "; ".join(f"{label}: {value:g}{unit}" for label, value in points)
    return (
        f'<svg class="app-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}. {escape(summary)}">'
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
        f'stroke="#0b0c0c"/>{"".join(bars)}</svg>'
    )


def charts(board: Board) -> list[dict[str, str]]:
    series: dict[str, list[Figure]] = {}
    for f in board.figures:
        if f.period and "/" not in f.period:
            series.setdefault(f.key, []).append(f)
    out = []
    for figures in list(series.values())[:4]:
        if len(figures) < 2:
            continue
        use_pct = any(f.percentage is not None for f in figures)
        points: list[tuple[str, float]] = []
        for f in figures:
            value = f.percentage if use_pct else f.count
            if value is not None:
                points.append((f.period or "", float(value)))
        title = f"{figures[0].label} ({'%' if use_pct else 'count'}) by period"
        out.append({"title": title, "svg": bar_chart(title, points, "%" if use_pct else "")})
    return out


def _local(target: str | None) -> str:
    """Only a path on this site (never //elsewhere): no open redirect from the sign-in page."""
    return (
        target
        if target and target.startswith("/") and not target.startswith("//")
        else "/dashboard"
    )


router = APIRouter(include_in_schema=False)
if GOVUK.exists():
    router.mount("/static/govuk", StaticFiles(directory=GOVUK), name="govuk")
    router.mount("/assets", StaticFiles(directory=GOVUK / "assets"), name="govuk-assets")
router.mount("/static/app", StaticFiles(directory=HERE / "static"), name="dashboard")
# Every page shows boards: the partnership view, or the council view for those granted it.
BOARD_PAGES = [requires(Permission.READ_BOARDS, unless=COUNCIL_VIEW)]


class Asked(NamedTuple):
    as_at: date
    locality: str | None
    view: str


async def asked(request: Request, clock: ServiceClock) -> Asked:
    """What a page is asked for (as_at, locality, view), checked as the API checks it."""
    today = clock.today()
    try:
        as_at = date.fromisoformat(request.query_params.get("as_at") or today.isoformat())
    except ValueError:
        raise HTTPException(422, "as_at must be a date, e.g. 2024-06-30") from None
    if as_at > today:
        raise HTTPException(422, "as_at is in the future")
    view = request.query_params.get("view", "partnership")
    if view not in ("partnership", "council"):
        raise HTTPException(422, "view must be partnership or council")
    locality = request.query_params.get("locality") or None
    if view == "council":  # figures of the user's own localities only, as the API's
        locality = council_locality(request, locality)
    return Asked(as_at, locality, view)


@dataclass(frozen=True)
class Boards:
    """The boards as a page shows them: suppressed in the partnership view."""

    pool: asyncpg.Pool
    settings: Settings
    today: date

    async def board(self, name: str, asked: Asked) -> Board:
        if asked.view == "partnership":
            return await partnership_board(
                self.pool,
                name,
                asked.as_at,
                asked.locality,
                today=self.today,
                window=self.settings.board_days_kept,
                threshold=self.settings.small_number_threshold,
            )
        return await board_on(
            self.pool,
            name,
            asked.as_at,
            asked.locality,
            today=self.today,
            window=self.settings.board_days_kept,
        )

    async def localities(self) -> list[str]:
        async with reading(self.pool) as conn:
            return [
                r["locality"]
                for r in await conn.fetch(
                    "SELECT DISTINCT locality FROM children ORDER BY locality"
                )
            ]


async def boards_of(pool: Pool, settings: ServiceSettings, clock: ServiceClock) -> Boards:
    return Boards(pool, settings, clock.today())


Question = Annotated[Asked, Depends(asked)]
Shown = Annotated[Boards, Depends(boards_of)]


def headline(board: Board) -> Figure | None:
    key = HEADLINES[board.board]
    matching = [f for f in board.figures if f.key == key]
    return matching[-1] if matching else None


@router.get("/", dependencies=[requires(Permission.READ_BOARDS)])
async def home() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/dashboard", response_class=HTMLResponse, dependencies=BOARD_PAGES)
async def index(request: Request, question: Question, shown: Shown) -> HTMLResponse:
    boards = []
    for name, title in BOARDS.items():
        board = await shown.board(name, question)
        boards.append({"board": name, "title": title, "headline": headline(board)})
    return templates.TemplateResponse(
        request,
        "index.html",
        {"title": "Oversight boards", "boards": boards, "as_at": question.as_at},
    )


async def live_figures(question: Asked, shown: Boards) -> list[dict[str, Any]]:
    figures = []
    for name in ("timeliness", "children-in-care", "iro-escalations", "priority-cohort"):
        f = headline(await shown.board(name, question))
        if f is not None:
            figures.append(
                {
                    "board": name,
                    "key": f"{name}.{f.key}",
                    "label": f"{BOARDS[name]}: {f.label.lower()}",
                    "count": f.count,
                }
            )
    return figures


@router.get("/dashboard/live", response_class=HTMLResponse, dependencies=BOARD_PAGES)
async def live(request: Request, question: Question, shown: Shown) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "live.html", {"title": "Live", "figures": await live_figures(question, shown)}
    )


@router.get("/dashboard/live/figures", response_class=HTMLResponse, dependencies=BOARD_PAGES)
async def live_fragment(request: Request, question: Question, shown: Shown) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "live_figures.html", {"figures": await live_figures(question, shown)}
    )


@router.get(
    "/definitions", response_class=HTMLResponse, dependencies=[requires(Permission.READ_BOARDS)]
)
async def definitions(request: Request) -> HTMLResponse:
    html = markdown.markdown(DEFINITIONS.read_text(), extensions=["tables"])
    for tag, cls in (
        ("<table>", "govuk-table"),
        ("<h1>", "govuk-heading-xl"),
        ("<h2>", "govuk-heading-l"),
        ("<th>", "govuk-table__header"),
        ("<td>", "govuk-table__cell"),
        ("<tr>", "govuk-table__row"),
    ):
        html = html.replace(tag, f'{tag[:-1]} class="{cls}">')
    return templates.TemplateResponse(
        request, "definitions.html", {"title": "Definitions", "html": html}
    )


@router.get("/dashboard/{name}", response_class=HTMLResponse, dependencies=BOARD_PAGES)
async def board_page(request: Request, name: str, question: Question, shown: Shown) -> HTMLResponse:
    if name not in BOARDS:
        raise HTTPException(404, f"no board {name!r}")
    board = await shown.board(name, question)
    audit_id = None
    if board.rows is not None:
        rows, audit_id = await visible_rows(request, None, board.rows)
        board = board.model_copy(update={"rows": rows})
    query = urlencode(
        {
            "as_at": question.as_at.isoformat(),
            "view": question.view,
            **({"locality": question.locality} if question.locality else {}),
        }
    )
    return templates.TemplateResponse(
        request,
        "board.html",
        {
            "title": board.title,
            "board": board,
            "charts": charts(board),
            "localities": await shown.localities(),
            "today": shown.today,
            "csv_url": f"/boards/{name}?{query}&format=csv",
        },
        headers={"X-Audit-Id": audit_id} if audit_id else None,
    )


@router.get("/login", response_class=HTMLResponse, dependencies=[requires(Permission.PUBLIC)])
async def login_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "login.html",
        {"title": "Sign in", "next": _local(request.query_params.get("next"))},
    )


@router.post("/login", dependencies=[requires(Permission.PUBLIC)])
async def login(request: Request, settings: ServiceSettings) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    try:
        principal = request.app.state.verifier.verify(token)
    except InvalidToken as error:
        return templates.TemplateResponse(
            request,
            "login.html",
            {
                "title": "Sign in",
                "error": str(error),
                "next": _local((form.get("next") or [""])[0]),
            },
            status_code=401,
        )
    response = RedirectResponse(_local((form.get("next") or [""])[0]), 303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.environment not in ("local", "test"),
        max_age=12 * 3600,
    )
    log.info("signed in", user=principal.user_id, role=principal.role)
    return response


@router.api_route("/logout", methods=["GET", "POST"], dependencies=[requires(Permission.PUBLIC)])
async def logout(request: Request, settings: ServiceSettings) -> Response:
    """Sign out: the sign-in cookie cleared, and back to the sign-in page. Public: clearing
    a cookie needs no token (and an expired one must still be able to sign out)."""
    response = RedirectResponse("/login", 303)
    response.delete_cookie(
        COOKIE,
        httponly=True,
        samesite="strict",
        secure=settings.environment not in ("local", "test"),
    )
    log.info("signed out")
    return response

"""The oversight dashboard: an index of each board's headline for its last complete period, a
page per board (its twelve-month trend, its localities as small multiples, the attendance
matrix: pictures drawn by `charts.py`; its figures, locality filter, as-at date and CSV), a
live page for incident management teams, and the definitions. Server-rendered HTML
with the GOV.UK Design System's components, served offline: govuk-frontend comes from the npm
registry at install time (deploy/local/bootstrap.sh) and is served by this service."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, NamedTuple
from urllib.parse import parse_qs, urlencode

import asyncpg
import markdown
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from services.projections.boards import queries
from services.projections.boards.answering import (
    board_on,
    council_sheet,
    partnership_sheet,
)
from services.projections.boards.declarations import BOARDS, DECLARED, HEADLINES
from services.projections.boards.memo import BoardMemo
from services.projections.boards.model import Board, Figure
from services.projections.builds import reading
from services.projections.dashboard import charts
from services.projections.routes.boards import COUNCIL_VIEW, council_locality
from shared.access import Permission, principal_of, requires, visible_rows
from shared.api import Pool, ServiceClock, ServiceSettings
from shared.auth import COOKIE, InvalidToken, bearer_token
from shared.calendar import month_end
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

HERE = Path(__file__).parent
GOVUK = HERE / "node_modules" / "govuk-frontend" / "dist" / "govuk"
DEFINITIONS = HERE.parents[2] / "docs" / "boards.md"
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["shown"] = charts.shown  # a value as the charts write it


def caller_authorization(request: Request) -> str:
    """The caller's own token as an Authorization header (as it came: the bearer header, or
    the sign-in cookie where it is taken), for a service the dashboard asks on their behalf:
    that service decides what they may do, as if they had asked it themselves."""
    token = bearer_token(dict(request.scope), cookie=True)
    if not token:
        raise HTTPException(401, "sign in again")
    return f"Bearer {token}"


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


READS_AT_ONCE = 4


@dataclass(frozen=True)
class Boards:
    """The boards as a page shows them: suppressed in the partnership view."""

    pool: asyncpg.Pool
    settings: Settings
    today: date
    memo: BoardMemo | None = None  # the boards answered before (`memo.py`)
    # The board reads a page makes at once: a page of trends asks for many, and the pool's
    # other users (the next request, the live page) must still get a connection.
    at_once: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(READS_AT_ONCE))

    async def board(self, name: str, asked: Asked) -> Board:
        async with self.at_once:
            return await self._board(name, asked)

    async def boards(self, name: str, asks: list[Asked]) -> list[Board]:
        """The board for each of `asks`, read concurrently (`at_once` of them at a time)."""
        return list(await asyncio.gather(*(self.board(name, a) for a in asks)))

    async def by_place(self, name: str, asked: Asked, places: list[str | None]) -> list[Board]:
        """The board as `asked` for each of `places` (None: the county). In the partnership
        view every locality's board is computed together anyway (what is hidden is hidden
        alike), so that is one read for them all; a place it lacks (no records there) is read
        alone. In the council view, one read of the county split by place (`council_sheet`)."""
        if asked.view != "partnership":
            async with self.at_once:
                council = await council_sheet(
                    self.pool,
                    name,
                    asked.as_at,
                    places,
                    today=self.today,
                    window=self.settings.board_days_kept,
                    memo=self.memo,
                )
            return [council[p] for p in places]
        async with self.at_once:
            sheet = await partnership_sheet(
                self.pool,
                name,
                asked.as_at,
                None,
                today=self.today,
                window=self.settings.board_days_kept,
                threshold=self.settings.small_number_threshold,
                memo=self.memo,
            )
        missing = [p for p in dict.fromkeys(places) if p not in sheet]
        alone = await self.boards(name, [asked._replace(locality=p) for p in missing])
        sheet.update(zip(missing, alone, strict=True))
        return [sheet[p] for p in places]

    async def _board(self, name: str, asked: Asked) -> Board:
        if asked.view == "partnership":
            sheet = await partnership_sheet(
                self.pool,
                name,
                asked.as_at,
                asked.locality,
                today=self.today,
                window=self.settings.board_days_kept,
                threshold=self.settings.small_number_threshold,
                memo=self.memo,
            )
            return sheet[asked.locality]
        return await board_on(
            self.pool,
            name,
            asked.as_at,
            asked.locality,
            today=self.today,
            window=self.settings.board_days_kept,
            memo=self.memo,
        )

    async def localities(self) -> list[str]:
        async with reading(self.pool) as conn:
            return await queries.localities(conn)


async def boards_of(
    request: Request, pool: Pool, settings: ServiceSettings, clock: ServiceClock
) -> Boards:
    return Boards(pool, settings, clock.today(), getattr(request.app.state, "memo", None))


Question = Annotated[Asked, Depends(asked)]
Shown = Annotated[Boards, Depends(boards_of)]


def headline(board: Board) -> Figure | None:
    key = HEADLINES[board.board]
    matching = [f for f in board.figures if f.key == key]
    return matching[-1] if matching else None


@router.get("/", dependencies=[requires(Permission.READ_BOARDS)])
async def home() -> RedirectResponse:
    return RedirectResponse("/dashboard")


# -- the index: each board's headline for the last complete period ------------------------

MONTH = re.compile(r"^\d{4}-\d{2}$")


def is_month(f: Figure) -> bool:
    return bool(f.period and MONTH.match(f.period))


def last_complete_month(as_at: date) -> date:
    """The last day of the last month ended by `as_at` (itself, when it is a month's last)."""
    return as_at if as_at == month_end(as_at) else as_at.replace(day=1) - timedelta(days=1)


def month_before(end: date) -> date:
    return end.replace(day=1) - timedelta(days=1)


def of_key(board: Board, key: str, period: str | None = None) -> Figure | None:
    """The board's figure of `key`: of that period, else its last not of a month (a count
    over the period, or as at the day)."""
    found = [
        f
        for f in board.figures
        if f.key == key and (f.period == period if period else not is_month(f))
    ]
    return found[-1] if found else None


def as_at_words(f: Figure | None, day: date) -> str:
    if f is not None and f.period and "/" in f.period:
        return f"in the 12 months to {day:%-d %B %Y}"
    return f"as at {day:%-d %B %Y}"


async def latest(name: str, question: Asked, shown: Boards) -> dict[str, Any]:
    """The board's headline for its last complete period and the one before: the last whole
    month (a month's count, or the figure as at its last day), or for attendance the last
    day marked before today. The month just begun is never the headline: two days into a
    month its counts are near 0, which reads as a fall that has not happened."""
    key = HEADLINES[name]
    if name == "attendance":
        board = await shown.board(name, question)
        days = sorted({f.period for f in board.figures if f.key == key and f.period})
        days = [d for d in days if d < shown.today.isoformat()]  # today's marks still come
        now = of_key(board, key, days[-1]) if days else None
        before = of_key(board, key, days[-2]) if len(days) > 1 else None
        when = f"on {charts.day_label(days[-1])}" if days else "no day marked yet"
        then = charts.day_label(days[-2]) if len(days) > 1 else "the day before"
    else:
        end = last_complete_month(question.as_at)
        previous = month_before(end)
        board = await shown.board(name, question._replace(as_at=end))
        if any(f.key == key and is_month(f) for f in board.figures):
            now = of_key(board, key, f"{end:%Y-%m}")
            before = of_key(board, key, f"{previous:%Y-%m}")
            when, then = f"in {end:%B %Y}", f"{previous:%B %Y}"
        else:
            now = of_key(board, key)
            before = of_key(await shown.board(name, question._replace(as_at=previous)), key)
            when, then = as_at_words(now, end), f"{previous:%-d %B %Y}"
    unit = "%" if any(f is not None and charts.is_share(f) for f in (now, before)) else ""
    value = charts.value_of(now, unit)
    return {
        "board": name,
        "title": BOARDS[name],
        "figure": now,
        "shown": charts.shown(value, unit),
        "when": when,
        "since": then,
        "movement": charts.movement(
            value, charts.value_of(before, unit), unit, DECLARED[name].better
        ),
        "better": DECLARED[name].better,
    }


@router.get("/dashboard", response_class=HTMLResponse, dependencies=BOARD_PAGES)
async def index(request: Request, question: Question, shown: Shown) -> HTMLResponse:
    boards = await asyncio.gather(*(latest(name, question, shown) for name in BOARDS))
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "title": "Oversight boards",
            "boards": boards,
            "as_at": question.as_at,
            "view": question.view,
            "complete": last_complete_month(question.as_at),
        },
    )


async def work_out_the_index(
    pool: asyncpg.Pool, settings: Settings, today: date, memo: BoardMemo
) -> None:
    """Every board the index reads, in both views of the whole county, worked out into the
    memo before anyone asks (the API does it when the projection is quiet): after a load, or
    a change dated in a past month, the first person to open the index does not wait for
    every board as at the last two month ends (6 s for the demo county). What the memo still
    holds is read from it; nothing is kept while the memo is not listening."""
    if not memo.listening:
        return
    shown = Boards(pool, settings, today, memo)
    for view in ("council", "partnership"):
        question = Asked(today, None, view)
        await asyncio.gather(*(latest(name, question, shown) for name in BOARDS))


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
async def live(request: Request, question: Question, shown: Shown) -> Response:
    """The incident management teams' page: what needs a person now (the attention queue; in
    the partnership view, how many of each kind) and four headline figures, both kept up to
    date by the live feed."""
    from services.projections.dashboard import attention  # it imports this package

    redirect = attention.council_by_default(request)
    if redirect is not None:
        return redirect
    context, audit_id = await attention.queue_context(
        request,
        shown.pool,
        shown.settings,
        question,
        await attention.kind_asked(request),
        shown.today,
    )
    return templates.TemplateResponse(
        request,
        "live.html",
        {
            "title": "Live: what needs a person now",
            "figures": await live_figures(question, shown),
            **context,
        },
        headers={"X-Audit-Id": audit_id} if audit_id else None,
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


# -- a board's pictures: its trend, by locality, and the attendance matrix -----------------

TREND_SERIES = 4  # the headline and up to three more: more charts than that are not read


def month_ends(as_at: date) -> list[date]:
    """Twelve points of a trend: the last days of the eleven months before, and the day."""
    ends = [as_at]
    for _ in range(11):
        ends.insert(0, month_before(ends[0]))
    return ends


def monthly(board: Board, key: str, as_at: date) -> list[tuple[str, str, Figure | None]]:
    """The board's figures of `key` for each month, as (period, label, figure); the month of
    `as_at` says it is to that day when the month has not ended."""
    points: list[tuple[str, str, Figure | None]] = []
    for f in board.figures:
        if f.key == key and is_month(f) and f.period:
            label = charts.month_label(f.period)
            if f.period == f"{as_at:%Y-%m}" and as_at != month_end(as_at):
                label += f" (to {as_at:%-d %B})"
            points.append((f.period, label, f))
    return points


def at_month_ends(boards: list[Board], key: str) -> list[tuple[str, str, Figure | None]]:
    return [(b.as_at.isoformat(), f"{b.as_at:%-d %B %Y}", of_key(b, key)) for b in boards]


def keys_of(board: Board, head: str, months: bool) -> list[str]:
    """The keys a page draws: the headline (if it is of this kind), then the board's others of
    this kind (monthly, or one figure a day) in its order, up to `TREND_SERIES` in all."""
    keys: list[str] = []
    for f in board.figures:
        drawn = is_month(f) == months and (months or "." not in f.key or f.key == head)
        if drawn and f.key not in keys:
            keys.append(f.key)
    ordered = ([head] if head in keys else []) + [k for k in keys if k != head]
    return ordered[:TREND_SERIES]


def title_of(board: Board, key: str, monthly: bool) -> str:
    f = of_key(board, key) or next((f for f in board.figures if f.key == key), None)
    label = f.label if f else key
    if monthly:
        return f"{label}: each month"
    if f is not None and f.period and "/" in f.period:
        return f"{label}: in the 12 months to each month's end"
    return f"{label}: at each month's end"


def localities_shown(request: Request, question: Asked, localities: list[str]) -> list[str]:
    """The localities of the small multiples: every one in the partnership view, the user's
    own in the council view (as the API answers it)."""
    mine = principal_of(request).localities
    if question.view == "partnership" or mine is None:
        return localities
    return [name for name in localities if name in mine]


@dataclass
class Pictures:
    trends: list[charts.Chart]
    multiples: charts.Multiples | None
    matrix: charts.Matrix | None
    reads: int  # the board reads they took, beyond the page's own


async def pictures(
    request: Request,
    name: str,
    board: Board,
    question: Asked,
    shown: Boards,
    localities: list[str],
) -> Pictures:
    """The board's trend over twelve months and its headline by locality. A board that gives
    counts by month draws them as given; one that does not is read as at each month's end,
    concurrently. In the partnership view each day is one read for every locality at once
    (`Boards.by_place`); in the council view, one read a locality a day.
    The attendance board is its matrix (no more reads); the improvement plan is other
    boards' figures, each with its own board's trend. `localities`: `Boards.localities`,
    read once by the caller for its page."""
    if name == "attendance":
        return Pictures([], None, charts.matrix("Share of each group attending", board.figures), 0)
    if DECLARED[name].reads_boards:
        return Pictures([], None, None, 0)
    head, as_at = HEADLINES[name], question.as_at
    drawn: list[charts.Chart] = []
    reads = 0
    month_keys = keys_of(board, head, months=True)
    stock_keys: list[str] = []
    if head not in month_keys:  # the headline first, read as at each month's end
        stock_keys = keys_of(board, head, months=False)[: max(1, TREND_SERIES - len(month_keys))]
        month_keys = month_keys[: TREND_SERIES - len(stock_keys)]
    places = localities_shown(request, question, localities)
    # Each day's board for the page's own place (first) and every locality of the small
    # multiples, read together: in the partnership view one read a day for them all.
    wanted: list[str | None] = [question.locality, *places]
    per_day: list[list[Board]] = []
    ended: list[Board] = []
    if stock_keys:
        ends = month_ends(as_at)
        per_day = list(
            await asyncio.gather(
                *(shown.by_place(name, question._replace(as_at=d), wanted) for d in ends[:-1])
            )
        )
        ended = [*(day[0] for day in per_day), board]
        reads += len(per_day) * (1 if question.view == "partnership" else len(wanted))
    for key in stock_keys:
        drawn.append(
            charts.trend(
                charts.series_of(title_of(board, key, False), at_month_ends(ended, key)),
                f"trend-{len(drawn)}",
            )
        )
    for key in month_keys:
        drawn.append(
            charts.trend(
                charts.series_of(title_of(board, key, True), monthly(board, key, as_at)),
                f"trend-{len(drawn)}",
            )
        )
    multiples = None
    if places and (month_keys or stock_keys):
        key = month_keys[0] if month_keys else stock_keys[0]
        today_s = await shown.by_place(name, question, list(places))
        reads += 1 if question.view == "partnership" else len(places)
        if month_keys:
            points = [monthly(b, key, as_at) for b in today_s]
        else:
            points = [
                at_month_ends([*(day[1 + i] for day in per_day), today_s[i]], key)
                for i in range(len(places))
            ]
        multiples = charts.small_multiples(
            f"{title_of(board, key, bool(month_keys))}, by locality",
            [charts.series_of(place, p) for place, p in zip(places, points, strict=True)],
            "locality",
        )
    return Pictures(drawn, multiples, None, reads)


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
    localities = await shown.localities()
    drawn = await pictures(request, name, board, question, shown, localities)
    log.debug("board page", board=name, board_reads=1 + drawn.reads)
    return templates.TemplateResponse(
        request,
        "board.html",
        {
            "title": board.title,
            "board": board,
            "pictures": drawn,
            "localities": localities,
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

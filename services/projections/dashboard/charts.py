"""The dashboard's pictures, drawn on the server as inline SVG: a line chart of a series, small
multiples (one small line chart per locality, on one scale), the attendance matrix (groups
down, dates across, each row with its trend) and the index's arrow of change. Pure: figures
in, markup out, no I/O.

Every picture is an image with a name that says what it shows (role="img", aria-label) and
gives the same numbers in an HTML table beside it, so nothing needs script or sight of the
chart. A value not shown (suppressed in the partnership view, or with nothing to be a share
of) is a gap in the line, never a point at 0. Text is #0b0c0c or #505a5f on white (contrast
19:1 and 7:1); the line is GOV.UK blue #1d70b8 (5.2:1, above the 3:1 graphics need)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from math import floor, log10

from services.projections.boards.model import Figure

INK, SECONDARY, LINE, GRID = "#0b0c0c", "#505a5f", "#1d70b8", "#b1b4b6"


@dataclass(frozen=True)
class Point:
    """One value of a series: `period` as the API names it (2026-05, 2026-05-31), `label` as a
    reader reads it (May 2026); `value` None when there is no number to show."""

    period: str
    label: str
    value: float | None
    count: int | None = None
    denominator: int | None = None
    suppressed: bool = False


@dataclass(frozen=True)
class Series:
    name: str
    unit: str  # "%" for a share, "" for a count
    points: tuple[Point, ...]

    def known(self) -> list[float]:
        return [p.value for p in self.points if p.value is not None]


def is_share(f: Figure) -> bool:
    """Whether the figure is a share of its denominator (its percentage is count out of it),
    not a count compared with another (a change against a year before keeps that year's count
    as its denominator and the change as its percentage)."""
    return (
        f.count is not None
        and bool(f.denominator)
        and f.percentage is not None
        and f.percentage == round(100 * f.count / (f.denominator or 1), 2)
    )


def value_of(f: Figure | None, unit: str) -> float | None:
    """The number a chart draws of the figure: its share (unit "%") or its count."""
    if f is None or f.suppressed or f.count is None:
        return None
    if unit == "%":
        return f.percentage if is_share(f) else None
    return float(f.count)


def series_of(name: str, figures: Sequence[tuple[str, str, Figure | None]]) -> Series:
    """A series of (period, label, figure): a share where any of its figures is one (those
    with nothing to be a share of are gaps), else a count."""
    unit = "%" if any(f is not None and is_share(f) for _, _, f in figures) else ""
    return Series(
        name,
        unit,
        tuple(
            Point(
                period,
                label,
                value_of(f, unit),
                None if f is None else f.count,
                None if f is None else f.denominator,
                f is not None and f.suppressed,
            )
            for period, label, f in figures
        ),
    )


def shown(value: float | None, unit: str) -> str:
    """A value as the chart and its table both write it."""
    if value is None:
        return ""
    number = f"{round(value, 1):g}" if unit == "%" else f"{value:g}"
    return f"{number}{unit}"


def absent(point: Point) -> str:
    """Why a point has no value, in words."""
    return "suppressed (small number)" if point.suppressed else "none to count"


def nice_top(values: Iterable[float], unit: str = "") -> float:
    """The top of the scale: at or above the largest value, an even number (2, 4, 6, 8 or 10
    times a power of ten, so that its half, the middle line, is round too); a share's scale
    stops at 100, and is 0 to 100 when every share is 0."""
    largest = max(values, default=0.0)
    if largest <= 0:
        return 100.0 if unit == "%" else 2.0
    power = 10 ** floor(log10(largest))
    top = next(m * power for m in (1, 2, 4, 6, 8, 10) if m * power >= largest)
    if unit != "%":
        top = max(top, 2)  # a count's scale in whole numbers: 0, 1, 2 at the least
    return min(top, 100.0) if unit == "%" and largest <= 100 else float(top)


def summary(series: Series) -> str:
    """The chart's accessible name: what it shows and each value, in order."""
    values = "; ".join(
        f"{p.label}: {shown(p.value, series.unit) if p.value is not None else absent(p)}"
        for p in series.points
    )
    kind = "share" if series.unit == "%" else "count"
    return f"{series.name} ({kind}), line chart. {values}"


@dataclass(frozen=True)
class Frame:
    """Where a chart of n points on a scale to `top` puts things, in SVG units."""

    width: int
    height: int
    left: int
    right: int
    above: int
    below: int
    n: int
    top: float

    def x(self, i: int) -> float:
        span = self.width - self.left - self.right
        return self.left + (span / 2 if self.n < 2 else span * i / (self.n - 1))

    def y(self, value: float) -> float:
        span = self.height - self.above - self.below
        return self.above + span * (1 - value / self.top)


def line_chart(series: Series, chart_id: str, top: float | None = None, small: bool = False) -> str:
    """A line chart of the series; `top` puts small multiples on one scale. Gaps where a value
    is not shown. Each point carries its period and value (data-period, data-value)."""
    points = series.points
    if not points:
        return ""
    frame = Frame(
        *((220, 140, 36, 12, 10, 36) if small else (640, 270, 52, 28, 14, 44)),
        n=len(points),
        top=top or nice_top(series.known(), series.unit),
    )
    parts: list[str] = []
    for tick in (0.0, frame.top / 2, frame.top):
        y = frame.y(tick)
        parts.append(
            f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.width - frame.right}" '
            f'y2="{y:.1f}" stroke="{INK if tick == 0 else GRID}" stroke-width="1"/>'
            f'<text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(shown(tick, series.unit))}</text>"
        )
    last = len(points) - 1
    step = max(1, -(-len(points) // 12))  # a label to each point, up to twelve of them
    for i, p in enumerate(points):
        labelled = i in (0, last) if small else (i % step == 0 or i == last)
        if labelled:
            anchor = ("start" if i == 0 else "end") if small else "middle"
            below = frame.height - frame.below + 16
            name, year = short(p)
            parts.append(
                f'<text x="{frame.x(i):.1f}" y="{below}" text-anchor="{anchor}">'
                f"{escape(name)}</text>"
            )
            if year and (i == 0 or small or name.endswith("Jan")):
                parts.append(
                    f'<text x="{frame.x(i):.1f}" y="{below + 15}" text-anchor="{anchor}">'
                    f"{year}</text>"
                )
    runs: list[list[tuple[float, float]]] = [[]]
    for i, p in enumerate(points):
        if p.value is None:
            runs.append([])
        else:
            runs[-1].append((frame.x(i), frame.y(p.value)))
    for run in runs:
        if len(run) > 1:
            d = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f} {y:.1f}" for j, (x, y) in enumerate(run))
            parts.append(f'<path d="{d}" fill="none" stroke="{LINE}" stroke-width="2.5"/>')
    for i, p in enumerate(points):
        if p.value is not None:
            parts.append(
                f'<circle cx="{frame.x(i):.1f}" cy="{frame.y(p.value):.1f}" '
                f'r="{2.5 if small else 3.5}" fill="{LINE}" data-period="{escape(p.period)}" '
                f'data-value="{escape(shown(p.value, series.unit))}"/>'
            )
    return (
        f'<svg class="app-chart{" app-chart--small" if small else ""}" id="{escape(chart_id)}" '
        f'viewBox="0 0 {frame.width} {frame.height}" role="img" '
        f'aria-label="{escape(summary(series))}" data-top="{frame.top:g}">'
        f"{''.join(parts)}</svg>"
    )


def short(p: Point) -> tuple[str, str]:
    """A point's label on the axis, the month (May) or the day (31 May), and its year (shown
    under the first point and each January)."""
    try:
        if len(p.period) == 7:
            day = date.fromisoformat(f"{p.period}-01")
            return day.strftime("%b"), str(day.year)
        day = date.fromisoformat(p.period)
        return day.strftime("%-d %b"), str(day.year)
    except ValueError:
        return p.label, ""


def cell(point: Point, unit: str) -> str:
    """A table cell of a point: the value as the chart draws it, and for a share what it is of."""
    if point.value is None:
        return (
            f'<td class="govuk-table__cell govuk-table__cell--numeric app-suppressed" '
            f'data-period="{escape(point.period)}" data-value="">{absent(point)}</td>'
        )
    of = (
        f'<br><span class="app-chart-of">{point.count} of {point.denominator}</span>'
        if unit == "%" and point.denominator
        else ""
    )
    return (
        f'<td class="govuk-table__cell govuk-table__cell--numeric" '
        f'data-period="{escape(point.period)}" data-value="{escape(shown(point.value, unit))}">'
        f"{escape(shown(point.value, unit))}{of}</td>"
    )


def numbers(series: Series, caption: str) -> str:
    """The chart's numbers as a table: a row per period."""
    heading = "Share" if series.unit == "%" else "Count"
    rows = "".join(
        f'<tr class="govuk-table__row"><th scope="row" class="govuk-table__header">'
        f"{escape(p.label)}</th>{cell(p, series.unit)}</tr>"
        for p in series.points
    )
    return (
        f'<table class="govuk-table app-chart-table">'
        f'<caption class="govuk-table__caption govuk-table__caption--s">{escape(caption)}</caption>'
        f'<thead class="govuk-table__head"><tr class="govuk-table__row">'
        f'<th scope="col" class="govuk-table__header">Period</th>'
        f'<th scope="col" class="govuk-table__header govuk-table__header--numeric">{heading}</th>'
        f'</tr></thead><tbody class="govuk-table__body">{rows}</tbody></table>'
    )


@dataclass(frozen=True)
class Chart:
    """A chart as a page shows it: its heading, the SVG, and the table of its numbers."""

    chart_id: str
    title: str
    svg: str
    table: str


def trend(series: Series, chart_id: str) -> Chart:
    return Chart(
        chart_id,
        series.name,
        line_chart(series, chart_id),
        numbers(series, f"{series.name}: the numbers"),
    )


@dataclass(frozen=True)
class Multiples:
    """One small line chart per locality on one scale, and one table of their numbers."""

    title: str
    charts: list[Chart]
    table: str
    top: float


def small_multiples(title: str, series: Sequence[Series], prefix: str) -> Multiples:
    """A small chart per series (each a locality), all on the scale of the largest value, so
    that a reader compares heights; the table has a row per period, a column per locality."""
    unit = series[0].unit if series else ""
    top = nice_top((v for s in series for v in s.known()), unit)
    charts = [
        Chart(f"{prefix}-{i}", s.name, line_chart(s, f"{prefix}-{i}", top, small=True), "")
        for i, s in enumerate(series)
    ]
    periods = list(dict.fromkeys((p.period, p.label) for s in series for p in s.points))
    by = [{p.period: p for p in s.points} for s in series]
    head = "".join(
        f'<th scope="col" class="govuk-table__header govuk-table__header--numeric">'
        f"{escape(s.name)}</th>"
        for s in series
    )
    rows = "".join(
        f'<tr class="govuk-table__row"><th scope="row" class="govuk-table__header">'
        f"{escape(label)}</th>"
        + "".join(
            cell(of.get(period) or Point(period, label, None), s.unit)
            for s, of in zip(series, by, strict=True)
        )
        + "</tr>"
        for period, label in periods
    )
    table = (
        f'<table class="govuk-table app-chart-table app-multiples-table">'
        f'<caption class="govuk-table__caption govuk-table__caption--s">'
        f"{escape(title)}: the numbers</caption>"
        f'<thead class="govuk-table__head"><tr class="govuk-table__row">'
        f'<th scope="col" class="govuk-table__header">Period</th>{head}</tr></thead>'
        f'<tbody class="govuk-table__body">{rows}</tbody></table>'
    )
    return Multiples(title, charts, table, top)


def sparkline(series: Series, chart_id: str) -> str:
    """A row's trend in a line of text's height: its first and last values and the line."""
    width, height, pad = 120, 32, 4
    top = nice_top(series.known(), series.unit)
    n = len(series.points)
    runs: list[list[str]] = [[]]
    dots = []
    for i, p in enumerate(series.points):
        if p.value is None:
            runs.append([])
            continue
        x = pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)
        y = pad + (height - 2 * pad) * (1 - p.value / top)
        runs[-1].append(f"{x:.1f} {y:.1f}")
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.8" fill="{LINE}" '
            f'data-period="{escape(p.period)}" data-value="{escape(shown(p.value, series.unit))}"/>'
        )
    paths = "".join(
        f'<path d="M{" L".join(run)}" fill="none" stroke="{LINE}" stroke-width="2"/>'
        for run in runs
        if len(run) > 1
    )
    return (
        f'<svg class="app-sparkline" id="{escape(chart_id)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(summary(series))}">'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        f'stroke="{GRID}"/>{paths}{"".join(dots)}</svg>'
    )


@dataclass(frozen=True)
class Matrix:
    """The seed's attendance table: a row per group, a column per date, and each row's trend."""

    caption: str
    dates: list[tuple[str, str]]  # (period, label)
    rows: list[tuple[str, Series, str]]  # (key, series, sparkline)


def matrix(caption: str, figures: Sequence[Figure], prefix: str = "matrix") -> Matrix:
    """Groups down (in the order the board gives them), dates across (oldest first): each
    cell the share of the group attending that day (a gap where suppressed)."""
    periods = sorted({f.period for f in figures if f.period})
    keys: dict[str, str] = {}
    by: dict[tuple[str, str], Figure] = {}
    for f in figures:
        if f.period:
            keys.setdefault(f.key, f.label)
            by[(f.key, f.period)] = f
    dates = [(p, day_label(p)) for p in periods]
    rows = []
    for i, (key, label) in enumerate(keys.items()):
        series = series_of(label, [(p, lab, by.get((key, p))) for p, lab in dates])
        rows.append((key, series, sparkline(series, f"{prefix}-{i}")))
    return Matrix(caption, dates, rows)


def day_label(period: str) -> str:
    try:
        return date.fromisoformat(period).strftime("%-d %b %Y")
    except ValueError:
        return period


def month_label(period: str) -> str:
    try:
        return date.fromisoformat(f"{period}-01").strftime("%B %Y")
    except ValueError:
        return period


# -- the index: which way a headline moved --------------------------------------------------

HIGHER, LOWER = "higher_is_better", "lower_is_better"


@dataclass(frozen=True)
class Movement:
    """A headline's change since the period before, in an arrow and in words (never colour
    alone), and whether that is the way the board declares better: "right", "wrong", "same",
    or None (neither way is better, or there is no number to compare)."""

    arrow: str
    words: str
    judgement: str | None

    @property
    def verdict(self) -> str:
        return {
            "right": "Moving the right way",
            "wrong": "Moving the wrong way",
            "same": "No change",
        }.get(self.judgement or "", "")


def movement(now: float | None, before: float | None, unit: str, better: str | None) -> Movement:
    """The change from `before` to `now` (a share's in percentage points)."""
    if now is None or before is None:
        return Movement("", "No change to show (a figure is suppressed or not known)", None)
    delta = round(now - before, 1) if unit == "%" else now - before
    amount = (
        f"{abs(delta):g} percentage point{'' if abs(delta) == 1 else 's'}"
        if unit == "%"
        else f"{abs(delta):g}"
    )
    if delta == 0:
        return Movement("→", "No change", "same" if better else None)
    up = delta > 0
    judgement = None if not better else "right" if up == (better == HIGHER) else "wrong"
    return Movement("↑" if up else "↓", f"{'Up' if up else 'Down'} {amount}", judgement)

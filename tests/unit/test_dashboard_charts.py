"""The dashboard's pictures (services/projections/dashboard/charts.py): well-formed SVG with an
accessible name, points placed by value, gaps where a value is not shown, and tables with the
chart's own numbers; and which way the index says a headline moved."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from contracts.quality.codes import Direction
from services.projections.boards.declarations import BOARD_DECLARATIONS
from services.projections.boards.model import Figure, change, figure
from services.projections.dashboard import charts, last_complete_month, month_ends

SVG = "{http://www.w3.org/2000/svg}"


def svg_of(markup: str) -> ET.Element:
    """The SVG parsed as XML (it must be well-formed), in the SVG namespace."""
    return ET.fromstring(markup.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def cells(table: str) -> dict[str, str]:
    """The table's values by period (data-period, data-value), parsed as XML too."""
    root = ET.fromstring(table.replace("<br>", "<br/>"))
    return {td.get("data-period", ""): td.get("data-value", "") for td in root.iter("td")}


def months(values: list[int | None], suppressed: bool = True) -> charts.Series:
    figures = []
    for i, v in enumerate(values):
        f = figure("referrals", "Referrals", v or 0, period=f"2026-{i + 1:02d}")
        figures.append((f.period or "", f"month {i + 1}", f.hidden() if v is None else f))
    return charts.series_of("Referrals", figures)


def test_a_line_chart_is_well_formed_svg_with_an_accessible_name() -> None:
    series = months([3, 7, 12, 9])
    root = svg_of(charts.line_chart(series, "trend-0"))
    assert root.get("role") == "img"
    name = root.get("aria-label") or ""
    assert name.startswith("Referrals (count), line chart.")
    assert "month 3: 12" in name and "month 4: 9" in name


def test_points_are_placed_by_value_on_the_scale() -> None:
    series = months([5, 10, 20, 0])
    root = svg_of(charts.line_chart(series, "t"))
    top = float(root.get("data-top") or 0)
    assert top == 20  # a round number at or above the largest
    frame = charts.Frame(640, 270, 52, 28, 14, 44, n=4, top=top)
    circles = root.findall(f"{SVG}circle")
    assert [c.get("data-value") for c in circles] == ["5", "10", "20", "0"]
    for i, (c, v) in enumerate(zip(circles, [5, 10, 20, 0], strict=True)):
        assert float(c.get("cy") or 0) == pytest.approx(frame.y(v), abs=0.1)
        assert float(c.get("cx") or 0) == pytest.approx(frame.x(i), abs=0.1)
    ys = [float(c.get("cy") or 0) for c in circles]
    assert ys[2] < ys[1] < ys[0] < ys[3]  # higher values higher up


def test_a_suppressed_value_is_a_gap_never_a_zero() -> None:
    series = months([8, None, 9, 11])
    assert [p.value for p in series.points] == [8, None, 9, 11]
    markup = charts.line_chart(series, "t")
    root = svg_of(markup)
    assert [c.get("data-period") for c in root.findall(f"{SVG}circle")] == [
        "2026-01",
        "2026-03",
        "2026-04",
    ]
    paths = [p.get("d") or "" for p in root.findall(f"{SVG}path")]
    assert len(paths) == 1 and paths[0].count("L") == 1  # the line after the gap only
    assert "month 2: suppressed (small number)" in (root.get("aria-label") or "")
    table = charts.numbers(series, "Referrals")
    assert "suppressed (small number)" in table
    assert cells(table)["2026-02"] == ""


def test_the_table_gives_the_charts_own_numbers() -> None:
    shares = [
        ("2026-01-31", "31 January 2026", figure("in_touch", "In touch", 30, 40)),
        ("2026-02-28", "28 February 2026", figure("in_touch", "In touch", 31, 42)),
        ("2026-03-31", "31 March 2026", figure("in_touch", "In touch", 0, 0)),
    ]
    series = charts.series_of("In touch", shares)
    assert series.unit == "%"
    chart = charts.trend(series, "trend-1")
    drawn = {
        c.get("data-period"): c.get("data-value") for c in svg_of(chart.svg).iter(f"{SVG}circle")
    }
    assert drawn == {"2026-01-31": "75%", "2026-02-28": "73.8%"}
    table = cells(chart.table)
    assert {k: v for k, v in table.items() if v} == drawn
    assert table["2026-03-31"] == ""  # nothing to be a share of: a gap, not 0%
    assert "30 of 40" in chart.table


def test_small_multiples_share_one_scale_and_one_table() -> None:
    a, b = months([2, 4, 6]), months([10, 30, 25])
    a = charts.Series("Exeter", a.unit, a.points)
    b = charts.Series("Torridge", b.unit, b.points)
    multiples = charts.small_multiples("Referrals by locality", [a, b], "loc")
    assert multiples.top == 40
    tops = {svg_of(c.svg).get("data-top") for c in multiples.charts}
    assert tops == {"40"}
    names = [svg_of(c.svg).get("aria-label") or "" for c in multiples.charts]
    assert names[0].startswith("Exeter") and names[1].startswith("Torridge")
    root = ET.fromstring(multiples.table.replace("<br>", "<br/>"))
    rows = [
        [td.get("data-value") for td in tr.iter("td")]
        for tr in root.iter("tr")
        if tr.find("td") is not None
    ]
    assert rows == [["2", "10"], ["4", "30"], ["6", "25"]]


def test_the_attendance_matrix_is_groups_down_and_dates_across() -> None:
    figures = [
        figure(key, label, attended, of, period=day)
        for day in ("2026-05-11", "2026-04-27")
        for key, label, attended, of in (
            ("cic", "Children in care", 11 if day < "2026-05" else 17, 100),
            ("ehcp", "EHCP", 5, 90),
        )
    ]
    figures.append(figure("cp_plan", "CP plan", 3, 7, period="2026-05-11").hidden())
    m = charts.matrix("Attendance", figures)
    assert [d for d, _ in m.dates] == ["2026-04-27", "2026-05-11"]  # oldest first
    assert [k for k, _, _ in m.rows] == ["cic", "ehcp", "cp_plan"]
    cic = m.rows[0][1]
    assert [p.value for p in cic.points] == [11.0, 17.0]
    spark = svg_of(m.rows[0][2])
    assert spark.get("role") == "img" and "Children in care" in (spark.get("aria-label") or "")
    assert [c.get("data-value") for c in spark.iter(f"{SVG}circle")] == ["11%", "17%"]
    cp = m.rows[2][1]
    assert [p.value for p in cp.points] == [None, None]  # absent, then suppressed: no zeros
    assert cp.points[1].suppressed
    assert svg_of(m.rows[2][2]).find(f"{SVG}circle") is None


def test_the_chart_text_is_dark_enough_to_read() -> None:
    def luminance(hex_colour: str) -> float:
        def channel(c: int) -> float:
            s = c / 255
            return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

        r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)

    for colour, needed in ((charts.INK, 4.5), (charts.SECONDARY, 4.5), (charts.LINE, 3.0)):
        assert (1.05) / (luminance(colour) + 0.05) >= needed, colour


def test_a_change_is_never_taken_for_a_share() -> None:
    assert charts.is_share(figure("k", "K", 3, 4))
    assert not charts.is_share(change("k", "K", 226, 121, "2026-06", ""))
    assert not charts.is_share(change("k", "K", 92, 112, "2026-04", ""))
    assert not charts.is_share(figure("k", "K", 3))
    assert charts.value_of(change("k", "K", 226, 121, "2026-06", ""), "") == 226


@pytest.mark.parametrize(
    ("now", "before", "unit", "better", "arrow", "words", "judgement"),
    [
        (12, 9, "", Direction.HIGHER_IS_BETTER, "↑", "Up 3", "right"),
        (12, 9, "", Direction.LOWER_IS_BETTER, "↑", "Up 3", "wrong"),
        (7, 9, "", Direction.LOWER_IS_BETTER, "↓", "Down 2", "right"),
        (7, 9, "", None, "↓", "Down 2", None),
        (9, 9, "", Direction.HIGHER_IS_BETTER, "→", "No change", "same"),
        (37.0, 33.4, "%", Direction.HIGHER_IS_BETTER, "↑", "Up 3.6 percentage points", "right"),
        (None, 9, "", Direction.HIGHER_IS_BETTER, "", "No change to show", None),
    ],
)
def test_the_index_says_which_way_a_headline_moved_in_words_and_an_arrow(
    now: float | None,
    before: float | None,
    unit: str,
    better: str | None,
    arrow: str,
    words: str,
    judgement: str | None,
) -> None:
    moved = charts.movement(now, before, unit, better)
    assert (moved.arrow, moved.judgement) == (arrow, judgement)
    assert moved.words.startswith(words)
    if judgement:
        assert moved.verdict  # said in words, not by colour alone


def test_every_board_says_which_way_is_better_or_that_neither_is() -> None:
    for declared in BOARD_DECLARATIONS:
        assert declared.better in (None, *Direction), declared.name
    assert {d.name: d.better for d in BOARD_DECLARATIONS}["risk"] == Direction.LOWER_IS_BETTER


def test_the_last_complete_period_is_never_the_month_just_begun() -> None:
    assert last_complete_month(date(2026, 6, 2)) == date(2026, 5, 31)
    assert last_complete_month(date(2026, 5, 31)) == date(2026, 5, 31)
    assert last_complete_month(date(2026, 3, 1)) == date(2026, 2, 28)
    ends = month_ends(date(2026, 6, 2))
    assert len(ends) == 12 and ends[-1] == date(2026, 6, 2)
    assert ends[0] == date(2025, 7, 31) and ends[-2] == date(2026, 5, 31)


@pytest.mark.parametrize(
    ("values", "unit", "top"),
    [([], "", 2), ([1], "", 2), ([3], "", 4), ([11], "", 20), ([67.7], "%", 80), ([0], "%", 100)],
)
def test_the_scale_tops_out_at_a_round_number(values: list[float], unit: str, top: float) -> None:
    assert charts.nice_top(values, unit) == top


def test_values_are_written_alike_in_the_chart_and_the_table() -> None:
    assert charts.shown(33.35, "%") == "33.4%"
    assert charts.shown(12.0, "") == "12"
    assert charts.shown(None, "") == ""
    assert re.fullmatch(r"\d+(\.\d)?%", charts.shown(100 * 2 / 3, "%"))
    assert isinstance(Figure(key="k", label="K", count=None).hidden(), Figure)

"""The dashboard's pages at national scale: each page a person opens (the index, every board
in both views, the live page, the definitions), asked over HTTP of the projections API that
serves the read model the rebuild made, as a browser would ask it (the HTML, not the JSON).

The first request of each page is reported apart: it works out every board the page reads (the
API keeps them: services/projections/boards/memo.py). The pages are asked once the API has kept
the trend's month ends, which it does in the background from its start.
The repeated requests read what it kept, as a person's do while nothing is recorded. And after
a change dated today (what every batch of a working day says), one more request: the boards as
at today worked out again, the past month ends still kept. The target is issue 20's: p95
under 300 ms a page."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from services.projections.boards.declarations import BOARDS

TARGET_P95_MS = 300
HEADING = "## Dashboard pages"


def pages() -> list[tuple[str, str, dict[str, str]]]:
    """(name, path, query) of every page timed."""
    found: list[tuple[str, str, dict[str, str]]] = [
        ("index", "/dashboard", {}),
        ("live", "/dashboard/live", {}),
        ("definitions", "/definitions", {}),
    ]
    for board in BOARDS:
        for view in ("partnership", "council"):
            found.append((f"{board} ({view})", f"/dashboard/{board}", {"view": view}))
    return found


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def page_latencies(
    url: str,
    headers: dict[str, str],
    n: int,
    changed_today: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Each page asked `n` times after a first request; p50 and p95 of the `n`, in ms. Then,
    where `changed_today` tells the API of a change dated today, one request after it."""
    timed = []
    async with httpx.AsyncClient(
        base_url=url,
        timeout=900,
        headers=headers,
        follow_redirects=True,  # as a browser does
    ) as client:
        for name, path, query in pages():
            t = time.perf_counter()
            first = await client.get(path, params=query)
            first_ms = (time.perf_counter() - t) * 1000
            if first.status_code != 200:
                raise RuntimeError(f"{path} {query}: HTTP {first.status_code} {first.text[:300]}")
            times = []
            for _ in range(n):
                t = time.perf_counter()
                (await client.get(path, params=query)).raise_for_status()
                times.append(time.perf_counter() - t)
            after_change_ms = None
            if changed_today is not None:
                await changed_today()
                await asyncio.sleep(0.2)  # the notification crosses a local socket meanwhile
                t = time.perf_counter()
                (await client.get(path, params=query)).raise_for_status()
                after_change_ms = (time.perf_counter() - t) * 1000
            timed.append(
                {
                    "page": name,
                    "path": path,
                    "first_ms": first_ms,
                    "p50": _pct(times, 0.5),
                    "p95": _pct(times, 0.95),
                    "after_change_ms": after_change_ms,
                }
            )
    return {"pages": timed, "requests_each": n, "target_p95_ms": TARGET_P95_MS}


def section(figures: dict[str, Any], children: int | None) -> list[str]:
    """The doc's lines: one row a page, the slowest first."""
    of = f", {children:,} children" if children else ""
    rows = sorted(figures["pages"], key=lambda p: -p["p95"])
    met = sum(p["p95"] < figures["target_p95_ms"] for p in rows)
    lines = [
        HEADING,
        "",
        f"Dashboard pages on the read model the rebuild made{of}: each page (HTML) asked "
        f"{figures['requests_each']} times after a first request; target p95 < "
        f"{figures['target_p95_ms']} ms. **{met} of {len(rows)} pages met it.** "
        "The first request works out every board the page reads; the repeated ones read the "
        'boards the API kept (nothing was recorded meanwhile); "after a change today" is '
        "one request after the API is told of a change dated today, as after each batch of a "
        "working day: the boards as at today worked out again, the past month ends kept."
        + (
            f" The pages were asked once the API had kept the trend's month ends in the "
            f"background, {figures['trend_kept_s']:,.0f} s after its start; it then works out "
            "the index's boards, which the index's first request waits for if they are still "
            "being worked out."
            if figures.get("trend_kept_s") is not None
            else ""
        ),
        "",
        "| dashboard page | p50 | p95 | first request | after a change today | met |",
        "|---|---|---|---|---|---|",
    ]
    for p in rows:
        ok = "yes" if p["p95"] < figures["target_p95_ms"] else "**no**"
        after = p.get("after_change_ms")
        lines.append(
            f"| {p['page']} | {p['p50']:.0f} ms | {p['p95']:.0f} ms | "
            f"{p['first_ms']:,.0f} ms | {'' if after is None else f'{after:,.0f} ms'} | {ok} |"
        )
    m = figures.get("machine")
    if m and figures.get("command"):  # a run of the pages alone says how it was made
        lines += [
            "",
            f"Measured by `{figures['command']}` on {m['date']}: {m['cpus']} CPUs, "
            f"{m['memory_gib']} GiB, Python {m['python']}. The projections API ran as a "
            "process on the rebuild's read model with nothing else recording; the requests "
            "came one at a time, as a council practitioner's (each page in the view named).",
        ]
    return [*lines, ""]


def record(figures: dict[str, Any], children: int | None, doc: Path, folder: Path) -> list[Path]:
    """A run of these figures alone (`--only pages`): their section of docs/benchmarks.md
    written again, and bench/results/pages.json."""
    from bench.returns import with_section

    doc.write_text(with_section(doc.read_text(), section(figures, children), HEADING))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "pages.json"
    out.write_text(json.dumps({**figures, "children": children}, indent=1) + "\n")
    return [doc, out]

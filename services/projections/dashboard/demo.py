"""How far `make run`'s demo county has loaded, shown on every dashboard page while it loads:
the URLs are printed as soon as the platform is healthy and the county is loaded behind them
(deploy/local/stack.py), so a newcomer who signs in at once is told why the boards are still
filling, and how far they have got. The loader writes its progress to a small JSON file
(`CSP_DEMO_PROGRESS_FILE`); nothing is shown where that is not set (every deployment but the
local one) or once the county is loaded."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi import Request

from services.projections.dashboard import templates

# A load whose file has not moved for this long has stopped (make run was interrupted): the
# banner says so rather than claiming it is still loading.
STALLED_AFTER_S = 60


def progress_text(state: dict[str, Any], age_s: float) -> str | None:
    """What the banner says of a progress file's `state`, written `age_s` seconds ago; None
    when there is nothing to say (loaded, or a state this version does not know)."""
    done, total = int(state.get("done", 0)), int(state.get("total", 0))
    counted = f"{done:,} of {total:,} commands ({100 * done // total if total else 0}%)"
    if state.get("state") == "failed":
        return (
            f"The demo county did not load completely ({counted}). Run make run again to resume it."
        )
    if state.get("state") != "loading":
        return None
    if age_s > STALLED_AFTER_S:
        return f"The demo county stopped loading at {counted}. Run make run again to resume it."
    rate = float(state.get("rate", 0))
    return (
        f"The demo county is loading: {counted}, {rate:,.0f} a second. "
        "The boards fill as it loads; reload a page to see them grow."
    )


def read_progress(path: Path | None) -> str | None:
    """The banner's text from the progress file at `path`, if there is one to show."""
    if path is None:
        return None
    try:
        state = json.loads(path.read_text())
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError):  # not written yet, or being replaced: nothing to show
        return None
    return progress_text(state, age) if isinstance(state, dict) else None


def demo_progress(request: Request) -> str | None:
    app = getattr(request, "app", None)  # a page rendered outside an app has none
    settings = getattr(getattr(app, "state", None), "settings", None)
    return read_progress(getattr(settings, "demo_progress_file", None))


templates.env.globals["demo_progress"] = demo_progress

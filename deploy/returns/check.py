"""Export this year's and last year's returns from a running platform and check them with the
DfE's rules, as a council's analyst would before submitting (`make check-returns`):

    python -m deploy.returns.check [--url http://127.0.0.1:8000] [--token FILE] [--year 2026]

It downloads SSDA903 and the CIN census through the API (as the manager whose token it is
given: the downloads are audited), runs Data to Insight's validators on them in their own
environment (deploy/returns/validate.py, .venv-returns), and prints the errors by rule. The
files are kept in --out. Exit status 1 when any rule is broken.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from deploy.local.stack import ROOT
from services.projections.returns.facts import CollectionYear
from shared.clock import clock_from
from shared.settings import Settings

VALIDATORS = ROOT / ".venv-returns" / "bin" / "python"


def download(client: httpx.Client, path: str, year: int) -> bytes:
    r = client.get(path, params={"year": year})
    if r.status_code != 200:
        sys.exit(f"{path}?year={year}: {r.status_code} {r.text[:500]}")
    return r.content


def validate(year: int, files: list[str]) -> dict[str, Any]:
    if not VALIDATORS.exists():
        sys.exit(
            ".venv-returns is missing: `make install` makes it with a Python 3.9 to 3.11 "
            "(set PYTHON_RETURNS to one)"
        )
    done = subprocess.run(
        [str(VALIDATORS), "-m", "deploy.returns.validate", "--year", str(year), *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"the validators failed to run:\n{done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def summary(name: str, report: dict[str, Any]) -> int:
    errors = report["errors"] + [
        {"rule": "XSD", "message": e["reason"]} for e in report.get("xsd_errors", [])
    ]
    standing_in = report.get("ruleset_stands_in_for")
    ruleset = report["ruleset"] + (
        f" (standing in for {standing_in}: the validators have no rules of that year yet)"
        if standing_in
        else ""
    )
    print(f"{name}: ruleset {ruleset}, {len(errors)} errors")
    for (rule, message), n in sorted(Counter((e["rule"], e["message"]) for e in errors).items()):
        print(f"  {rule:>6} x{n:<5} {message[:110]}")
    return len(errors)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.returns.check", description=__doc__)
    state = Path(os.environ.get("CSP_STATE_DIR", ROOT / ".local" / "run"))
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the projections API")
    parser.add_argument("--token", type=Path, default=state / "tokens" / "manager.jwt")
    parser.add_argument("--year", type=int, default=None, help="default: the year today is in")
    parser.add_argument("--out", type=Path, default=ROOT / ".local" / "returns")
    args = parser.parse_args()
    year = args.year or CollectionYear.of(clock_from(Settings()).today()).start_year
    headers = {"Authorization": f"Bearer {args.token.read_text().strip()}"}
    broken = 0
    with httpx.Client(base_url=args.url, headers=headers, timeout=600) as client:
        for y in (year, year - 1):
            folder = args.out / str(y)
            folder.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(io.BytesIO(download(client, "/returns/ssda903", y))) as z:
                z.extractall(folder)
            this, last = (folder / f"{s}-{(s + 1) % 100:02d}" for s in (y, y - 1))
            cin = folder / "cin_census.xml"
            cin.write_bytes(download(client, "/returns/cin-census", y))
            report = validate(
                y, ["--ssda903", str(this), "--previous", str(last), "--cin", str(cin)]
            )
            broken += summary(f"SSDA903 {this.name}", report["ssda903"])
            broken += summary(f"CIN census {this.name}", report["cin"])
    print(f"files kept in {args.out}")
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())

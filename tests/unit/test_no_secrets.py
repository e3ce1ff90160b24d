"""No secrets in the repository: every tracked file scanned with detect-secrets (Yelp's
scanner: keywords, high-entropy strings, private keys, cloud and service tokens)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from deploy.local.stack import ROOT

SCAN = [sys.executable, "-m", "detect_secrets", "scan"]


def scan(paths: list[str], cwd: Path) -> dict[str, list[dict[str, object]]]:
    run = subprocess.run([*SCAN, *paths], cwd=cwd, capture_output=True, text=True, check=True)
    return json.loads(run.stdout)["results"]


def test_no_tracked_file_holds_a_secret() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    found = scan(tracked, ROOT)
    assert found == {}, {f: [(r["type"], r["line_number"]) for r in rs] for f, rs in found.items()}


def test_the_scan_finds_a_planted_secret(tmp_path: Path) -> None:
    planted = tmp_path / "settings.py"
    # Assembled at run time, so that this file itself holds no secret for the scan to find.
    key = "".join(["wJalrXUtnFEMI/", "K7MDENG/bPxRfi", "CYEXAMPLEKEY"])
    planted.write_text(f'aws_secret_access_key = "{key}"\n' + "-----BEGIN " + "PRIVATE KEY-----\n")
    found = scan([planted.name], tmp_path)
    assert planted.name in found
    assert {r["type"] for r in found[planted.name]} >= {"Private Key"}

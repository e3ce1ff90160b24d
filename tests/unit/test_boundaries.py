"""The boundaries hold: no service imports another, the kernel imports no service (nor the
contracts), nothing imports a layer above it, and there is no import cycle, not even one hidden
inside a function. The contracts are import-linter's, declared in pyproject.toml.

Static analysis of the source: no process is started and nothing is imported.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["contracts", "shared", "services", "deploy", "bench", "chaos"]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_repository_keeps_its_boundaries() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "reported"),
    [
        (
            "services/accommodation/domain/planted.py",
            "from services.education.domain import learner\n",
            "services.accommodation.domain.planted -> services.education.domain.learner",
        ),
        (
            "shared/planted.py",
            "from services.case_events import api\n",
            "shared.planted -> services.case_events.api",
        ),
        (
            "contracts/planted.py",
            "def later() -> None:\n    from services.projections import registry\n",
            "contracts.planted -> services.projections.registry",
        ),
        (  # a cycle: stack imports it, it imports stack (inside a function)
            "deploy/local/planted.py",
            "def later() -> None:\n    from deploy.local import stack\n",
            "No cycles are allowed in deploy.local",
        ),
    ],
    ids=["service-to-service", "kernel-to-service", "contracts-to-service", "cycle"],
)
def test_a_planted_import_across_a_boundary_is_caught(
    tmp_path: Path, module: str, planted: str, reported: str
) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "node_modules"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / module).write_text(planted)
    if reported.startswith("No cycles"):
        stack = tmp_path / "deploy/local/stack.py"
        stack.write_text("from deploy.local import planted  # noqa\n" + stack.read_text())

    result = lint_imports(tmp_path)

    assert result.returncode != 0, result.stdout
    assert reported in " ".join(result.stdout.split()), result.stdout

"""The platform's wheel works outside the repository: it carries every file the code reads
from its own package directory (migrations, the dashboard's templates and static files), and
every console script of [project.scripts] names a function that exists.

Built from a copy of the packages (the build writes build/ and *.egg-info beside the source,
which must not appear in the shared working tree), with the setuptools the lock pins
(--no-build-isolation: nothing is fetched). A few seconds.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from configparser import ConfigParser
from pathlib import Path

import pytest

from deploy.local.stack import ROOT

# What the code reads at run time from beside itself (see [tool.setuptools.package-data]).
DATA_SUFFIXES = {".sql", ".html", ".js", ".css"}
NOT_SHIPPED = {"node_modules", "__pycache__"}  # node_modules: npm fetches them at install time


def _top_level_packages() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return [pattern.rstrip("*") for pattern in include]


def _ignore(folder: str, names: list[str]) -> set[str]:
    skip = {n for n in names if n in NOT_SHIPPED or n.endswith(".egg-info") or n == "build"}
    if Path(folder).name == "kafka":
        skip.add("lib")  # the broker's jars (deploy/kafka/lib): not Python, and large
    return skip


def _data_files_in_repo() -> set[str]:
    found = set()
    for package in _top_level_packages():
        for path in (ROOT / package).rglob("*"):
            relative = path.relative_to(ROOT)
            if (
                path.suffix in DATA_SUFFIXES
                and path.is_file()
                and not NOT_SHIPPED.intersection(relative.parts)
            ):
                found.add(relative.as_posix())
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    for package in _top_level_packages():
        shutil.copytree(ROOT / package, source / package, ignore=_ignore)
    out = work / "dist"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            str(source),
            "-w",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=work,
    )
    assert result.returncode == 0, result.stderr
    [built] = out.glob("*.whl")
    return built


def test_the_wheel_carries_every_file_read_at_run_time(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = _data_files_in_repo()
    # Sanity: the search sees the migrations and the dashboard at all.
    assert "shared/sql/event_store/001_event_store.sql" in wanted
    assert "services/projections/sql_public/001_board_builds.sql" in wanted
    assert "services/projections/dashboard/templates/base.html" in wanted
    assert "services/projections/dashboard/static/dashboard.css" in wanted
    assert not wanted - names, f"missing from the wheel: {sorted(wanted - names)}"
    assert "services/projections/dashboard/package-lock.json" in names  # for `npm ci` there
    assert not [n for n in names if "node_modules" in n]


def test_the_installed_wheel_finds_its_migrations_and_templates_outside_the_repo(
    wheel: Path, tmp_path: Path
) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    probe = """
import sys
from pathlib import Path
import services.projections.dashboard as dashboard
from services.case_events.api import KEYS_SQL
from services.projections.builds import BUILDS_SQL, READ_MODEL_SQL
from shared.known_children import KNOWN_CHILDREN_SQL
from shared.migrations import EVENT_STORE_SQL, PROJECTION_SQL, scripts_in
site = Path(sys.argv[1]).resolve()
assert Path(dashboard.__file__).resolve().is_relative_to(site), dashboard.__file__
for folder in (EVENT_STORE_SQL, PROJECTION_SQL, KNOWN_CHILDREN_SQL, KEYS_SQL, BUILDS_SQL,
               READ_MODEL_SQL):
    assert Path(folder).resolve().is_relative_to(site), folder
    assert scripts_in(folder), f"no migrations in {folder}"
assert dashboard.templates.get_template("base.html")
assert (dashboard.HERE / "static" / "dashboard.css").is_file()
"""
    env = {**os.environ, "PYTHONPATH": str(target)}  # ahead of the repo's editable install
    result = subprocess.run(
        [sys.executable, "-c", probe, str(target)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_every_console_script_names_a_function(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        [entry_points] = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        parser = ConfigParser()
        parser.read_string(archive.read(entry_points).decode())
    scripts = dict(parser["console_scripts"])
    assert {"csp-case-events", "csp-projections", "csp-stack", "csp-token"} <= set(scripts)
    for name, target in scripts.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), name

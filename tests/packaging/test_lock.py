"""The lock files agree with pyproject.toml: every pin there is in them, every package in them
has its hashes, and the image's runtime lock pins what the tests ran against. A change to a
dependency without `make lock` fails here, before an install does."""

from __future__ import annotations

import re
import tomllib

from deploy.local.stack import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    """The normalised name of `Name[extra]==1.0` (PEP 503)."""
    bare = re.split(r"[\[=<>!~;\s]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        assert "==" in requirement, f"not pinned in pyproject.toml: {requirement}"
        pins[_name(requirement)] = requirement.split("==")[1].split(";")[0].strip()
    return pins


def _locked(lock: str) -> dict[str, list[tuple[str, int]]]:
    """Each package of a lock file: its versions (one per marker fork) and number of hashes."""
    text = (ROOT / lock).read_text()
    entries: dict[str, list[tuple[str, int]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        first = block.split("\n", 1)[0]
        if first.startswith("#") or "==" not in first:
            continue
        name, version = first.split(" ", 1)[0].split("==")
        entries.setdefault(_name(name), []).append((version, block.count("--hash=sha256:")))
    return entries


RUNTIME = _pins(PYPROJECT["project"]["dependencies"])
BUILD = _pins(PYPROJECT["project"]["optional-dependencies"]["build"])
DEV = _pins(PYPROJECT["project"]["optional-dependencies"]["dev"])


def test_every_pin_of_pyproject_is_in_the_lock_files() -> None:
    for lock, pins in [
        ("requirements.lock", RUNTIME | BUILD),
        ("requirements-dev.lock", RUNTIME | BUILD | DEV),
    ]:
        locked = _locked(lock)
        for name, version in pins.items():
            assert name in locked, f"{name} is not in {lock}: run `make lock`"
            assert version in [v for v, _ in locked[name]], (
                f"{name}=={version} in pyproject.toml, {locked[name]} in {lock}: run `make lock`"
            )


def test_every_locked_package_has_its_hashes() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        for name, versions in _locked(lock).items():
            assert all(hashes for _, hashes in versions), f"{name} has no hash in {lock}"


def test_the_image_runs_the_versions_the_tests_ran() -> None:
    runtime, dev = _locked("requirements.lock"), _locked("requirements-dev.lock")
    assert len(runtime) >= len(RUNTIME) and len(dev) > len(runtime)
    for name, versions in runtime.items():
        assert [v for v, _ in versions] == [v for v, _ in dev[name]], name

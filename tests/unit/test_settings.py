from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import Settings, configuration_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_documented_configuration_is_the_one_in_force() -> None:
    assert DOCS.read_text() == configuration_markdown(), (
        "docs/configuration.md is stale: run `python -m shared.settings --markdown`"
    )


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSP_POSTGRES_PORT", "6543")
    monkeypatch.setenv("CSP_NAMESPACE", "devon_")
    settings = Settings(service="projections")
    assert settings.postgres_port == 6543
    assert settings.database == "devon_projections"
    assert settings.topic("case-events") == "devon_case-events"
    assert "6543/devon_projections" in settings.dsn()

"""A board pack's PDF drawn in the process (weasyprint, the dashboard's own fonts from disk):
what a process leaves on the machine's disk for the packs it draws."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import weasyprint.text.fonts
from pypdf import PdfReader

from services.projections.dashboard.packs import GOVUK, let_go_of_the_fonts, to_pdf


def test_the_packs_a_process_draws_copy_their_fonts_into_one_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A weasyprint font configuration copies the `@font-face` fonts into a temporary folder
    of its own. Made for each pack, it left a folder behind for every pack drawn by a process
    stopped before then; one for the process makes one folder, removed when the process
    lets go of it (at exit, and as the API stops)."""
    let_go_of_the_fonts()  # whatever this process drew before: the next pack begins anew
    made: list[str] = []
    real = weasyprint.text.fonts.mkdtemp

    def counted(*args: str, **kwargs: str) -> str:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(weasyprint.text.fonts, "mkdtemp", counted)
    font = min(p.name for p in (GOVUK / "assets" / "fonts").glob("*.woff2"))
    page = (
        "<html><head><style>"
        f'@font-face {{ font-family: pack; src: url(/assets/fonts/{font}) format("woff2") }}'
        " body { font-family: pack }"
        "</style></head><body><p>Children in care: 42</p></body></html>"
    )
    for _ in range(3):
        first = PdfReader(io.BytesIO(to_pdf(page))).pages[0]
        assert first.extract_text() == "Children in care: 42"
        resources: Any = first["/Resources"]
        fonts = [f["/BaseFont"] for f in resources["/Font"].values()]
        assert [f.split("+")[-1] for f in fonts] == ["pack-Bold"]  # the font given, embedded
    assert len(made) == 1, made
    assert Path(made[0]).is_dir()  # still the process's to draw with
    let_go_of_the_fonts()
    assert not Path(made[0]).exists()

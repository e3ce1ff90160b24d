"""The dashboard's error pages (services/projections/dashboard/errors.py): a browser asking for
a page is shown one of the dashboard's own, a program the API's JSON as before."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Query
from fastapi.testclient import TestClient

from services.projections.dashboard import errors
from services.projections.dashboard import returns as _navigation  # noqa: F401 (base.html's)

PAGE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # a browser's navigation


def client() -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.get("/dashboard/{name}")
    async def board(name: str, as_at: int = Query(0)) -> None:
        raise HTTPException(403 if name == "council" else 404, f"no board {name!r}")

    @app.get("/boards/{name}")
    async def api(name: str) -> None:
        raise HTTPException(404, f"no board {name!r}")

    return TestClient(app)


def test_a_browser_is_shown_a_page_of_the_dashboard() -> None:
    for path, status, heading in (
        ("/dashboard/nothing", 404, "Page not found"),
        ("/dashboard/council", 403, "You cannot see this page"),
        ("/dashboard/x?as_at=tomorrow", 422, "There is a problem with the address"),
        ("/dashboard/x/y", 404, "Page not found"),  # no route at all
    ):
        r = client().get(path, headers=PAGE)
        assert r.status_code == status, path
        assert r.headers["content-type"].startswith("text/html"), path
        assert f'<h1 class="govuk-heading-xl">{heading}</h1>' in r.text, path
        assert '<html lang="en"' in r.text and 'href="#main-content"' in r.text  # the layout
    assert "no board &#39;nothing&#39;" in client().get("/dashboard/nothing", headers=PAGE).text


def test_programs_and_scripts_still_get_json() -> None:
    assert client().get("/dashboard/nothing").json() == {"detail": "no board 'nothing'"}
    fetched = client().get("/dashboard/nothing", headers={"Accept": "*/*"})  # a page's script
    assert fetched.json() == {"detail": "no board 'nothing'"}
    assert client().get("/boards/x", headers=PAGE).json() == {"detail": "no board 'x'"}
    unreadable = client().get("/dashboard/x?as_at=tomorrow")
    assert unreadable.status_code == 422 and unreadable.json()["detail"][0]["loc"] == [
        "query",
        "as_at",
    ]

"""The dashboard's error pages: a person whose browser asks for a page that is not there (an
unknown board, a child outside their localities), that they may not see, or with an address
it cannot read (an as-at date in the future) is shown a page of the dashboard's own, with its
navigation and a way back, in place of the API's JSON. Programs (and the pages' own scripts,
which ask for fragments) still get the JSON; so does every path that is not a page."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from services.projections.dashboard import templates

PAGES = ("/dashboard", "/definitions")
TITLES = {
    403: "You cannot see this page",
    404: "Page not found",
    422: "There is a problem with the address",
}


def wants_a_page(request: Request) -> bool:
    """A browser's navigation to a page (it asks for HTML first); not a script's fetch."""
    path = request.url.path
    return path.startswith(PAGES) and "text/html" in request.headers.get("accept", "")


def page(request: Request, status: int, detail: str) -> Response:
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "title": TITLES.get(status, "Sorry, there is a problem"),
            "status": status,
            "detail": detail,
        },
        status_code=status,
    )


def install(app: FastAPI) -> None:
    """The error pages, on the projections API (the only service that serves the dashboard)."""

    @app.exception_handler(HTTPException)
    async def refused(request: Request, error: HTTPException) -> Response:
        if wants_a_page(request) and error.status_code in TITLES:
            return page(request, error.status_code, str(error.detail))
        return await http_exception_handler(request, error)

    @app.exception_handler(RequestValidationError)
    async def unreadable(request: Request, error: RequestValidationError) -> Response:
        if wants_a_page(request):
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', '')}"
                for e in error.errors()
            )
            return page(request, 422, problems)
        return await request_validation_exception_handler(request, error)

"""Every service's API docs work on a network without the internet: /docs loads Swagger UI's
script, stylesheet and icon from the service itself (through the same permission gate as
/docs), and the Content-Security-Policy names no other origin and allows no inline script but
the page's own. In memory: each service's app driven by Starlette's test client, no server, no
network (a page that reached a CDN would still pass a browser-less test, so the page is read
for every URL it names)."""

from __future__ import annotations

import re
from base64 import b64encode
from hashlib import sha256
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from shared.access import GRANTS, Permission, grant
from tests import apps
from tests.infrastructure import auth

MANAGER = auth("manager")
POLICE = auth("partner", "police")  # partners read the docs too
TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
}
# What a source list of the policy may name: this origin, nothing, inline images, and an
# inline script by its hash; never another origin, a scheme or a wildcard.
LOCAL_SOURCES = re.compile(r"^('self'|'none'|data:|'sha256-[A-Za-z0-9+/]+=*')$")


class Loaded(HTMLParser):
    """Every URL a page makes the browser load (scripts, stylesheets, icons, images)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        url = named.get("src") or (named.get("href") if tag == "link" else None)
        if url:
            self.urls.append(url)


def client(service: str) -> TestClient:
    return TestClient(apps.app(service), headers=MANAGER)


def policy(header: str) -> dict[str, list[str]]:
    directives = [d.split() for d in header.split(";") if d.strip()]
    return {name: sources for name, *sources in directives}


def inline_scripts(page: str) -> list[str]:
    return re.findall(r"<script>(.*?)</script>", page, flags=re.DOTALL)


def hashed(script: str) -> str:
    return f"'sha256-{b64encode(sha256(script.encode()).digest()).decode()}'"


@pytest.mark.parametrize("service", sorted(apps.APPS))
def test_the_docs_page_loads_everything_from_the_service_itself(service: str) -> None:
    docs = client(service)
    page = docs.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert re.findall(r"(?:https?:)?//[^\s'\"<>]+", page.text) == []  # no other origin at all
    loaded = Loaded(page.text).urls
    assert {u.rsplit(".", 1)[-1] for u in loaded} == {"js", "css", "png"}, loaded
    for url in loaded:
        assert url.startswith("/docs/assets/"), url
        asset = docs.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert asset.headers["content-type"].split(";")[0] in TYPES[suffix], url
        assert len(asset.content) > 500, url
    assert "SwaggerUIBundle" in docs.get("/docs/assets/swagger-ui-bundle.js").text
    assert ".swagger-ui" in docs.get("/docs/assets/swagger-ui.css").text
    assert "url: '/openapi.json'" in page.text
    assert docs.get("/openapi.json").json()["info"]["title"]


def test_the_assets_pass_the_same_gate_as_the_docs(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = client("case_events")
    gated = ("/docs", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css")
    anonymous = TestClient(docs.app)
    for path in gated:
        assert docs.get(path, headers=POLICE).status_code == 200, path
        assert anonymous.get(path).status_code == 401, path
        assert docs.get(path, headers={"Authorization": "Bearer forged"}).status_code == 401
    monkeypatch.setitem(GRANTS, Permission.API_DOCS, grant())  # granted to nobody
    for path in gated:
        refused = docs.get(path)
        assert refused.status_code == 403, (path, refused.status_code)
        assert "may not read the API's documentation" in refused.json()["detail"]
        assert "swagger" not in refused.text.lower()


def test_only_the_packaged_assets_are_served() -> None:
    docs = client("projections")
    for name in ("nothing.js", "..%2F__init__.py", "..%2F..%2Fshared%2Fsecurity.py", "%2E%2E"):
        assert docs.get(f"/docs/assets/{name}").status_code == 404, name
    assert docs.get("/docs/assets/swagger-ui.css", params={"x": "1"}).status_code == 200
    assert docs.get("/redoc").status_code == 404  # no ReDoc: it needs inline styles


def test_an_asset_is_revalidated_by_its_etag_not_fetched_again() -> None:
    docs = client("education")
    first = docs.get("/docs/assets/swagger-ui-bundle.js")
    assert first.headers["cache-control"] == "private, no-cache" and first.headers["etag"]
    again = docs.get(
        "/docs/assets/swagger-ui-bundle.js", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    assert docs.get("/docs").headers["cache-control"] == "no-store"  # the page is not kept


@pytest.mark.parametrize("path", ["/docs", "/docs/oauth2-redirect"])
def test_the_policy_allows_the_pages_own_inline_script_and_nothing_external(path: str) -> None:
    page = client("escalations").get(path)
    directives = policy(page.headers["content-security-policy"])
    assert directives["default-src"] == ["'self'"] and directives["object-src"] == ["'none'"]
    assert directives["style-src"] == ["'self'"] and directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    for name, sources in directives.items():
        assert sources and all(LOCAL_SOURCES.match(s) for s in sources), (name, sources)
    scripts = inline_scripts(page.text)
    assert scripts, "the page starts Swagger UI inline"
    assert sorted(directives["script-src"]) == sorted(["'self'", *map(hashed, scripts)])
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]


def test_every_other_response_keeps_the_strict_policy() -> None:
    docs = client("accommodation")
    page = policy(docs.get("/docs").headers["content-security-policy"])
    for path in ("/docs/assets/swagger-ui.css", "/openapi.json", "/health"):
        other = policy(docs.get(path).headers["content-security-policy"])
        assert other["script-src"] == ["'self'"], path  # no hash: nothing inline runs
        assert {k: v for k, v in other.items() if k != "script-src"} == {
            k: v for k, v in page.items() if k != "script-src"
        }, path


@pytest.mark.parametrize("service", sorted(apps.APPS))
def test_the_openapi_document_declares_the_bearer_scheme_and_every_common_answer(
    service: str,
) -> None:
    """A client generated from the document sends the token and handles the gate's, the
    limits' and the database's answers, on every operation."""
    document = client(service).get("/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert document["security"] == [{"bearer": []}]
    operations = [
        (method, operation)
        for path in document["paths"].values()
        for method, operation in path.items()
        if isinstance(operation, dict) and "responses" in operation
    ]
    assert operations
    for method, operation in operations:
        answers = set(operation["responses"])
        assert {"401", "403", "429", "503"} <= answers, operation["operationId"]
        assert ("413" in answers) == (method in {"post", "put", "patch"}), operation["operationId"]

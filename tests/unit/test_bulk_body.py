"""A bulk body validated straight from its bytes (`BulkBodyRoute`, the register feed's route)
is answered exactly as FastAPI answers it by its own way (the standard library's JSON, then
the model): for any body, valid or not, the same status and the same JSON, the handler given
the same feed. Property-based; in memory (Starlette's test client), no server."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from services.education.domain.commands import RecordRegisterFeed
from services.education.routes import attendance
from shared.api import BulkBodyRoute


def _client(route_class: type[APIRoute]) -> TestClient:
    router = APIRouter(route_class=route_class)

    @router.post("/feed")
    async def feed(feed: RecordRegisterFeed) -> dict[str, Any]:
        return {"type": type(feed).__name__, "feed": feed.model_dump(mode="json")}

    @router.post("/parsed")
    async def parsed(feed: RecordRegisterFeed, request: Request) -> str:
        return type(await request.json()).__name__  # what the body was parsed into

    app = FastAPI()
    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False)  # a 500 is an answer to compare


STANDARD, BULK = _client(APIRoute), _client(BulkBodyRoute)

MARK = b'{"child_id": "C-000123", "date": "2024-06-03", "session": "AM", "code": "/"}'
# Each field valid or not in the ways a school's system gets it wrong: JSON's own types, a
# date in another form, a code or session in another case, a field missing or one too many.
child_ids = st.sampled_from(["C-000123", "C-1", "x", "", "C 1", 123, None, "C-" + "9" * 70])
dates = st.sampled_from(
    ["2024-06-03", "2024-6-3", "2024-06-03T00:00:00", "2024-06-03T10:00:00", "03/06/2024",
     "1899-12-31", "2024-02-30", 20240603, 1717372800, None, ""]
)  # fmt: skip
sessions = st.sampled_from(["AM", "PM", "am", "Am", "EVENING", 1, None])
codes = st.sampled_from(["/", "\\", "N", "I", "L", "n", "ZZ", "", 0, None])
marks = st.fixed_dictionaries(
    {"child_id": child_ids, "date": dates, "session": sessions, "code": codes},
    optional={"extra": st.just(True)},
).flatmap(
    lambda mark: st.sets(st.sampled_from(sorted(mark)), max_size=1).map(
        lambda dropped: {k: v for k, v in mark.items() if k not in dropped}
    )
)
feeds = st.fixed_dictionaries(
    {
        "school_urn": st.sampled_from(["113254", "11325", "ABCDEF", 113254, None]),
        "marks": st.one_of(st.lists(marks, max_size=6), st.just("not a list"), st.none()),
    },
    optional={"unknown": st.just(1)},
)
bodies = st.one_of(
    feeds.map(lambda f: json.dumps(f).encode()),
    feeds.map(lambda f: json.dumps(f, indent=2).encode()),  # whitespace is JSON's own
    st.sampled_from([b"", b"{", b"[]", b"null", b'"feed"', b'{"marks": [}', b"\xff\xfe"]),
    # Where two JSON parsers may differ: a key given twice (the last stands, for the school's
    # own too), a lone surrogate, a number beyond a float.
    st.sampled_from(
        [
            b'{"school_urn": "113254", "school_urn": "100001", "marks": [%s]}' % MARK,
            b'{"school_urn": "113254", "marks": [%s], "marks": []}' % MARK,
            b'{"school_urn": "113254", "marks": [%s]}' % MARK.replace(b'"/"', b'"/", "code": "N"'),
            b'{"school_urn": "\\ud800", "marks": [%s]}' % MARK,
            b'{"school_urn": "113254", "marks": [%s]}' % MARK.replace(b'"C-000123"', b"1e400"),
        ]
    ),
)


@settings(max_examples=400, deadline=None)
@given(bodies)
def test_a_bulk_body_is_answered_as_fastapi_answers_it(body: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    standard = STANDARD.post("/feed", content=body, headers=headers)
    bulk = BULK.post("/feed", content=body, headers=headers)
    assert (bulk.status_code, bulk.text) == (standard.status_code, standard.text)


def test_a_valid_feed_reaches_the_handler_as_its_model() -> None:
    body = {
        "school_urn": "113254",
        "marks": [{"child_id": "C-000123", "date": "2024-06-03", "session": "AM", "code": "/"}],
    }
    answer = BULK.post("/feed", json=body)
    assert answer.status_code == 200
    assert answer.json() == {"type": "RecordRegisterFeed", "feed": body}
    # Parsed once, into the model (FastAPI's own way makes the dicts first).
    assert BULK.post("/parsed", json=body).json() == "RecordRegisterFeed"
    assert STANDARD.post("/parsed", json=body).json() == "dict"


def test_the_register_feed_is_a_bulk_body_route() -> None:
    (route,) = [r for r in attendance.router.routes if isinstance(r, APIRoute)]
    assert route.path == "/attendance/register-feed"
    assert isinstance(route, BulkBodyRoute)


def test_a_route_without_a_model_body_is_unchanged() -> None:
    router = APIRouter(route_class=BulkBodyRoute)

    @router.post("/numbers")
    async def numbers(numbers: list[int]) -> int:
        return sum(numbers)

    app = FastAPI()
    app.include_router(router)
    client = TestClient(app)
    assert client.post("/numbers", json=[1, 2, 3]).json() == 6
    assert client.post("/numbers", json=["x"]).status_code == 422

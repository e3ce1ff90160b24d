"""The HTTP feed for agencies without Kafka, through the running platform, tested like the
Kafka path: the police page through their feed with their own token and get exactly what
their topic carries (the same message ids, values, headers and keys, in each child's order,
none missed, none twice), resume from a cursor they kept, wait for news by long poll or a
live stream, and see nothing another agency's token, or a council user, may read; every page
is in the access audit; a message that commits after a later-numbered one is not skipped; an
erased child's messages stay as long as the topic keeps them and hold none of what was
erased; retention removes what the topic no longer keeps, and a cursor it overtook is
refused, never answered with a gap."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from aiokafka.structs import ConsumerRecord

from services.partner_feeds.sharing import ENTITLEMENTS, PARTNER_HEADERS, partner_topic, pseudonym
from shared.envelope import Agency
from tests.e2e.conftest import Platform
from tests.e2e.journey import Practitioner
from tests.infrastructure import (
    GOVERNANCE,
    HTTP,
    TEST_PSEUDONYM_KEY,
    Infrastructure,
    auth,
    platform_today,
    poll_until,
    read_topic,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.fixture(scope="module")
def platform(partners_platform: Platform) -> Platform:
    """The partner feeds' platform, shared with the other partner feed module."""
    return partners_platform


POLICE_USER = "police-case-system"
POLICE = auth("partner", "police", user=POLICE_USER)
HEALTH = auth("partner", "health", user="health-records")
VALUE_FIELDS = {"message_id", "subject", "event_type", "facts", "purpose"}
DAYS_AGO = [(platform_today() - timedelta(days=n)).isoformat() for n in range(10)]


def feed(platform: Platform, agency: str = "police") -> str:
    return f"{platform.partner_feeds.url}/feeds/{agency}"


class Reader:
    """The police's system: pages through its feed with a small limit, keeping the cursor,
    and every page it was answered (for the audit)."""

    def __init__(self, platform: Platform, limit: int = 2) -> None:
        self.url, self.limit = feed(platform), limit
        self.after: str | None = None
        self.messages: list[dict[str, Any]] = []
        self.pages: list[httpx.Response] = []

    def read_on(self) -> list[dict[str, Any]]:
        """Every page from the kept cursor until one that is not full: what was new."""
        new: list[dict[str, Any]] = []
        while True:
            params: dict[str, Any] = {"limit": self.limit}
            if self.after is not None:
                params["after"] = self.after
            r = HTTP.get(self.url, headers=POLICE, params=params, timeout=30)
            assert r.status_code == 200, r.text
            page = r.json()
            assert set(page) == {"agency", "messages", "next", "more"}
            assert page["agency"] == "police" and len(page["messages"]) <= self.limit
            self.pages.append(r)
            new += page["messages"]
            self.after = page["next"]
            if not page["more"]:
                break
        self.messages += new
        return new

    def read_until(self, count: int, what: str, of: set[str] | None = None) -> list[dict[str, Any]]:
        """Read on until `count` messages more have come (the feed holds a share once its
        transaction commits, a moment after the topic has the record), counting only those
        about the subjects `of` if given."""
        start = len(self.messages)

        def counted() -> int:
            return sum(of is None or m["key"] in of for m in self.messages[start:])

        poll_until(
            lambda: self.read_on() is not None and counted() >= count,
            60,
            0.2,
            what,
        )
        return self.messages[start:]


def ids(messages: list[dict[str, Any]]) -> list[str]:
    return [m["value"]["message_id"] for m in messages]


def police_topic(platform: Platform, infra: Infrastructure) -> list[ConsumerRecord[Any, Any]]:
    """Every record on the police's Kafka topic."""
    topic = f"{platform.namespace}{partner_topic(Agency.POLICE)}"
    return asyncio.run(read_topic(infra.kafka_bootstrap, topic))


def as_served(record: ConsumerRecord[Any, Any]) -> dict[str, Any]:
    """A Kafka record as the HTTP feed serves it (its cursor aside)."""
    return {
        "key": record.key.decode(),
        "headers": {name: value.decode() for name, value in record.headers},
        "value": json.loads(record.value),
    }


def assert_same_as_the_topic(
    served: list[dict[str, Any]], records: list[ConsumerRecord[Any, Any]]
) -> None:
    """Nothing missed, nothing twice, nothing else, each byte as sent; each child's messages
    in the order of its partition."""
    assert len(ids(served)) == len(set(ids(served))), "a message served twice"
    first: dict[str, dict[str, Any]] = {}
    for record in records:  # a re-sent record (a crash) has the first one's id: kept once
        first.setdefault(json.loads(record.value)["message_id"], as_served(record))
    assert set(ids(served)) == set(first)
    for message in served:
        assert {k: message[k] for k in ("key", "headers", "value")} == first[
            message["value"]["message_id"]
        ]
    for subject in {m["key"] for m in served}:
        on_topic = [json.loads(r.value)["message_id"] for r in records if r.key.decode() == subject]
        in_feed = [m["value"]["message_id"] for m in served if m["key"] == subject]
        assert in_feed == list(dict.fromkeys(on_topic)), subject


def assert_police_may_see_it(messages: list[dict[str, Any]], children: list[str]) -> None:
    entitled = ENTITLEMENTS[Agency.POLICE]
    subjects = {pseudonym(TEST_PSEUDONYM_KEY.encode(), Agency.POLICE, c) for c in children}
    for m in messages:
        assert set(m) == {"cursor", "key", "headers", "value"}
        value = m["value"]
        assert set(value) == VALUE_FIELDS
        assert value["event_type"] in entitled
        assert set(value["facts"]) <= set(entitled[value["event_type"]])
        assert value["subject"] == m["key"] and m["key"] in subjects
        assert set(m["headers"]) == set(PARTNER_HEADERS)
        raw = json.dumps(m)
        assert not any(child in raw for child in children)  # never the council's ids


def audit_of(platform: Platform, user: str) -> dict[str, dict[str, Any]]:
    reads = GOVERNANCE.get(
        f"{platform.partner_feeds.url}/audit", params={"user_id": user}, timeout=30
    ).json()["reads"]
    return {r["audit_id"]: r for r in reads}


def assert_every_page_audited(
    platform: Platform, pages: list[httpx.Response], children: list[str]
) -> None:
    """Each page: who fetched it, the request (its cursor), and the children behind it."""
    child_of = {pseudonym(TEST_PSEUDONYM_KEY.encode(), Agency.POLICE, c): c for c in children}
    log = audit_of(platform, POLICE_USER)
    for page in pages:
        entry = log[page.headers["X-Audit-Id"]]
        assert entry["action"] == "GET /feeds/{agency}"
        assert entry["agency"] == "police" and entry["role"] == "partner"
        url = urlsplit(str(page.request.url))
        assert entry["request"] == f"{url.path}?{url.query}"
        assert set(entry["child_ids"]) == {child_of[m["key"]] for m in page.json()["messages"]}


def record_police_events(pr: Practitioner, child: str, *events: str) -> None:
    """Events the police receive (sharing.ENTITLEMENTS), by name."""
    for n, event in enumerate(events):
        if event == "strategy discussion":
            pr.child(
                "case_events",
                child,
                "/strategy-discussions",
                discussion_id=f"SD-{uuid.uuid4().hex[:6]}",
                discussion_date=DAYS_AGO[7],
                section_47_enquiry=True,
            )
        elif event == "plan":
            pr.child(
                "case_events",
                child,
                "/child-protection-plans",
                plan_id=f"CP-{uuid.uuid4().hex[:6]}",
                category="NEG",
                start_date=DAYS_AGO[6],
            )
        else:
            pr.child(
                "case_events", child, "/missing-episodes", started_on=DAYS_AGO[n + 1], kind="M"
            )


def test_the_police_read_over_https_what_their_topic_carries(
    platform: Platform, infra: Infrastructure
) -> None:
    # From the start, two at a time: first what the feed holds already (the platform is
    # shared with tests/e2e/test_partner_feeds.py).
    police = Reader(platform, limit=2)
    police.read_on()
    held, pages_held = len(police.messages), len(police.pages)

    pr = Practitioner(platform)
    marker = f"CANARY{uuid.uuid4().hex}"
    first = pr.post(
        "case_events",
        "/children",
        {
            "child_id": f"C-{uuid.uuid4().hex[:10]}",
            "date_of_birth": "2012-05-17",
            "locality": "Exeter",
            "personal": {"given_names": marker, "family_name": f"{marker}-family"},
        },
    ).json()["stream_id"]
    second = pr.register(dob="2014-02-03", locality="Exeter")
    children = [first, second]
    record_police_events(pr, first, "strategy discussion", "plan", "missing")
    record_police_events(pr, second, "missing", "missing")

    # Then five messages more, of these two children (ChildRegistered is health's and
    # careers').
    ours = {pseudonym(TEST_PSEUDONYM_KEY.encode(), Agency.POLICE, c) for c in children}
    police.read_until(5, "the police's five messages in their HTTP feed", of=ours)
    assert_same_as_the_topic(police.messages, police_topic(platform, infra))
    assert len(police.pages) >= 3  # paged, not one answer

    # More recorded; the police go on from the cursor they kept: only the new ones.
    kept = police.after
    record_police_events(pr, first, "missing")
    record_police_events(pr, second, "strategy discussion")
    new = police.read_until(2, "the two new messages after the kept cursor")
    assert {m["value"]["event_type"] for m in new} == {
        "MissingEpisodeRecorded",
        "StrategyDiscussionHeld",
    }
    again = HTTP.get(feed(platform), headers=POLICE, params={"after": kept}, timeout=30).json()
    assert ids(again["messages"]) == ids(new)  # the kept cursor names the same place again
    assert_same_as_the_topic(police.messages, police_topic(platform, infra))
    assert_police_may_see_it(police.messages[held:], children)
    assert marker not in json.dumps(police.messages)
    assert_every_page_audited(platform, police.pages[pages_held:], children)

    # Health's own feed: health's messages about the same children, under health's
    # pseudonyms, none of the police's.
    health = HTTP.get(feed(platform, "health"), headers=HEALTH, timeout=30).json()
    assert health["messages"]
    assert {m["value"]["event_type"] for m in health["messages"]} <= set(
        ENTITLEMENTS[Agency.HEALTH]
    )
    assert not {m["key"] for m in health["messages"]} & {m["key"] for m in police.messages}
    assert not set(ids(health["messages"])) & set(ids(police.messages))

    # Erasure: the child's personal data is destroyed; its messages were never any of it,
    # and stay as long as the police's topic keeps them (not longer: retention, below).
    erased = HTTP.post(
        f"{platform.case_events.url}/children/{first}/erasure",
        headers={**auth("information_governance", user="ig-feed"), "Idempotency-Key": first},
        json={"erased_on": platform_today().isoformat(), "reason": "subject_request"},
        timeout=60,
    )
    assert erased.status_code == 201, erased.text
    after_erasure = Reader(platform, limit=1000)
    after_erasure.read_on()
    assert_same_as_the_topic(after_erasure.messages, police_topic(platform, infra))
    assert marker not in json.dumps(after_erasure.messages)


def end_of_feed(platform: Platform) -> str:
    reader = Reader(platform, limit=1000)
    reader.read_on()
    assert reader.after is not None
    return reader.after


def test_a_long_poll_and_a_live_stream_return_a_message_recorded_after_they_started(
    platform: Platform,
) -> None:
    pr = Practitioner(platform)
    child = pr.register(dob="2013-09-09", locality="Exeter")
    subject = pseudonym(TEST_PSEUDONYM_KEY.encode(), Agency.POLICE, child)
    end = end_of_feed(platform)

    # Nothing new: a long poll waits as long as asked, and answers an empty page.
    began = time.monotonic()
    idle = HTTP.get(feed(platform), headers=POLICE, params={"after": end, "wait": 1}, timeout=30)
    assert idle.status_code == 200 and idle.json()["messages"] == []
    assert idle.json()["next"] == end and 1 <= time.monotonic() - began < 10

    # A live stream from the same place, and a long poll: then a message is recorded.
    with stream_from(platform, end) as events:
        answer: list[httpx.Response] = []
        poll = threading.Thread(
            target=lambda: answer.append(
                HTTP.get(
                    feed(platform),
                    headers=POLICE,
                    params={"after": end, "wait": 50},
                    timeout=60,
                )
            )
        )
        began = time.monotonic()
        poll.start()
        record_police_events(pr, child, "missing")
        poll.join(60)
        assert answer, "the long poll did not answer"
        waited = time.monotonic() - began
        long_polled = answer[0].json()["messages"]
        assert [m["key"] for m in long_polled] == [subject] and waited < 45
        event, event_id, data = next(events)
        assert event == "message"
        assert json.loads(data) == long_polled[0] and event_id == long_polled[0]["cursor"]

    live = [
        r
        for r in audit_of(platform, POLICE_USER).values()
        if r["action"] == "GET /feeds/{agency}/live"
    ]
    assert any(r["child_ids"] == [child] for r in live)  # the stream's batch, audited


@contextmanager
def stream_from(platform: Platform, after: str) -> Iterator[Iterator[tuple[str, str, str]]]:
    """The police's live stream from `after`, as (event, id, data): open and running (its
    opening comment read) before the `with` body starts."""
    with (
        httpx.Client(timeout=httpx.Timeout(30, read=60)) as client,
        client.stream(
            "GET", f"{feed(platform)}/live", headers=POLICE, params={"after": after}
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines).startswith(":")  # the stream's opening comment: it is running
        yield server_sent_events(lines)


def server_sent_events(
    lines: Iterator[str], within_s: float = 60
) -> Iterator[tuple[str, str, str]]:
    """(event, id, data) of each event with data; comments (the pings) skipped. Each event
    must come within `within_s` of the one before: the pings would otherwise keep a stream
    that never sends it open until the server ends it."""
    fields: dict[str, str] = {}
    deadline = time.monotonic() + within_s
    for line in lines:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no event on the live stream within {within_s}s")
        if not line:
            if "data" in fields:
                yield fields.get("event", "message"), fields.get("id", ""), fields["data"]
                deadline = time.monotonic() + within_s
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def test_another_agency_s_feed_and_a_bad_cursor_are_refused(platform: Platform) -> None:
    for agency, headers in (
        ("police", HEALTH),  # health's token on the police's feed
        ("health", POLICE),
        ("police", auth("information_governance")),  # the council asks the share audit
        ("police", auth("manager")),
        # A school's register-sending token speaks for its own schools only; the schools
        # feed is about every school's children.
        ("schools", auth("partner", "schools", user="school-mis", schools=["123456"])),
        # Nor is the police's feed one locality's: a token limited to some is given none.
        ("police", auth("partner", "police", localities=["Exeter"])),
    ):
        for path in ("", "/live"):
            r = HTTP.get(f"{feed(platform, agency)}{path}", headers=headers, timeout=30)
            assert r.status_code == 403, (agency, path, r.text)
    assert HTTP.get(feed(platform), timeout=30).status_code == 401

    for bad in ("nonsense", "A" * 23, "A" * 28, end_of_feed(platform) + "x"):
        r = HTTP.get(feed(platform), headers=POLICE, params={"after": bad}, timeout=30)
        assert r.status_code == 400, r.text
        (problem,) = r.json()["detail"]
        assert problem["loc"] == ["query", "after"] and problem["msg"], problem
    r = HTTP.get(
        f"{feed(platform)}/live", headers={**POLICE, "Last-Event-ID": "nonsense"}, timeout=30
    )
    assert r.status_code == 400 and r.json()["detail"][0]["loc"] == ["header", "Last-Event-ID"]
    for params in ({"limit": 0}, {"limit": 1001}, {"wait": 61}):
        r = HTTP.get(feed(platform), headers=POLICE, params=params, timeout=30)
        assert r.status_code == 422, (params, r.text)


def test_a_message_that_commits_late_is_never_skipped(
    platform: Platform, infra: Infrastructure
) -> None:
    """Two messages, the first numbered committing last (planted on probation's feed, which
    nothing else here writes to): a reader between the two commits must not be given a cursor
    past the first, or it would never see it. The feed holds the second back until both are
    in, and the cursor kept between them then gives both."""
    token = auth("partner", "probation", user="probation-system")
    url = feed(platform, "probation")

    def read(after: str | None) -> dict[str, Any]:
        params = {"after": after} if after else {}
        r = HTTP.get(url, headers=token, params={**params, "limit": 1000}, timeout=30)
        assert r.status_code == 200, r.text
        page: dict[str, Any] = r.json()
        return page

    start = read(None)["next"]
    database = infra.dsn(f"{platform.namespace}partner_feeds")
    with late_commit(database) as (planted, commit_the_first):
        between = read(start)
        commit_the_first()
    assert between["messages"] == [], "a cursor was given past a message yet to commit"
    both: list[dict[str, Any]] = poll_until(
        lambda: p if len(p := read(between["next"])["messages"]) == 2 else [],
        30,
        0.1,
        "both planted messages after the cursor kept between the commits",
    )
    assert ids(both) == planted  # in the order they were numbered, the first first


@contextmanager
def late_commit(database: str) -> Iterator[tuple[list[str], Callable[[], None]]]:
    """Two messages on probation's feed: the first inserted (a lower seq and transaction id)
    and left uncommitted while the second commits; the body reads, then commits the first."""
    loop = asyncio.new_event_loop()
    early = loop.run_until_complete(asyncpg.connect(database))
    late = loop.run_until_complete(asyncpg.connect(database))
    try:
        planted = [str(uuid.uuid4()), str(uuid.uuid4())]
        first = early.transaction()
        loop.run_until_complete(first.start())
        loop.run_until_complete(plant(early, planted[0], "probation", "now()"))
        loop.run_until_complete(plant(late, planted[1], "probation", "now()"))  # committed
        yield planted, lambda: loop.run_until_complete(first.commit())
    finally:
        loop.run_until_complete(early.close())
        loop.run_until_complete(late.close())
        loop.close()


async def plant(conn: asyncpg.Connection, message_id: str, agency: str, shared_at: str) -> None:
    """A share and its record in the feed, as the worker writes them (one transaction)."""
    value = {"message_id": message_id, "subject": "PRO-0", "event_type": "Planted"}
    async with conn.transaction():  # (a savepoint in a transaction begun already)
        await conn.execute(
            "INSERT INTO shares (message_id, agency, topic, subject, child_id, event_type,"
            " source_event_id, fields, purpose) VALUES ($1, $2, 'planted', 'X-0',"
            " 'C-planted', 'Planted', gen_random_uuid(), '{}', 'test')",
            uuid.UUID(message_id),
            agency,
        )
        await conn.execute(
            "INSERT INTO partner_feed (message_id, agency, record_key, record_value,"
            f" record_headers, shared_at) VALUES ($1, $2, 'X-0', $3, '{{}}', {shared_at})",
            uuid.UUID(message_id),
            agency,
            json.dumps(value),
        )


def test_retention_removes_what_the_topic_no_longer_keeps_and_refuses_a_cursor_past_it(
    platform: Platform, infra: Infrastructure
) -> None:
    """A message shared 91 days ago (planted: the topic's 90 days cannot be waited for) is
    pruned by the worker's function; a cursor before it is 410, not a silent gap; reading
    from the start again gives what is kept. Nothing younger can be changed or removed."""
    database = infra.dsn(f"{platform.namespace}partner_feeds")
    before = end_of_feed(platform)
    planted = asyncio.run(plant_a_message_shared_91_days_ago(database))
    with_planted = Reader(platform, limit=1000)
    with_planted.after = before
    assert ids(with_planted.read_until(1, "the planted message")) == [str(planted)]

    assert asyncio.run(prune_refusing_the_young(database)) == (1, 0)
    gone = HTTP.get(feed(platform), headers=POLICE, params={"after": before}, timeout=30)
    assert gone.status_code == 410 and "retention" in gone.text, gone.text
    live = HTTP.get(f"{feed(platform)}/live", headers=POLICE, params={"after": before})
    assert live.status_code == 410
    past = HTTP.get(
        feed(platform), headers=POLICE, params={"after": with_planted.after}, timeout=30
    )
    assert past.status_code == 200 and past.json()["messages"] == []
    again = Reader(platform, limit=1000)
    again.read_on()
    assert str(planted) not in ids(again.messages)
    assert_same_as_the_topic(again.messages, police_topic(platform, infra))


async def plant_a_message_shared_91_days_ago(database: str) -> uuid.UUID:
    planted = uuid.uuid4()
    conn = await asyncpg.connect(database)
    try:
        await plant(conn, str(planted), "police", "now() - interval '91 days'")
    finally:
        await conn.close()
    return planted


async def prune_refusing_the_young(database: str) -> tuple[int, int]:
    """As the database's superuser: the young rows refuse any change; the prune removes the
    old one, and a second finds nothing."""
    conn = await asyncpg.connect(database)
    try:
        for sql in ("UPDATE partner_feed SET agency = agency", "DELETE FROM partner_feed"):
            with pytest.raises(asyncpg.RaiseError, match="append-only until retention"):
                await conn.execute(sql)
        return (
            await conn.fetchval("SELECT prune_partner_feed()"),
            await conn.fetchval("SELECT prune_partner_feed()"),
        )
    finally:
        await conn.close()


def test_a_live_stream_ends_when_its_token_does(platform: Platform) -> None:
    """Not at the stream's five minutes: a token that expires (or is no longer renewed) is
    checked again by the reconnect, so the stream must not outlive it."""
    # Ten seconds: long enough to be checked and answered on a loaded machine (the
    # stream's first answer must be a 200), short beside the stream's five minutes.
    short = auth("partner", "police", user=POLICE_USER, hours=10 / 3600)
    began = time.monotonic()
    with (
        httpx.Client(timeout=httpx.Timeout(30, read=60)) as client,
        client.stream("GET", f"{feed(platform)}/live", headers=short) as response,
    ):
        assert response.status_code == 200
        for _ in response.iter_lines():  # a ping at least every 15 s: the deadline is checked
            assert time.monotonic() - began < 60, "the stream outlived its token"
    assert time.monotonic() - began < 60

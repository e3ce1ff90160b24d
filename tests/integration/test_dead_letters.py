"""A dead letter replayed once its cause is mended, into the consumer that failed, once: real
Kafka and PostgreSQL, the boards' own runner and the operator's command (deploy/dead_letters.py).

A defect in the boards' projection (simulated: it fails on one child's plan) dead-letters one
event; the command lists it and shows it, a replay while the defect remains changes nothing,
the replay after the mend puts the plan on the boards, and a second replay changes nothing and
says so. Every command is in the access audit, by the operator's name."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from contracts.case_events.events import ChildProtectionPlanEnded, ChildProtectionPlanReviewed
from contracts.topics import DEAD_LETTERS, DOMAIN_TOPICS, domain_events
from deploy.dead_letters import _parser, run
from services.projections.boards.projection import BoardFacts
from services.projections.builds import BUILDS_SQL, SkipsToCarry, ensure_live_build, swap
from services.projections.registry import build_runner, carry_skips, rebuild
from shared.db import open_database
from shared.envelope import DomainEvent, Envelope, EventRegistry
from shared.eventstore import make_envelopes
from shared.kafka import DEAD_LETTER_TOPIC, ensure_topics, new_producer
from shared.projection import ProjectionRunner
from tests.conftest import settings_for
from tests.infrastructure import Infrastructure, eventually, read_topic
from tests.integration.test_projection import journey, publish
from tests.publisher import CTX

pytestmark = pytest.mark.integration

OPERATOR = "ops-dead-letters"


class Boards:
    """The boards' own runner on a live build, with a defect (simulated) on the events named
    (type, child) until mended, run until it has consumed what was published; the
    operator's command against it."""

    def __init__(
        self,
        infra: Infrastructure,
        namespace: str,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        defects: set[tuple[str, str]],
    ) -> None:
        self.infra, self.namespace, self.capsys = infra, namespace, capsys
        self.settings = settings_for(infra, "projections", namespace)
        self.defects = defects
        self.order: list[tuple[str, int]] = []  # (stream, version) as the boards applied them
        self.sent = 0
        self.pool: asyncpg.Pool | None = None
        self.schema = ""
        apply = BoardFacts.apply

        async def defective(
            board: BoardFacts, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent
        ) -> None:
            if (envelope.event_type, envelope.stream_id) in self.defects:
                raise RuntimeError("simulated defect in the boards' projection")
            await apply(board, conn, envelope, event)
            self.order.append((envelope.stream_id, envelope.stream_version))

        monkeypatch.setattr(BoardFacts, "apply", defective)

    async def consume(
        self,
        streams: dict[str, list[DomainEvent]],
        extra: Sequence[tuple[bytes, bytes | None]] = (),
        held: float = 0,
    ) -> ProjectionRunner:
        """Publish the streams (and the `extra` records) and run the boards until every
        message published is consumed, and the runner shows `held` events held."""
        settings = self.settings
        await ensure_topics(settings, [*DOMAIN_TOPICS, DEAD_LETTERS])  # as the worker does
        self.sent += await publish(settings, streams, extra=extra)
        if self.pool is None:
            self.pool = await open_database(settings, BUILDS_SQL)
            self.schema = await ensure_live_build(self.pool)
        pool, sent = self.pool, self.sent
        producer = new_producer(settings)
        await producer.start()
        runner = build_runner(settings, pool, self.schema, producer, batch_size=100)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))

        async def consumed() -> bool:
            stored = await pool.fetchval(
                f'SELECT coalesce(sum(next_offset), 0) FROM "{self.schema}".projection_offsets'
            )
            return bool(stored >= sent)

        def shown_held() -> bool:
            labels = {"consumer": runner.consumer_name}
            return REGISTRY.get_sample_value("csp_projection_events_held", labels) == held

        try:
            await eventually(consumed, 60, 0.05, "the boards to consume every message")
            await eventually(shown_held, 30, 0.05, f"the runner to show {held} events held")
        finally:
            stop.set()
            await task
            await producer.stop()
        return runner

    async def command(self, *argv: str, as_json: bool = True) -> tuple[int, Any]:
        json_flag = ["--json"] if as_json else []
        args = _parser().parse_args([*argv, *json_flag, "--operator", OPERATOR])
        self.capsys.readouterr()
        status = await run(settings_for(self.infra, "dead_letters", self.namespace), args)
        return status, self.capsys.readouterr().out

    async def versions(self, child: str, schema: str | None = None) -> list[int]:
        """The versions of the child's events on its chronology (of the live build, or of
        the build `schema`)."""
        assert self.pool is not None
        rows = await self.pool.fetch(
            f'SELECT stream_version FROM "{schema or self.schema}".chronology'
            " WHERE stream_id = $1 ORDER BY stream_version",
            child,
        )
        return [r["stream_version"] for r in rows]


async def test_a_mended_dead_letter_is_replayed_into_its_consumer_once_and_audited(
    infra: Infrastructure,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    boards = Boards(
        infra, namespace, monkeypatch, capsys, {("ChildProtectionPlanStarted", "C-00002")}
    )
    runner = await boards.consume({"C-00001": journey(1), "C-00002": journey(2)})
    settings, pool, schema, command = boards.settings, boards.pool, boards.schema, boards.command
    assert pool is not None

    async def plans() -> list[str]:
        rows = await pool.fetch(
            f'SELECT DISTINCT child_id FROM "{schema}".child_facts'
            " WHERE attribute = 'cp_plan' ORDER BY 1"
        )
        return [r["child_id"] for r in rows]

    async def facts() -> int:
        return int(await pool.fetchval(f'SELECT count(*) FROM "{schema}".child_facts'))

    assert await plans() == ["C-00001"]
    [letter] = await read_topic(infra.kafka_bootstrap, settings.topic(DEAD_LETTER_TOPIC))
    assert dict(letter.headers)["dlq_consumer"].decode() == runner.consumer_name
    dead_id = f"{letter.partition}:{letter.offset}"

    status, out = await command("list")
    assert status == 0 and dead_id in out and '"state": "waiting"' in out
    assert "simulated defect" in out and "ChildProtectionPlanStarted" in out
    assert "C-00002" not in out  # a list names no child; `show` does
    status, out = await command("list", as_json=False)  # as a person reads it
    assert f"{dead_id}  " in out and "[waiting]" in out
    status, out = await command("show", dead_id, as_json=False)
    assert status == 0 and '"child_id": "C-00002"' in out
    assert f"{settings.topic('case-events')}:" in out  # the origin

    status, out = await command("replay", dead_id)  # not mended yet
    assert status == 1 and "still fails" in out and "simulated defect" in out
    assert await plans() == ["C-00001"]

    boards.defects.clear()  # mended (a release with the fix)
    status, out = await command("replay", dead_id)
    assert status == 0 and '"outcome": "replayed"' in out
    assert await plans() == ["C-00001", "C-00002"]
    before = await facts()

    status, out = await command("replay", dead_id)
    assert status == 1 and '"outcome": "already replayed"' in out
    assert OPERATOR in out and await facts() == before
    status, out = await command("list")
    assert '"state": "replayed ' in out and OPERATOR in out
    [passed_over] = await pool.fetch(f'SELECT * FROM "{schema}".projection_dead_letters')
    await pool.close()

    audit = await asyncpg.connect(settings.dsn(settings.audit_db))
    try:
        rows = await audit.fetch(
            "SELECT audit_id, action, child_ids, role FROM access_log WHERE user_id = $1"
            " ORDER BY recorded_at",
            OPERATOR,
        )
    finally:
        await audit.close()
    assert [r["action"] for r in rows] == [
        "dead-letters list",
        "dead-letters list",
        "dead-letters show",
        "dead-letters replay",
        "dead-letters replay",
        "dead-letters replay",
        "dead-letters list",
    ]
    assert all(r["child_ids"] == ["C-00002"] and r["role"] == "operations" for r in rows)
    # The consumer's record: which message it passed over, and the replay that applied it.
    assert (passed_over["message_offset"], passed_over["event_type"]) == (
        letter_origin_offset(letter),
        "ChildProtectionPlanStarted",
    )
    assert passed_over["replayed_by"] == OPERATOR
    assert passed_over["replay_audit_id"] == rows[4]["audit_id"]  # the replay that applied it


def reviewed(i: int, on: date) -> ChildProtectionPlanReviewed:
    return ChildProtectionPlanReviewed(
        plan_id=f"P-{i}", review_date=on, next_review_due=date(2025, 6, 1)
    )


def plan_and_after(i: int) -> list[DomainEvent]:
    """A child registered, a plan started, reviewed and ended: versions 1 to 4."""
    ended = ChildProtectionPlanEnded(plan_id=f"P-{i}", end_date=date(2025, 3, 1), days_open=400)
    return [*journey(i), reviewed(i, date(2024, 12, 1)), ended]


def wire_of(child: str, version: int, event: DomainEvent) -> tuple[bytes, bytes]:
    """A record of the child's stream at `version`, as the relay publishes it."""
    [made] = make_envelopes(child, version - 1, [event], CTX)
    return child.encode(), made.model_dump_json(exclude={"position"}).encode()


async def dead_letter_ids(infra: Infrastructure, boards: Boards) -> dict[tuple[str, int], str]:
    """Each dead letter's id (PARTITION:OFFSET), by the stream and version it carries."""
    letters = await read_topic(infra.kafka_bootstrap, boards.settings.topic(DEAD_LETTER_TOPIC))
    ids = {}
    for x in letters:
        body = json.loads(x.value)
        ids[(body["stream_id"], body["stream_version"])] = f"{x.partition}:{x.offset}"
    return ids


async def test_a_childs_later_events_wait_behind_its_dead_letter_then_follow_it_in_order(
    infra: Infrastructure,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A child's plan start is dead-lettered: the child's review and end are held, unapplied,
    while other children go on, and so is a later event that comes in another batch.
    - C-00003, mended: the replay applies the start, then the review and the end, in order;
      the child's next event is then applied as it comes.
    - C-00006, mended, but its review is bad data: the start is applied, the review is
      dead-lettered in its turn with the end held behind it; skipped, the end is applied.
    - A rebuild reads C-00006's skipped review again: passed over as skipped, nothing held
      or dead-lettered again.
    - C-00005, bad data: skipped while the rebuild's build waits to be swapped in, its
      review, end and later review are applied, in the live build and, carried, in the new.
    Without holding, each child's review and end were applied before its start."""
    start, review = "ChildProtectionPlanStarted", "ChildProtectionPlanReviewed"
    boards = Boards(
        infra,
        namespace,
        monkeypatch,
        capsys,
        {(start, "C-00003"), (start, "C-00005"), (start, "C-00006"), (review, "C-00006")},
    )
    children = {"C-00003": 3, "C-00004": 4, "C-00005": 5, "C-00006": 6}
    await boards.consume(
        {c: journey(i) if i == 4 else plan_and_after(i) for c, i in children.items()}, held=6
    )
    pool, command = boards.pool, boards.command
    assert pool is not None
    assert {c: await boards.versions(c) for c in children} == {
        "C-00003": [1],
        "C-00004": [1, 2],
        "C-00005": [1],
        "C-00006": [1],
    }
    held_sql = (
        f'SELECT stream_id, stream_version FROM "{boards.schema}".projection_held'
        " WHERE released_at IS NULL"
    )
    held = await pool.fetch(f"{held_sql} ORDER BY 1, 2")
    assert [tuple(r) for r in held] == [
        (c, v) for c in ("C-00003", "C-00005", "C-00006") for v in (3, 4)
    ]
    # A later event of C-00005, in a batch of its own: held, as the consumer's record says.
    later = wire_of("C-00005", 5, reviewed(5, date(2025, 2, 1)))
    await boards.consume({}, extra=[later], held=7)
    assert await boards.versions("C-00005") == [1]

    ids = await dead_letter_ids(infra, boards)
    assert sorted(ids) == [("C-00003", 2), ("C-00005", 2), ("C-00006", 2)]  # none held sent
    status, out = await command("list")
    assert out.count('"state": "waiting, 2 held behind it"') == 2
    assert out.count('"state": "waiting, 3 held behind it"') == 1

    boards.defects.discard((start, "C-00003"))  # mended
    boards.order.clear()
    status, out = await command("replay", ids["C-00003", 2])
    assert status == 0 and '"outcome": "replayed"' in out and "then 2 of 2 held" in out
    assert boards.order == [("C-00003", 2), ("C-00003", 3), ("C-00003", 4)]
    assert await boards.versions("C-00003") == [1, 2, 3, 4]

    boards.defects.discard((start, "C-00006"))  # mended; its review stays refused
    status, out = await command("replay", ids["C-00006", 2])
    assert status == 1 and "dead-lettered in its turn, 1 still held behind it" in out
    assert await boards.versions("C-00006") == [1, 2]
    ids = await dead_letter_ids(infra, boards)
    status, out = await command(
        "list", "--consumer", f"{boards.settings.consumer_group}.{boards.schema}"
    )
    assert '"state": "waiting, 1 held behind it"' in out  # the review's
    status, out = await command("skip", ids["C-00006", 3])
    assert status == 0 and '"outcome": "skipped"' in out and "then 1 of 1 held" in out
    assert await boards.versions("C-00006") == [1, 2, 4]

    # C-00003's stream is no longer held: its next event is applied as it comes.
    await boards.consume(
        {}, extra=[wire_of("C-00003", 5, reviewed(3, date(2025, 2, 1)))], held=3
    )  # (C-00005's three still wait)
    assert await boards.versions("C-00003") == [1, 2, 3, 4, 5]

    # A rebuild reads C-00006's skipped review again, still refused: passed over as skipped,
    # nothing held or dead-lettered. C-00005's start, not yet skipped, is dead-lettered
    # again, under the new build's consumer, and holds the child's later events there.
    dead_letters = boards.settings.topic(DEAD_LETTER_TOPIC)
    letters = len(await read_topic(infra.kafka_bootstrap, dead_letters))
    schema = await rebuild(boards.settings, swap_in=False, progress=False, registry=domain_events())
    assert {c: await boards.versions(c, schema) for c in children} == {
        "C-00003": [1, 2, 3, 4, 5],
        "C-00004": [1, 2],
        "C-00005": [1],
        "C-00006": [1, 2, 4],
    }
    assert len(await read_topic(infra.kafka_bootstrap, dead_letters)) == letters + 1

    # C-00005's start is bad data: skipped in the live build, its review, end and later
    # review are applied there; carried to the new build before it is swapped in, the same.
    status, out = await command("skip", ids["C-00005", 2])
    assert status == 0 and '"outcome": "skipped"' in out and "then 3 of 3 held" in out
    assert await boards.versions("C-00005") == [1, 3, 4, 5]
    assert await pool.fetch(held_sql) == []
    status, out = await command("replay", ids["C-00005", 2])
    assert status == 1 and "already skipped by" in out
    status, out = await command("list")
    assert '"state": "replayed ' in out and out.count('"state": "skipped ') == 2
    with pytest.raises(SkipsToCarry):  # its boards would lose C-00005's review and end
        await swap(pool, schema, caught_up=True)
    producer = new_producer(boards.settings)
    await producer.start()
    try:
        assert await carry_skips(boards.settings, pool, schema, producer) == 1
    finally:
        await producer.stop()
    assert await boards.versions("C-00005", schema) == [1, 3, 4, 5]
    assert await swap(pool, schema, caught_up=True) == boards.schema
    held_there = f'SELECT * FROM "{schema}".projection_held WHERE released_at IS NULL'
    assert await pool.fetch(held_there) == []
    await pool.close()


async def test_a_message_this_release_cannot_read_holds_its_childs_later_events(
    infra: Infrastructure,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A child's plan start as a newer release writes it (its envelope has a field this
    release does not know) is dead-lettered by its place in the child's stream, and the
    child's review and end wait behind it. A replay while the boards cannot read it changes
    nothing; once they can (their release), it applies the start, then the review and the
    end, in order. Before, the review and the end were dropped as out of order, for good."""
    boards = Boards(infra, namespace, monkeypatch, capsys, set())
    child, events = "C-00008", plan_and_after(8)
    key, start = wire_of(child, 2, events[1])
    newer = json.dumps({**json.loads(start), "tenant": "devon"}).encode()
    later = [wire_of(child, v, events[v - 1]) for v in (3, 4)]
    await boards.consume({child: events[:1]}, extra=[(key, newer), *later], held=2)
    assert await boards.versions(child) == [1]
    ids = await dead_letter_ids(infra, boards)
    assert list(ids) == [(child, 2)]
    status, out = await boards.command("list")
    assert '"state": "waiting, 2 held behind it"' in out
    status, out = await boards.command("replay", ids[child, 2])
    assert status == 1 and '"outcome": "still fails"' in out
    assert await boards.versions(child) == [1]

    read = EventRegistry.read

    def next_release(registry: EventRegistry, value: bytes | str) -> Envelope:
        body = json.loads(value)
        body.pop("tenant", None)  # the field the boards' next release reads
        return read(registry, json.dumps(body))

    monkeypatch.setattr(EventRegistry, "read", next_release)
    status, out = await boards.command("replay", ids[child, 2])
    assert status == 0 and '"outcome": "replayed"' in out and "then 2 of 2 held" in out
    assert boards.order == [(child, 1), (child, 2), (child, 3), (child, 4)]
    assert await boards.versions(child) == [1, 2, 3, 4]
    assert boards.pool is not None
    await boards.pool.close()


def letter_origin_offset(letter: Any) -> int:
    return int(dict(letter.headers)["dlq_origin_offset"])

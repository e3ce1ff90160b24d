"""A dead letter replayed once its cause is mended, into the consumer that failed, once: real
Kafka and PostgreSQL, the boards' own runner and the operator's command (deploy/dead_letters.py).

A defect in the boards' projection (simulated: it fails on one child's plan) dead-letters one
event; the command lists it and shows it, a replay while the defect remains changes nothing,
the replay after the mend puts the plan on the boards, and a second replay changes nothing and
says so. Every command is in the access audit, by the operator's name."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from contracts.topics import DEAD_LETTERS, DOMAIN_TOPICS
from deploy.dead_letters import _parser, run
from services.projections.boards.projection import BoardFacts
from services.projections.builds import BUILDS_SQL, ensure_live_build
from services.projections.registry import build_runner
from shared.db import open_database
from shared.envelope import DomainEvent, Envelope
from shared.kafka import DEAD_LETTER_TOPIC, ensure_topics, new_producer
from tests.conftest import settings_for
from tests.infrastructure import Infrastructure, eventually, read_topic
from tests.integration.test_projection import journey, publish

pytestmark = pytest.mark.integration

OPERATOR = "ops-dead-letters"


async def test_a_mended_dead_letter_is_replayed_into_its_consumer_once_and_audited(
    infra: Infrastructure,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings_for(infra, "projections", namespace)
    defect = {"on": True}
    apply = BoardFacts.apply

    async def defective(
        self: BoardFacts, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent
    ) -> None:
        plan = (envelope.event_type, envelope.stream_id)
        if defect["on"] and plan == ("ChildProtectionPlanStarted", "C-00002"):
            raise RuntimeError("simulated defect in the boards' projection")
        await apply(self, conn, envelope, event)

    monkeypatch.setattr(BoardFacts, "apply", defective)
    await ensure_topics(settings, [*DOMAIN_TOPICS, DEAD_LETTERS])  # as the worker does
    sent = await publish(settings, {"C-00001": journey(1), "C-00002": journey(2)})

    pool = await open_database(settings, BUILDS_SQL)
    schema = await ensure_live_build(pool)
    producer = new_producer(settings)
    await producer.start()
    runner = build_runner(settings, pool, schema, producer, batch_size=100)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))

    async def consumed() -> bool:
        stored = await pool.fetchval(
            f'SELECT coalesce(sum(next_offset), 0) FROM "{schema}".projection_offsets'
        )
        return bool(stored >= sent)

    async def plans() -> list[str]:
        rows = await pool.fetch(
            f'SELECT DISTINCT child_id FROM "{schema}".child_facts'
            " WHERE attribute = 'cp_plan' ORDER BY 1"
        )
        return [r["child_id"] for r in rows]

    async def facts() -> int:
        return int(await pool.fetchval(f'SELECT count(*) FROM "{schema}".child_facts'))

    try:
        await eventually(consumed, 60, 0.05, "the boards to consume every message")
    finally:
        stop.set()
        await task
        await producer.stop()
    assert await plans() == ["C-00001"]
    [letter] = await read_topic(infra.kafka_bootstrap, settings.topic(DEAD_LETTER_TOPIC))
    assert dict(letter.headers)["dlq_consumer"].decode() == runner.consumer_name
    dead_id = f"{letter.partition}:{letter.offset}"

    async def command(*argv: str, as_json: bool = True) -> tuple[int, Any]:
        json_flag = ["--json"] if as_json else []
        args = _parser().parse_args([*argv, *json_flag, "--operator", OPERATOR])
        capsys.readouterr()
        status = await run(settings_for(infra, "dead_letters", namespace), args)
        return status, capsys.readouterr().out

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

    defect["on"] = False  # mended (a release with the fix)
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


def letter_origin_offset(letter: Any) -> int:
    return int(dict(letter.headers)["dlq_origin_offset"])

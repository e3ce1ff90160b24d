"""Dead letters: list them, inspect one, and replay it into the consumer that failed, once.

    python -m deploy.dead_letters list [--consumer C]      # what waits, and why
    python -m deploy.dead_letters show P:O                 # one, in full (sealed values masked)
    python -m deploy.dead_letters replay P:O               # into its consumer, once its cause
    python -m deploy.dead_letters replay --all --consumer C  # is mended (a release, new data)
    python -m deploy.dead_letters skip P:O                 # never to be applied (bad data,
                                                           # corrected by a new event)

`make dead-letters ARGS="..."` runs it against `make run`'s stack (`--local`: the stack's
settings, PostgreSQL's administrator and, in secure mode, Kafka's admin user). Deployed, run it
as an operator with the consumer's service's runtime role and keys, as `rebuild` is run
(docs/operations.md, "Dead letters").

A dead letter is named by its place on the `dead-letter` topic, PARTITION:OFFSET. Its headers
say which consumer failed on it, why, and where it came from (topic, partition, offset): the
projection runner's `_dead_letter`. A replay is done by that consumer's own runner, built here
exactly as its worker builds it (the board build's `build_runner`, a service worker's
subscription), with `ProjectionRunner.replay`: the same decoding and the same projections, in
one transaction with the consumer's record that it has replayed the message. The runner
recorded the message as passed over in the transaction that moved its offsets past it, so a
replay applies only what the consumer never applied, and only once: a second replay, or a
replay of a message the consumer applied after all, changes nothing and says so.

A consumer holds the later events of a dead-lettered event's stream (a child's, an audit's)
unapplied until the dead letter is replayed or skipped: its stream is applied in order or not
at all. A replay applies the dead letter and then the events held behind it, in their order, in
its one transaction; a skip applies the held events alone and marks the dead letter as never to
be applied. If the dead letter fails again, nothing is changed; if a held event fails, those
before it are applied and it is dead-lettered in its turn, the rest held behind it.

Every command is audited before it answers (shared/audit.py, who, what, when, why): a dead
letter is an event about a child, so listing, showing or replaying one is a person-level read,
recorded with the children it names under the operations role. Sealed personal values are
never shown (they are sealed in the event already; they are masked here too).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module
from typing import Any
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from services.projections.builds import live_build
from services.projections.registry import build_runner
from shared.audit import AuditLog
from shared.auth import Principal, Role
from shared.envelope import Agency
from shared.kafka import DEAD_LETTER_TOPIC, new_producer
from shared.projection import Projection, ProjectionRunner, Replay, ReplayOutcome
from shared.settings import Settings
from shared.worker import Subscription

PURPOSE = "platform operations: handling dead letters (messages a consumer could not apply)"
SEALED = re.compile(r"sealed:v\d+:[A-Za-z0-9_-]+")
MASK = "[sealed]"
BUILD_SCHEMA = re.compile(r"^[a-z0-9_]+$")
RECORDING_MIGRATION = "shared/sql/projection/003_dead_letters.sql"
# Each service worker's subscriptions, as its worker builds them: `subscriptions(settings)` in
# the module named (the consumer is "<namespace><service>.<subscription>", shared/worker.py).
WORKER_SUBSCRIPTIONS = {
    "partner_feeds": "services.partner_feeds.feed",
    "escalations": "services.escalations.policies",
    "quality": "services.quality.policies",
    "education": "services.education.__main__",
    "accommodation": "services.accommodation.__main__",
}


class DeadLetterError(Exception):
    """What the operator asked for cannot be done (an unknown id or consumer): the message
    says what to do instead."""


# -- a dead letter, as the runner sent it (pure) ---------------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    partition: int  # its place on the dead-letter topic
    offset: int
    consumer: str
    reason: str
    origin_topic: str
    origin_partition: int
    origin_offset: int
    failed_at: str
    value: bytes | None
    headers: dict[str, str] = field(default_factory=dict)  # the event's own (not dlq_*)
    body: dict[str, Any] | None = None  # the value as JSON, when it is

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def origin(self) -> str:
        return f"{self.origin_topic}:{self.origin_partition}:{self.origin_offset}"

    @property
    def event_type(self) -> str:
        found = (self.body or {}).get("event_type") or self.headers.get("event_type")
        return str(found) if found else "(not an event)"

    @property
    def child_ids(self) -> list[str]:
        """The child the event is about, for the access audit."""
        payload = (self.body or {}).get("payload")
        child = payload.get("child_id") if isinstance(payload, dict) else None
        return [child] if isinstance(child, str) else []


def dead_letter_of(record: ConsumerRecord) -> DeadLetter:
    """A record of the dead-letter topic read back: the dlq_* headers the runner added, the
    event's own headers, and its value (parsed as JSON where it is)."""
    headers: dict[str, str] = {}
    for name, raw in record.headers or ():
        headers[name] = raw.decode("utf-8", "replace") if raw is not None else ""
    dlq = {k: headers.pop(k) for k in list(headers) if k.startswith("dlq_")}
    body: dict[str, Any] | None = None
    if record.value is not None:
        try:
            parsed = json.loads(record.value)
        except ValueError:
            parsed = None
        body = parsed if isinstance(parsed, dict) else None
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        consumer=dlq.get("dlq_consumer", "(unknown)"),
        reason=dlq.get("dlq_reason", "(no reason given)"),
        origin_topic=dlq.get("dlq_origin_topic", "(unknown)"),
        origin_partition=_number(dlq.get("dlq_origin_partition")),
        origin_offset=_number(dlq.get("dlq_origin_offset")),
        failed_at=dlq.get("dlq_failed_at", ""),
        value=record.value,
        headers=headers,
        body=body,
    )


def _number(text: str | None) -> int:
    """A header's number; -1 when it is missing or garbled (the letter is still listed)."""
    try:
        return int(text) if text is not None else -1
    except ValueError:
        return -1


def masked(value: Any) -> Any:
    """The value with every sealed personal value replaced by [sealed], however deep."""
    if isinstance(value, str):
        return SEALED.sub(MASK, value)
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


def parse_id(text: str) -> tuple[int, int]:
    """PARTITION:OFFSET on the dead-letter topic (a leading topic name is allowed)."""
    parts = text.split(":")
    try:
        partition, offset = int(parts[-2]), int(parts[-1])
    except (IndexError, ValueError):
        raise DeadLetterError(
            f"{text!r} is not a dead letter's id: PARTITION:OFFSET, as `list` shows it"
        ) from None
    if partition < 0 or offset < 0:
        raise DeadLetterError(f"{text!r}: the partition and the offset are never negative")
    return partition, offset


def shown(letter: DeadLetter, state: str) -> dict[str, Any]:
    """One dead letter as `show` prints it: the reason and the origin, the event's envelope
    and payload with sealed values masked; bytes that are not JSON by size and digest only."""
    out: dict[str, Any] = {
        "id": letter.id,
        "consumer": letter.consumer,
        "state": state,
        "failed_at": letter.failed_at,
        "reason": masked(letter.reason),
        "origin": letter.origin,
        "headers": masked(letter.headers),
    }
    if letter.body is None:
        raw = letter.value or b""
        out["value"] = f"{len(raw)} bytes, not a JSON object (sha256 {_digest(raw)})"
    else:
        out["event"] = masked(letter.body)
    return out


def listed(letter: DeadLetter, state: str) -> dict[str, Any]:
    """One line of `list`: no payload, no stream id."""
    return {
        "id": letter.id,
        "failed_at": letter.failed_at,
        "consumer": letter.consumer,
        "origin": letter.origin,
        "event_type": letter.event_type,
        "state": state,
        "reason": masked(letter.reason),
    }


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


# -- which consumer, where its records are (pure) --------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a consumer keeps its read models and offsets: its service's database, and a
    board build's schema (the boards) or a service worker's subscription."""

    consumer: str
    service: str
    schema: str | None = None
    subscription: str | None = None


def target_of(consumer: str, settings: Settings) -> Target:
    """The consumer named in a dead letter: `<group>.<build>` for the boards
    (services/projections/registry.py), `<namespace><service>.<name>` for a service
    worker's subscription (shared/worker.py)."""
    boards = f"{settings.consumer_group}."
    if consumer.startswith(boards):
        schema = consumer.removeprefix(boards)
        if not BUILD_SCHEMA.match(schema):
            raise DeadLetterError(f"{consumer!r} names no board build")
        return Target(consumer, "projections", schema=schema)
    service, _, name = consumer.removeprefix(settings.namespace).partition(".")
    if not consumer.startswith(settings.namespace) or service not in WORKER_SUBSCRIPTIONS:
        raise DeadLetterError(
            f"{consumer!r} is none of this platform's consumers (namespace "
            f"{settings.namespace!r}): the boards' {boards}<build>, or <service>.<name> of "
            f"{', '.join(sorted(WORKER_SUBSCRIPTIONS))}"
        )
    if not name:
        raise DeadLetterError(f"{consumer!r} names no subscription of the {service} worker")
    return Target(consumer, service, subscription=name)


def state_of(
    letter: DeadLetter,
    passed_over: dict[int, Any] | None,
    stored: dict[int, int],
    recording_since: datetime | None = None,
) -> str:
    """What became of a dead letter, from its consumer's records: its passed-over rows by
    origin offset (None: the consumer keeps none), its stored offsets by partition, and since
    when it has kept that record (its migration's time)."""
    if passed_over is None:
        return "unknown (the consumer's database keeps no record of dead letters)"
    row = passed_over.get(letter.origin_offset)
    if row is not None and row["replayed_at"] is not None:
        done = "skipped" if row["skipped"] else "replayed"
        return f"{done} {row['replayed_at']:%Y-%m-%d %H:%M} by {row['replayed_by']}"
    if row is not None:
        return f"waiting, {row['held']} held behind it" if row["held"] else "waiting"
    if stored.get(letter.origin_partition, 0) <= letter.origin_offset:
        return "not reached yet"
    failed = _when(letter.failed_at)
    if recording_since is not None and failed is not None and failed < recording_since:
        return "from before the consumer recorded its dead letters: not replayable"
    return "applied by the consumer after all, or a duplicate"


def _when(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# -- Kafka -------------------------------------------------------------------------------------


async def read_dead_letters(
    settings: Settings, only: tuple[int, int] | None = None
) -> list[DeadLetter]:
    """Every record of the dead-letter topic (or the one at `only`), from the beginning to its
    end now, read without a consumer group (nothing is committed)."""
    topic = settings.topic(DEAD_LETTER_TOPIC)
    numbers = await _partitions(settings, topic)
    if only is not None:
        if only[0] not in numbers:
            raise DeadLetterError(f"the {topic} topic has no partition {only[0]}")
        numbers = [only[0]]
    if not numbers:
        return []
    consumer = AIOKafkaConsumer(
        **settings.kafka_options(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"dead-letters-{settings.environment}",
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in numbers]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        if only is not None:
            tp = partitions[0]
            if only[1] >= ends[tp]:
                raise DeadLetterError(f"no dead letter {only[0]}:{only[1]} (the end is {ends[tp]})")
            consumer.seek(tp, only[1])
            ends = {tp: only[1] + 1}
        else:
            await consumer.seek_to_beginning(*partitions)
        return [dead_letter_of(r) for r in await _read_to(consumer, ends)]
    finally:
        await consumer.stop()


async def _partitions(settings: Settings, topic: str) -> list[int]:
    """The topic's partitions; none when it does not exist yet (nothing was dead-lettered)."""
    admin = AIOKafkaAdminClient(**settings.kafka_options())
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return []
        described = await admin.describe_topics([topic])
        return sorted(p["partition"] for t in described for p in t["partitions"])
    finally:
        await admin.close()


async def _read_to(
    consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int], timeout_s: float = 60
) -> list[ConsumerRecord]:
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout_s
    unread = {tp for tp, end in ends.items() if await consumer.position(tp) < end}
    while unread:
        if time.monotonic() > deadline:
            raise DeadLetterError(f"the broker did not give the dead letters in {timeout_s:g}s")
        batches = await consumer.getmany(*unread, timeout_ms=1000)
        for tp, batch in batches.items():
            records.extend(r for r in batch if r.offset < ends[tp])
        unread = {tp for tp in unread if await consumer.position(tp) < ends[tp]}
    return sorted(records, key=lambda r: (r.timestamp, r.partition, r.offset))


# -- the consumer's database -------------------------------------------------------------------


def service_settings(settings: Settings, service: str) -> Settings:
    return settings.model_copy(update={"service": service})


async def _consumer_pool(settings: Settings, target: Target) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        service_settings(settings, target.service).dsn(), min_size=1, max_size=2
    )
    assert pool is not None
    return pool


async def _in_schema(conn: asyncpg.Connection, target: Target) -> str | None:
    """Set the board build's schema for this transaction; a reason when it is no longer the
    live build (a rebuild read every message again, and dead-lettered again under its own
    consumer name whatever still failed)."""
    if target.schema is None:
        return None
    live = await live_build(conn)
    if target.schema != live:
        exists = await conn.fetchval(
            "SELECT 1 FROM board_builds WHERE schema_name = $1", target.schema
        )
        gone = "kept beside it" if exists else "dropped"
        return (
            f"the board build {target.schema} is no longer live ({live} is; the old one is "
            f"{gone}): the rebuild read this message again, and dead-lettered it under its own "
            "consumer name if it failed again"
        )
    await conn.execute(f'SET LOCAL search_path TO "{target.schema}", public')
    return None


async def consumer_states(
    settings: Settings, letters: Sequence[DeadLetter]
) -> dict[tuple[int, int], str]:
    """Each dead letter's state (waiting, replayed, ...), from its consumer's own records."""
    states: dict[tuple[int, int], str] = {}
    by_consumer: dict[str, list[DeadLetter]] = {}
    for letter in letters:
        by_consumer.setdefault(letter.consumer, []).append(letter)
    for consumer, theirs in by_consumer.items():
        for letter, state in zip(theirs, await _states(settings, consumer, theirs), strict=True):
            states[(letter.partition, letter.offset)] = state
    return states


async def _states(settings: Settings, consumer: str, letters: list[DeadLetter]) -> list[str]:
    try:
        target = target_of(consumer, settings)
    except DeadLetterError:
        return ["unknown consumer"] * len(letters)
    try:
        conn = await asyncpg.connect(service_settings(settings, target.service).dsn())
    except (OSError, asyncpg.PostgresError) as error:
        return [f"unknown ({target.service} database: {type(error).__name__})"] * len(letters)
    try:
        async with conn.transaction(readonly=True):
            superseded = await _in_schema(conn, target)
            if superseded is not None:
                return ["superseded by a rebuild"] * len(letters)
            if not await conn.fetchval("SELECT to_regclass('projection_dead_letters') IS NOT NULL"):
                return [state_of(letter, None, {}) for letter in letters]
            return await _states_in(conn, consumer, letters)
    finally:
        await conn.close()


async def _states_in(
    conn: asyncpg.Connection, consumer: str, letters: list[DeadLetter]
) -> list[str]:
    rows = await conn.fetch(
        "SELECT d.topic, d.partition, d.message_offset, d.replayed_at, d.replayed_by,"
        " d.skipped, CASE WHEN d.holds_stream AND d.replayed_at IS NULL THEN (SELECT count(*)"
        "  FROM projection_held h WHERE h.consumer = d.consumer AND h.topic = d.topic"
        "  AND h.stream_id = d.stream_id AND h.released_at IS NULL) ELSE 0 END AS held"
        " FROM projection_dead_letters d WHERE d.consumer = $1",
        consumer,
    )
    offsets = await conn.fetch(
        "SELECT topic, partition, next_offset FROM projection_offsets WHERE consumer = $1",
        consumer,
    )
    since = await conn.fetchval(
        # A board build records its own migrations; a service's database, its own.
        "SELECT applied_at FROM build_migrations WHERE name = $1"
        if await conn.fetchval("SELECT to_regclass('build_migrations') IS NOT NULL")
        else "SELECT applied_at FROM schema_migrations WHERE name = $1",
        RECORDING_MIGRATION,
    )
    out: list[str] = []
    for letter in letters:
        passed_over = {
            r["message_offset"]: r
            for r in rows
            if (r["topic"], r["partition"]) == (letter.origin_topic, letter.origin_partition)
        }
        stored = {
            r["partition"]: r["next_offset"] for r in offsets if r["topic"] == letter.origin_topic
        }
        out.append(state_of(letter, passed_over, stored, since))
    return out


def worker_subscription(settings: Settings, target: Target) -> Subscription:
    """The subscription of a service worker, built as its worker builds it."""
    module = import_module(WORKER_SUBSCRIPTIONS[target.service])
    subscriptions: Callable[[Settings], Iterable[Subscription]] | None = getattr(
        module, "subscriptions", None
    )
    if subscriptions is None:
        raise DeadLetterError(
            f"{module.__name__} has no subscriptions(settings): the {target.service} worker's "
            "consumers cannot be rebuilt here to replay into"
        )
    for subscription in subscriptions(service_settings(settings, target.service)):
        if subscription.name == target.subscription:
            return subscription
    raise DeadLetterError(
        f"the {target.service} worker has no subscription {target.subscription!r} any more"
    )


def consumer_runner(
    settings: Settings,
    target: Target,
    pool: asyncpg.Pool,
    dead_letters: AIOKafkaProducer | None = None,
) -> tuple[ProjectionRunner, Sequence[Projection]]:
    """The consumer's runner as its worker makes it (never started: it only replays; with
    `dead_letters`, an event held behind the dead letter that fails is dead-lettered in its
    turn), and its projections (to close those that hold a client, as the worker does when it
    stops)."""
    own = service_settings(settings, target.service)
    if target.schema is not None:
        runner = build_runner(own, pool, target.schema, dead_letters)
        return runner, []
    subscription = worker_subscription(settings, target)
    runner = ProjectionRunner(
        pool,
        subscription.registry,
        subscription.projections,
        [own.topic(t) for t in subscription.topics],
        kafka_options=own.kafka_options(),
        consumer_name=target.consumer,
        dead_letters=dead_letters,
        dead_letter_topic=own.topic(DEAD_LETTER_TOPIC),
        streams=subscription.streams,
        in_order=subscription.in_order,
    )
    return runner, subscription.projections


async def replay_into_consumer(
    settings: Settings,
    letter: DeadLetter,
    by: str,
    audit_id: UUID | None = None,
    skip: bool = False,
) -> Replay:
    """Replay one dead letter into the consumer that failed on it, or skip it (see the
    module's doc)."""
    target = target_of(letter.consumer, settings)
    pool = await _consumer_pool(settings, target)
    projections: Sequence[Projection] = []
    producer: AIOKafkaProducer | None = None
    try:
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            superseded = await _in_schema(conn, target)
        if superseded is not None:
            return Replay(ReplayOutcome.NOT_PASSED_OVER, superseded)
        producer = new_producer(service_settings(settings, target.service))
        await producer.start()
        runner, projections = consumer_runner(settings, target, pool, producer)
        return await runner.replay(
            letter.origin_topic,
            letter.origin_partition,
            letter.origin_offset,
            letter.value,
            by=by,
            audit_id=audit_id,
            skip=skip,
            # Checked again with the build's offsets locked: a swap since would have won.
            current=lambda conn: _in_schema(conn, target),
        )
    finally:
        try:
            for projection in projections:
                closing = getattr(projection, "close", None)
                if closing is not None:
                    await closing()
            if producer is not None:
                await producer.stop()
        finally:
            await pool.close()


# -- the commands ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operator:
    """Who runs a command and why, and the access audit every command writes to before it
    shows or does anything (no audit, no answer)."""

    principal: Principal
    purpose: str
    audit: AuditLog

    async def audited(self, action: str, request: str, letters: Sequence[DeadLetter]) -> UUID:
        children = sorted({c for letter in letters for c in letter.child_ids})
        return await self.audit.record(
            self.principal, f"dead-letters {action}", request, children, self.purpose
        )


def operations(user: str) -> Principal:
    """An operator as the access audit records them: the council's operations role."""
    return Principal(user_id=user, agency=Agency.COUNCIL, role=Role.OPERATIONS)


async def list_command(
    settings: Settings, who: Operator, consumer: str | None = None
) -> list[dict[str, Any]]:
    letters = [
        letter
        for letter in await read_dead_letters(settings)
        if consumer is None or letter.consumer == consumer
    ]
    states = await consumer_states(settings, letters)
    await who.audited("list", f"list{f' --consumer {consumer}' if consumer else ''}", letters)
    return [listed(letter, states[(letter.partition, letter.offset)]) for letter in letters]


async def show_command(settings: Settings, who: Operator, id_: str) -> dict[str, Any]:
    [letter] = await read_dead_letters(settings, parse_id(id_))
    states = await consumer_states(settings, [letter])
    await who.audited("show", f"show {letter.id}", [letter])
    return shown(letter, states[(letter.partition, letter.offset)])


async def replay_command(
    settings: Settings,
    who: Operator,
    id_: str | None = None,
    consumer: str | None = None,
    skip: bool = False,
) -> list[tuple[DeadLetter, Replay]]:
    """Replay one dead letter (`id_`), or every one of `consumer` still waiting (a message
    dead-lettered twice, once), each audited on its own before it is replayed; with `skip`,
    skip the one named instead."""
    action = "skip" if skip else "replay"
    if id_ is not None:
        letters = await read_dead_letters(settings, parse_id(id_))
    elif consumer is not None:
        letters = await waiting(settings, consumer)
    else:
        raise DeadLetterError("replay what? a dead letter's id, or --all with --consumer")
    done: list[tuple[DeadLetter, Replay]] = []
    for letter in letters:
        into = "in" if skip else "into"
        request = f"{action} {letter.id} {into} {letter.consumer} (origin {letter.origin})"
        audit_id = await who.audited(action, request, [letter])
        replay = await replay_into_consumer(settings, letter, who.principal.user_id, audit_id, skip)
        done.append((letter, replay))
    return done


async def waiting(settings: Settings, consumer: str) -> list[DeadLetter]:
    """The consumer's dead letters not yet replayed, one per message."""
    letters: dict[str, DeadLetter] = {}
    for letter in await read_dead_letters(settings):
        if letter.consumer == consumer:
            letters.setdefault(letter.origin, letter)
    states = await consumer_states(settings, list(letters.values()))
    return [x for x in letters.values() if states[(x.partition, x.offset)].startswith("waiting")]


def local_environment() -> dict[str, str]:
    """`make run`'s stack as an operator's shell has it: its shared settings, PostgreSQL's
    administrator, the partner feeds' pseudonym key (a replay into them sends partner
    messages) and, in secure mode, Kafka's admin user."""
    from deploy.local import kafka_security
    from deploy.local.stack import LocalStack

    stack = LocalStack()
    env = {
        **stack.environment(),
        **stack.admin_environment(),
        "CSP_PARTNER_PSEUDONYM_KEY": stack.credential("CSP_PARTNER_PSEUDONYM_KEY"),
    }
    if stack.secure:
        env.update(
            CSP_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
            CSP_KAFKA_SSL_CAFILE=str(stack.tls_dir / "ca.pem"),
            CSP_KAFKA_USERNAME=kafka_security.ADMIN,
            CSP_KAFKA_PASSWORD=stack.credential("CSP_KAFKA_ADMIN_PASSWORD"),
        )
    return env


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.dead_letters",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["list", "show", "replay", "skip"])
    parser.add_argument("id", nargs="?", help="PARTITION:OFFSET on the dead-letter topic")
    parser.add_argument("--consumer", help="only this consumer's (list; replay --all)")
    parser.add_argument("--all", action="store_true", help="replay every waiting one of --consumer")
    parser.add_argument("--operator", help="who you are, for the audit (default: your login)")
    parser.add_argument("--purpose", default=PURPOSE, help="why, for the audit")
    parser.add_argument("--json", action="store_true", help="JSON, for scripts")
    parser.add_argument("--local", action="store_true", help="`make run`'s stack")
    return parser


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        raise DeadLetterError("say who you are for the audit: --operator NAME") from None


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """One command, audited; the exit status (1 when a replay or a skip left something
    undone: nothing applied, or a held event dead-lettered in its turn)."""
    every = args.command == "replay" and args.all and args.consumer
    if args.command != "list" and args.id is None and not every:
        raise DeadLetterError(
            f"{args.command} needs a dead letter's id (PARTITION:OFFSET, from `list`)"
            + (", or --all with --consumer" if args.command == "replay" else "")
        )
    audit = await AuditLog.open(service_settings(settings, "dead_letters"))
    who = Operator(operations(args.operator or _login()), args.purpose, audit)
    try:
        if args.command == "list":
            _print_list(await list_command(settings, who, args.consumer), args.json)
            return 0
        if args.command == "show":
            found = await show_command(settings, who, args.id)
            print(json.dumps(found, indent=2, default=str) if args.json else _text(found))
            return 0
        skip = args.command == "skip"
        done = await replay_command(settings, who, args.id, args.consumer, skip)
    finally:
        await audit.close()
    for letter, result in done:
        line = {
            "id": letter.id,
            "outcome": result.outcome.value,
            "complete": result.applied,
            "detail": result.detail,
        }
        print(json.dumps(line) if args.json else f"{letter.id}: {result.outcome}: {result.detail}")
    if not done:
        print(f"no dead letters of {args.consumer} wait to be replayed")
    return 0 if all(r.applied for _, r in done) else 1


def _print_list(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        print("no dead letters")
    for row in rows:
        print(
            f"{row['id']:>8}  {row['failed_at'][:19]}  {row['consumer']}  from {row['origin']}"
            f"  {row['event_type']}  [{row['state']}]\n          {row['reason']}"
        )


def _text(found: dict[str, Any]) -> str:
    lines = [f"{k:<10} {v}" for k, v in found.items() if k not in {"event", "headers", "value"}]
    lines.append(f"{'headers':<10} {json.dumps(found['headers'])}")
    if "event" in found:
        lines.append("event:")
        lines.append(json.dumps(found["event"], indent=2, default=str))
    else:
        lines.append(f"{'value':<10} {found['value']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.local:
        for key, value in local_environment().items():
            os.environ.setdefault(key, value)
    settings = Settings(service="dead_letters")
    try:
        sys.exit(asyncio.run(run(settings, args)))
    except DeadLetterError as error:
        raise SystemExit(f"dead letters: {error}") from None


if __name__ == "__main__":
    main()

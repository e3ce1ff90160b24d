"""The projection runner: Kafka topics in, read models in PostgreSQL out, exactly once in effect.

- Offsets live in PostgreSQL (`projection_offsets`), written in the same transaction as the
  read-model change; on start and on every partition assignment the consumer seeks to them.
  Kafka's committed offsets are written afterwards for operators' tools only.
- Duplicates (the relay re-publishes after a crash) are dropped by stream version
  (`projection_streams`); only the next version of a stream is applied.
- A runner whose read models are made from some of a topic's streams (`streams`: the
  reference lists' on case-events) passes over the others' records by their key, unread, and
  keeps no version of those streams; a batch of nothing else moves the stored offset past it
  in one statement, not a transaction.
- A message that cannot be decoded, or whose handler fails, goes to the dead-letter topic with
  the reason and its origin (topic, partition, offset) in headers; its partition keeps moving.
  The dead-letter send is acknowledged before the offsets commit, so nothing is dropped
  silently (a crash in between can dead-letter the same message twice). The same transaction
  as the offsets records that the consumer passed over it (`projection_dead_letters`), so
  `replay` can apply it later, once its cause is mended, at most once (deploy/dead_letters.py).
- A stream is applied in order or not at all: the later events of a dead-lettered event's
  stream are held (`projection_held`, with their messages) until the dead letter is replayed,
  which applies them after it, or skipped, which applies them alone.
- Traced (shared/tracing.py): a record whose headers carry a trace context is a span of that
  trace, current while the projections apply it (a policy's new events and the partner feed's
  shares join the trace), and ended when the batch's transaction commits: the board changes
  then.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from shared import tracing
from shared.envelope import (
    DomainEvent,
    Envelope,
    EventRegistry,
    IncompatibleSchemaVersion,
    UnknownEventType,
    place_of,
)
from shared.eventstore import ConcurrencyConflict
from shared.kafka import DEAD_LETTER_TOPIC, STOP_WAIT_S, stop_consumer
from shared.logging import get_logger
from shared.retry import keep_running

log = get_logger(__name__)
_UNTRACED: AbstractContextManager[None] = nullcontext()

# Every metric the platform defines starts `csp_` (docs/operations.md, "Health and metrics";
# the alert rules in deploy/prometheus/rules.yml read these names). Each counter of a runner's
# topics starts at 0 with the runner, so Prometheus sees its first increase.
APPLIED = Counter(
    "csp_projection_events_applied_total", "Events applied to read models", ["consumer", "topic"]
)
DUPLICATES = Counter(
    "csp_projection_duplicates_skipped_total",
    "Events skipped because their stream version was already applied",
    ["consumer", "topic"],
)
REWOUND = Counter(
    "csp_projection_rewinds_total",
    "Times a partition was read again from its stored offset because the consumer "
    "was ahead of it (the database lost recent commits)",
    ["consumer", "topic"],
)
HELD_BACK = Counter(
    "csp_projection_out_of_order_total",
    "Events skipped because an earlier version of their stream was missing",
    ["consumer", "topic"],
)
PASSED_BY = Counter(
    "csp_projection_other_streams_passed_total",
    "Records of streams the runner's read models are not made from, passed over unread",
    ["consumer", "topic"],
)
DEAD_LETTERED = Counter(
    "csp_projection_dead_lettered_total",
    "Messages sent to the dead-letter topic",
    ["consumer", "topic"],
)
HELD = Counter(
    "csp_projection_held_total",
    "Events held unapplied behind an earlier event of their stream that was dead-lettered, "
    "until that dead letter is replayed or skipped",
    ["consumer", "topic"],
)
READ_AGAIN = Counter(
    "csp_projection_versions_read_again_total",
    "Batches that read their streams' versions again because a dead letter was replayed or "
    "skipped while they waited for it",
    ["consumer"],
)
HELD_NOW = Gauge(
    "csp_projection_events_held",
    "Events the consumer holds unapplied behind dead letters not yet replayed or skipped (its "
    "database's count: read at the start, after it holds one, and each minute)",
    ["consumer"],
)
OFFSET_LAG = Gauge(
    "csp_projection_offset_lag", "Messages on the topic not yet applied", ["consumer", "topic"]
)
TIME_LAG = Gauge(
    "csp_projection_time_lag_seconds",
    "Now minus the recorded-at time of the last applied event while messages wait (0 when "
    "caught up); while a batch is being applied, at least its oldest message's age",
    ["consumer", "topic"],
)
SPENT = Counter(
    "csp_projection_seconds_total",
    "Wall time a runner spent, by read model and phase: `decode` (the runner's: the records "
    "into events), `apply` (a read model turning events into rows), `flush` (its rows "
    "written), `transaction` (the runner's: a whole batch's transaction, the applies and "
    "flushes in it)",
    ["consumer", "projection", "phase"],
)
RUNNER = "(runner)"  # SPENT's projection label for the runner's own phases
# A gathering fetch is answered once this much is there, or after the runner's fetch wait.
FETCH_GATHER_BYTES = 1024 * 1024
# A waiting fetch (aiokafka's defaults): answered when a record is there, or after this long.
FETCH_IDLE = (1, 500)


class FetchShape:
    """What a subscription's fetches ask of Kafka, following its traffic. While records come,
    a fetch gathers (`fetch.min.bytes` FETCH_GATHER_BYTES, which a backlog fills at once;
    `fetch.max.wait.ms` the runner's `fetch_wait_ms`): fewer, larger transactions. Once a
    poll has found nothing for half a second, a fetch waits (FETCH_IDLE): the first record of
    a quiet spell is answered as it arrives, and an idle consumer asks each broker twice a
    second, not twenty times (an idle platform's subscriptions kept a seventh of a core busy
    at 50 ms; docs/performance.md, "2026-12-06 (late): an idle subscription waits").

    aiokafka builds each fetch request from two fields of its fetcher and has no public way to
    change them on a running consumer, so these are set. tests/unit/test_projection_fetch.py
    holds aiokafka's request to those fields; a fetcher without them is left as it was made
    (waiting), with a warning."""

    FIELDS = ("_fetch_min_bytes", "_fetch_max_wait_ms")

    def __init__(self, wait_ms: int) -> None:
        self.wait_ms = wait_ms
        self.gathering = False
        self.unable = False  # the fetcher lacks the fields: said once, then left alone

    def follow(self, consumer: AIOKafkaConsumer, records: int) -> None:
        gathering = records > 0
        if gathering == self.gathering or self.unable:
            return
        fetcher = getattr(consumer, "_fetcher", None)
        if not all(hasattr(fetcher, name) for name in self.FIELDS):
            self.unable = True
            log.warning("fetches cannot gather: aiokafka's fetcher has no fields for them")
            return
        shape = (FETCH_GATHER_BYTES, self.wait_ms) if gathering else FETCH_IDLE
        for name, value in zip(self.FIELDS, shape, strict=True):
            setattr(fetcher, name, value)
        self.gathering = gathering


def spent_by(consumer: str) -> dict[tuple[str, str], float]:
    """SPENT's seconds of one consumer in this process, by (projection, phase)."""
    return {
        (sample.labels["projection"], sample.labels["phase"]): sample.value
        for metric in SPENT.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["consumer"] == consumer
    }


RETRIES = Counter(
    "csp_projection_retries_total",
    "Failures the runner backed off from and resumed after from its stored offsets, by what "
    "failed (database, broker, conflict: a policy's append raced another writer)",
    ["consumer", "cause"],
)

# The last version applied of each stream named (topics $2 and streams $3, pairwise) of a
# consumer ($1): one index lookup per stream, whatever the planner thinks of the table.
# - Not `stream_id = ANY($3)`: on a freshly built (not yet analysed) table, the planner
#   compared every row with every id.
# - Nor a plain join on the ids. asyncpg prepares the statement, and from its sixth run
#   PostgreSQL may keep one plan for any consumer and topic. While the table's statistics are
#   missing or behind (a service's new database as a county is loaded or imported, and as the
#   benchmark runs), that plan hashed every stream of the consumer and topic: a live batch of
#   one event read every child ever registered, 2 ms at 8,000 children and growing with them,
#   the most expensive statement of the live workers (docs/performance.md, 2026-12-05).
# The LIMIT keeps each lookup a subquery of its own, which the planner cannot turn back into
# that join (the key is unique: it changes no answer).
# With it, whether the stream is held behind a dead letter. The consumer's open dead letters
# are read once (a partial index, almost always empty) and joined, not looked up stream by
# stream: a lookup per stream cost the rebuild about 3 µs an event. A held stream has a
# version: its dead letter moved it on. The open dead letters are locked (FOR SHARE) until the
# batch commits: a replay or a skip, which locks its dead letter FOR UPDATE, then reads every
# event the batch held, and a batch that meets a replay in progress waits for it and finds the
# stream no longer held. The statement's snapshot, though, was taken before that wait: it does
# not hold a dead letter the replay made in its turn (a held event failing again), and the
# batch would apply the stream's next event past it. So it also counts the open dead letters
# it locked and those its snapshot holds: fewer locked means one changed while it waited, and
# the runner asks again (`_stream_versions`), in a statement whose snapshot holds the replay's
# work. (The replay's lock of the topic's offsets rows keeps most batches from waiting here,
# but not one whose partition's row it could not see: a partition's first batch, and its next
# ones while the first was not committed when the replay locked the rows.)
STREAM_VERSIONS = (
    "WITH locked AS (SELECT d.topic, d.stream_id FROM projection_dead_letters d"
    "  WHERE d.consumer = $1 AND d.holds_stream AND d.replayed_at IS NULL FOR SHARE)"
    " SELECT wanted.topic, wanted.stream_id, p.stream_version, h.stream_id IS NOT NULL AS held,"
    " (SELECT count(*) FROM locked) AS open_locked,"
    " (SELECT count(*) FROM projection_dead_letters o"
    "  WHERE o.consumer = $1 AND o.holds_stream AND o.replayed_at IS NULL) AS open_seen"
    " FROM unnest($2::text[], $3::text[]) AS wanted(topic, stream_id)"
    " CROSS JOIN LATERAL (SELECT s.stream_version FROM projection_streams s"
    "  WHERE s.consumer = $1 AND s.topic = wanted.topic AND s.stream_id = wanted.stream_id"
    "  LIMIT 1) AS p"
    " LEFT JOIN (SELECT DISTINCT topic, stream_id FROM locked) AS h"
    "  ON h.topic = wanted.topic AND h.stream_id = wanted.stream_id"
)

# The stored offsets of a fetch's partitions (of a consumer, $1: the topics $2 and partitions
# $3, pairwise), their rows locked in one order.
LOCK_OFFSETS = (
    "SELECT o.topic, o.partition, o.next_offset FROM projection_offsets o"
    " JOIN unnest($2::text[], $3::int[]) AS wanted(topic, partition)"
    "  ON o.topic = wanted.topic AND o.partition = wanted.partition"
    " WHERE o.consumer = $1 ORDER BY o.topic, o.partition FOR UPDATE OF o"
)

# Taken before LOCK_OFFSETS on the partitions ($2 topics, $3 partitions, of a consumer $1)
# whose stored-offset row the runner has not seen yet: on its first batch a partition has no
# row, and the row lock cannot make two members take turns on a row neither of them sees.
# They take turns on this transaction's advisory lock instead, before either locks a row,
# one key after another in the keys' order (two partitions whose keys collide are one lock).
# (The two-key form, under a first key of its own: it never meets the single-key locks of
# builds, keeping and migrations, nor the boards' two-key ones.)
LOCK_FIRST_OFFSETS = (
    "SELECT pg_advisory_xact_lock(hashtext('projection_offsets'), k.h)"
    " FROM (SELECT DISTINCT hashtext($1 || '/' || u.topic || '/' || u.partition) AS h"
    "  FROM unnest($2::text[], $3::int[]) AS u(topic, partition) ORDER BY h OFFSET 0) AS k"
)

# A batch's progress, in one statement: the last version applied of each stream it moved on
# ($2 topics, $3 streams, $4 versions) and the next offset of each partition ($5 topics,
# $6 partitions, $7 offsets), of a consumer ($1).
STORE_PROGRESS = (
    "WITH streams AS ("
    " INSERT INTO projection_streams (consumer, topic, stream_id, stream_version)"
    " SELECT $1, t, s, v FROM unnest($2::text[], $3::text[], $4::int[]) AS x(t, s, v)"
    " ON CONFLICT (consumer, topic, stream_id)"
    " DO UPDATE SET stream_version = EXCLUDED.stream_version)"
    " INSERT INTO projection_offsets (consumer, topic, partition, next_offset)"
    " SELECT $1, t, p, o FROM unnest($5::text[], $6::int[], $7::bigint[]) AS y(t, p, o)"
    " ON CONFLICT (consumer, topic, partition)"
    " DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()"
)

# The partitions of a fetch of other streams' records only (of a consumer, $1: the topics $2
# and partitions $3, with the offsets where their records begin, $4, and past them, $5): each
# stored offset moved past its records if it stands where they begin, in one statement; the
# partitions moved are returned. The rows are locked in one order, as a batch's are, and the
# change committed without waiting for the WAL flush, as a batch's transaction is
# (set_config's `true`: for this statement's transaction).
MOVE_PAST = (
    "WITH standing AS (SELECT o.topic, o.partition, w.past FROM projection_offsets o"
    "  JOIN unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[])"
    "   AS w(topic, partition, first, past)"
    "  ON o.topic = w.topic AND o.partition = w.partition AND o.next_offset = w.first"
    "  WHERE o.consumer = $1 ORDER BY o.topic, o.partition FOR UPDATE OF o)"
    " UPDATE projection_offsets o SET next_offset = standing.past, updated_at = now()"
    " FROM standing, (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous"
    " WHERE o.consumer = $1 AND o.topic = standing.topic AND o.partition = standing.partition"
    " RETURNING o.topic, o.partition"
)

# How often the offsets the batches stored are committed to Kafka too (for operators' tools).
COMMIT_EVERY_S = 1.0
# How long the consumer's calls may take before it is taken for stuck (`ConsumerStuck`): its
# offsets commit (past its own request timeout, 40 s, and a coordinator's loading), its start
# (a group's join: its rebalance timeout, 10 s, and another member's session ending, 10 s),
# and a fetch (which waits for a rejoin under way).
COMMIT_WAIT_S = 60.0
START_WAIT_S = 120.0
FETCH_WAIT_S = 120.0


class ConsumerStuck(KafkaError):
    """A call of the consumer did not come back in its time: the group's coordinator
    unreachable all that time, or the consumer's own coordination stuck (its commit, its start
    or a fetch's wait for an assignment waits for a coordinator lookup that never ends, as
    `make test`'s chaos run once found after its only broker was killed and restarted).
    Retried as any broker failure: the runner makes a new consumer, which goes on from the
    stored offsets."""


T = TypeVar("T")


async def _in_time(call: Awaitable[T], wait_s: float, what: str) -> T:
    deadline = asyncio.timeout(wait_s)
    try:
        async with deadline:
            return await call
    except TimeoutError as error:
        if not deadline.expired():  # the call's own, not this wait's
            raise
        raise ConsumerStuck(
            f"{what} did not come back in {wait_s:g} s: the group's coordinator unreachable,"
            " or the consumer's coordination stuck; making a new consumer"
        ) from error


# Failures of the database or the broker: retry the batch; never dead-letter for these.
TRANSIENT = (
    # A policy appending to a stream another writer just appended to (e.g. an EWO escalation
    # on a child whose rating a practitioner changed at that moment): decided again on the
    # retry, never dead-lettered.
    ConcurrencyConflict,
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    # Another transaction held what the batch needed (the returns' data-quality checker, a
    # reader): PostgreSQL rolled the batch back; it is applied again, never dead-lettered.
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.SerializationError,
    # The database out of room or connections (class 53: disk full, out of memory, too many
    # connections), an operator's or a timeout's cancel or a shutdown (class 57), or a
    # standby answering after a failover (read-only): the event is not at fault. Not retried,
    # these ended the runner's task, and every read model and partner feed it keeps stopped
    # with it, or a handler's dead-lettered the event.
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    KafkaError,
    TimeoutError,
)


class Projection(Protocol):
    """A read model: applies decoded events inside the runner's transaction.

    A projection may also buffer its writes and define `flush(conn)` (called once per batch in
    the same transaction, before the offsets are stored) and `discard()` (the transaction is
    being rolled back).
    """

    name: str

    async def apply(
        self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent
    ) -> None: ...


async def _flush(
    projections: Sequence[Projection], conn: asyncpg.Connection, spent: Spent | None = None
) -> None:
    for projection in projections:
        flush = getattr(projection, "flush", None)
        if flush is not None:
            started = time.perf_counter()
            try:
                await flush(conn)
            finally:
                if spent is not None:
                    spent.add(projection.name, "flush", time.perf_counter() - started)


class Spent:
    """Wall time by (read model, phase), added up over a batch and counted in SPENT once per
    batch (a counter's increment costs more than a clock's reading)."""

    def __init__(self, consumer: str) -> None:
        self._consumer = consumer
        self._seconds: dict[tuple[str, str], float] = {}

    def add(self, projection: str, phase: str, seconds: float) -> None:
        key = (projection, phase)
        self._seconds[key] = self._seconds.get(key, 0.0) + seconds

    def count(self) -> None:
        for (projection, phase), seconds in self._seconds.items():
            SPENT.labels(self._consumer, projection, phase).inc(seconds)
        self._seconds.clear()


class AppliedLedger:
    """A row per applied event in `projection_applied`, in the runner's transaction: evidence
    for the reliability checks (an event applied twice would leave two rows)."""

    name = "applied-ledger"

    def __init__(self, consumer: str) -> None:
        self._consumer = consumer
        self._rows: list[tuple[str, UUID, str, int, str]] = []

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        self._rows.append(
            (
                self._consumer,
                envelope.event_id,
                envelope.stream_id,
                envelope.stream_version,
                envelope.event_type,
            )
        )

    async def flush(self, conn: asyncpg.Connection) -> None:
        rows, self._rows = self._rows, []
        if rows:
            await conn.copy_records_to_table(
                "projection_applied",
                records=rows,
                columns=["consumer", "event_id", "stream_id", "stream_version", "event_type"],
            )

    def discard(self) -> None:
        self._rows.clear()


def _discard(projections: Sequence[Projection]) -> None:
    for projection in projections:
        discard = getattr(projection, "discard", None)
        if discard is not None:
            discard()


@dataclass
class _Decoded:
    record: ConsumerRecord
    envelope: Envelope | None = None
    event: DomainEvent | None = None
    failure: str | None = None


@dataclass
class TopicProgress:
    last_recorded_at: datetime | None = None
    positions: dict[int, int] = field(default_factory=dict)


@dataclass
class _Part:
    """A partition's records of a fetch: which are of the streams read (`ours`), decoded."""

    tp: TopicPartition
    records: list[ConsumerRecord]
    ours: list[bool]
    decoded: list[_Decoded]


@dataclass
class _Applied:
    """What a fetch's transaction did: the records it applied, and the partitions it left
    alone because the consumer is ahead of their stored offset. The database lost recent
    commits there (a crash with asynchronous commit, a failover to a replica behind), so the
    records in between were never applied for good: they are read again from that offset."""

    applied: list[_Decoded] = field(default_factory=list)
    ahead: dict[TopicPartition, int] = field(default_factory=dict)


@dataclass
class _StreamVersions:
    """The last applied version of each stream of a batch, by (topic, stream), and the
    streams it moved on."""

    last: dict[tuple[str, str], int]
    moved: set[tuple[str, str]] = field(default_factory=set)
    # The streams whose later events are held, behind an event the consumer passed over, and
    # the events the batch held (shown once it commits).
    held: set[tuple[str, str]] = field(default_factory=set)
    holding: list[_Decoded] = field(default_factory=list)

    def moved_to(self, topic: str, envelope: Envelope) -> None:
        self.last[topic, envelope.stream_id] = envelope.stream_version
        self.moved.add((topic, envelope.stream_id))


# The messages a batch has dead-lettered, by topic, partition and offset: each is sent once,
# though the batch may run twice (whole, then event by event after a handler failed).
_Origins = set[tuple[str, int, int]]

# How a batch's events are applied in its transaction: all together, or each in a savepoint.
_ApplyEvents = Callable[
    [asyncpg.Connection, list[_Decoded], _StreamVersions, _Origins], Awaitable[list[_Decoded]]
]


class _HandlerFailedError(Exception):
    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


class _Fate(StrEnum):
    """What became of an event applied on its own (`_apply_guarded`)."""

    APPLIED = "applied"
    DEAD_LETTERED = "dead-lettered"  # its stream's later events are held behind it
    SKIPPED = "skipped before"  # an operator skipped it: passed over again, nothing held


class ReplayOutcome(StrEnum):
    REPLAYED = "replayed"
    SKIPPED = "skipped"  # never to be applied; the events held behind it were
    ALREADY_REPLAYED = "already replayed"
    NOT_PASSED_OVER = "nothing to replay"  # the consumer applied it, or it was a duplicate
    NOT_REACHED = "not reached yet"
    STILL_FAILS = "still fails"


@dataclass(frozen=True)
class Replay:
    """What a replay of a dead letter did: applied it, or why it changed nothing."""

    outcome: ReplayOutcome
    detail: str
    complete: bool = True  # False: an event held behind it failed, and waits in its turn

    @property
    def applied(self) -> bool:
        """Whether the message was dealt with (applied, or skipped), and everything held
        behind it applied."""
        return self.outcome in (ReplayOutcome.REPLAYED, ReplayOutcome.SKIPPED) and self.complete


class ProjectionRunner:
    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: EventRegistry,
        projections: Sequence[Projection],
        topics: Sequence[str],
        *,
        kafka_options: Mapping[str, object],
        consumer_name: str,
        dead_letters: AIOKafkaProducer | None,
        dead_letter_topic: str = DEAD_LETTER_TOPIC,
        in_order: bool = True,
        batch_size: int = 1000,
        schema: str | None = None,
        fill_wait_ms: int = 0,
        streams: Callable[[str], bool] | None = None,
        fetch_wait_ms: int = 0,
    ) -> None:
        self._pool = pool
        self._registry = registry
        self._projections = list(projections)
        self._topics = list(topics)
        self.consumer_name = consumer_name
        self._dead_letters = dead_letters
        # Whether a stream's later events wait behind its dead letter (`_hold`). A consumer
        # for which a stream's order does not matter, and a later event must not wait (a
        # child's erasure), applies them as they come.
        self._in_order = in_order
        self._dead_letter_topic = dead_letter_topic
        # The PostgreSQL schema holding the read models and their offsets (a board build).
        self._search_path = f'SET LOCAL search_path TO "{schema}", public' if schema else None
        # Each batch's transaction starts with these settings, sent as one statement (a round
        # trip of the few a batch takes: at a trickle, batches are of one or two events). A
        # read model and its offsets commit together, so a database crash can only lose the
        # last few batches whole: they are read again from Kafka. No need to wait for the WAL
        # flush, unless the batch appends events (a policy's): the event store's append sets
        # synchronous commit on for the transaction (`DURABLE_AND_WAKE`).
        self._settings = "; ".join(
            s for s in ("SET LOCAL synchronous_commit TO off", self._search_path) if s
        )
        self._batch_size = batch_size
        # How long a batch may wait for the fetcher to bring more before it is applied:
        # 0 for the live boards (freshness), more for a rebuild (fewer, larger transactions).
        self._fill_wait_ms = fill_wait_ms
        # What the consumer asks of Kafka. With `fetch_wait_ms` (a service's subscriptions:
        # Settings' subscription_fetch_wait_ms), a fetch gathers that long while records come
        # unless a backlog fills FETCH_GATHER_BYTES first (FetchShape): at hundreds of events a
        # second spread over the partitions, each partition's share of a fetch answered at once
        # is a transaction of a record or two (docs/performance.md, "2026-12-06 (afternoon)").
        # Without (the boards, whose longer transactions gather what arrives meanwhile), and
        # while a subscription is quiet, answered as soon as a record is there.
        self.consumer_options: dict[str, object] = {
            **kafka_options,  # bootstrap servers, and security
            "max_poll_records": batch_size,
            "fetch_max_bytes": 16 * 1024 * 1024,
            "max_partition_fetch_bytes": 4 * 1024 * 1024,
            "fetch_min_bytes": FETCH_IDLE[0],
            "fetch_max_wait_ms": FETCH_IDLE[1],
        }
        self.fetch_wait_ms = fetch_wait_ms
        # Whether a stream (a record's key, the event's stream by the published contract) is
        # one the read models are made from; None: every stream.
        self._streams = streams
        self._lock = asyncio.Lock()  # a batch and a rebalance never interleave
        # Counted up by each assignment, which seeks its partitions to the stored offsets
        # (`sought`): a batch fetched across it is read again from there (`_consume`).
        self._assignments = 0
        self._sought: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self.progress: dict[str, TopicProgress] = {t: TopicProgress() for t in self._topics}
        self.healthy = False
        self.last_error: str | None = None
        self._to_commit: dict[TopicPartition, int] = {}
        self._beginnings: dict[TopicPartition, int] = {}  # first offset on each partition
        # The partitions whose stored-offset row a batch has locked since the last assignment
        # (a failure's new consumer is assigned again). A row once seen is only lost with the
        # database's last commits, and a batch that finds it gone reads the partition again
        # (`_not_yet_applied`).
        self._rows_seen: set[TopicPartition] = set()
        self._committed_at = 0.0
        # The time lag as the last batch left it, and the Kafka timestamp (epoch seconds) of
        # the oldest message of the batch being applied, by topic: Prometheus reads the larger
        # age when it asks, so a runner stuck in a batch (its database gone, a partner feed's
        # broker not acknowledging) shows a lag that grows rather than its last value.
        self._reported_time_lag: dict[str, float] = dict.fromkeys(self._topics, 0.0)
        # Whether the last report could measure the topic's lag: a partition of it assigned,
        # and for each, the broker's end and this consumer's place known. Before that, the
        # lag's 0 says nothing (no assignment yet, or the end not yet fetched).
        self._measured: dict[str, bool] = dict.fromkeys(self._topics, False)
        self._applying_since: dict[str, float] = {}
        # When to count the events the consumer holds again (`_count_held`).
        self._held_count_due = 0.0
        self._spans = tracing.BatchSpans()  # the batch's records' spans, ended at its commit
        self._spent = Spent(consumer_name)
        for topic in self._topics:
            for counter in (
                APPLIED,
                DUPLICATES,
                REWOUND,
                HELD_BACK,
                DEAD_LETTERED,
                HELD,
                PASSED_BY,
            ):
                counter.labels(consumer_name, topic)
            TIME_LAG.labels(consumer_name, topic).set_function(
                functools.partial(self.time_lag, topic)
            )

    # -- the loop ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        def failed(error: BaseException) -> None:
            self.healthy = False
            self.last_error = repr(error)
            RETRIES.labels(self.consumer_name, failure_cause(error)).inc()

        try:
            await keep_running(
                functools.partial(self._consume_until_failure, stop),
                stop,
                transient=TRANSIENT,
                on_failure=failed,
                what="projection (resuming from stored offsets)",
            )
        finally:
            # A runner that stopped (the boards' worker follows a rebuild into a consumer of
            # another name) leaves no lag behind it to alert on.
            for topic in self._topics:
                for gauge in (OFFSET_LAG, TIME_LAG):
                    with contextlib.suppress(KeyError):
                        gauge.remove(self.consumer_name, topic)
            with contextlib.suppress(KeyError):
                HELD_NOW.remove(self.consumer_name)

    async def _consume_until_failure(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            **self.consumer_options,
            group_id=self.consumer_name,
            client_id=f"projection-{self.consumer_name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        self._consumer = consumer
        consumer.subscribe(self._topics, listener=_SeekToStoredOffsets(self))
        stuck = False
        try:
            await _in_time(consumer.start(), START_WAIT_S, "the consumer's start")
            await self._consume(consumer, stop)
        except ConsumerStuck:
            stuck = True  # no use waiting for it to leave its group
            raise
        finally:
            self.healthy = False
            await stop_consumer(consumer, 0 if stuck else STOP_WAIT_S)
            self._consumer = None

    async def _consume(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        shape = FetchShape(self.fetch_wait_ms) if self.fetch_wait_ms else None
        while not stop.is_set():
            assignments = self._assignments
            batches = await _in_time(
                consumer.getmany(timeout_ms=500, max_records=self._batch_size),
                FETCH_WAIT_S,
                "a fetch",
            )
            # Catching up: add what the fetcher already holds (waiting `fill_wait_ms` at most
            # for each further fetch), so a backlog is applied in large transactions while a
            # live trickle stays quick.
            count = sum(len(r) for r in batches.values())
            if shape is not None:
                shape.follow(consumer, count)
            while 0 < count < self._batch_size:
                more = await _in_time(
                    consumer.getmany(
                        timeout_ms=self._fill_wait_ms, max_records=self._batch_size - count
                    ),
                    FETCH_WAIT_S,
                    "a fetch",
                )
                if not more:
                    break
                for tp, records in more.items():
                    batches.setdefault(tp, []).extend(records)
                count += sum(len(r) for r in more.values())
            for tp, records in batches.items():
                if records:  # kept through a failure: the same messages are fetched again
                    oldest = min(r.timestamp for r in records) / 1000
                    self._applying_since[tp.topic] = min(
                        self._applying_since.get(tp.topic, oldest), oldest
                    )
            async with self._lock:
                assigned = consumer.assignment()
                if assignments != self._assignments:
                    # An assignment during the fetch sought its partitions to the stored
                    # offsets, before or after these records were fetched. Read again from
                    # there rather than apply them: fetched before the seek, they would be
                    # read twice (harmless, but a transaction for nothing and the records
                    # passed over counted twice); after it, the consumer is already past them.
                    for tp, records in batches.items():
                        if records and tp in assigned:
                            consumer.seek(tp, self._sought.get(tp, records[0].offset))
                    batches = {}
                fetched = {tp: r for tp, r in batches.items() if r and tp in assigned}
                if fetched:
                    await self._process(fetched)
            await self._count_held()
            self._applying_since.clear()
            self._report_lag(consumer)
            self.healthy = True
            self.last_error = None

    # -- a fetch, one transaction -------------------------------------------------------------

    async def _process(self, fetched: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        """Apply what a fetch brought, every partition of it in one transaction: at hundreds
        of events a second spread over the partitions, a transaction a partition was one of a
        record or two (docs/performance.md, "2026-12-06 (evening)"). What is kept a partition
        at a time is still kept so: its stored offset (locked, checked, moved on), a consumer
        ahead of it read again from it, the records passed over."""
        started = time.perf_counter()
        parts = []
        for tp, records in fetched.items():
            ours = [self._ours(r) for r in records]
            # Another stream's record stays undecoded (no envelope, no failure): passed over.
            decoded = [
                self._decode(r) if mine else _Decoded(r)
                for r, mine in zip(records, ours, strict=True)
            ]
            parts.append(_Part(tp, records, ours, decoded))
        self._spent.add(RUNNER, "decode", time.perf_counter() - started)
        # The partitions of other streams' records only are moved past in one statement where
        # they can be (no transaction); the rest are applied together.
        moved = await self._move_past([p for p in parts if not any(p.ours)])
        to_apply = [p for p in parts if p.tp not in moved]
        outcome = _Applied()
        if to_apply:
            dead_lettered: _Origins = set()
            try:
                outcome = await self._apply_batch(to_apply, dead_lettered)
            except _HandlerFailedError:
                # A handler rejected an event: redo the batch with a savepoint around each
                # event, so only the failing ones are dead-lettered.
                _discard(self._projections)
                outcome = await self._apply_event_by_event(to_apply, dead_lettered)
            except BaseException:
                _discard(self._projections)
                raise
        applied: dict[TopicPartition, list[Envelope]] = {}
        for item in outcome.applied:
            assert item.envelope is not None
            tp = TopicPartition(item.record.topic, item.record.partition)
            applied.setdefault(tp, []).append(item.envelope)
        for part in parts:
            if part.tp in outcome.ahead:
                self._rewind(part.tp, outcome.ahead[part.tp], part.records[0].offset)
            else:
                self._moved_on(part, applied.get(part.tp, []))
        consumer = self._consumer
        if consumer is not None and time.monotonic() - self._committed_at > COMMIT_EVERY_S:
            await self._commit_to_kafka(consumer)

    async def _commit_to_kafka(self, consumer: AIOKafkaConsumer) -> None:
        """The offsets the batches stored, committed to Kafka as well: informational only (for
        operators' tools), the stored offsets are the truth, so a refusal is passed over; one
        that does not come back is not (`ConsumerStuck`). Nothing to commit when the batches
        since the last were all read again from their stored offsets (aiokafka refuses an
        empty commit with a ValueError, which would end the runner)."""
        if not self._to_commit:
            return
        try:
            await _in_time(
                consumer.commit(dict(self._to_commit)), COMMIT_WAIT_S, "the offsets commit"
            )
        except ConsumerStuck:
            raise
        except KafkaError:
            pass
        self._to_commit.clear()
        self._committed_at = time.monotonic()

    def _moved_on(self, part: _Part, applied: list[Envelope]) -> None:
        """What the runner shows of a partition's records applied for good."""
        tp, records, ours = part.tp, part.records, part.ours
        if not all(ours):  # counted once passed over for good, not on each retry of the batch
            PASSED_BY.labels(self.consumer_name, tp.topic).inc(len(ours) - sum(ours))
        APPLIED.labels(self.consumer_name, tp.topic).inc(len(applied))
        progress = self.progress[tp.topic]
        for envelope in applied:
            progress.last_recorded_at = envelope.recorded_at
        if not ours[-1]:  # read this far in the topic: its time lag runs from the record's
            progress.last_recorded_at = datetime.fromtimestamp(records[-1].timestamp / 1000, UTC)
        progress.positions[tp.partition] = records[-1].offset + 1
        self._to_commit[tp] = records[-1].offset + 1

    def _ours(self, record: ConsumerRecord) -> bool:
        """Whether the record is of a stream the read models are made from (a record without
        a key, or one that is not text, is read: decoding it dead-letters what is wrong)."""
        if self._streams is None or record.key is None:
            return True
        try:
            return self._streams(record.key.decode())
        except UnicodeDecodeError:
            return True

    async def _move_past(self, parts: list[_Part]) -> set[TopicPartition]:
        """Store the offsets of partitions of other streams' records only past those records,
        in one statement, each where it stands where they begin; the others (a first batch,
        a consumer ahead of the database, another member's progress) are left to the usual
        transaction. A board build keeps its offsets in its own schema: always the transaction
        there."""
        if self._search_path is not None or not parts:
            return set()
        started = time.perf_counter()
        rows = await self._pool.fetch(
            MOVE_PAST,
            self.consumer_name,
            [p.tp.topic for p in parts],
            [p.tp.partition for p in parts],
            [p.records[0].offset for p in parts],
            [p.records[-1].offset + 1 for p in parts],
        )
        self._spent.add(RUNNER, "transaction", time.perf_counter() - started)
        self._spent.count()
        return {TopicPartition(r["topic"], r["partition"]) for r in rows}

    def _rewind(self, tp: TopicPartition, offset: int, was_at: int) -> None:
        consumer = self._consumer
        assert consumer is not None
        consumer.seek(tp, offset)
        self.progress[tp.topic].positions[tp.partition] = offset
        REWOUND.labels(self.consumer_name, tp.topic).inc()
        log.warning(
            "consumer ahead of the stored offset; reading again from it",
            topic=tp.topic,
            partition=tp.partition,
            stored=offset,
            consumer_at=was_at,
        )

    def _decode(self, record: ConsumerRecord) -> _Decoded:
        item = _Decoded(record)
        try:
            if record.value is None:
                raise ValueError("empty message")
            try:
                item.envelope = self._registry.read(record.value)
            except ValueError:
                # Not an envelope this release reads (a field a newer release added): passed
                # over in its stream's order by its place there, which holds the stream.
                item.envelope = place_of(record.value)
                raise
            item.event = self._registry.decode_envelope(item.envelope)
        except UnknownEventType as error:
            item.failure = f"unknown event type: {error}"
        except IncompatibleSchemaVersion as error:
            item.failure = f"incompatible schema version: {error}"
        except (ValidationError, ValueError) as error:
            item.failure = f"undecodable: {_short(error)}"
        return item

    async def _apply_batch(self, parts: list[_Part], dead_lettered: _Origins) -> _Applied:
        """The whole batch in one transaction: the usual way, one round trip per table."""
        return await self._in_one_transaction(parts, dead_lettered, self._apply_together)

    async def _apply_event_by_event(self, parts: list[_Part], dead_lettered: _Origins) -> _Applied:
        """After a handler failed in the batch: each event in a savepoint of its own, so only
        the poison ones are dead-lettered and the rest are applied."""
        return await self._in_one_transaction(parts, dead_lettered, self._apply_each_in_a_savepoint)

    async def _in_one_transaction(
        self,
        parts: list[_Part],
        dead_lettered: _Origins,
        apply: _ApplyEvents,
    ) -> _Applied:
        """Apply the partitions' records not yet applied with `apply`, and store how far the
        streams and each partition got, all in one transaction."""
        spans = self._spans = tracing.BatchSpans()
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(self._settings)
                decoded, ahead = await self._not_yet_applied(conn, parts)
                if not decoded:
                    return _Applied(ahead=ahead)
                await self._dead_letter_undecodable(conn, decoded, dead_lettered)
                versions = await self._stream_versions(conn, decoded)
                applied = await apply(conn, decoded, versions, dead_lettered)
                await self._store_progress(conn, versions, decoded)
        except BaseException as error:
            spans.end(error)
            raise
        finally:
            self._spent.add(RUNNER, "transaction", time.perf_counter() - started)
            self._spent.count()
        spans.end()  # committed: the boards show these events from now
        self._show_held(versions.holding)
        return _Applied(applied, ahead)

    def _processing(self, item: _Decoded) -> AbstractContextManager[Any]:
        """The record's span (if tracing, and its headers carry a trace), current inside."""
        if not self._spans.on:
            return _UNTRACED
        record, envelope = item.record, item.envelope
        assert envelope is not None
        waited = time.time() - record.timestamp / 1000
        return self._spans.processing(
            record.topic,
            record.headers,
            {
                "messaging.consumer.group.name": self.consumer_name,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
                "messaging.message.id": str(envelope.event_id),
                "csp.event_type": envelope.event_type,
                "csp.correlation_id": str(envelope.correlation_id),
                "csp.waited_in_kafka_s": round(max(waited, 0.0), 3),
            },
        )

    async def _not_yet_applied(
        self, conn: asyncpg.Connection, parts: list[_Part]
    ) -> tuple[list[_Decoded], dict[TopicPartition, int]]:
        """The records at or after their partition's stored offset, in order, each
        partition's row locked; and the partitions the consumer is ahead on (none of whose
        records are applied: read again from the stored offset)."""
        # The stored offset is the truth, whatever the consumer's position: records below it
        # were applied already (by this process before a rebalance, or by another member).
        # The row lock also makes two members that briefly share a partition take turns; the
        # rows are locked in one order, so two such members cannot each wait on the other.
        # A partition with no row yet (its first batch) is waited for on an advisory lock
        # first: the member that comes second then sees the first one's row.
        unseen = [p.tp for p in parts if p.tp not in self._rows_seen]
        if unseen:
            await conn.execute(
                LOCK_FIRST_OFFSETS,
                self.consumer_name,
                [tp.topic for tp in unseen],
                [tp.partition for tp in unseen],
            )
        rows = await conn.fetch(
            LOCK_OFFSETS,
            self.consumer_name,
            [p.tp.topic for p in parts],
            [p.tp.partition for p in parts],
        )
        stored = {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}
        self._rows_seen.update(stored)
        decoded: list[_Decoded] = []
        ahead: dict[TopicPartition, int] = {}
        for part in parts:
            at = stored.get(part.tp)
            if at is None and part.tp in self._rows_seen:
                # Its row was seen and is gone: the database lost its last commits (a crash
                # while the runner was between batches, its pool reconnecting unnoticed).
                # None of its records now: read again, the next batch waiting its turn as a
                # first batch does.
                self._rows_seen.discard(part.tp)
                ahead[part.tp] = self._beginnings.get(part.tp, 0)
                continue
            # Records above the stored offset but below this batch were never applied for
            # good if the stored offset is behind the batch: read them again first.
            floor = at if at is not None else self._beginnings.get(part.tp, 0)
            if floor < part.records[0].offset:
                ahead[part.tp] = floor
            else:
                decoded += (d for d in part.decoded if d.record.offset >= (at or 0))
        return decoded, ahead

    async def _dead_letter_undecodable(
        self,
        conn: asyncpg.Connection,
        decoded: list[_Decoded],
        dead_lettered: _Origins,
    ) -> None:
        """Dead-letter the bytes with no place in a stream (not an envelope, nor one that says
        its stream and version): no stream to move on or hold, passed over here, every time.
        (An event that cannot be decoded is passed over in its stream's order, or held:
        `_pass_over`.)"""
        for item in decoded:
            if item.failure is not None and item.envelope is None:
                if await self._skipped_before(conn, item):  # a rebuild reads them again
                    log.info("message an operator skipped passed over again")
                    continue
                await self._send_once(item, item.failure, dead_lettered)
                await self._passed_over(conn, item, item.failure)

    async def _send_once(self, item: _Decoded, reason: str, dead_lettered: _Origins) -> None:
        record = item.record
        where = (record.topic, record.partition, record.offset)
        if where not in dead_lettered:
            correlation_id = None if item.envelope is None else item.envelope.correlation_id
            await self._dead_letter(record, reason, correlation_id)
            dead_lettered.add(where)

    async def _pass_over(
        self, conn: asyncpg.Connection, item: _Decoded, versions: _StreamVersions, reason: str
    ) -> bool:
        """An event this consumer cannot apply (a handler failed, a contract it lacks):
        recorded as passed over, and its stream's later events held behind it. Whether it is
        to be sent to the dead-letter topic: not if an operator skipped it before (a rebuild
        reads it again: `copy_skipped`), which passes it over as it is."""
        envelope = item.envelope
        assert envelope is not None
        if await self._skipped_before(conn, item):
            log.info(
                "event an operator skipped passed over again",
                stream_id=envelope.stream_id,
                version=envelope.stream_version,
                correlation_id=str(envelope.correlation_id),
            )
            return False
        await self._passed_over(conn, item, reason)
        if self._in_order:
            versions.held.add((item.record.topic, envelope.stream_id))
        return True

    async def _skipped_before(self, conn: asyncpg.Connection, item: _Decoded) -> bool:
        """Whether an operator skipped the message in this consumer before (a rebuild reads
        it again: `copy_skipped`): by its event, or by its place on the topic (one skipped
        before it could be read as far as its event, recorded with no event id)."""
        record = item.record
        return bool(
            await conn.fetchval(
                "SELECT EXISTS (SELECT FROM projection_dead_letters"
                " WHERE consumer = $1 AND skipped AND (event_id = $2"
                " OR (topic, partition, message_offset) = ($3, $4, $5)))",
                self.consumer_name,
                None if item.envelope is None else item.envelope.event_id,
                record.topic,
                record.partition,
                record.offset,
            )
        )

    async def _hold(
        self, conn: asyncpg.Connection, item: _Decoded, versions: _StreamVersions
    ) -> None:
        """Hold an event of a stream whose earlier event this consumer passed over: kept with
        its message, unapplied, until that dead letter is replayed (the held events are then
        applied after it, in order) or skipped. A retried batch holds it once."""
        envelope, record = item.envelope, item.record
        assert envelope is not None and record.value is not None
        await conn.execute(
            "INSERT INTO projection_held (consumer, topic, partition, message_offset,"
            " stream_id, stream_version, event_id, event_type, message)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            self.consumer_name,
            record.topic,
            record.partition,
            record.offset,
            envelope.stream_id,
            envelope.stream_version,
            envelope.event_id,
            envelope.event_type,
            record.value,
        )
        versions.holding.append(item)

    def _show_held(self, held: list[_Decoded]) -> None:
        """The events a committed batch held: counted, logged, and counted again in the
        consumer's database (`_count_held`)."""
        for item in held:
            envelope, record = item.envelope, item.record
            assert envelope is not None
            HELD.labels(self.consumer_name, record.topic).inc()
            log.warning(
                "event held behind a dead letter",
                stream_id=envelope.stream_id,
                version=envelope.stream_version,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                correlation_id=str(envelope.correlation_id),
            )
        if held:
            self._held_count_due = 0.0

    async def _stream_versions(
        self, conn: asyncpg.Connection, decoded: list[_Decoded]
    ) -> _StreamVersions:
        wanted = list(
            {(d.record.topic, d.envelope.stream_id) for d in decoded if d.envelope is not None}
        )
        while True:
            rows = await conn.fetch(
                STREAM_VERSIONS,
                self.consumer_name,
                [topic for topic, _ in wanted],
                [stream for _, stream in wanted],
            )
            # An open dead letter changed while the statement waited for it (a replay): its
            # snapshot may lack one the replay made. (No rows: none of the streams has a
            # version, and only a stream with one can be held.)
            if not rows or not self._in_order or rows[0]["open_locked"] == rows[0]["open_seen"]:
                break
            READ_AGAIN.labels(self.consumer_name).inc()
        return _StreamVersions(
            {(r["topic"], r["stream_id"]): r["stream_version"] for r in rows},
            held={(r["topic"], r["stream_id"]) for r in rows if r["held"] and self._in_order},
        )

    def _next_in_its_stream(self, item: _Decoded, versions: _StreamVersions) -> bool:
        """Whether the event is its stream's next version: not a duplicate already applied,
        nor ahead of a missing one (held back: the relay never skips and will re-send)."""
        envelope, topic = item.envelope, item.record.topic
        assert envelope is not None
        last = versions.last.get((topic, envelope.stream_id), 0)
        if envelope.stream_version <= last:
            DUPLICATES.labels(self.consumer_name, topic).inc()
            return False
        if envelope.stream_version > last + 1:
            HELD_BACK.labels(self.consumer_name, topic).inc()
            log.warning(
                "event out of order held back",
                stream_id=envelope.stream_id,
                version=envelope.stream_version,
                last_applied=last,
                correlation_id=str(envelope.correlation_id),
            )
            return False
        return True

    async def _apply_together(
        self,
        conn: asyncpg.Connection,
        decoded: list[_Decoded],
        versions: _StreamVersions,
        dead_lettered: _Origins,
    ) -> list[_Decoded]:
        """Every event, then one flush; a handler's failure fails the whole batch."""
        applied: list[_Decoded] = []
        # Dead-lettered once the flush has succeeded: if it fails, the batch is done again
        # event by event, where an earlier event of the stream may fail and hold this one.
        unsent: list[_Decoded] = []
        projections = self._projections
        spent = [0.0] * len(projections)  # each read model's applies (a clock read per apply)
        clock = time.perf_counter
        try:
            for index, item in enumerate(decoded):
                envelope = item.envelope
                # (No envelope: bytes we could not read at all, dead-lettered already, or
                # another stream's record, passed over.)
                if envelope is None or not self._next_in_its_stream(item, versions):
                    continue
                # An event held, or dead-lettered, still moves its stream on.
                if (item.record.topic, envelope.stream_id) in versions.held:
                    await self._hold(conn, item, versions)
                elif item.event is not None:
                    try:
                        with self._processing(item):
                            for i, projection in enumerate(projections):
                                started = clock()
                                await projection.apply(conn, envelope, item.event)
                                spent[i] += clock() - started
                    except TRANSIENT:
                        raise
                    except Exception as error:
                        raise _HandlerFailedError(index, _short(error)) from error
                    applied.append(item)
                elif await self._pass_over(conn, item, versions, item.failure or "undecodable"):
                    unsent.append(item)
                versions.moved_to(item.record.topic, envelope)
        finally:
            for projection, seconds in zip(projections, spent, strict=True):
                self._spent.add(projection.name, "apply", seconds)
        await self._flush_then_send(conn, unsent, dead_lettered)
        return applied

    async def _flush_then_send(
        self, conn: asyncpg.Connection, unsent: list[_Decoded], dead_lettered: _Origins
    ) -> None:
        """The batch's rows written, then the events it passed over dead-lettered."""
        try:
            await _flush(self._projections, conn, self._spent)
        except TRANSIENT:
            raise
        except Exception as error:
            raise _HandlerFailedError(-1, _short(error)) from error
        for item in unsent:
            await self._send_once(item, item.failure or "undecodable", dead_lettered)

    async def _apply_each_in_a_savepoint(
        self,
        conn: asyncpg.Connection,
        decoded: list[_Decoded],
        versions: _StreamVersions,
        dead_lettered: _Origins,
    ) -> list[_Decoded]:
        """Every event applied and flushed in its own savepoint; a failing one is
        dead-lettered, its stream moves on, and its stream's later events are held."""
        applied: list[_Decoded] = []
        for item in decoded:
            envelope = item.envelope
            if envelope is None or not self._next_in_its_stream(item, versions):
                continue
            if (item.record.topic, envelope.stream_id) in versions.held:
                await self._hold(conn, item, versions)
            elif item.event is None:
                reason = item.failure or "undecodable"
                await self._pass_over_and_send(conn, item, versions, reason, dead_lettered)
            elif await self._apply_guarded(conn, item, versions, dead_lettered) is _Fate.APPLIED:
                applied.append(item)
            versions.moved_to(item.record.topic, envelope)
        return applied

    async def _store_progress(
        self, conn: asyncpg.Connection, versions: _StreamVersions, decoded: list[_Decoded]
    ) -> None:
        """The streams' last applied versions and each partition's next offset (past the
        last of its records read), in the transaction of the read-model change."""
        streams = sorted(versions.moved)
        # A partition's records are in order: the last one's offset is kept.
        offsets = {(d.record.topic, d.record.partition): d.record.offset + 1 for d in decoded}
        partitions = sorted(offsets)
        # One statement for both (a round trip fewer per batch); no streams moved is an empty
        # unnest, which writes no row.
        await conn.execute(
            STORE_PROGRESS,
            self.consumer_name,
            [topic for topic, _ in streams],
            [stream for _, stream in streams],
            [versions.last[s] for s in streams],
            [topic for topic, _ in partitions],
            [partition for _, partition in partitions],
            [offsets[p] for p in partitions],
        )

    async def _apply_guarded(
        self,
        conn: asyncpg.Connection,
        item: _Decoded,
        versions: _StreamVersions,
        dead_lettered: _Origins,
    ) -> _Fate:
        """Apply and flush one event in a savepoint; if a handler fails, dead-letter it and
        hold its stream, or pass it over if an operator skipped it before (`_pass_over`)."""
        assert item.envelope is not None and item.event is not None
        try:
            with self._processing(item):
                async with conn.transaction():  # a savepoint
                    for projection in self._projections:
                        await projection.apply(conn, item.envelope, item.event)
                    await _flush(self._projections, conn)
            return _Fate.APPLIED
        except TRANSIENT:
            raise
        except Exception as error:
            _discard(self._projections)  # what the failed event buffered is rolled back too
            return await self._pass_over_and_send(
                conn, item, versions, f"apply failed: {_short(error)}", dead_lettered
            )

    async def _pass_over_and_send(
        self,
        conn: asyncpg.Connection,
        item: _Decoded,
        versions: _StreamVersions,
        reason: str,
        dead_lettered: _Origins,
    ) -> _Fate:
        if await self._pass_over(conn, item, versions, reason):
            await self._send_once(item, reason, dead_lettered)
            return _Fate.DEAD_LETTERED
        return _Fate.SKIPPED

    async def _passed_over(self, conn: asyncpg.Connection, item: _Decoded, reason: str) -> None:
        """Record, in the transaction that moves the offsets past it, that this consumer
        passed over a dead-lettered message without applying it: what `replay` may apply
        later, once (shared/sql/projection/003_dead_letters.sql). A retried batch records it
        once."""
        envelope, record = item.envelope, item.record
        await conn.execute(
            "INSERT INTO projection_dead_letters (consumer, topic, partition, message_offset,"
            " event_id, event_type, stream_id, stream_version, reason, holds_stream)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            self.consumer_name,
            record.topic,
            record.partition,
            record.offset,
            None if envelope is None else envelope.event_id,
            None if envelope is None else envelope.event_type,
            None if envelope is None else envelope.stream_id,
            None if envelope is None else envelope.stream_version,
            reason[:1000],
            self._in_order and envelope is not None,
        )

    async def _count_held(self) -> None:
        """How many events the consumer holds (HELD_NOW), when due: at the start, once a
        batch held one, and each minute (a replay or a skip, in another process, lets them
        go; another member of the group may hold some)."""
        if time.monotonic() < self._held_count_due:
            return
        async with self._pool.acquire() as conn, conn.transaction(readonly=True):
            if self._search_path:
                await conn.execute(self._search_path)
            count = await conn.fetchval(
                "SELECT count(*) FROM projection_held WHERE consumer = $1 AND released_at IS NULL",
                self.consumer_name,
            )
        HELD_NOW.labels(self.consumer_name).set(count)
        self._held_count_due = time.monotonic() + 60.0

    async def _dead_letter(
        self, record: ConsumerRecord, reason: str, correlation_id: UUID | None = None
    ) -> None:
        headers = [
            *(record.headers or ()),
            ("dlq_reason", reason.encode()[:1000]),
            ("dlq_origin_topic", record.topic.encode()),
            ("dlq_origin_partition", str(record.partition).encode()),
            ("dlq_origin_offset", str(record.offset).encode()),
            ("dlq_consumer", self.consumer_name.encode()),
            ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        if self._dead_letters is None:  # a runner made to replay only (deploy/dead_letters.py)
            raise RuntimeError(f"{self.consumer_name} has no producer to dead-letter with")
        await self._dead_letters.send_and_wait(
            self._dead_letter_topic, value=record.value, key=record.key, headers=headers
        )
        DEAD_LETTERED.labels(self.consumer_name, record.topic).inc()
        log.warning(
            "message dead-lettered",
            reason=reason,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            # The request that caused the event (shared/access_log.py), when it was read.
            correlation_id=None if correlation_id is None else str(correlation_id),
        )

    # -- replaying a dead letter ---------------------------------------------------------------

    async def replay(
        self,
        topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
        *,
        by: str,
        audit_id: UUID | None = None,
        skip: bool = False,
        current: Callable[[asyncpg.Connection], Awaitable[str | None]] | None = None,
    ) -> Replay:
        """Apply a message this consumer dead-lettered, now that its cause is mended, and then
        the events of its stream held behind it, in their order: decoded with this runner's
        registry, each applied and flushed by its projections as a batch would, in one
        transaction with the record that it was replayed (`by` whom, under which access-audit
        record). With `skip`, the message is never applied (bad data, corrected by a later
        event) and the held events alone are.

        At most once: only a message this consumer recorded as passed over (`_passed_over`)
        and not yet replayed or skipped is acted on; anything else changes nothing and says
        why, and so does a failure of the message itself. A held event that fails is
        dead-lettered in its turn, as the live runner would have (sent, and recorded as passed
        over), and the events after it stay held behind it; those before it are applied.

        The topic's offsets rows are locked first, as each batch locks its partitions', then
        the record of the dead letter: a batch that finds the stream held locks that record
        too (FOR SHARE), so a replay and the live runner's batches take turns. `current`, with
        those rows locked, says why the consumer no longer counts (a board build swapped out
        meanwhile, whose swap locked them too), or None."""
        record = kept_record(topic, partition, offset, value)
        item = self._decode(record)
        async with self._pool.acquire() as conn, conn.transaction():
            if self._search_path:
                await conn.execute(self._search_path)
            where = (self.consumer_name, topic, partition)
            # Every partition's offsets row of the topic, in the batches' order. A stream's
            # events are on one partition unless partitions were added since; a batch on
            # another then waits, and finds the stream held or not in a statement after the
            # replay commits (a dead letter it makes in its turn included); a batch with no
            # row the replay locked (a partition's first, or one whose row was not committed
            # when the replay locked them) waits on the dead letter instead, and asks again
            # once it has (STREAM_VERSIONS).
            offsets = await conn.fetch(
                "SELECT partition, next_offset FROM projection_offsets"
                " WHERE consumer = $1 AND topic = $2 ORDER BY partition FOR UPDATE",
                self.consumer_name,
                topic,
            )
            stored = next((r["next_offset"] for r in offsets if r["partition"] == partition), None)
            gone = None if current is None else await current(conn)
            if gone is not None:
                return Replay(ReplayOutcome.NOT_PASSED_OVER, gone)
            passed_over = await conn.fetchrow(
                "SELECT event_id, stream_id, holds_stream, replayed_at, replayed_by, skipped"
                " FROM projection_dead_letters"
                " WHERE consumer = $1 AND topic = $2 AND partition = $3 AND message_offset = $4"
                " FOR UPDATE",
                *where,
                offset,
            )
            refused = replay_refusal(self.consumer_name, offset, stored, passed_over, item, skip)
            if refused is not None:
                return refused
            assert passed_over is not None
            held = await self._held_behind(conn, topic, passed_over)
            unreadable = next((h for h in held if h.envelope is None), None)
            if unreadable is not None:  # no stream to hold the rest behind it: wait for a fix
                return Replay(
                    ReplayOutcome.STILL_FAILS,
                    f"an event held behind it (offset {unreadable.record.offset}) is not an "
                    f"envelope this release reads: {unreadable.failure}; nothing was applied",
                )
            if not skip:
                try:
                    async with conn.transaction():  # a savepoint: a failure leaves nothing
                        await self._apply_replayed(conn, item)
                except TRANSIENT:
                    _discard(self._projections)
                    raise
                except Exception as error:
                    _discard(self._projections)
                    return Replay(ReplayOutcome.STILL_FAILS, f"apply failed: {_short(error)}")
            applied, failed = await self._apply_held(conn, held)
            await conn.execute(
                "UPDATE projection_dead_letters"
                " SET replayed_at = now(), replayed_by = $5, replay_audit_id = $6, skipped = $7"
                " WHERE consumer = $1 AND topic = $2 AND partition = $3 AND message_offset = $4",
                *where,
                offset,
                by,
                audit_id,
                skip,
            )
            released = applied + ([failed] if failed is not None else [])
            if released:
                await conn.execute(
                    "UPDATE projection_held h SET released_at = now(), message = NULL"
                    " FROM unnest($3::int[], $4::bigint[]) AS r(partition, message_offset)"
                    " WHERE h.consumer = $1 AND h.topic = $2 AND h.partition = r.partition"
                    " AND h.message_offset = r.message_offset",
                    self.consumer_name,
                    topic,
                    [h.record.partition for h in released],
                    [h.record.offset for h in released],
                )
        APPLIED.labels(self.consumer_name, topic).inc(len(applied) + (0 if skip else 1))
        log.info(
            "dead letter skipped" if skip else "dead letter replayed",
            consumer=self.consumer_name,
            topic=topic,
            partition=partition,
            offset=offset,
            held_applied=len(applied),
            held_failed=None if failed is None else failed.record.offset,
            by=by,
            correlation_id=None if item.envelope is None else str(item.envelope.correlation_id),
        )
        return replayed(self.consumer_name, offset, item, skip, applied, failed, len(held))

    async def _apply_replayed(self, conn: asyncpg.Connection, item: _Decoded) -> None:
        assert item.envelope is not None and item.event is not None
        for projection in self._projections:
            await projection.apply(conn, item.envelope, item.event)
        await _flush(self._projections, conn)

    async def _held_behind(
        self, conn: asyncpg.Connection, topic: str, passed_over: Mapping[str, Any]
    ) -> list[_Decoded]:
        """The events of the dead letter's stream held behind it, in their order, decoded."""
        if not passed_over["holds_stream"] or passed_over["stream_id"] is None:
            return []
        rows = await conn.fetch(
            "SELECT partition, message_offset, message FROM projection_held"
            " WHERE consumer = $1 AND topic = $2 AND stream_id = $3 AND released_at IS NULL"
            " ORDER BY stream_version FOR UPDATE",
            self.consumer_name,
            topic,
            passed_over["stream_id"],
        )
        return [
            self._decode(kept_record(topic, r["partition"], r["message_offset"], r["message"]))
            for r in rows
        ]

    async def _apply_held(
        self, conn: asyncpg.Connection, held: list[_Decoded]
    ) -> tuple[list[_Decoded], _Decoded | None]:
        """A replay's held events (each with its envelope), each in a savepoint, until one
        fails: that one is dead-lettered in its turn, and the rest stay held behind it. One an
        operator skipped before (in the live build, before a rebuild) is passed over. The
        events applied or passed over, and the one that failed."""
        done: list[_Decoded] = []
        versions, sent = _StreamVersions({}), set[tuple[str, int, int]]()
        for each in held:
            if each.event is None:  # its contract changed since it was held
                reason = each.failure or "undecodable"
                fate = await self._pass_over_and_send(conn, each, versions, reason, sent)
            else:
                fate = await self._apply_guarded(conn, each, versions, sent)
            if fate is _Fate.DEAD_LETTERED:
                return done, each
            done.append(each)
        return done, None

    # -- offsets and lag ---------------------------------------------------------------------

    async def stored_offsets(
        self, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        async with self._pool.acquire() as conn, conn.transaction():
            if self._search_path:
                await conn.execute(self._search_path)
            rows = await conn.fetch(
                "SELECT topic, partition, next_offset FROM projection_offsets WHERE consumer = $1",
                self.consumer_name,
            )
        stored = {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}
        return {tp: stored[tp] for tp in partitions if tp in stored}

    def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        for topic in self._topics:
            lag = 0
            measured = False
            for tp in consumer.assignment():
                if tp.topic != topic:
                    continue
                highwater = consumer.highwater(tp)
                position = self.progress[topic].positions.get(tp.partition)
                if highwater is not None and position is not None:
                    lag += max(highwater - position, 0)
                    measured = True
                else:
                    measured = False
                    break
            self._measured[topic] = measured
            OFFSET_LAG.labels(self.consumer_name, topic).set(lag)
            last = self.progress[topic].last_recorded_at
            seconds = (datetime.now(UTC) - last).total_seconds() if last and lag else 0.0
            self._reported_time_lag[topic] = seconds

    def time_lag(self, topic: str) -> float:
        """The topic's time lag now: as the last batch left it, or the age of the oldest
        message of the batch being applied if that is more."""
        reported = self._reported_time_lag.get(topic, 0.0)
        since = self._applying_since.get(topic)
        return reported if since is None else max(reported, time.time() - since)

    def lag(self) -> dict[str, dict[str, float]]:
        return {
            topic: {
                "offset_lag": OFFSET_LAG.labels(self.consumer_name, topic)._value.get(),
                "time_lag_seconds": self.time_lag(topic),
                "measured": self._measured[topic],
            }
            for topic in self._topics
        }


class _SeekToStoredOffsets(ConsumerRebalanceListener):
    def __init__(self, runner: ProjectionRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._runner._lock:  # let the batch in flight commit first
            pass

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # Saves re-reading what was applied; correctness does not depend on it (see
        # _apply_batch), since aiokafka may fetch before this callback has run.
        consumer = self._runner._consumer
        assert consumer is not None
        async with self._runner._lock:
            stored = await self._runner.stored_offsets(assigned)
            beginnings = await consumer.beginning_offsets(list(assigned))
            self._runner._beginnings.update(beginnings)
            self._runner._rows_seen.clear()
            for tp in assigned:
                offset = self._runner._sought[tp] = stored.get(tp, beginnings.get(tp, 0))
                consumer.seek(tp, offset)
                self._runner.progress[tp.topic].positions[tp.partition] = offset
            # Counted once sought (the lock still held): a batch the runner fetched before
            # now, even one it fetched while this was being worked out, is read again.
            self._runner._assignments += 1
        log.info(
            "partitions assigned",
            consumer=self._runner.consumer_name,
            partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned),
        )


def failure_cause(error: BaseException) -> str:
    """What the runner's loop failed on, as its retries metric says it: the broker (any Kafka
    error), a conflict (a policy's append raced another writer: decided again), or the
    database (PostgreSQL's errors, a connection refused or reset)."""
    if isinstance(error, ConcurrencyConflict):
        return "conflict"
    return "broker" if isinstance(error, KafkaError) else "database"


def replay_refusal(
    consumer: str,
    offset: int,
    stored: int | None,
    passed_over: Mapping[str, Any] | None,
    item: _Decoded,
    skip: bool = False,
) -> Replay | None:
    """Why a replay (or with `skip`, a skip) must change nothing, or None when it may act:
    the consumer's record of what it passed over (`passed_over`, its `projection_dead_letters`
    row, locked) and its stored offset on the partition (`stored`) decide, not the topic."""
    if passed_over is None:
        if stored is None or stored <= offset:
            return Replay(
                ReplayOutcome.NOT_REACHED,
                f"{consumer} has not reached offset {offset} yet (its next is {stored or 0}):"
                " it applies the message, or dead-letters it again, when it gets there",
            )
        return Replay(
            ReplayOutcome.NOT_PASSED_OVER,
            f"{consumer} did not pass over this message: it applied it after all (a retry "
            "after the dead letter was sent) or dropped it as a duplicate of an event it "
            "had applied; nothing was applied again",
        )
    if passed_over["replayed_at"] is not None:
        when = passed_over["replayed_at"]
        done = "skipped by" if passed_over.get("skipped") else "replayed into"
        return Replay(
            ReplayOutcome.ALREADY_REPLAYED,
            f"already {done} {consumer} at {when:%Y-%m-%d %H:%M:%S %Z} by "
            f"{passed_over['replayed_by']}; nothing was applied again",
        )
    undecodable = item.failure is not None or item.envelope is None or item.event is None
    if undecodable and not skip:
        return Replay(ReplayOutcome.STILL_FAILS, item.failure or "undecodable")
    expected = passed_over["event_id"]
    if expected is not None and item.envelope is not None and item.envelope.event_id != expected:
        return Replay(
            ReplayOutcome.NOT_PASSED_OVER,
            f"the message is event {item.envelope.event_id}, but {consumer} passed over "
            f"event {expected} at offset {offset}; nothing was applied",
        )
    return None


def kept_record(topic: str, partition: int, offset: int, value: bytes | None) -> ConsumerRecord:
    """A message kept outside Kafka (a dead letter's, a held event's), as a record to decode."""
    return ConsumerRecord(topic, partition, offset, 0, 0, None, value, None, -1, -1, ())


def replayed(
    consumer: str,
    offset: int,
    item: _Decoded,
    skip: bool,
    applied: list[_Decoded],
    failed: _Decoded | None,
    held: int,
) -> Replay:
    """What a replay or a skip did, as the operator is told."""
    if skip:
        outcome, done = ReplayOutcome.SKIPPED, f"offset {offset} never to be applied by {consumer}"
    else:
        assert item.envelope is not None
        outcome = ReplayOutcome.REPLAYED
        done = f"{item.envelope.event_type} v{item.envelope.stream_version} applied by {consumer}"
    if held:
        done += f", then {len(applied)} of {held} held behind it"
    if failed is None:
        return Replay(outcome, done)
    envelope = failed.envelope
    what = "an event" if envelope is None else f"{envelope.event_type} v{envelope.stream_version}"
    left = held - len(applied) - 1
    return Replay(
        outcome,
        f"{done}; {what} held behind it (offset {failed.record.offset}) fails and is "
        f"dead-lettered in its turn, {left} still held behind it: list, mend, replay or skip it",
        complete=False,
    )


def _short(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 500 else text[:497] + "..."

"""The event store: append-only, one per service, on PostgreSQL through asyncpg.

The SQL and the reasons for it are in ``sql/001_event_store.sql``. An in-memory store with
the same contract (``InMemoryEventStore``) serves fast unit tests of handlers; both pass the
same contract tests in ``tests/contract/``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol, TypeVar
from uuid import UUID

import asyncpg
import pydantic_core

from shared import tracing
from shared.envelope import (
    Actor,
    DomainEvent,
    Envelope,
    WireEvent,
    new_event_id,
    new_event_ids,
)
from shared.retry import Doubling


class ConcurrencyConflict(Exception):
    """Another writer appended to the stream after the expected version (HTTP 409)."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual_version}, expected {expected_version}"
        )
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version


class IdempotencyKeyReused(Exception):
    """The idempotency key was already used for a different command (HTTP 422)."""


T = TypeVar("T")
# How often a batch is tried when the streams it appends to keep moving. Each conflict means
# another writer on one of them committed (a unique violation is raised only once the row it
# collides with is committed), so every try but the last was another's progress: ten covers a
# school sending ten days of its register at once.
BATCH_ATTEMPTS = 10


async def retried_on_conflict(
    attempt: Callable[[], Awaitable[T]], attempts: int = BATCH_ATTEMPTS
) -> T:
    """`attempt` again, from the start, while it raises ConcurrencyConflict: for a write whose
    outcome does not depend on the streams' state, or that is decided again each time. The
    last attempt's conflict propagates."""
    for _ in range(attempts - 1):
        try:
            return await attempt()
        except ConcurrencyConflict:
            continue
    return await attempt()


# The form of the digests `RequestHash.of` makes: a record stored without it was made by
# `request_hash` (the platform before it), and is compared with that digest of the content.
DIGEST_FORM = "2:"


@dataclass(frozen=True)
class RequestHash:
    """What a command's idempotency record keeps of its content, to tell a retry from a key
    reused for another command: `digest` is stored. A record stored in the earlier form (no
    `DIGEST_FORM`) is compared with `earlier()`, the same content's digest in that form, so a
    command retried across the upgrade is still its first delivery."""

    digest: str
    earlier: Callable[[], str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, content: Any, earlier: Callable[[], str] | None = None) -> RequestHash:
        """The digest of the content's JSON as pydantic-core writes it (models in their
        fields' order, dicts in their keys'): a tenth of `request_hash`'s time on a feed of
        10,000 marks, which sorts every key in Python."""
        digest = hashlib.sha256(pydantic_core.to_json(content)).hexdigest()
        return cls(DIGEST_FORM + digest, earlier)

    def matches(self, stored: str) -> bool:
        if stored == self.digest:
            return True
        return (
            self.earlier is not None
            and not stored.startswith(DIGEST_FORM)
            and stored == self.earlier()
        )

    def __str__(self) -> str:
        return self.digest


@dataclass(frozen=True)
class CommandContext:
    """What every command brings besides its own fields."""

    actor: Actor
    correlation_id: UUID
    causation_id: UUID | None = None
    idempotency_key: str | None = None
    request_hash: RequestHash | str | None = None


def stored_hash(request_hash: RequestHash | str | None) -> str:
    """The request hash as the idempotency record stores it."""
    return "" if request_hash is None else str(request_hash)


def same_request(stored: str, request_hash: RequestHash | str | None) -> bool:
    """Whether a stored idempotency record is of this command's content (no hash given: any)."""
    if request_hash is None:
        return True
    if isinstance(request_hash, RequestHash):
        return request_hash.matches(stored)
    return stored == request_hash


@dataclass(frozen=True)
class AppendResult:
    stream_id: str
    stream_version: int
    duplicate: bool  # True when the idempotency key had already recorded this command
    event_ids: tuple[UUID, ...] = ()  # of the events recorded (none for a duplicate)


@dataclass(frozen=True, order=True)
class Cursor:
    """A place in the commit order: (transaction id, position). See the SQL for why."""

    transaction_id: int = 0
    position: int = 0


class Outgoing(NamedTuple):
    """An event as the relay sends it: its place in the commit order, what its record's
    headers and key name, its record's value, and the trace context of the command that
    recorded it (None when tracing was off: shared/tracing.py).

    `value` is the envelope's JSON without its position, byte for byte what
    `Envelope.model_dump_json(exclude={"position"})` gives (`_published_value`): made from the
    row without validating it again, since the append validated it and every consumer
    validates what it reads."""

    cursor: Cursor
    event_id: UUID
    event_type: str
    schema_version: int
    stream_id: str
    correlation_id: UUID
    recorded_at: datetime
    value: bytes
    trace_context: str | None


def request_hash(body: Any) -> str:
    """A stable hash of a command's content, to detect an idempotency key reused for another:
    the form the platform stored before `RequestHash.of`, kept to compare with those records."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _on_the_wire(event: DomainEvent | WireEvent, now: datetime) -> WireEvent:
    if isinstance(event, WireEvent):
        return event
    payload = event.model_dump(mode="json")
    return WireEvent(event.event_type, event.schema_version, event.occurred_at() or now, payload)


def make_envelopes(
    stream_id: str,
    expected_version: int,
    events: Sequence[DomainEvent | WireEvent],
    ctx: CommandContext,
) -> list[Envelope]:
    now = datetime.now(UTC)
    wired = [_on_the_wire(event, now) for event in events]
    return [
        Envelope(
            event_id=new_event_id(),
            event_type=event.event_type,
            schema_version=event.schema_version,
            stream_id=stream_id,
            stream_version=expected_version + i,
            occurred_at=event.occurred_at,
            recorded_at=now,
            actor=ctx.actor,
            correlation_id=ctx.correlation_id,
            causation_id=ctx.causation_id,
            payload=event.payload,
        )
        for i, event in enumerate(wired, start=1)
    ]


class EventStore(Protocol):
    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[DomainEvent],
        ctx: CommandContext,
    ) -> AppendResult: ...

    async def append_batch(
        self,
        items: Sequence[tuple[str, Sequence[DomainEvent | WireEvent]]],
        ctx: CommandContext,
        heads: Mapping[str, int] | None = None,
    ) -> AppendResult:
        """Append to many streams at once (feeds): each after the head the caller decided at
        (`heads`: a stream not named is new), or else after its current head."""
        ...

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[Envelope]:
        """The stream's events after `after_version` (all of them by default), in order."""
        ...

    async def find_command(
        self, idempotency_key: str, request_hash: RequestHash | str | None
    ) -> AppendResult | None:
        """The earlier result of this command, if its idempotency key was seen."""
        ...

    async def read_all(self, after: Cursor, limit: int) -> list[tuple[Cursor, Envelope]]:
        """Events in commit order after the cursor, only ones no later commit can precede."""
        ...


_COLUMNS = (
    "event_id, stream_id, stream_version, event_type, schema_version, occurred_at, "
    "recorded_at, actor, correlation_id, causation_id, payload"
)
# What is written: the envelope's columns and the trace context of the command (003_*.sql),
# which is kept beside the event, never part of its envelope.
_WRITTEN = f"{_COLUMNS}, trace_context"


def _append_statement(events: str) -> str:
    """The key's claim and the events (`events`: a SELECT of their columns from $5 to $16) in
    one atomic statement: without a key ($1 NULL) the events are inserted; with one, only if
    this statement claimed it."""
    return (
        "WITH claim AS ("
        " INSERT INTO commands (idempotency_key, request_hash, stream_id, stream_version)"
        " SELECT $1, $2, $3, $4 WHERE $1::text IS NOT NULL"
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1)"
        f" INSERT INTO events ({_WRITTEN}) {events}"
        " WHERE $1::text IS NULL OR EXISTS (SELECT 1 FROM claim)"
    )


_TYPES = (
    "uuid",
    "text",
    "int",
    "text",
    "int",
    "timestamptz",
    "timestamptz",
    "jsonb",
    "uuid",
    "uuid",
    "jsonb",
    "jsonb",
)  # of _WRITTEN, in order
# Most commands record one event: scalars encode faster than one-element arrays.
_APPEND_ONE_EVENT = _append_statement(
    "SELECT " + ", ".join(f"${n}::{t}" for n, t in enumerate(_TYPES, start=5))
)
_APPEND_EVENTS = _append_statement(
    "SELECT * FROM unnest(" + ", ".join(f"${n}::{t}[]" for n, t in enumerate(_TYPES, start=5)) + ")"
)


@functools.lru_cache(maxsize=1024)
def _actor_json(actor: Actor) -> str:
    """One user records many events (a register feed: thousands in one call)."""
    return actor.model_dump_json()


def _row(e: Envelope, trace_context: str | None) -> tuple[Any, ...]:
    return (
        e.event_id,
        e.stream_id,
        e.stream_version,
        e.event_type,
        e.schema_version,
        e.occurred_at,
        e.recorded_at,
        _actor_json(e.actor),
        e.correlation_id,
        e.causation_id,
        pydantic_core.to_json(e.payload).decode(),
        trace_context,
    )


def _batch_rows(
    ordered: Sequence[tuple[str, Sequence[DomainEvent | WireEvent]]],
    at: Mapping[str, int],
    ctx: CommandContext,
    trace_context: str | None,
) -> list[tuple[Any, ...]]:
    """A batch's rows (as `_row` writes an envelope), made without an envelope per event: a
    register feed is thousands, and the envelope's model added nothing its makers had not
    checked (ids, versions and times made here; the events' own types and payloads). So a
    batch's stream ids must be valid ones (the register feed's are child ids, held to their
    pattern), and a WireEvent's time aware (`at_start_of`), as the envelope would require."""
    now = datetime.now(UTC)
    actor = _actor_json(ctx.actor)
    ids = iter(new_event_ids(sum(len(events) for _, events in ordered)))
    rows: list[tuple[Any, ...]] = []
    for stream_id, events in ordered:
        head = at.get(stream_id, 0)
        for i, event in enumerate(events, start=1):
            wired = _on_the_wire(event, now)
            rows.append(
                (
                    next(ids),
                    stream_id,
                    head + i,
                    wired.event_type,
                    wired.schema_version,
                    wired.occurred_at,
                    now,
                    actor,
                    ctx.correlation_id,
                    ctx.causation_id,
                    pydantic_core.to_json(wired.payload).decode(),
                    trace_context,
                )
            )
    return rows


# The envelope's fields in its own order, as published (its position is the store's own);
# the actor's likewise: `actor` is stored as jsonb, which keeps its keys in an order of its own.
_PUBLISHED = tuple(name for name in Envelope.model_fields if name != "position")
_ACTOR = tuple(Actor.model_fields)
_loads = json.loads


def _published_value(row: Mapping[str, Any]) -> bytes:
    """A stored event's record value, as `_envelope(row).model_dump_json(exclude={"position"})`
    gives it, at a fraction of the cost: pydantic-core's serializer over the row's values,
    with no model in between (the relay sends tens of thousands a second; docs/performance.md,
    "Relay"). tests/unit/test_published_value.py holds the two to the same bytes."""
    fields = {name: row[name] for name in _PUBLISHED}
    fields["actor"] = _published_actor(fields["actor"])
    fields["payload"] = _loads(fields["payload"])
    return pydantic_core.to_json(fields)


@functools.lru_cache(maxsize=1024)
def _published_actor(stored: str) -> dict[str, Any]:
    """One user records many events (as `_actor_json`); only ever serialized, never changed."""
    actor = _loads(stored)
    return {name: actor[name] for name in _ACTOR}


def _outgoing(row: asyncpg.Record) -> Outgoing:
    return Outgoing(
        Cursor(row["txid"], row["position"]),
        row["event_id"],
        row["event_type"],
        row["schema_version"],
        row["stream_id"],
        row["correlation_id"],
        row["recorded_at"],
        _published_value(row),
        row["trace_context"],
    )


def _envelope(row: asyncpg.Record) -> Envelope:
    return Envelope(
        event_id=row["event_id"],
        event_type=row["event_type"],
        schema_version=row["schema_version"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        actor=Actor.model_validate_json(row["actor"]),
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        payload=json.loads(row["payload"]),
        position=row["position"],
    )


async def _conflict(
    conn: asyncpg.Connection,
    error: asyncpg.UniqueViolationError,
    stream_id: str,
    expected_version: int,
) -> ConcurrencyConflict:
    """Another writer took the version (the primary key): a typed conflict naming the stream's
    version now. Any other unique violation is not a conflict, and is raised as it is."""
    if error.constraint_name != "events_pkey":
        raise error
    actual = await conn.fetchval(
        "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1", stream_id
    )
    return ConcurrencyConflict(stream_id, expected_version, actual)


# Each stream's head by its primary key (one index probe a stream, however long it is).
_HEADS = (
    "SELECT s, (SELECT max(stream_version) FROM events WHERE stream_id = s)"
    " FROM unnest($1::text[]) AS s"
)


async def _heads(conn: asyncpg.Connection, stream_ids: Sequence[str]) -> dict[str, int]:
    return {s: v or 0 for s, v in await conn.fetch(_HEADS, stream_ids)}


async def _batch_conflict(
    conn: asyncpg.Connection, error: asyncpg.UniqueViolationError, heads: Mapping[str, int]
) -> ConcurrencyConflict:
    """Another writer took a version a batch meant to (the primary key): a typed conflict
    naming a stream that moved past its head. Any other unique violation is raised as it is."""
    if error.constraint_name != "events_pkey":
        raise error
    now = await _heads(conn, list(heads))
    moved = next((s for s in heads if now[s] != heads[s]), next(iter(heads)))
    return ConcurrencyConflict(moved, heads[moved], now[moved])


WAKE_THE_RELAY = "SELECT pg_notify('events_appended', '')"
# An append bound to its caller's transaction also makes that transaction's commit durable
# before it is seen. A worker's policy appends in its runner's batch, which commits
# asynchronously (shared/projection.py): such a commit is visible, and so relayed, before its
# WAL is flushed, and a crash of the database then would take back an event Kafka and every
# consumer already hold; the stream's next event would take its version, and be dropped by
# every consumer as a duplicate. SET LOCAL in the append's savepoint lasts to the commit.
DURABLE_AND_WAKE = f"SET LOCAL synchronous_commit TO on; {WAKE_THE_RELAY}"
# How soon a reader below the snapshot horizon (the relay, the partners' HTTP feed) reads again
# when what it was woken for is committed but held back by an older transaction
# (`PostgresEventStore.held_back`): doubled while it stays held back, up to HELD_BACK_LONGEST_S.
# Not up to the poll interval: the older transaction may be long (for the partners' feed,
# anything of the cluster's: a rebuild's batch of seconds), and a read after it ends waited up
# to twice as long as it ran (a hold of 0.31 s published at 0.63 s). A read again is cheap:
# ten a second while a long transaction runs cost next to nothing.
HELD_BACK_FIRST_S = 0.01
HELD_BACK_LONGEST_S = 0.1


def held_back_waits(poll_interval_s: float) -> Doubling:
    """A held-back reader's waits before it reads again: from HELD_BACK_FIRST_S, doubling up to
    HELD_BACK_LONGEST_S (or its poll interval, if shorter); reset once a read moves on."""
    return Doubling(HELD_BACK_FIRST_S, min(HELD_BACK_LONGEST_S, poll_interval_s))


class _Wakeup:
    """Wakes the relay after appends on a pool have committed: one NOTIFY in flight at a time
    per pool, and one more if appends committed while it was being sent. Sent outside the
    appends' transactions, so they do not queue behind the lock NOTIFY takes at commit."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def poke(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while True:
            self._again = False
            try:
                await self._pool.execute(WAKE_THE_RELAY)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                return  # the relay polls as well: a lost wake-up only delays
            if not self._again:
                return


# Whether an event is after the cursor ($1, $2): the first one in the commit order's index,
# not `EXISTS`. While the table's statistics are missing or behind (a new database, a county
# loading), the planner expected an EXISTS to meet a row at once and read the whole table for
# the none there usually is (0.8 ms a call at 5,600 events, growing with them).
HELD_BACK = (
    "SELECT (SELECT 1 FROM events WHERE (transaction_id, position) > ($1::text::xid8, $2)"
    " ORDER BY transaction_id, position LIMIT 1) IS NOT NULL"
)


class PostgresEventStore:
    """On a pool, or on one connection: a subscription that records events in reaction to
    others binds the store to its own transaction, so the new events and the consumed
    offsets commit together (exactly-once in effect). A store on a pool wakes the relay after
    its commits: keep one per pool."""

    def __init__(self, db: asyncpg.Pool | asyncpg.Connection) -> None:
        self._db = db
        self._wakeup = _Wakeup(db) if isinstance(db, asyncpg.Pool) else None

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if isinstance(self._db, asyncpg.Pool):
            async with self._db.acquire() as conn:
                yield conn
        else:
            yield self._db

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[DomainEvent],
        ctx: CommandContext,
    ) -> AppendResult:
        if not tracing.enabled():
            return await self._append(stream_id, expected_version, events, ctx, None)
        with tracing.appending([e.event_type for e in events]):
            trace_context = tracing.stored_context()
            return await self._append(stream_id, expected_version, events, ctx, trace_context)

    async def _append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[DomainEvent],
        ctx: CommandContext,
        trace_context: str | None,
    ) -> AppendResult:
        envelopes = make_envelopes(stream_id, expected_version, events, ctx)
        new_version = expected_version + len(envelopes)
        rows = [_row(e, trace_context) for e in envelopes]
        if isinstance(self._db, asyncpg.Pool):
            return await self._append_in_one_statement(
                stream_id, expected_version, new_version, envelopes, rows, ctx
            )
        async with self._connection() as conn:
            try:
                async with conn.transaction():  # a savepoint when bound to a transaction
                    earlier = await self._claim(conn, ctx, stream_id, new_version)
                    if earlier is not None:  # a concurrent duplicate committed first
                        return earlier
                    await conn.executemany(
                        f"INSERT INTO events ({_WRITTEN}) VALUES"
                        " ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11::jsonb, $12::jsonb)",
                        rows,
                    )
                    await conn.execute(DURABLE_AND_WAKE)  # the wake when the caller commits
            except asyncpg.UniqueViolationError as error:
                raise await _conflict(conn, error, stream_id, expected_version) from None
        return AppendResult(
            stream_id, new_version, duplicate=False, event_ids=tuple(e.event_id for e in envelopes)
        )

    async def _append_in_one_statement(
        self,
        stream_id: str,
        expected_version: int,
        new_version: int,
        envelopes: Sequence[Envelope],
        rows: Sequence[tuple[Any, ...]],
        ctx: CommandContext,
    ) -> AppendResult:
        """Claim the idempotency key and insert the events in one statement, so one round
        trip and no explicit transaction (a statement is atomic by itself): appends are
        bound by the round trips Python drives, not by PostgreSQL. If the key was claimed
        before, nothing is inserted and the earlier result is returned."""
        assert isinstance(self._db, asyncpg.Pool)
        async with self._db.acquire() as conn:
            columns = rows[0] if len(rows) == 1 else [list(c) for c in zip(*rows, strict=True)]
            try:
                status = await conn.execute(
                    _APPEND_ONE_EVENT if len(rows) == 1 else _APPEND_EVENTS,
                    ctx.idempotency_key,
                    stored_hash(ctx.request_hash),
                    stream_id,
                    new_version,
                    *columns,
                )
            except asyncpg.UniqueViolationError as error:
                raise await _conflict(conn, error, stream_id, expected_version) from None
            if status == "INSERT 0 0":  # the key was claimed already: that command's result
                earlier = await self._find_command(
                    conn, ctx.idempotency_key or "", ctx.request_hash
                )
                assert earlier is not None
                return earlier
        assert self._wakeup is not None
        self._wakeup.poke()
        return AppendResult(
            stream_id, new_version, duplicate=False, event_ids=tuple(e.event_id for e in envelopes)
        )

    async def append_batch(
        self,
        items: Sequence[tuple[str, Sequence[DomainEvent | WireEvent]]],
        ctx: CommandContext,
        heads: Mapping[str, int] | None = None,
    ) -> AppendResult:
        """Append to many streams in one transaction, with COPY.

        For feeds (a register's attendance marks). Given `heads`, the versions the caller
        decided at (what it checked was read at them): if another writer has appended to one
        of the streams since, a ConcurrencyConflict naming it and nothing recorded; decide
        again. Without, each stream's current head, for facts that do not depend on a
        stream's state: a concurrent writer on one of the streams makes the batch try again
        here with fresh heads (`retried_on_conflict`), so concurrent batches are all recorded.
        Each try claims the idempotency key in its own transaction: a conflict undoes the
        claim with the events, and a retry that finds the key claimed by a duplicate that
        committed first returns that command's result (nothing recorded twice).
        The result names the batch: stream "batch:<key>", version = events recorded.
        """
        if not tracing.enabled():
            return await self._append_batch_tried(items, ctx, heads, None)
        with tracing.appending([e.event_type for _, events in items for e in events]):
            trace_context = tracing.stored_context()
            return await self._append_batch_tried(items, ctx, heads, trace_context)

    async def _append_batch_tried(
        self,
        items: Sequence[tuple[str, Sequence[DomainEvent | WireEvent]]],
        ctx: CommandContext,
        heads: Mapping[str, int] | None,
        trace_context: str | None,
    ) -> AppendResult:
        if heads is not None:
            return await self._append_batch(items, ctx, heads, trace_context)
        return await retried_on_conflict(
            lambda: self._append_batch(items, ctx, None, trace_context)
        )

    async def _append_batch(
        self,
        items: Sequence[tuple[str, Sequence[DomainEvent | WireEvent]]],
        ctx: CommandContext,
        heads: Mapping[str, int] | None,
        trace_context: str | None,
    ) -> AppendResult:
        # In stream order: two batches over the same streams take their rows' locks in the same
        # order, so one waits for the other instead of both deadlocking.
        ordered = sorted(items, key=lambda item: item[0])
        stream_ids = [stream_id for stream_id, _ in ordered]
        async with self._connection() as conn:
            at: Mapping[str, int] = {}
            try:
                async with conn.transaction():  # a savepoint when bound to a transaction
                    earlier = await self._claim(
                        conn, ctx, f"batch:{ctx.idempotency_key}", sum(len(e) for _, e in items)
                    )
                    if earlier is not None:
                        return earlier
                    at = heads if heads is not None else await _heads(conn, stream_ids)
                    rows = _batch_rows(ordered, at, ctx, trace_context)
                    await conn.copy_records_to_table(
                        "events", columns=_WRITTEN.split(", "), records=rows
                    )
                    if self._wakeup is None:
                        await conn.execute(DURABLE_AND_WAKE)  # the wake when the caller commits
            except asyncpg.UniqueViolationError as error:
                expected = {s: at.get(s, 0) for s in stream_ids}
                raise await _batch_conflict(conn, error, expected) from None
        if self._wakeup is not None:
            self._wakeup.poke()
        ids = tuple(row[0] for row in rows)
        return AppendResult(f"batch:{ctx.idempotency_key}", len(ids), False, ids)

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[Envelope]:
        rows = await self._db.fetch(
            f"SELECT position, {_COLUMNS} FROM events"
            " WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version",
            stream_id,
            after_version,
        )
        return [_envelope(r) for r in rows]

    async def find_command(
        self, idempotency_key: str, request_hash: RequestHash | str | None
    ) -> AppendResult | None:
        async with self._connection() as conn:
            return await self._find_command(conn, idempotency_key, request_hash)

    async def _claim(
        self, conn: asyncpg.Connection, ctx: CommandContext, stream_id: str, version: int
    ) -> AppendResult | None:
        """Record the command's idempotency key in this transaction; if it was already
        recorded (a retry, or a concurrent duplicate that committed first), return that
        command's result instead."""
        if ctx.idempotency_key is None:
            return None
        claimed = await conn.fetchval(
            "INSERT INTO commands (idempotency_key, request_hash, stream_id, stream_version)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1",
            ctx.idempotency_key,
            stored_hash(ctx.request_hash),
            stream_id,
            version,
        )
        if claimed is not None:
            return None
        earlier = await self._find_command(conn, ctx.idempotency_key, ctx.request_hash)
        assert earlier is not None
        return earlier

    @staticmethod
    async def _find_command(
        conn: asyncpg.Connection, idempotency_key: str, request_hash: RequestHash | str | None
    ) -> AppendResult | None:
        row = await conn.fetchrow(
            "SELECT request_hash, stream_id, stream_version FROM commands"
            " WHERE idempotency_key = $1",
            idempotency_key,
        )
        if row is None:
            return None
        if not same_request(row["request_hash"], request_hash):
            raise IdempotencyKeyReused(
                f"idempotency key {idempotency_key!r} was already used for a different command"
            )
        # Answering a repeat says the first was recorded. That first commit may have been
        # left waiting for the synchronous WAL archive (deploy/backup.py) and cancelled by the
        # statement timeout: visible here, not yet archived. Taking a transaction id makes
        # this transaction's commit wait for the archive too, and the archive receives WAL in
        # order, so the answer comes only once the first command is archived.
        await conn.fetchval("SELECT pg_current_xact_id()")
        return AppendResult(row["stream_id"], row["stream_version"], duplicate=True)

    async def read_all(self, after: Cursor, limit: int) -> list[tuple[Cursor, Envelope]]:
        rows = await self._committed_after(after, limit)
        return [(Cursor(r["txid"], r["position"]), _envelope(r)) for r in rows]

    async def read_committed(self, after: Cursor, limit: int) -> list[Outgoing]:
        """As `read_all`, each event as the relay sends it (`Outgoing`)."""
        return [_outgoing(r) for r in await self._committed_after(after, limit)]

    async def _committed_after(self, after: Cursor, limit: int) -> list[asyncpg.Record]:
        return await self._db.fetch(
            f"SELECT transaction_id::text::bigint AS txid, position, {_WRITTEN}"
            " FROM events_committed_after($1::text::xid8, $2, $3)",
            str(after.transaction_id),
            after.position,
            limit,
        )

    async def held_back(self, after: Cursor) -> bool:
        """Whether an event after `after` is committed but not yet read by `read_committed`:
        an older transaction of this database is still running (an append on another stream,
        a subscription's batch; `events_horizon`, 004_*.sql). The relay then reads again in a
        moment rather than at its next poll: the NOTIFY that woke it has been spent on the
        read that could not yet see the event."""
        return bool(await self._db.fetchval(HELD_BACK, str(after.transaction_id), after.position))

    async def head(self) -> Cursor:
        """The newest committed place in the commit order (for lag)."""
        row = await self._db.fetchrow(
            "SELECT transaction_id::text::bigint AS txid, position FROM events"
            " ORDER BY transaction_id DESC, position DESC LIMIT 1"
        )
        return Cursor(row["txid"], row["position"]) if row else Cursor()


class InMemoryEventStore:
    """The same contract without I/O, for unit tests of handlers (commit order = append order)."""

    def __init__(self) -> None:
        self._streams: dict[str, list[Envelope]] = {}
        self._log: list[Envelope] = []
        self._commands: dict[str, tuple[str, AppendResult]] = {}
        self._lock = asyncio.Lock()

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[DomainEvent],
        ctx: CommandContext,
    ) -> AppendResult:
        async with self._lock:
            if ctx.idempotency_key is not None:
                earlier = await self.find_command(ctx.idempotency_key, ctx.request_hash)
                if earlier is not None:
                    return earlier
            self._at_head(stream_id, expected_version)
            stream = self._streams.setdefault(stream_id, [])
            envelopes = make_envelopes(stream_id, expected_version, events, ctx)
            for e in envelopes:
                positioned = e.model_copy(update={"position": len(self._log) + 1})
                stream.append(positioned)
                self._log.append(positioned)
            ids = tuple(e.event_id for e in envelopes)
            result = AppendResult(stream_id, len(stream), False, ids)
            if ctx.idempotency_key is not None:
                self._commands[ctx.idempotency_key] = (
                    stored_hash(ctx.request_hash),
                    AppendResult(stream_id, len(stream), duplicate=True),
                )
            return result

    async def append_batch(
        self,
        items: Sequence[tuple[str, Sequence[DomainEvent | WireEvent]]],
        ctx: CommandContext,
        heads: Mapping[str, int] | None = None,
    ) -> AppendResult:
        async with self._lock:  # appends one at a time: without `heads`, nothing to retry
            if ctx.idempotency_key is not None:
                earlier = await self.find_command(ctx.idempotency_key, ctx.request_hash)
                if earlier is not None:
                    return earlier
            if heads is not None:
                for stream_id, _ in items:
                    self._at_head(stream_id, heads.get(stream_id, 0))
            recorded: list[Envelope] = []
            for stream_id, events in items:
                stream = self._streams.setdefault(stream_id, [])
                for e in make_envelopes(stream_id, len(stream), events, ctx):
                    positioned = e.model_copy(update={"position": len(self._log) + 1})
                    stream.append(positioned)
                    self._log.append(positioned)
                    recorded.append(e)
            name = f"batch:{ctx.idempotency_key}"
            if ctx.idempotency_key is not None:
                self._commands[ctx.idempotency_key] = (
                    stored_hash(ctx.request_hash),
                    AppendResult(name, len(recorded), duplicate=True),
                )
            return AppendResult(name, len(recorded), False, tuple(e.event_id for e in recorded))

    def _at_head(self, stream_id: str, expected_version: int) -> None:
        actual = len(self._streams.get(stream_id, []))
        if actual != expected_version:
            raise ConcurrencyConflict(stream_id, expected_version, actual)

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[Envelope]:
        return list(self._streams.get(stream_id, [])[after_version:])

    async def find_command(
        self, idempotency_key: str, request_hash: RequestHash | str | None
    ) -> AppendResult | None:
        found = self._commands.get(idempotency_key)
        if found is None:
            return None
        if not same_request(found[0], request_hash):
            raise IdempotencyKeyReused(
                f"idempotency key {idempotency_key!r} was already used for a different command"
            )
        return found[1]

    async def read_all(self, after: Cursor, limit: int) -> list[tuple[Cursor, Envelope]]:
        out = []
        for e in self._log[after.position :]:
            assert e.position is not None
            out.append((Cursor(0, e.position), e))
            if len(out) == limit:
                break
        return out

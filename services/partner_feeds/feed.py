"""The partner feed: every domain event an agency is entitled to, minimised (sharing.py), sent
to that agency's topic, and recorded in the share audit.

A projection in the worker's runner: it buffers the batch's messages; at the batch's end it
writes their audit rows and each record for the HTTP feed (feed_store.py), in the runner's
transaction, which also stores the consumed offsets, then sends them and waits until Kafka
has acknowledged every one (acks=all) before that transaction commits. No share is sent
that its audit does not hold: a row the database refuses fails the batch before any send,
and a send that fails rolls the rows back. A crash after the sends and before the commit
sends them again on restart, with the same message ids (partners drop a message id they
have seen); the audit holds each share once.

Each share's send is a span in the trace of the command that recorded the event (the child
of the runner's span for the event: shared/tracing.py), ended when Kafka has acknowledged it.
The record itself carries no trace context: one command's events reach several agencies, and
a trace id they all received would let any two join their pseudonyms (as the same
correlation id would: each agency gets its own, `PartnerMessage.correlation_id`).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaProducer

from contracts.topics import domain_events, domain_topic_names
from services.partner_feeds import feed_store
from services.partner_feeds.sharing import PURPOSE, PartnerMessage, partner_topic, shares_of
from shared import tracing
from shared.envelope import DomainEvent, Envelope
from shared.kafka import new_producer
from shared.settings import Settings
from shared.worker import Subscription


class PartnerFeed:
    name = "partner-feed"

    def __init__(self, settings: Settings) -> None:
        key = settings.partner_pseudonym_key
        if key is None or not key.get_secret_value():
            raise SystemExit(
                "CSP_PARTNER_PSEUDONYM_KEY is not set: the partner feed needs the "
                "council's key for partner pseudonyms (make run generates one)."
            )
        self._key = key.get_secret_value().encode()
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        # Each share, with the trace context of the event it was derived from (None: off).
        self._pending: list[tuple[PartnerMessage, tracing.Context | None]] = []

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        shares = shares_of(envelope, event, self._key)
        if shares:
            traced = tracing.current_context()
            self._pending += [(m, traced) for m in shares]

    async def flush(self, conn: asyncpg.Connection) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        producer = await self._started_producer()
        sent_at = datetime.now(UTC)
        records = [_record(m, sent_at) for m, _ in pending]
        # Recorded first, in the runner's transaction: a row the database refuses fails the
        # batch before anything is sent, and a send that fails rolls the rows back.
        await conn.executemany(
            "INSERT INTO shares (message_id, agency, topic, subject, child_id, event_type,"
            " source_event_id, fields, purpose) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (message_id) DO NOTHING",
            [
                (
                    m.message_id,
                    m.agency.value,
                    self._settings.topic(partner_topic(m.agency)),
                    m.subject,
                    m.child_id,
                    m.event_type,
                    m.source_event_id,
                    sorted(m.facts),
                    PURPOSE,
                )
                for m, _ in pending
            ],
        )
        await feed_store.keep(conn, records)  # the HTTP feed: what the topics are sent
        spans = tracing.BatchSpans()  # each share's send, ended when Kafka acknowledged it
        try:
            deliveries = []
            for (m, traced), record in zip(pending, records, strict=True):
                topic = self._settings.topic(partner_topic(m.agency))
                if traced is not None:  # the span's headers are not sent (the docstring)
                    spans.sending(topic, traced, _send_attributes(m))
                deliveries.append(
                    await producer.send(
                        topic,
                        value=record.value.encode(),
                        key=record.key.encode(),
                        headers=list(record.headers),
                    )
                )
            await asyncio.gather(*deliveries)  # every share acknowledged before the commit
        except BaseException as error:
            spans.end(error)
            raise
        spans.end()

    def discard(self) -> None:
        self._pending.clear()

    async def _started_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = new_producer(self._settings)
            try:
                await producer.start()
            except BaseException:
                # Its client and connections let go of: a broker down is tried again with
                # each batch, and each try would leave one behind.
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


def _record(m: PartnerMessage, sent_at: datetime) -> feed_store.Record:
    """The record a message is sent as: the same bytes go to the topic and the HTTP feed."""
    return feed_store.Record(
        m.message_id, m.agency, m.subject, json.dumps(m.body()), m.headers(sent_at)
    )


def _send_attributes(m: PartnerMessage) -> dict[str, str]:
    """What a share's span says: the message and the agency, never the subject or the child."""
    return {
        "messaging.message.id": str(m.message_id),
        "csp.event_type": m.event_type,
        "csp.agency": m.agency.value,
        "csp.source_event_id": str(m.source_event_id),
    }


def subscriptions(settings: Settings) -> list[Subscription]:
    return [Subscription("shares", domain_topic_names(), domain_events(), [PartnerFeed(settings)])]


def feed_topics() -> list[str]:
    from services.partner_feeds.sharing import PARTNERS

    return [partner_topic(a) for a in PARTNERS]

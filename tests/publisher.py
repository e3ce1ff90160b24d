"""Publishing domain events to the real topics exactly as the relays do (same envelope, key
and headers), for tests of consumers that should not depend on the command services."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from aiokafka import AIOKafkaProducer

from contracts.case_events.events import ChildRegistered
from contracts.topics import named
from shared.envelope import Actor, Agency, DomainEvent, Envelope, new_event_id
from shared.eventstore import CommandContext, make_envelopes
from shared.kafka import DEAD_LETTER_TOPIC, ensure_topics, new_producer
from shared.relay import event_headers
from shared.settings import Settings

CTX = CommandContext(
    actor=Actor(user_id="cm-integration", agency=Agency.COUNCIL, role="integration"),
    correlation_id=new_event_id(),
)


def registration(i: int) -> tuple[Envelope, bytes]:
    """Child C-{i:05d}'s registration, its stream's first event, and its message's value as a
    relay publishes it."""
    child = f"C-{i:05d}"
    registered = ChildRegistered(
        child_id=child, date_of_birth=date(2012, 1, 1) + timedelta(i), locality="Exeter"
    )
    [envelope] = make_envelopes(child, 0, [registered], CTX)
    return envelope, envelope.model_dump_json(exclude={"position"}).encode()


async def publish_registrations(
    producer: AIOKafkaProducer, topic: str, first: int, count: int, partition: int | None = None
) -> None:
    """Children C-{first}..'s registrations (`registration`), sent as the relay sends them and
    flushed."""
    for i in range(first, first + count):
        envelope, value = registration(i)
        await producer.send(
            topic,
            value,
            key=envelope.stream_id.encode(),
            partition=partition,
            headers=event_headers(str(envelope.event_id), envelope.event_type, 1),
        )
    await producer.flush()


class Log:
    """Events by topic and stream, in the order given; versions numbered per stream. Publishing
    again sends only the events added since, their versions following on."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, DomainEvent]] = []
        self._versions: dict[tuple[str, str], int] = defaultdict(int)
        self._published = 0

    def add(self, topic: str, stream_id: str, *events: DomainEvent) -> Log:
        self.events += [(topic, stream_id, e) for e in events]
        return self

    async def publish(self, settings: Settings, repeat_every: int = 0) -> int:
        """Publish what is not published yet (each `repeat_every`-th message twice, as after a
        relay crash); return the number of messages sent."""
        topics = sorted({t for t, _, _ in self.events})
        await ensure_topics(settings, named(*topics, DEAD_LETTER_TOPIC))
        versions = self._versions
        producer = new_producer(settings)
        await producer.start()
        sent = 0
        try:
            for n, (topic, stream_id, event) in enumerate(
                self.events[self._published :], start=self._published + 1
            ):
                [envelope] = make_envelopes(stream_id, versions[(topic, stream_id)], [event], CTX)
                versions[(topic, stream_id)] += 1
                for _ in range(2 if repeat_every and n % repeat_every == 0 else 1):
                    await producer.send(
                        settings.topic(topic),
                        envelope.model_dump_json(exclude={"position"}).encode(),
                        key=stream_id.encode(),
                        headers=event_headers(
                            str(envelope.event_id), envelope.event_type, envelope.schema_version
                        ),
                    )
                    sent += 1
                self._published = n
            await producer.flush()
        finally:
            await producer.stop()
        return sent

"""A partner agency's consumer of its own topic, with FastStream.

    python -m partner_kit          # settings from the environment (README.md)

It reads `partner-<agency>` as the agency's own Kafka user (SASL/SCRAM-SHA-512 over TLS,
verifying the broker against the council's CA) in a consumer group of the agency's own
(its name must start `partner-<agency>`: the broker refuses any other). Each message is
read into the model generated from the released contract (models/<agency>.py), processed
once by its message id (store.py), and only then is its offset committed: at least once,
so a crash re-delivers what was not yet committed, and the store drops what it has seen.
A restart resumes from the group's committed offsets: no gap, nothing processed twice.

Imports nothing of the council's platform: copy this folder and run it.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import ssl
from pathlib import Path
from types import ModuleType
from typing import Literal

from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from faststream.security import SASLScram512
from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .messages import read
from .store import Delivery, Store

log = logging.getLogger("partner_kit")


class Settings(BaseSettings):
    """What the council gives the agency (docs/partners.md), from PARTNER_* variables."""

    model_config = SettingsConfigDict(env_prefix="PARTNER_")

    agency: Literal["police", "health", "schools", "housing", "careers", "probation"]
    bootstrap_servers: str  # the council's partner listener, host:port[,host:port]
    username: str  # partner-<agency>
    password: SecretStr
    ca_file: Path  # the council's CA certificate (PEM): the broker's is checked against it
    topic: str = ""  # partner-<agency> unless the council says otherwise
    group: str = ""  # the consumer group: its name must start partner-<agency>
    store: Path = Path("partner-store.sqlite3")

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        self.topic = self.topic or f"partner-{self.agency}"
        self.group = self.group or f"partner-{self.agency}.consumer"
        return self


def models_of(agency: str) -> ModuleType:
    """models/<agency>.py, generated from the released contract (generate.py)."""
    return importlib.import_module(f"{__package__}.models.{agency}")


def broker_for(settings: Settings) -> KafkaBroker:
    tls = ssl.create_default_context(cafile=str(settings.ca_file))  # verifies the host name too
    return KafkaBroker(
        settings.bootstrap_servers,
        security=SASLScram512(
            settings.username, settings.password.get_secret_value(), ssl_context=tls
        ),
        consumer_only=True,  # the agency may read its topic, nothing else: no producer
        allow_auto_create_topics=False,  # the council creates the topics
        client_id=settings.group,
    )


def app_for(settings: Settings, store: Store) -> FastStream:
    """The FastStream application: one subscriber, on the agency's topic."""
    broker = broker_for(settings)
    models = models_of(settings.agency)

    @broker.subscriber(
        settings.topic,
        group_id=settings.group,
        auto_offset_reset="earliest",  # a new group starts at the oldest message kept
        # Commit each message's offset after it is processed; on an error (the store is
        # down, say) rewind to it and try again rather than move past it.
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_message(message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple)  # one record at a time: not a batch subscriber
        where = Delivery(record.topic, record.partition, record.offset)
        headers = {k: v.decode(errors="replace") for k, v in record.headers}
        got = read(models, record.value, headers)
        if got.model is None:
            # Kept for a person, and passed: a message that can never be read must not stop
            # every message behind it.
            log.warning("not understood at %s: %s", where, got.reason)
            store.not_understood(where, record.value, headers, got.reason)
            return
        m = got.model.model_dump(mode="json")
        new = store.process(
            m["message_id"], m["subject"], got.event_type, got.version, m["facts"], where
        )
        log.info(
            "%s %s v%d: %s",
            m["message_id"],
            got.event_type,
            got.version,
            "processed" if new else "seen before, dropped (a replay)",
        )

    return FastStream(broker)


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # group joins are routine
    settings = Settings()  # every field without a default from the environment
    store = Store(settings.store)
    try:
        await app_for(settings, store).run()  # until SIGINT or SIGTERM
    except (TopicAuthorizationFailedError, GroupAuthorizationFailedError) as refused:
        raise SystemExit(
            f"refused by the broker ({refused}): {settings.username} may read only its own"
            " topic, in consumer groups whose names start with it (docs/partners.md)"
        ) from None
    finally:
        store.close()


if __name__ == "__main__":
    asyncio.run(main())

"""What the agency keeps of its feed, and how each message is processed once.

Kafka delivers at least once: a message can arrive again after a crash before its offset
was committed, after the agency rewinds its consumer group, or when the council re-sends
(the same `message_id` every time: docs/partners.md, "Replays"). So the message id is
recorded in the same transaction as the message's effect, and a message whose id is already
there is dropped: processing twice changes nothing.

The effect here is a row in `messages`; a real consumer does its own work in that
transaction (sets a flag on a case, opens a task) or, if its work is in another system, makes
that work idempotent by the same id. SQLite, from Python's standard library: a file of the
agency's own, nothing to install.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    message_id  TEXT PRIMARY KEY,   -- the council's id of this message: seen once
    subject     TEXT NOT NULL,      -- the agency's pseudonym of the child (the record's key)
    event_type  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    facts       TEXT NOT NULL,      -- JSON, as received
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    "offset"    INTEGER NOT NULL,
    received_at TEXT NOT NULL
);
-- Every delivery of a message already processed: what a replay looks like from here.
CREATE TABLE IF NOT EXISTS replays (
    message_id  TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    "offset"    INTEGER NOT NULL,
    received_at TEXT NOT NULL
);
-- A record this consumer could not read (not JSON, or a message type or version the models
-- do not have yet): kept whole for a person to look at, never silently passed over.
CREATE TABLE IF NOT EXISTS not_understood (
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    "offset"    INTEGER NOT NULL,
    value       BLOB,
    headers     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (topic, partition, "offset")
);
"""


@dataclass(frozen=True)
class Delivery:
    """Where a record was read from: the topic, partition and offset."""

    topic: str
    partition: int
    offset: int


class Store:
    def __init__(self, path: Path | str) -> None:
        # autocommit off: each `with self._db:` block below is one transaction.
        self._db = sqlite3.connect(path, isolation_level="IMMEDIATE")
        self._db.executescript(SCHEMA)

    def process(
        self,
        message_id: str,
        subject: str,
        event_type: str,
        version: int,
        facts: dict[str, Any],
        where: Delivery,
    ) -> bool:
        """Apply the message once: True if it was new, False if its id was already here
        (a replay: dropped, and noted in `replays`)."""
        now = datetime.now(UTC).isoformat()
        with self._db:  # one transaction: the id and the effect, or neither
            new = self._db.execute(
                "INSERT INTO messages (message_id, subject, event_type, version, facts, topic,"
                ' partition, "offset", received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'
                " ON CONFLICT (message_id) DO NOTHING",
                (
                    message_id,
                    subject,
                    event_type,
                    version,
                    json.dumps(facts, sort_keys=True),
                    where.topic,
                    where.partition,
                    where.offset,
                    now,
                ),
            ).rowcount
            if not new:
                self._db.execute(
                    'INSERT INTO replays (message_id, partition, "offset", received_at)'
                    " VALUES (?, ?, ?, ?)",
                    (message_id, where.partition, where.offset, now),
                )
        return bool(new)

    def not_understood(
        self, where: Delivery, value: bytes | None, headers: dict[str, str], reason: str
    ) -> None:
        with self._db:
            self._db.execute(
                'INSERT INTO not_understood (topic, partition, "offset", value, headers, reason,'
                " received_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    where.topic,
                    where.partition,
                    where.offset,
                    value,
                    json.dumps(headers, sort_keys=True),
                    reason,
                    datetime.now(UTC).isoformat(),
                ),
            )

    def message_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT message_id FROM messages")]

    def replayed(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT message_id FROM replays")]

    def close(self) -> None:
        self._db.close()

"""The HTTP feed's cursor: a place in the feed's commit order, as an agency keeps it.

The place is the event store's kind (shared/eventstore.py `Cursor`): the id of the
transaction that stored a message, and its sequence number; and with them the database's
timeline when the cursor was given. A restore of the cluster to an earlier time (or a
failover that lost commits) starts a new timeline and hands transaction ids out again from
that time, so a cursor given before it can stand past messages kept after it: the timeline
says so, and the feed then reads from where the restored copy's messages end
(sql/004_*.sql).

The agency is given it opaque, so that it keeps and sends back what it was given and builds
nothing on its parts: version 2 is one byte of version, the timeline as an unsigned 32-bit
number (below 2**31) and two unsigned 64-bit numbers, big-endian, in base64url without padding (28
characters). Version 1 (23 characters, no timeline: the feed before it knew timelines) is
still read, as timeline 0. Anything else is refused with the reason: a cursor the platform
did not make, cut short in a copy, or of a later version. Pure functions: no I/O.
"""

from __future__ import annotations

import base64
import string
import struct
from dataclasses import dataclass, field

from shared.eventstore import Cursor

VERSION = 2
_LAYOUTS = {1: struct.Struct(">BQQ"), 2: struct.Struct(">BIQQ")}
_LENGTHS = {23: 1, 28: 2}  # base64url without padding of 17 and 21 bytes
_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")  # base64url
_MAX = 2**63 - 1  # PostgreSQL's bigint and xid8 as the database hands them out
_MAX_TIMELINE = 2**31 - 1  # as the SQL's integer holds it (sql/004_*.sql)


@dataclass(frozen=True)
class FeedCursor:
    """A place in the feed (`at`) as of a database timeline. Timeline 0: a version 1 cursor,
    given before the feed kept timelines (its messages are timeline 0 too)."""

    timeline: int = 0
    at: Cursor = field(default_factory=Cursor)


START = FeedCursor()  # before the first message: the feed from its oldest kept message


class InvalidCursor(ValueError):
    """Why a cursor cannot be read (the agency sees this reason)."""


def encode(cursor: FeedCursor) -> str:
    at = cursor.at
    if not (
        0 <= cursor.timeline <= _MAX_TIMELINE
        and 0 <= at.transaction_id <= _MAX
        and 0 <= at.position <= _MAX
    ):
        raise ValueError(f"not a place in the feed: {cursor}")
    return _text(VERSION, cursor)


def decode(text: str) -> FeedCursor:
    """The place `text` names, or InvalidCursor saying why it names none."""
    version = _LENGTHS.get(len(text))
    if version is None:
        raise InvalidCursor(
            f"a cursor is 28 characters, this one {len(text)}: send back the `next` of a page "
            "exactly as it came"
        )
    if not set(text) <= _ALPHABET:
        raise InvalidCursor("not a cursor: only letters, digits, - and _ make one")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if raw[0] != version:
        raise InvalidCursor(f"a cursor of version {raw[0]}: this feed reads versions 1 and 2")
    if version == 1:
        _, transaction_id, position = _LAYOUTS[1].unpack(raw)
        timeline = 0
    else:
        _, timeline, transaction_id, position = _LAYOUTS[2].unpack(raw)
    if transaction_id > _MAX or position > _MAX or timeline > _MAX_TIMELINE:
        raise InvalidCursor("not a cursor this feed made")
    cursor = FeedCursor(timeline, Cursor(transaction_id, position))
    if _text(version, cursor) != text:  # one text per place
        raise InvalidCursor("not a cursor this feed made")
    return cursor


def _text(version: int, cursor: FeedCursor) -> str:
    at = cursor.at
    fields = (cursor.timeline,) if version == 2 else ()
    raw = _LAYOUTS[version].pack(version, *fields, at.transaction_id, at.position)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

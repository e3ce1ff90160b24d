"""The HTTP feed's cursor: a place in the feed's commit order, as an agency keeps it.

The place is the event store's kind (shared/eventstore.py `Cursor`): the id of the
transaction that stored a message, and its sequence number. The agency is given it opaque,
so that it keeps and sends back what it was given and builds nothing on its parts: version
1 is one byte of version and two unsigned 64-bit numbers, big-endian, in base64url without
padding (23 characters). Anything else is refused with the reason: a cursor the platform
did not make, cut short in a copy, or of a later version. Pure functions: no I/O.
"""

from __future__ import annotations

import base64
import string
import struct

from shared.eventstore import Cursor

VERSION = 1
_LAYOUT = struct.Struct(">BQQ")
_ENCODED_LENGTH = 23  # 17 bytes in base64url without padding
_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")  # base64url
_MAX = 2**63 - 1  # PostgreSQL's bigint and xid8 as the database hands them out
START = Cursor()  # before the first message: the feed from its oldest kept message


class InvalidCursor(ValueError):
    """Why a cursor cannot be read (the agency sees this reason)."""


def encode(cursor: Cursor) -> str:
    if not (0 <= cursor.transaction_id <= _MAX and 0 <= cursor.position <= _MAX):
        raise ValueError(f"not a place in the feed: {cursor}")
    raw = _LAYOUT.pack(VERSION, cursor.transaction_id, cursor.position)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(text: str) -> Cursor:
    """The place `text` names, or InvalidCursor saying why it names none."""
    if len(text) != _ENCODED_LENGTH:
        raise InvalidCursor(
            f"a cursor is {_ENCODED_LENGTH} characters, this one {len(text)}: send back the "
            "`next` of a page exactly as it came"
        )
    if not set(text) <= _ALPHABET:
        raise InvalidCursor("not a cursor: only letters, digits, - and _ make one")
    raw = base64.urlsafe_b64decode(text + "=")
    version, transaction_id, position = _LAYOUT.unpack(raw)
    if version != VERSION:
        raise InvalidCursor(f"a cursor of version {version}: this feed reads version {VERSION}")
    cursor = Cursor(transaction_id, position)
    if transaction_id > _MAX or position > _MAX or encode(cursor) != text:  # one text per place
        raise InvalidCursor("not a cursor this feed made")
    return cursor

"""The HTTP feed's cursor (services/partner_feeds/cursor.py): every place round-trips, one text
per place, the cursors given before timelines are still read, and anything the feed did not
make is refused with a reason; and the feed keeps its messages exactly as long as the partner
topics do. No I/O."""

from __future__ import annotations

import base64
import re
import string
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.topics import PARTNER_TOPICS
from services.partner_feeds import cursor
from services.partner_feeds.api import SHARES_SQL
from services.partner_feeds.cursor import FeedCursor
from services.partner_feeds.feed_store import RETENTION_DAYS
from shared.eventstore import Cursor

PLACES = st.builds(
    FeedCursor,
    st.integers(0, 2**31 - 1),
    st.builds(Cursor, st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1)),
)


@given(PLACES)
def test_every_place_round_trips_as_28_url_safe_characters(place: FeedCursor) -> None:
    text = cursor.encode(place)
    assert re.fullmatch(r"[A-Za-z0-9_-]{28}", text), text
    assert cursor.decode(text) == place


@given(PLACES, PLACES)
def test_two_places_never_share_a_text(a: FeedCursor, b: FeedCursor) -> None:
    assert (cursor.encode(a) == cursor.encode(b)) == (a == b)


def test_the_start_is_a_cursor_like_any_other() -> None:
    assert cursor.decode(cursor.encode(cursor.START)) == cursor.START
    assert FeedCursor(0, Cursor(0, 0)) == cursor.START


@given(st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1))
def test_a_version_1_cursor_is_still_read_as_of_timeline_0(txid: int, seq: int) -> None:
    """Given before the feed kept timelines: its messages are timeline 0 (sql/004_*.sql)."""
    assert cursor.decode(_raw(1, txid, seq)) == FeedCursor(0, Cursor(txid, seq))


def _raw(version: int, *numbers: int) -> str:
    layout = ">BIQQ" if len(numbers) == 3 else ">BQQ"
    packed = struct.pack(layout, version, *numbers)
    return base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


FIVE_SIX = cursor.encode(FeedCursor(1, Cursor(5, 6)))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "28 characters, this one 0"),
        ("abc", "28 characters, this one 3"),
        (FIVE_SIX + "A", "this one 29"),
        (FIVE_SIX[:-1], "this one 27"),
        ("AQAAAAAAAAAFAAAAAAAAAA+", "only letters, digits, - and _"),  # base64, not url-safe
        ("AQAAAAAAAAAFAAAAAAAAAA=", "only letters, digits, - and _"),  # padding
        ("AQAAAAAAAAAFAAAAAAAAAAé", "only letters, digits, - and _"),
        ("AQAAAAAAAAAF AAAAAAAAAA", "only letters, digits, - and _"),
        (_raw(3, 1, 5, 6), "version 3: this feed reads versions 1 and 2"),
        (_raw(2, 5, 6), "version 2: this feed reads versions 1 and 2"),  # 23 characters
        (_raw(1, 1, 5, 6), "version 1: this feed reads versions 1 and 2"),  # 28 characters
        (_raw(0, 5, 6), "version 0"),
        (_raw(1, 2**63, 6), "not a cursor this feed made"),  # beyond xid8 as handed out
        (_raw(1, 5, 2**64 - 1), "not a cursor this feed made"),
        (_raw(2, 1, 2**63, 6), "not a cursor this feed made"),
        (_raw(2, 1, 5, 2**64 - 1), "not a cursor this feed made"),
        (_raw(2, 2**31, 5, 6), "not a cursor this feed made"),  # beyond the SQL's integer
    ],
)
def test_anything_else_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(cursor.InvalidCursor, match=re.escape(reason)):
        cursor.decode(text)


def test_a_second_spelling_of_a_version_1_place_is_refused() -> None:
    """A version 1 cursor's last character carries two bits no byte uses (version 2's 21
    bytes fill 28 characters exactly): set them and base64 decodes the same bytes, but it
    is not the text the feed gave out."""
    text = _raw(1, 5, 6)
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    other = text[:-1] + alphabet[alphabet.index(text[-1]) + 1]
    assert base64.urlsafe_b64decode(other + "=") == base64.urlsafe_b64decode(text + "=")
    with pytest.raises(cursor.InvalidCursor, match="not a cursor this feed made"):
        cursor.decode(other)


def test_a_place_outside_the_database_s_range_is_not_encoded() -> None:
    for timeline, place in (
        (0, Cursor(-1, 0)),
        (0, Cursor(0, -1)),
        (0, Cursor(2**63, 0)),
        (-1, Cursor(0, 0)),
        (2**31, Cursor(0, 0)),
    ):
        with pytest.raises(ValueError, match="not a place"):
            cursor.encode(FeedCursor(timeline, place))


def test_the_feed_keeps_messages_as_long_as_the_partner_topics_do() -> None:
    """The SQL's retention (the trigger and prune_partner_feed) is the partner topics':
    a message no agency could still read from Kafka is not kept for HTTP either."""
    kept = {int(t.config["retention.ms"]) for t in PARTNER_TOPICS}
    assert kept == {RETENTION_DAYS * 24 * 3600 * 1000}
    sql = (SHARES_SQL / "002_http_feed.sql").read_text()
    intervals = set(re.findall(r"interval '(\d+) days'", sql))
    assert intervals == {str(RETENTION_DAYS)}
    assert len(re.findall(r"interval '\d+ days'", sql)) == 3  # the trigger, the cut, the delete

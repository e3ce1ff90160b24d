"""Boards answered before, kept in the API's process until a change could alter them.

A board as at a day reads only what is dated on or before that day: a child's facts from their
`valid_from`, occurrences by their day (`queries.py`). So a change dated D can alter the boards
as at D and after, never a board as at a day before it. Each projection that feeds the boards
says at commit the first day its batch changed (NOTIFY `board_days_changed`: the day, or
`all` where a child was registered or born, whose age and locality every day counts by, or a
quality record changed), and the memo forgets every board as at that day or later.

So a page's trend (eleven past month ends, every locality) is worked out once and read from
here after that, while boards as at today are worked out afresh after each change. It holds
against the races:

- an answer worked out while a change to its day arrived is not kept (it may predate it);
- the same board asked for again while it is being worked out waits for that answer (ten
  people opening the index after a change work it out once), unless a change to its day
  arrived meanwhile: then it is worked out afresh;
- nothing is kept unless the process is listening: a lost listener would lose the changes,
  so losing it forgets everything and keeps nothing more.

Nothing here does I/O: the API feeds it the notifications (`notify`, `lost`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable
from datetime import date
from typing import Any, TypeVar

from prometheus_client import Counter

CHANNEL = "board_days_changed"
EVERY_DAY = "all"  # the payload of a change that may alter every day's boards

ANSWERS = Counter(
    "csp_board_memo_answers_total",
    "Board reads answered from the memo (hit) or worked out (miss)",
    ["result"],
)

T = TypeVar("T")


def payload_of(first: date | None) -> str:
    """The notification of a change whose first day is `first` (None: every day)."""
    return EVERY_DAY if first is None else first.isoformat()


def first_day_of(payload: str) -> date | None:
    """The first day a notification says changed; None (every day) for anything else."""
    try:
        return date.fromisoformat(payload)
    except ValueError:
        return None


class BoardMemo:
    """Answers by key, each with the day it is as at, at most `capacity` (least recently used
    forgotten first)."""

    def __init__(self, capacity: int = 1024, history: int = 4096) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, tuple[date, Any]] = OrderedDict()
        self._running: dict[Hashable, tuple[date, asyncio.Future[Any]]] = {}
        self.generation = 0  # how many changes have been told
        # The first day of each of the latest changes: what an answer in flight checks.
        self._changes: deque[date | None] = deque(maxlen=history)
        self.listening = False

    def __len__(self) -> int:
        return len(self._entries)

    def changed(self, first: date | None) -> None:
        """A change from `first` on (None: every day): every answer as at it or after goes."""
        self.generation += 1
        self._changes.append(first)
        for held in (self._entries, self._running):
            for key in [k for k, (day, _) in held.items() if first is None or day >= first]:
                del held[key]

    def notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        """asyncpg's listener callback for `CHANNEL`."""
        self.changed(first_day_of(payload))

    def listen(self) -> None:
        self.listening = True

    def lost(self, _conn: object = None) -> None:
        """The listening connection closed: changes can no longer be told."""
        self.listening = False
        self.changed(None)

    def fresh(self, generation: int, as_at: date) -> bool:
        """Whether anything read as at `as_at` since `generation` holds now: this memo is
        listening and no change to that day has been told since."""
        return self.listening and not self._changed_since(generation, as_at)

    def _changed_since(self, generation: int, as_at: date) -> bool:
        told = self.generation - generation
        if told == 0:
            return False
        if told > len(self._changes):
            return True  # more changes than remembered: assume the worst
        recent = list(self._changes)[-told:]
        return any(first is None or first <= as_at for first in recent)

    async def answer(self, key: Hashable, as_at: date, work_out: Callable[[], Awaitable[T]]) -> T:
        """The answer kept for `key`, or the one being worked out for it, else `work_out()`'s,
        kept unless a change to `as_at` arrived meanwhile."""
        if self.listening:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                ANSWERS.labels("hit").inc()
                kept: T = found[1]
                return kept
            running = self._running.get(key)
            if running is not None:
                ANSWERS.labels("shared").inc()
                shared: T = await asyncio.shield(running[1])
                return shared
        ANSWERS.labels("miss").inc()
        generation = self.generation
        task: asyncio.Future[T] = asyncio.ensure_future(work_out())
        if self.listening:
            self._running[key] = (as_at, task)
        try:
            value = await asyncio.shield(task)  # a caller gone leaves it to those waiting
        finally:
            if self._running.get(key, (None, None))[1] is task:
                del self._running[key]
        if self.listening and not self._changed_since(generation, as_at):
            self._entries[key] = (as_at, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return value

"""The case-events API's kept reference lists on a real PostgreSQL: each use catches up with
the events after what it holds, so an item retired through another process a moment before
is refused, and the whole stream is not read again."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from contracts.reference import events as r
from services.case_events.routes.reference import ReferenceLists
from shared.envelope import Actor, Agency, new_event_id
from shared.eventstore import CommandContext, PostgresEventStore

pytestmark = pytest.mark.integration


def ctx() -> CommandContext:
    return CommandContext(
        actor=Actor(user_id="m-1", agency=Agency.COUNCIL, role="manager"),
        correlation_id=new_event_id(),
    )


async def test_a_kept_list_sees_an_item_retired_by_another_process_at_its_next_use(
    event_store_pool: asyncpg.Pool,
) -> None:
    stream = r.stream_of(r.LOCALITY)
    elsewhere = PostgresEventStore(event_store_pool)  # another API process, say
    await elsewhere.append(
        stream, 0, [r.LocalityAdded(name="Exeter"), r.LocalityAdded(name="Old Town")], ctx()
    )
    lists = ReferenceLists()
    assert dict(await lists(event_store_pool, r.LOCALITY)) == {"Exeter": None, "Old Town": None}

    retired = r.LocalityRetired(name="Old Town", retired_on=date(2025, 3, 31))
    await elsewhere.append(stream, 2, [retired], ctx())
    assert dict(await lists(event_store_pool, r.LOCALITY)) == {
        "Exeter": None,
        "Old Town": date(2025, 3, 31),
    }
    assert (await lists.read(event_store_pool, r.LOCALITY)).version == 3
    # What it reads to catch up: only the events after the version it holds.
    assert [e.stream_version for e in await elsewhere.read_stream(stream, after_version=2)] == [3]
    assert await elsewhere.read_stream(stream, after_version=3) == []
    assert dict(await lists(event_store_pool, r.TEAM)) == {}

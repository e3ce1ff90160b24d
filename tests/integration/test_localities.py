"""The localities with children (services/projections/boards/queries.py, `localities`), on a
real PostgreSQL: each once, in order, by a walk of the read model's index of children by
locality; none where no child is registered."""

from __future__ import annotations

import pytest

from services.projections.boards.queries import localities
from tests.infrastructure import Infrastructure
from tests.integration.read_model import read_model

pytestmark = pytest.mark.integration


async def test_each_locality_with_children_is_listed_once_in_order(
    infra: Infrastructure, namespace: str
) -> None:
    conn = await read_model(
        infra, f"{namespace}localities", "001_board_facts.sql", "033_children_by_locality.sql"
    )
    try:
        await conn.executemany(
            "INSERT INTO children VALUES ($1, $2, '2015-01-01')",
            [
                ("C2", "South"),
                ("C3", "East and Coast"),
                ("C4", "North"),
                ("C5", "East"),
                ("C6", "South"),
            ],
        )
        assert await localities(conn) == ["East", "East and Coast", "North", "South"]
        await conn.execute("DELETE FROM children")
        assert await localities(conn) == []
    finally:
        await conn.close()

"""The projection runner process: consumes every domain topic into the boards."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from services.projections.registry import MIGRATIONS, boards, event_types, source_topics
from shared.db import open_database
from shared.http import WorkerParts, worker_app
from shared.kafka import DEAD_LETTER_TOPIC, ensure_topics, new_producer
from shared.projection import ProjectionRunner
from shared.settings import Settings


def runner_app(settings: Settings) -> FastAPI:
    async def start(stop: asyncio.Event) -> WorkerParts:
        pool = await open_database(settings, *MIGRATIONS)
        await ensure_topics(settings, [*source_topics(), DEAD_LETTER_TOPIC])
        topics = [settings.topic(t) for t in source_topics()]
        dead_letters = new_producer(settings)
        await dead_letters.start()
        runner = ProjectionRunner(
            pool, event_types(), boards(), topics,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            consumer_name=settings.consumer_group,
            dead_letters=dead_letters,
            dead_letter_topic=settings.topic(DEAD_LETTER_TOPIC),
            batch_size=settings.projection_batch_size,
        )

        async def runner_check() -> dict[str, Any]:
            return {"ok": runner.healthy, "error": runner.last_error, "lag": runner.lag()}

        async def close() -> None:
            await dead_letters.stop()
            await pool.close()

        return runner.run, {"projection": runner_check}, close

    return worker_app("Projection runner", settings.service, start)

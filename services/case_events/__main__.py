"""The composition root of the case-events service's processes.

python -m services.case_events api | worker
python -m services.case_events rotate-keys   # re-wrap every child key with the current KEK
"""

import asyncio
import json
import sys

import asyncpg
from fastapi import FastAPI

from contracts.topics import TOPICS
from services.case_events.api import create_app
from services.case_events.personal import KeyVault, key_encryption_key
from shared.entrypoint import run
from shared.settings import Settings
from shared.worker import service_worker_app


def worker(settings: Settings) -> FastAPI:
    return service_worker_app(settings, TOPICS)


async def rotate_keys(settings: Settings) -> dict[str, int]:
    """Re-wrap the child keys still wrapped with a retired key-encryption key."""
    pool = await asyncpg.create_pool(settings.dsn(), min_size=1, max_size=2)
    try:
        return await KeyVault(pool, key_encryption_key(settings)).rotate()
    finally:
        await pool.close()


def main() -> None:
    if sys.argv[1:2] == ["rotate-keys"]:
        print(json.dumps(asyncio.run(rotate_keys(Settings(service="case_events")))))
    else:
        run("case_events", create_app, worker)


if __name__ == "__main__":
    main()

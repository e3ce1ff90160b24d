"""The composition root of the quality service's processes.

python -m services.quality api | worker
python -m services.quality rotate-keys   # re-wrap every subject's key with the current KEK
"""

import asyncio
import json
import sys

from fastapi import FastAPI

from contracts.topics import TOPICS
from services.quality.api import KEYS_SQL, create_app
from services.quality.policies import subscriptions
from shared.entrypoint import run
from shared.known_children import KNOWN_CHILDREN_SQL
from shared.reference_data import REFERENCE_DATA_SQL
from shared.sealing import rotate_keys
from shared.settings import Settings
from shared.worker import service_worker_app


def worker(settings: Settings) -> FastAPI:
    return service_worker_app(
        settings,
        TOPICS,
        subscriptions(settings),
        [KNOWN_CHILDREN_SQL, REFERENCE_DATA_SQL, KEYS_SQL],
    )


def main() -> None:
    if sys.argv[1:2] == ["rotate-keys"]:
        print(json.dumps(asyncio.run(rotate_keys(Settings(service="quality")))))
    else:
        run("quality", create_app, worker)


if __name__ == "__main__":
    main()

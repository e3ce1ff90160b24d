"""The composition root of the case-events service's processes.

python -m services.case_events api | worker
python -m services.case_events rotate-keys   # re-wrap every child key with the current KEK
"""

import asyncio
import json
import sys

from fastapi import FastAPI

from contracts.topics import TOPICS
from services.case_events.api import create_app
from shared.entrypoint import run
from shared.sealing import rotate_keys
from shared.settings import Settings
from shared.worker import service_worker_app


def worker(settings: Settings) -> FastAPI:
    return service_worker_app(settings, TOPICS)


def main() -> None:
    if sys.argv[1:2] == ["rotate-keys"]:
        print(json.dumps(asyncio.run(rotate_keys(Settings(service="case_events")))))
    else:
        run("case_events", create_app, worker)


if __name__ == "__main__":
    main()

"""The composition root of the case-events service's processes."""

from fastapi import FastAPI

from contracts.topics import TOPICS
from services.case_events.api import create_app
from shared.entrypoint import run
from shared.settings import Settings
from shared.worker import service_worker_app


def worker(settings: Settings) -> FastAPI:
    return service_worker_app(settings, TOPICS)


def main() -> None:
    run("case_events", create_app, worker)


if __name__ == "__main__":
    main()

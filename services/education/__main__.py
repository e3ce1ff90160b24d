"""The composition root of the education service's processes."""

from fastapi import FastAPI

from contracts.case_events.events import ChildRegistered, case_event_types
from contracts.topics import CASE_EVENTS, TOPICS
from services.education.api import create_app
from shared.entrypoint import run
from shared.known_children import KNOWN_CHILDREN_SQL, known_children_subscription
from shared.settings import Settings
from shared.worker import service_worker_app


def worker(settings: Settings) -> FastAPI:
    return service_worker_app(
        settings,
        TOPICS,
        [known_children_subscription(CASE_EVENTS, case_event_types, ChildRegistered)],
        [KNOWN_CHILDREN_SQL],
    )


def main() -> None:
    run("education", create_app, worker)


if __name__ == "__main__":
    main()

"""The composition root of the education service's processes."""

from fastapi import FastAPI

from contracts.case_events.events import ChildBorn, ChildRegistered, UnbornChildRegistered
from contracts.reference.events import ReferenceEvent, is_reference_stream
from contracts.topics import CASE_EVENTS, EVENTS, TOPICS
from services.education.api import create_app
from shared.entrypoint import run
from shared.known_children import KNOWN_CHILDREN_SQL, known_children_subscription
from shared.reference_data import REFERENCE_DATA_SQL, reference_data_subscription
from shared.settings import Settings
from shared.worker import Subscription, service_worker_app


def subscriptions(settings: Settings) -> list[Subscription]:
    """The worker's subscriptions (deploy/dead_letters.py replays into them as they are)."""
    return [
        known_children_subscription(
            CASE_EVENTS,
            EVENTS[CASE_EVENTS],
            (ChildRegistered, UnbornChildRegistered),
            ChildBorn,
        ),
        # The council's schools, for the enrolments and register feeds that name one.
        reference_data_subscription(
            CASE_EVENTS, EVENTS[CASE_EVENTS], ReferenceEvent, is_reference_stream
        ),
    ]


def worker(settings: Settings) -> FastAPI:
    return service_worker_app(
        settings, TOPICS, subscriptions(settings), [KNOWN_CHILDREN_SQL, REFERENCE_DATA_SQL]
    )


def main() -> None:
    run("education", create_app, worker)


if __name__ == "__main__":
    main()

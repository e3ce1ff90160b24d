"""The composition root of the accommodation service's processes."""

from fastapi import FastAPI

from contracts.case_events.events import ChildBorn, ChildRegistered, UnbornChildRegistered
from contracts.topics import CASE_EVENTS, EVENTS, TOPICS
from services.accommodation.api import create_app
from shared.entrypoint import run
from shared.known_children import KNOWN_CHILDREN_SQL, known_children_subscription
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
        )
    ]


def worker(settings: Settings) -> FastAPI:
    return service_worker_app(settings, TOPICS, subscriptions(settings), [KNOWN_CHILDREN_SQL])


def main() -> None:
    run("accommodation", create_app, worker)


if __name__ == "__main__":
    main()

"""The composition root of the escalations service's processes."""

from fastapi import FastAPI

from contracts.topics import TOPICS
from services.escalations.api import RULES_SQL, create_app
from services.escalations.policies import drift_loop, subscriptions
from shared.clock import clock_from
from shared.entrypoint import run
from shared.known_children import KNOWN_CHILDREN_SQL
from shared.settings import Settings
from shared.worker import service_worker_app


def worker(settings: Settings) -> FastAPI:
    return service_worker_app(
        settings,
        TOPICS,
        subscriptions(settings),
        [KNOWN_CHILDREN_SQL, RULES_SQL],
        loops=[drift_loop(settings, clock_from(settings))],
    )


def main() -> None:
    run("escalations", create_app, worker)


if __name__ == "__main__":
    main()

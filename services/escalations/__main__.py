"""The composition root of the escalations service's processes."""

from services.case_events.reference import KNOWN_CHILDREN_SQL
from services.escalations.api import RULES_SQL, create_app
from services.escalations.policies import drift_loop, subscriptions
from shared.clock import clock_from
from shared.entrypoint import run
from shared.settings import Settings
from shared.worker import service_worker_app


def worker(settings: Settings):  # type: ignore[no-untyped-def]
    return service_worker_app(settings, subscriptions(settings), [KNOWN_CHILDREN_SQL, RULES_SQL],
                              loops=[drift_loop(settings, clock_from(settings))])


if __name__ == "__main__":
    run("escalations", create_app, worker)

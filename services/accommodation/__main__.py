"""The composition root of the accommodation service's processes."""

from services.accommodation.api import create_app
from services.case_events.reference import KNOWN_CHILDREN_SQL, known_children_subscription
from shared.entrypoint import run
from shared.settings import Settings
from shared.worker import service_worker_app


def worker(settings: Settings):  # type: ignore[no-untyped-def]
    return service_worker_app(settings, [known_children_subscription()], [KNOWN_CHILDREN_SQL])


if __name__ == "__main__":
    run("accommodation", create_app, worker)

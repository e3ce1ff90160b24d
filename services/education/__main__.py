"""The composition root of the education service's processes."""

from services.case_events.reference import KNOWN_CHILDREN_SQL, known_children_subscription
from services.education.api import create_app
from shared.entrypoint import run
from shared.settings import Settings
from shared.worker import service_worker_app


def worker(settings: Settings):  # type: ignore[no-untyped-def]
    return service_worker_app(settings, [known_children_subscription()], [KNOWN_CHILDREN_SQL])


if __name__ == "__main__":
    run("education", create_app, worker)

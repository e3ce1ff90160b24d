"""The composition root of the case-events service's processes."""

from services.case_events.api import create_app
from shared.entrypoint import run
from shared.worker import service_worker_app

if __name__ == "__main__":
    run("case_events", create_app, service_worker_app)

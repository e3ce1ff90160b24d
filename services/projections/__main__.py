"""The composition root of the boards: their API, and the worker that builds them."""

from services.projections.api import create_app
from services.projections.registry import worker
from shared.entrypoint import run

if __name__ == "__main__":
    run("projections", create_app, worker)

"""`python -m services.<name> api|worker`: every service starts the same way."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from fastapi import FastAPI

from shared.http import serve
from shared.settings import Settings


def run(service: str, api: Callable[[Settings], FastAPI],
        worker: Callable[[Settings], FastAPI]) -> None:
    parser = argparse.ArgumentParser(
        prog=f"python -m services.{service}",
        description="api: the HTTP API; worker: the relay and the subscriptions.")
    parser.add_argument("role", choices=["api", "worker"])
    role = parser.parse_args().role
    settings = Settings(service=service)
    serve((api if role == "api" else worker)(settings), settings)

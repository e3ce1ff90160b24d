"""`python -m services.projections api|runner`: the boards' API and their projection runner."""

from __future__ import annotations

import argparse

from services.projections.api import create_app
from services.projections.runner import runner_app
from shared.http import serve
from shared.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.projections")
    parser.add_argument("role", choices=["api", "runner"])
    role = parser.parse_args().role
    settings = Settings(service="projections")
    serve(create_app(settings) if role == "api" else runner_app(settings), settings)


if __name__ == "__main__":
    main()

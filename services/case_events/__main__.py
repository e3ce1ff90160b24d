"""`python -m services.case_events api|relay`: the composition root of the service's processes."""

from __future__ import annotations

import argparse

from services.case_events.api import create_app
from shared.http import serve
from shared.relay import relay_app
from shared.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.case_events")
    parser.add_argument("role", choices=["api", "relay"])
    role = parser.parse_args().role
    settings = Settings(service="case_events")
    serve(create_app(settings) if role == "api" else relay_app(settings), settings)


if __name__ == "__main__":
    main()

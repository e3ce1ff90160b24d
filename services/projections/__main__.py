"""The boards: `api`, the `worker` that keeps them, and `rebuild` (from offset 0, beside the
live boards, then swapped in)."""

import asyncio
import sys

from services.projections.api import create_app
from services.projections.registry import rebuild, worker
from shared.entrypoint import run, tune_garbage_collector
from shared.logging import configure_logging
from shared.settings import Settings


def main() -> None:
    if sys.argv[1:2] == ["rebuild"]:
        settings = Settings(service="projections")
        configure_logging("projections", settings.log_level, "console")
        tune_garbage_collector()
        print(asyncio.run(rebuild(settings)))
    else:
        run("projections", create_app, worker)


if __name__ == "__main__":
    main()

"""What a platform costs the machine while nobody uses it: every service's API and worker
started, left to settle, then each process's share of the cores over a quiet spell.

    python -m bench.idle [--seconds 30] [CSP_SETTING=value ...]

An idle platform still polls: its consumers ask Kafka for records, its workers' timers run.
That cost is paid all day by a deployment, and by every platform the tests start, on the
same two cores as the work (docs/performance.md, "2026-12-06 (late): an idle subscription
waits"). Starts its own Kafka and PostgreSQL unless CSP_TEST_* name them, as the harness does.
Every process on the machine is counted, so run it on a quiet machine: beside a test run, the
run's work shows as "other", and a Kafka or PostgreSQL shared with it as theirs.
"""

from __future__ import annotations

import argparse
import time

from bench.cpu import CpuShares, table
from bench.processes import start_services
from deploy.database import SERVICES
from tests.infrastructure import infrastructure, new_namespace

SETTLE_S = 20.0  # after every process is healthy: start-up work (topics, first sweeps) done


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="the quiet spell measured")
    parser.add_argument("settings", nargs="*", help="CSP_NAME=value, for every process")
    args = parser.parse_args()
    settings = {}
    for setting in args.settings:
        name, equals, value = setting.partition("=")
        if not (equals and name.startswith("CSP_")):
            parser.error(f"{setting!r}: a setting is CSP_NAME=value")
        settings[name] = value
    with infrastructure() as infra:
        processes = start_services(infra, new_namespace(), SERVICES, **settings)
        try:
            time.sleep(SETTLE_S)  # the start-up's own work, not measured
            with CpuShares() as shares:
                time.sleep(args.seconds)  # the quiet spell measured
        finally:
            for process in processes.values():
                process.stop()
    print(
        f"An idle platform over {shares.seconds:.0f} s ({' '.join(args.settings) or 'defaults'}):"
    )
    print("\n".join(table(shares.percent, None)))


if __name__ == "__main__":
    main()

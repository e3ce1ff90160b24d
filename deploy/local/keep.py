"""`python -m deploy.local.keep COMMAND [ARG...]`: run one of the platform's processes, and start
it again when it ends by itself with a failure, as compose's `restart: unless-stopped` does.

The local stack (deploy/local/stack.py) runs every service process through it. honcho stops
the whole stack when any process exits, so a worker whose relay or subscription ended on an
unexpected error (it exits: shared/http.py, `LOOP_ENDED`) would have taken the platform down
with it; and left running, it would have kept nothing moving behind a process that answers.
Here it is started again from the offsets it stored, after a wait that doubles while it keeps
failing soon after its start (1 s up to 30 s). A process that exits with 0 was stopped on
purpose: so does this. SIGTERM or SIGINT (honcho's stop, Ctrl-C) is passed on, and nothing is
started again after it.

Standard library only: it starts before, and beside, every service process.
"""

from __future__ import annotations

import ctypes
import functools
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

FIRST_WAIT_S = 1.0
LONGEST_WAIT_S = 30.0
# A process that ran this long before it failed starts again after the first wait, not after
# the doubled one: it was not failing at its start.
RAN_WELL_S = 60.0
POLL_S = 0.2  # how often the process and the stop are looked at


def dies_with_parent(on_parent_death: int) -> Callable[[], None]:
    """A child's preexec_fn: the kernel sends it `on_parent_death` when its parent dies
    (Linux PR_SET_PDEATHSIG), so no orphan keeps a port or a replication slot."""

    def die_with_parent() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(1, on_parent_death)  # 1: PR_SET_PDEATHSIG

    return die_with_parent


def keep(
    argv: Sequence[str],
    stopping: Callable[[], bool],
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> int:
    """Run `argv` until it exits with 0 or `stopping()` holds (then it is sent SIGTERM);
    start it again after any other exit. Returns the last exit status (-N: ended by signal
    N, as `subprocess` says)."""
    wait = FIRST_WAIT_S
    while True:
        started = time.monotonic()
        child = subprocess.Popen(argv, preexec_fn=dies_with_parent(signal.SIGTERM))
        _wait_for(functools.partial(_ended, child), stopping)
        if child.poll() is None:  # asked to stop: pass it on
            child.send_signal(signal.SIGTERM)
            return child.wait()
        status = child.returncode
        if status == 0 or stopping():
            return status
        if time.monotonic() - started >= RAN_WELL_S:
            wait = FIRST_WAIT_S
        what = " ".join(argv[-2:])  # a service's module and role (the rest holds its secrets)
        say(f"keep: {what} exited with status {status}; starting it again in {wait:g} s")
        _wait_for(lambda: False, stopping, wait)
        if stopping():
            return status
        wait = min(wait * 2, LONGEST_WAIT_S)


def _ended(child: subprocess.Popen[bytes]) -> bool:
    return child.poll() is not None


def _wait_for(
    done: Callable[[], bool], stopping: Callable[[], bool], most_s: float = float("inf")
) -> None:
    """Until `done()` or `stopping()` holds, or `most_s` has passed, looking every POLL_S."""
    until = time.monotonic() + most_s
    while not done() and not stopping() and time.monotonic() < until:
        time.sleep(POLL_S)


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    # A flag, not a threading.Event: a handler setting an Event can wait for ever on the lock
    # the interrupted main thread holds inside the Event's own wait.
    asked: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _: asked.append(number))
    status = keep(sys.argv[1:], lambda: bool(asked))
    sys.exit(128 - status if status < 0 else status)  # by signal N: 128 + N, as a shell


if __name__ == "__main__":
    main()

"""`make stop` (deploy/local/stack.py `cmd_stop`) returns once the stack's servers have let go
of their ports, not as soon as honcho is gone: a server (Kafka's JVM, in a session of its own)
can still be shutting down then, and a `make run` straight after would find its port in use."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from deploy.local.stack import LocalStack, cmd_stop, free_port, port_open, service_processes

pytestmark = pytest.mark.integration


def test_stop_waits_until_a_server_still_shutting_down_has_let_go_of_its_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = LocalStack(
        state_dir=tmp_path,
        postgres_port=free_port(),
        kafka_port=free_port(2),
        http_base=free_port(max(p.port for p in service_processes(0)) + 1),
    )
    honcho = subprocess.Popen(["sleep", "60"])  # stands for honcho: gone at its SIGTERM
    (tmp_path / "honcho.pid").write_text(str(honcho.pid))
    broker = socket.socket()  # stands for the broker, still listening after its supervisor
    broker.bind(("127.0.0.1", stack.kafka_port))
    broker.listen()
    broker.settimeout(60)
    closed: list[float] = []

    def shut_down_later() -> None:
        honcho.wait()
        # The broker lets go of its port only once `make stop` has found it still listening
        # (its check connects): a stop that returned without looking would return before.
        with contextlib.suppress(TimeoutError):
            broker.accept()[0].close()
        broker.close()
        closed.append(time.monotonic())

    closing = threading.Thread(target=shut_down_later)
    closing.start()
    try:
        cmd_stop(stack)
        returned = time.monotonic()
    finally:
        honcho.kill()
        closing.join(10)
    assert closed and returned >= closed[0], "stopped while the broker still had its port"
    assert not port_open(stack.kafka_port)
    assert capsys.readouterr().out.strip() == "the local stack has stopped"
    assert not (tmp_path / "honcho.pid").exists()

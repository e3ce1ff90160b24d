"""The parts the fault injector controls: a PostgreSQL server and one or three KRaft brokers,
each a real process on loopback that can be killed, paused and started again on its data.

Started from the same binaries and the same settings as the local stack
(deploy/local/stack.py); only the number of brokers and the replication differ.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.stack import LocalStack, _spawn_server, new_kafka_cluster_id, wait_for_port
from tests.infrastructure import Infrastructure, free_port


@dataclass
class Server:
    """One server process: started, killed (SIGKILL), paused (SIGSTOP), resumed, restarted."""

    name: str
    port: int
    log: Path
    spawn: Callable[..., subprocess.Popen[bytes]]
    stop_signal: int = signal.SIGTERM
    proc: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = self.spawn(stdout=out, stderr=subprocess.STDOUT)

    def start(self, timeout_s: float = 120) -> None:
        self.launch()
        wait_for_port(self.port, timeout_s, self.name)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; what a crash or a pulled plug looks like."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)  # a paused server cannot stop
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class ChaosCluster:
    """PostgreSQL and `brokers` Kafka nodes (KRaft, each broker and controller) in `state`."""

    state: Path
    brokers: int = 1
    kafka_heap: str = "512m"
    postgres: Server = field(init=False)
    kafka: list[Server] = field(init=False)

    def __post_init__(self) -> None:
        shutil.rmtree(self.state, ignore_errors=True)
        self._stack = LocalStack(
            state_dir=self.state,
            postgres_port=free_port(),
            kafka_port=free_port(2),
            kafka_heap=self.kafka_heap,
        )
        logs = self.state / "logs"
        stack = self._stack
        self.postgres = Server(
            "PostgreSQL",
            stack.postgres_port,
            logs / "postgres.log",
            stack.spawn_postgres,
            signal.SIGINT,
        )
        ports = [(stack.kafka_port, stack.controller_port)] + [
            (p, p + 1) for p in (free_port(2) for _ in range(self.brokers - 1))
        ]
        voters = ",".join(f"{i + 1}@127.0.0.1:{c}" for i, (_, c) in enumerate(ports))
        cluster_id = new_kafka_cluster_id()
        self.kafka = []
        for i, (port, controller) in enumerate(ports):
            folder = self.state / f"kafka-{i + 1}"
            folder.mkdir(parents=True, exist_ok=True)
            config = folder / "server.properties"
            config.write_text(
                stack.kafka_properties(
                    i + 1, port, controller, voters, folder / "data", min(self.brokers, 3)
                )
            )
            subprocess.run(
                stack._java(
                    "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)
                ),
                check=True,
                stdout=subprocess.DEVNULL,
            )
            argv = stack._java("kafka.Kafka", str(config), heap=self.kafka_heap)

            def spawn(argv: list[str] = argv, **popen: object) -> subprocess.Popen[bytes]:
                return _spawn_server(argv, signal.SIGTERM, **popen)

            self.kafka.append(
                Server(f"Kafka broker {i + 1}", port, logs / f"kafka-{i + 1}.log", spawn)
            )

    def start(self) -> ChaosCluster:
        self.postgres.start(60)
        for broker in self.kafka:  # the quorum forms once a majority is up: launch all first
            broker.launch()
        for broker in self.kafka:
            wait_for_port(broker.port, 120, broker.name)
        return self

    def stop(self) -> None:
        for server in [*self.kafka, self.postgres]:
            server.stop()
        pg_dir = self._stack.postgres_dir
        shutil.rmtree(self.state, ignore_errors=True)
        if pg_dir.parent != self.state:
            shutil.rmtree(pg_dir.parent, ignore_errors=True)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{b.port}" for b in self.kafka)

    def infrastructure(self) -> Infrastructure:
        return Infrastructure(
            "127.0.0.1",
            self.postgres.port,
            "csp",
            self._stack.postgres_password(),
            self.bootstrap,
            "chaos cluster",
        )

    def replication_env(self) -> dict[str, str]:
        """What the services are told about topics on this cluster."""
        replicas = min(self.brokers, 3)
        return {
            "CSP_TOPIC_REPLICATION_FACTOR": str(replicas),
            "CSP_TOPIC_MIN_INSYNC_REPLICAS": str(max(1, replicas - 1)),
        }

    def postgres_immediate_shutdown(self) -> None:
        """`pg_ctl stop -m immediate`: SIGQUIT to the postmaster, no checkpoint; the server
        recovers from its WAL on the next start."""
        self.postgres.signal(signal.SIGQUIT)
        assert self.postgres.proc is not None
        self.postgres.proc.wait(timeout=60)

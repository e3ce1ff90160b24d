"""The secure broker's controller listener admits the broker alone (mutual TLS): a local
process could change the cluster's configuration through it as ANONYMOUS, a super user
(`ConfigCommand --bootstrap-controller ... --alter` succeeded before)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.stack import KAFKA_LIB, LocalStack
from tests.infrastructure import new_namespace, secure_kafka

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker() -> Iterator[LocalStack]:
    with secure_kafka(new_namespace()) as stack:
        yield stack


def alter_cluster_config(stack: LocalStack, client: Path) -> str:
    """What the Kafka tool says when it tries to shorten every topic's default retention."""
    result = subprocess.run(
        [
            "java",
            "-cp",
            f"{KAFKA_LIB}/*",
            "kafka.admin.ConfigCommand",
            "--bootstrap-controller",
            f"127.0.0.1:{stack.controller_port}",
            "--command-config",
            str(client),
            "--alter",
            "--add-config",
            "log.retention.ms=1000",
            "--entity-type",
            "brokers",
            "--entity-default",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("security", ["PLAINTEXT", "SSL"])
def test_the_controller_listener_refuses_a_client_without_the_brokers_certificate(
    broker: LocalStack, tmp_path: Path, security: str
) -> None:
    client = tmp_path / "client.properties"
    client.write_text(
        "\n".join(
            [
                f"security.protocol={security}",
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={broker.tls_dir / 'ca.pem'}",
                "request.timeout.ms=3000",
                "default.api.timeout.ms=10000",
                "socket.connection.setup.timeout.ms=2000",
                "",
            ]
        )
    )
    said = alter_cluster_config(broker, client)
    assert "Completed updating" not in said, said
    assert not said.startswith("exit 0"), said

"""The Kafka container the tests start when a Docker engine is reachable (tests/infrastructure.py),
checked as defined, without an engine: constructing a testcontainers container connects to
Docker, so its client is replaced by a stand-in; nothing is started."""

from __future__ import annotations

from unittest import mock

import pytest
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from tests.infrastructure import kafka_container


@pytest.fixture
def broker() -> DockerContainer:
    with mock.patch("testcontainers.core.container.DockerClient"):
        return kafka_container("localhost", 24567)


def test_the_official_apache_kafka_4_image(broker: DockerContainer) -> None:
    # (after the registry mirror prefix testcontainers may be configured to add)
    image = broker.image.removeprefix(testcontainers_config.hub_image_name_prefix)
    assert image.startswith("apache/kafka:4.")


def test_a_single_node_kraft_broker_and_controller(broker: DockerContainer) -> None:
    env = broker.env
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_NODE_ID"] == "1"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@localhost:9093"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert "CONTROLLER://:9093" in env["KAFKA_LISTENERS"].split(",")
    assert len(env["CLUSTER_ID"]) == 22  # the image's start script formats storage with it
    protocols = dict(
        entry.split(":") for entry in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    listeners = {entry.split("://")[0] for entry in env["KAFKA_LISTENERS"].split(",")}
    assert listeners == set(protocols)
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in listeners
    for factor in (
        "OFFSETS_TOPIC_REPLICATION_FACTOR",
        "TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "TRANSACTION_STATE_LOG_MIN_ISR",
        "MIN_INSYNC_REPLICAS",
        "SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
    ):
        assert env[f"KAFKA_{factor}"] == "1"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # as the local stack's broker


def test_clients_are_sent_back_to_the_port_docker_maps_on_the_host(broker: DockerContainer) -> None:
    assert broker.ports == {"9092": 24567}  # the broker's client listener, bound to that port
    advertised = broker.env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "EXTERNAL://localhost:24567" in advertised
    assert "EXTERNAL://:9092" in broker.env["KAFKA_LISTENERS"].split(",")


def test_it_waits_for_the_broker_to_start(broker: DockerContainer) -> None:
    strategy = broker._wait_strategy
    assert isinstance(strategy, LogMessageWaitStrategy)
    assert strategy._message.search("[KafkaRaftServer nodeId=1] Kafka Server started")

"""Topics are made with the configured partitions, replication factor and
min.insync.replicas, and the start-up check finds each setting a topic has otherwise
(shared/kafka.py); the broker's answers are read as aiokafka gives them."""

from __future__ import annotations

from typing import Any

from contracts.topics import CASE_EVENTS, DEAD_LETTERS, DOMAIN_TOPICS, PARTNER_TOPICS
from deploy.local import kafka_security
from shared.kafka import TopicDefinition, config_entries, creation, described, differences
from shared.settings import Settings

PRODUCTION = Settings(topic_partitions=12, topic_replication_factor=3, topic_min_insync_replicas=2)


def test_a_topic_is_made_with_the_configured_settings_and_its_own() -> None:
    made = creation(PRODUCTION, DOMAIN_TOPICS[0])
    assert (made.partitions, made.replication_factor) == (12, 3)
    assert made.config == {
        "min.insync.replicas": "2",
        "retention.ms": "-1",
        "cleanup.policy": "delete",
    }
    assert made.wanted()["replication.factor"] == "3"
    partner = creation(PRODUCTION, PARTNER_TOPICS[0])
    assert partner.config["retention.ms"] == "7776000000"  # ninety days, the topic's own


def test_a_topics_own_setting_wins_over_the_deployments() -> None:
    pinned = TopicDefinition("x", "platform", "", {"min.insync.replicas": "1"})
    assert creation(PRODUCTION, pinned).config["min.insync.replicas"] == "1"


def test_every_differing_setting_is_found_and_no_other() -> None:
    wanted = creation(PRODUCTION, DEAD_LETTERS).wanted()
    actual = {**wanted, "replication.factor": "1", "min.insync.replicas": "1"}
    assert differences(wanted, actual) == {
        "replication.factor": ("3", "1"),
        "min.insync.replicas": ("2", "1"),
    }
    assert differences(wanted, dict(wanted)) == {}
    assert differences(wanted, {})["partitions"] == ("12", None)


def test_the_brokers_description_of_a_topic_is_read() -> None:
    topic = {
        "topic": CASE_EVENTS,
        "partitions": [
            {"partition": 0, "replicas": [1, 2, 3]},
            {"partition": 1, "replicas": [1, 2]},  # a reassignment under way: the weakest
        ],
    }
    assert described(topic, {"min.insync.replicas": "2"}) == {
        "partitions": "2",
        "replication.factor": "2",
        "min.insync.replicas": "2",
    }
    newer = {"partitions": [{"partition_index": 0, "replica_nodes": [1]}]}
    assert described(newer, {})["replication.factor"] == "1"


class Response:
    def __init__(self, resources: list[dict[str, Any]]) -> None:
        self.resources = resources

    def to_object(self) -> dict[str, Any]:
        return {"resources": self.resources}


def testconfig_entries_are_read_and_a_refused_topic_left_out() -> None:
    responses = [
        Response(
            [
                {
                    "error_code": 0,
                    "resource_name": "case-events",
                    "config_entries": [
                        {"config_names": "min.insync.replicas", "config_value": "1"},
                        {"config_names": "retention.ms", "config_value": "-1"},
                    ],
                },
                {"error_code": 29, "resource_name": "secret", "config_entries": []},
            ]
        )
    ]
    assert config_entries(responses) == {
        "case-events": {"min.insync.replicas": "1", "retention.ms": "-1"}
    }


def test_every_service_user_may_read_every_topics_settings() -> None:
    """The start-up check runs as the worker's own Kafka user in secure mode."""
    for service in kafka_security.SERVICE_READS:
        for topic in (t.name for t in [*DOMAIN_TOPICS, DEAD_LETTERS, *PARTNER_TOPICS]):
            assert kafka_security.may(service, "DESCRIBE_CONFIGS", "topic", topic)
    assert not kafka_security.may("partner-police", "DESCRIBE_CONFIGS", "topic", CASE_EVENTS)

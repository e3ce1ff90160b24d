"""Topics are made with the configured partitions, replication factor and
min.insync.replicas, and a topic whose settings differ from the configured ones is reported
at start (a warning naming it and each differing setting, and `csp_topic_settings_mismatch`),
against the shared broker (shared/kafka.py ensure_topics, check_topics)."""

from __future__ import annotations

import pytest
from aiokafka.admin import NewTopic
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from contracts.topics import CASE_EVENTS, DEAD_LETTERS, DOMAIN_TOPICS
from shared.kafka import DEAD_LETTER_TOPIC, check_topics, connected_admin, ensure_topics
from tests.conftest import settings_for
from tests.infrastructure import Infrastructure

pytestmark = pytest.mark.integration


async def test_topics_have_the_configured_settings_and_one_that_differs_is_reported(
    infra: Infrastructure, namespace: str
) -> None:
    settings = settings_for(
        infra, "projections", namespace, topic_partitions=3, topic_min_insync_replicas=2
    )
    admin = await connected_admin(settings)
    try:
        made_before = settings.topic(DEAD_LETTER_TOPIC)  # as an older release made it
        await admin.create_topics(
            [NewTopic(made_before, 2, 1, topic_configs={"retention.ms": "60000"})]
        )
        with capture_logs() as logs:
            await ensure_topics(settings, [*DOMAIN_TOPICS, DEAD_LETTERS])

        topic = (await admin.describe_topics([settings.topic(CASE_EVENTS)]))[0]
        assert len(topic["partitions"]) == 3
        # Made as configured: min.insync.replicas 2 too (the broker's default is 1).
        assert await check_topics(admin, settings, DOMAIN_TOPICS) == {}

        warned = [e for e in logs if e["event"] == "topic settings differ from the configured ones"]
        assert [e["topic"] for e in warned] == [made_before]
        assert warned[0]["differences"] == {
            "partitions": {"configured": "3", "actual": "2"},
            "retention.ms": {"configured": "-1", "actual": "60000"},
            "min.insync.replicas": {"configured": "2", "actual": "1"},
        }
        assert REGISTRY.get_sample_value("csp_topic_settings_mismatch", {"topic": made_before}) == 3
        assert (
            REGISTRY.get_sample_value(
                "csp_topic_settings_mismatch", {"topic": settings.topic(CASE_EVENTS)}
            )
            == 0
        )

        # Three copies configured on a broker that made one: every topic is reported.
        production = settings.model_copy(update={"topic_replication_factor": 3})
        found = await check_topics(admin, production, DOMAIN_TOPICS)
        assert {d["replication.factor"] for d in found.values()} == {("3", "1")}
        assert len(found) == len(DOMAIN_TOPICS)
    finally:
        await admin.close()

"""The composition root of the partner feeds: `api` (the audits, and each agency's HTTP feed)
and the `worker` that derives each agency's topic (and its HTTP feed) from the domain topics,
and prunes the HTTP feed to the topics' retention."""

from fastapi import FastAPI

from contracts.topics import TOPICS
from services.partner_feeds.api import FEED_SQL, create_app
from services.partner_feeds.feed import feed_topics, subscriptions
from services.partner_feeds.feed_store import keep_pruning
from shared.entrypoint import run
from shared.settings import Settings
from shared.worker import service_worker_app


def worker(settings: Settings) -> FastAPI:
    return service_worker_app(
        settings,
        TOPICS,
        subscriptions(settings),
        FEED_SQL,
        relay=False,
        publishes=feed_topics(),
        loops=[keep_pruning],
    )


def main() -> None:
    run("partner_feeds", create_app, worker)


if __name__ == "__main__":
    main()

"""What the quality worker keeps from other services' topics: the children it knows of (from
case-events, as every service but case events does), the council's reference data (the
localities a response may name, as education keeps the schools), and the erasure of a child's
personal data, which destroys the child's key in this service's own store too, so the
findings, comments and learning sealed with it read as erased here as they do in case events.

Each is a subscription, applied in the transaction that commits its consumed offsets: a
redelivered erasure finds the key already destroyed and changes nothing.
"""

from __future__ import annotations

import asyncpg

from contracts.case_events.events import (
    ChildBorn,
    ChildPersonalDataErased,
    ChildRegistered,
    UnbornChildRegistered,
)
from contracts.reference.events import ReferenceEvent, is_reference_stream
from contracts.topics import CASE_EVENTS, EVENTS
from shared.envelope import DomainEvent, Envelope
from shared.known_children import known_children_subscription
from shared.reference_data import reference_data_subscription
from shared.sealing import destroy_key
from shared.settings import Settings
from shared.worker import Subscription


class ChildErasure:
    """ChildPersonalDataErased on case-events: the child's key here is destroyed (a tombstone
    is left when there was none, so none is made for the child later)."""

    name = "child_erasure"

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        if isinstance(event, ChildPersonalDataErased):
            await destroy_key(conn, envelope.stream_id, f"case-events erasure {envelope.event_id}")


def subscriptions(settings: Settings) -> list[Subscription]:
    """As every worker's: by its settings (none are needed yet; deploy/dead_letters.py builds
    them the same way to replay a dead letter)."""
    return [
        known_children_subscription(
            CASE_EVENTS, EVENTS[CASE_EVENTS], (ChildRegistered, UnbornChildRegistered), ChildBorn
        ),
        # The council's localities, for the feedback responses that name one.
        reference_data_subscription(
            CASE_EVENTS, EVENTS[CASE_EVENTS], ReferenceEvent, is_reference_stream
        ),
        # A child's erasure never waits behind a dead letter of an earlier event of the child
        # (a contract this worker lacks yet): it destroys the key whatever came before.
        Subscription(
            "erasure", [CASE_EVENTS], EVENTS[CASE_EVENTS], [ChildErasure()], in_order=False
        ),
    ]

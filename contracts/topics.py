"""The topic map: every topic of the platform, who writes it, and the events it carries.

Written once here and read by the topic provisioning (`ensure_topics`, the secure mode's ACLs),
the event catalogue, the projections' registry and the partner feeds. Domain topics keep
their history forever (`retention.ms=-1`): a new projection or a new partner must be able to
read from offset 0. Partitions, replication factor and min.insync.replicas come from settings
(CSP_TOPIC_PARTITIONS, CSP_TOPIC_REPLICATION_FACTOR, CSP_TOPIC_MIN_INSYNC_REPLICAS).
"""

from __future__ import annotations

from contracts.accommodation.events import accommodation_event_types
from contracts.case_events.events import case_event_types
from contracts.education.events import education_event_types
from contracts.escalations.events import escalation_event_types
from contracts.quality.events import quality_event_types
from contracts.reference.events import reference_event_types
from shared.envelope import EventRegistry
from shared.kafka import DEAD_LETTER_TOPIC, TopicDefinition

CASE_EVENTS = "case-events"
ACCOMMODATION_EVENTS = "accommodation-events"
EDUCATION_EVENTS = "education-events"
ESCALATION_EVENTS = "escalation-events"
QUALITY_EVENTS = "quality-events"

FOREVER = {"retention.ms": "-1", "cleanup.policy": "delete"}
# A partner that needs older history gets it derived again from the domain topics.
NINETY_DAYS = {"retention.ms": "7776000000", "cleanup.policy": "delete"}

DOMAIN_TOPICS = [
    TopicDefinition(
        CASE_EVENTS,
        "case_events",
        "The child's statutory journey, from referral to leaving care; and the council's "
        "reference data (localities, schools, teams, social workers) the journey names.",
        FOREVER,
    ),
    TopicDefinition(
        ACCOMMODATION_EVENTS,
        "accommodation",
        "Placements of children in care and care leavers' accommodation.",
        FOREVER,
    ),
    TopicDefinition(
        EDUCATION_EVENTS,
        "education",
        "Enrolments, attendance, destinations and EET activity.",
        FOREVER,
    ),
    TopicDefinition(
        ESCALATION_EVENTS,
        "escalations",
        "Risk ratings, dip samples, IRO and EWO escalations, drift alerts.",
        FOREVER,
    ),
    TopicDefinition(
        QUALITY_EVENTS,
        "quality",
        "Quality assurance: practice evaluations, partnership audits, feedback surveys, "
        "serious incidents and their reviews, the improvement plan; free text sealed.",
        FOREVER,
    ),
]
DEAD_LETTERS = TopicDefinition(
    DEAD_LETTER_TOPIC,
    "platform",
    "Messages a consumer could not decode or apply, with the reason and their origin "
    "(topic, partition, offset) in headers. Kept forever: each one needs a decision.",
    FOREVER,
)

# Each partner agency's own topic, derived from the domain topics by partner_feeds, minimised
# (docs/security.md).
PARTNER_AGENCIES = {
    "police": "Police",
    "health": "Health (NHS trust, CAMHS, health visiting)",
    "schools": "Schools and the virtual school",
    "housing": "District councils' housing",
    "careers": "The careers service",
    "probation": "Probation",
}
PARTNER_TOPICS = [
    TopicDefinition(
        f"partner-{agency}",
        "partner_feeds",
        f"{name}: what the agency is entitled to, pseudonymised and minimised.",
        NINETY_DAYS,
    )
    for agency, name in PARTNER_AGENCIES.items()
]

TOPICS = [*DOMAIN_TOPICS, DEAD_LETTERS, *PARTNER_TOPICS]


def carried(*contracts: EventRegistry) -> EventRegistry:
    """One registry of the events of several contracts that travel on one topic."""
    registry = EventRegistry()
    for contract in contracts:
        registry.include(contract)
    return registry


# topic -> the events it carries (the domain topics' published contracts). The case events
# service keeps the council's reference data too: its changes travel on case-events, so a
# consumer of that topic decodes it with this registry, not with case_event_types alone.
EVENTS: dict[str, EventRegistry] = {
    CASE_EVENTS: carried(case_event_types, reference_event_types),
    ACCOMMODATION_EVENTS: accommodation_event_types,
    EDUCATION_EVENTS: education_event_types,
    ESCALATION_EVENTS: escalation_event_types,
    QUALITY_EVENTS: quality_event_types,
}


def named(*names: str) -> list[TopicDefinition]:
    """The definitions of these topics (base names), in the map's order."""
    unknown = set(names) - {t.name for t in TOPICS}
    if unknown:
        raise LookupError(f"no such topics in contracts.topics: {sorted(unknown)}")
    return [t for t in TOPICS if t.name in names]


def topic_of(service: str) -> str:
    """The domain topic a service writes."""
    for topic in DOMAIN_TOPICS:
        if topic.owner == service:
            return topic.name
    raise LookupError(f"no topic is owned by {service!r} in contracts.topics")


def domain_events() -> EventRegistry:
    """One registry of every domain event, for a consumer of every domain topic."""
    return carried(*EVENTS.values())


def domain_topic_names() -> list[str]:
    return [t.name for t in DOMAIN_TOPICS]

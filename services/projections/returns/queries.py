"""Reading what the returns are made from: every child's chronology as at a day."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import asyncpg

from services.projections.chronology.queries import end_of
from services.projections.returns.facts import ChildRecord, Fact

# The event types the returns read (tests/unit/test_returns_docs.py holds the derivations to
# it): a county's chronology is mostly school registers and escalations, which no return
# reads, so they are never fetched.
READS = frozenset(
    {
        "AdoptionDecisionMade",
        "AdoptionDecisionReversed",
        "AdoptionMatched",
        "AssessmentCompleted",
        "AssessmentStarted",
        "CareLeaverAccommodationRecorded",
        "CareLeaverStatusRecorded",
        "CareProceedingsConcluded",
        "ChildBorn",
        "ChildCharacteristicsRecorded",
        "ChildInNeedPlanEnded",
        "ChildInNeedPlanStarted",
        "ChildProtectionPlanEnded",
        "ChildProtectionPlanReviewed",
        "ChildProtectionPlanStarted",
        "ChildRegistered",
        "ContactRecorded",
        "DeprivationOfLibertyAuthorised",
        "DeprivationOfLibertyEnded",
        "EETActivityRecorded",
        "EpisodeOfNeedClosed",
        "FrontDoorContactReceived",
        "HealthAssessmentCompleted",
        "HealthOutcomesRecorded",
        "InitialChildProtectionConferenceHeld",
        "LegalStatusChanged",
        "LookedAfterReviewHeld",
        "MissingEpisodeRecorded",
        "PeriodOfCareEnded",
        "PeriodOfCareStarted",
        "PermanencePlanRecorded",
        "PersonalAdviserAllocated",
        "PlacementChanged",
        "PlacementEnded",
        "PlacementStarted",
        "PreviousPermanenceRecorded",
        "ReferralOutcomeRecorded",
        "ReferralReceived",
        "ReturnHomeInterviewOffered",
        "Section47EnquiryConcluded",
        "SocialWorkerAllocated",
        "SocialWorkerAllocationEnded",
        "StatutoryVisitRecorded",
        "StrategyDiscussionHeld",
        "SuitabilityReassessed",
        "UnbornChildRegistered",
    }
)


FACTS_SQL = (
    "SELECT c.child_id, c.event_id, c.event_type, c.occurred_on, c.recorded_at, c.details"
    " FROM chronology c JOIN chronology_children k USING (child_id)"
    " WHERE c.occurred_on <= $1 AND c.recorded_at < $2 AND c.event_type = ANY($3::text[])"
    " AND ($4::text[] IS NULL OR c.child_id = ANY($4::text[]))"
    " ORDER BY c.child_id, c.occurred_on, c.recorded_at, c.stream_id, c.stream_version"
)
LOCALITIES_SQL = (
    "SELECT child_id, locality FROM chronology_children"
    " WHERE $1::text[] IS NULL OR child_id = ANY($1::text[])"
)


async def fetched(
    conn: asyncpg.Connection, as_at: date, child_ids: Sequence[str] | None = None
) -> tuple[list[asyncpg.Record], dict[str, str]]:
    """The chronology rows of every registered child (or these children's) that had happened
    by the end of `as_at` and were recorded by then, of the types a return reads, and the
    children's localities: what `build_records` makes records of."""
    ids = None if child_ids is None else list(child_ids)
    rows = await conn.fetch(FACTS_SQL, as_at, end_of(as_at), sorted(READS), ids)
    localities = dict(await conn.fetch(LOCALITIES_SQL, ids))
    return rows, localities


def build_records(
    rows: Sequence[Mapping[str, Any]], localities: Mapping[str, str]
) -> list[ChildRecord]:
    """The children's records from their rows, oldest fact first, children in the order of
    their ids (pure: the caller may run it in a thread, every fact's details parsed)."""
    facts: dict[str, list[Fact]] = defaultdict(list)
    for r in rows:
        facts[r["child_id"]].append(
            Fact(
                event_id=r["event_id"],
                event_type=r["event_type"],
                occurred_on=r["occurred_on"],
                recorded_at=r["recorded_at"],
                details=json.loads(r["details"]),
            )
        )
    return [
        ChildRecord(child_id=child, locality=localities[child], facts=tuple(found))
        for child, found in sorted(facts.items())
        if child in localities
    ]


async def records(
    conn: asyncpg.Connection, as_at: date, child_ids: Sequence[str] | None = None
) -> list[ChildRecord]:
    """Every registered child's facts (or these children's) as at `as_at`, as a chronology as
    at that day reads them, of the types a return reads, oldest first."""
    rows, localities = await fetched(conn, as_at, child_ids)
    return build_records(rows, localities)

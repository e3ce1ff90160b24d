"""The attention queue's rules, pure: which recorded fact opens an item and which ends it, and
what the queue says of an open item on a day (age band, past its response time, a CP plan past
nine months); and its counts in the partnership view, suppressed as every partnership figure."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest

from contracts.accommodation import events as acc
from contracts.accommodation.codes import (
    Breach,
    CareLeaverAccommodation,
    PlacementType,
    Provider,
    ReasonForChange,
    Suitability,
)
from contracts.case_events import events as ce
from contracts.case_events.codes import ChildProtectionCategory, MissingKind
from contracts.escalations import events as esc
from contracts.escalations.codes import (
    RAG,
    AttentionKind,
    DriftRule,
    EscalationReason,
    EWOOutcome,
    Raiser,
    RatingSource,
    Resolution,
    Stage,
)
from services.escalations.domain.attention import AttentionItem, stream_of
from services.escalations.domain.commands import AcknowledgeAttention
from services.projections.attention.items import (
    CARE_LEAVER_ACCOMMODATION,
    PLACEMENT,
    Change,
    Closed,
    Due,
    Opened,
    age_band,
    changes,
    needs_attention_since,
    past_response_time,
    shown,
)
from services.projections.attention.projection import _seen
from services.projections.attention.queries import Item, counts
from services.projections.routes.live import Feed
from shared.aggregate import Decision, DomainRuleViolation

K = AttentionKind
CHILD = "C-000123"
DAY = date(2024, 4, 2)  # a Tuesday


def kinds_of(found: list[Change]) -> list[tuple[str, AttentionKind, str | None]]:
    return [(type(c).__name__, c.kind, c.subject) for c in found]


# -- what opens and what closes ------------------------------------------------------------------


def test_an_under_16_in_an_unregulated_placement_opens_an_item_the_next_placement_closes() -> None:
    breach = acc.AccommodationBreachFlagged(
        flagged_on=DAY, breach=Breach.UNDER_16_IN_UNREGULATED_SETTING, age=14, code="H5"
    )
    assert changes(CHILD, breach) == [
        Opened(K.ACCOMMODATION_BREACH, CHILD, PLACEMENT, "under_16_unregulated (H5, aged 14)", DAY)
    ]
    moved = acc.PlacementChanged(
        placement_id="P-2",
        start_date=date(2024, 4, 9),
        placement_type=PlacementType.FOSTER_RELATIVE_FRIEND_OTHER,
        provider=Provider.OWN_PROVISION,
        in_council_area=True,
        reason=ReasonForChange.CARER_REQUEST,
        previous_placement_id="P-1",
        moves_in_last_12_months=1,
    )
    assert changes(CHILD, moved) == [
        Closed(K.ACCOMMODATION_BREACH, CHILD, PLACEMENT, date(2024, 4, 9))
    ]
    ended = acc.PlacementEnded(end_date=date(2024, 5, 1), placement_id="P-2")
    assert kinds_of(changes(CHILD, ended)) == [("Closed", K.ACCOMMODATION_BREACH, PLACEMENT)]


def test_code_z_at_17_is_closed_by_other_accommodation_not_by_a_placement() -> None:
    z = acc.AccommodationBreachFlagged(flagged_on=DAY, breach=Breach.CODE_Z_AT_17, age=17, code="Z")
    assert kinds_of(changes(CHILD, z)) == [
        ("Opened", K.ACCOMMODATION_BREACH, CARE_LEAVER_ACCOMMODATION)
    ]
    other = acc.CareLeaverAccommodationRecorded(
        recorded_on=DAY,
        accommodation=CareLeaverAccommodation.SUPPORTED_LODGINGS,
        suitability=Suitability.SUITABLE,
        code="E1",
    )
    assert kinds_of(changes(CHILD, other)) == [
        ("Closed", K.ACCOMMODATION_BREACH, CARE_LEAVER_ACCOMMODATION),
        ("Closed", K.UNSUITABLE_ACCOMMODATION, CARE_LEAVER_ACCOMMODATION),
    ]


def test_unsuitable_care_leaver_accommodation_is_open_until_reassessed_suitable() -> None:
    recorded = acc.CareLeaverAccommodationRecorded(
        recorded_on=DAY,
        accommodation=CareLeaverAccommodation.BED_AND_BREAKFAST,
        suitability=Suitability.UNSUITABLE,
        code="W2",
    )
    opened = [c for c in changes(CHILD, recorded) if isinstance(c, Opened)]
    assert opened == [
        Opened(K.UNSUITABLE_ACCOMMODATION, CHILD, CARE_LEAVER_ACCOMMODATION, "W2", DAY)
    ]
    still = acc.SuitabilityReassessed(
        reassessed_on=date(2024, 4, 5), suitability=Suitability.UNSUITABLE, code="W2"
    )
    assert kinds_of(changes(CHILD, still)) == [
        ("Opened", K.UNSUITABLE_ACCOMMODATION, CARE_LEAVER_ACCOMMODATION)  # a no-op when open
    ]
    suitable = acc.SuitabilityReassessed(
        reassessed_on=date(2024, 4, 9), suitability=Suitability.SUITABLE, code="W1"
    )
    assert changes(CHILD, suitable) == [
        Closed(K.UNSUITABLE_ACCOMMODATION, CHILD, CARE_LEAVER_ACCOMMODATION, date(2024, 4, 9))
    ]


def test_a_missing_child_is_open_until_the_same_episode_is_recorded_with_the_return() -> None:
    gone = ce.MissingEpisodeRecorded(started_on=DAY, kind=MissingKind.MISSING)
    assert changes(CHILD, gone) == [Opened(K.MISSING, CHILD, "2024-04-02", "M", DAY)]
    back = ce.MissingEpisodeRecorded(
        started_on=DAY, ended_on=date(2024, 4, 3), kind=MissingKind.MISSING
    )
    assert changes(CHILD, back) == [Closed(K.MISSING, CHILD, "2024-04-02", date(2024, 4, 3))]
    other = ce.MissingEpisodeRecorded(started_on=date(2024, 4, 20), kind=MissingKind.MISSING)
    assert changes(CHILD, other)[0].subject == "2024-04-20"  # another episode, another item


def test_a_new_red_rating_opens_red_again_does_not_a_later_rating_closes() -> None:
    def rated(rating: RAG, previous: RAG | None) -> esc.RiskRatingAssigned:
        return esc.RiskRatingAssigned(
            rated_on=DAY,
            rating=rating,
            previous=previous,
            visiting_frequency_days=7,
            source=RatingSource.ASSESSMENT,
        )

    assert kinds_of(changes(CHILD, rated(RAG.RED, RAG.AMBER))) == [
        ("Opened", K.RED_RATING, "rating")
    ]
    assert kinds_of(changes(CHILD, rated(RAG.RED, None))) == [("Opened", K.RED_RATING, "rating")]
    assert changes(CHILD, rated(RAG.RED, RAG.RED)) == []
    assert kinds_of(changes(CHILD, rated(RAG.AMBER, RAG.RED))) == [
        ("Closed", K.RED_RATING, "rating")
    ]


def test_a_drift_alert_opens_and_its_clearance_closes_but_a_cp_plans_nine_months_is_its_own() -> (
    None
):
    raised = esc.DriftAlertRaised(
        raised_on=DAY,
        rule=DriftRule.PROCEEDINGS_26_WEEKS,
        subject_id="PR-1",
        since=date(2023, 9, 1),
        due=date(2024, 3, 1),
    )
    subject = "proceedings_26_weeks:PR-1"
    assert changes(CHILD, raised) == [
        Opened(K.DRIFT_ALERT, CHILD, subject, "proceedings_26_weeks", DAY, date(2024, 3, 1))
    ]
    cleared = esc.DriftAlertCleared(
        cleared_on=date(2024, 4, 8), rule=DriftRule.PROCEEDINGS_26_WEEKS, subject_id="PR-1"
    )
    assert changes(CHILD, cleared) == [Closed(K.DRIFT_ALERT, CHILD, subject, date(2024, 4, 8))]
    cp = raised.model_copy(update={"rule": DriftRule.CP_PLAN_9_MONTHS})
    assert changes(CHILD, cp) == []  # the CP plan's own item, shown from the day itself


def test_an_escalation_is_open_until_answered_and_due_again_when_advanced() -> None:
    stream = "IRO-2024-070"
    raised = esc.EscalationRaised(
        escalation_id=stream,
        child_id=CHILD,
        raised_on=DAY,
        raised_by=Raiser.IRO,
        reason=EscalationReason.PERMANENCE_PLANNING,
        locality="Exeter",
    )
    # Five working days after Tuesday 2 April 2024: Tuesday 9 April.
    assert changes(stream, raised) == [
        Opened(K.ESCALATION, CHILD, stream, "permanence_planning", DAY, date(2024, 4, 9))
    ]
    advanced = esc.EscalationAdvanced(
        advanced_on=date(2024, 4, 5), stage=Stage.FORMAL, child_id=CHILD
    )
    assert changes(stream, advanced) == [Due(K.ESCALATION, CHILD, stream, date(2024, 4, 12))]
    responded = esc.EscalationResponded(responded_on=date(2024, 4, 8), child_id=CHILD)
    assert changes(stream, responded) == [Closed(K.ESCALATION, CHILD, stream, date(2024, 4, 8))]
    resolved = esc.EscalationResolved(
        resolved_on=date(2024, 4, 8),
        resolution=Resolution.AGREED,
        child_id=CHILD,
        reason=EscalationReason.PERMANENCE_PLANNING,
        days_open=6,
    )
    assert kinds_of(changes(stream, resolved)) == [("Closed", K.ESCALATION, stream)]


def test_an_ewo_escalation_is_open_until_closed() -> None:
    raised = esc.EWOAttendanceEscalationRaised(
        raised_on=DAY, sessions_missed=11, window_start=date(2024, 1, 23), threshold=10
    )
    assert kinds_of(changes(CHILD, raised)) == [("Opened", K.EWO_ESCALATION, "ewo")]
    closed = esc.EWOAttendanceEscalationClosed(
        closed_on=date(2024, 5, 1), outcome=EWOOutcome.ATTENDANCE_IMPROVED
    )
    assert kinds_of(changes(CHILD, closed)) == [("Closed", K.EWO_ESCALATION, "ewo")]


def test_a_cp_plan_is_due_at_nine_months_and_closed_when_it_ends() -> None:
    started = ce.ChildProtectionPlanStarted(
        child_id=CHILD,
        plan_id="CPP-1",
        category=ChildProtectionCategory.NEGLECT,
        start_date=date(2023, 5, 31),
        previous_plans=0,
    )
    assert changes(CHILD, started) == [
        Opened(K.CP_PLAN_9_MONTHS, CHILD, "CPP-1", "NEG", date(2023, 5, 31), date(2024, 2, 29))
    ]
    ended = ce.ChildProtectionPlanEnded(plan_id="CPP-1", end_date=DAY, days_open=307)
    assert changes(CHILD, ended) == [Closed(K.CP_PLAN_9_MONTHS, CHILD, "CPP-1", DAY)]


def test_an_acknowledgement_or_an_unrelated_event_changes_no_item() -> None:
    acknowledged = esc.AttentionAcknowledged(
        child_id=CHILD,
        assigned_to="SW-17",
        acknowledged_on=DAY,
        kind=K.MISSING,
        item_id="0190f5e4-0000-7000-8000-000000000000",
    )
    assert changes("attention-x", acknowledged) == []  # the projection keeps it apart
    dip = esc.RiskRatingDipSampled(
        sampled_on=DAY, manager_id="TM-4", agreed=True, rating_sampled=RAG.RED
    )
    assert changes(CHILD, dip) == []


# -- what the queue says on a day -----------------------------------------------------------------


def test_a_cp_plan_is_shown_from_the_day_it_reaches_nine_months_and_needs_a_person_since() -> None:
    nine = date(2024, 2, 29)
    assert not shown(K.CP_PLAN_9_MONTHS, nine, date(2024, 2, 28))
    assert shown(K.CP_PLAN_9_MONTHS, nine, nine)
    assert needs_attention_since(K.CP_PLAN_9_MONTHS, date(2023, 5, 31), nine) == nine
    # Everything else is shown, and needs a person, from the fact's own day.
    assert shown(K.MISSING, None, date(2000, 1, 1))
    assert needs_attention_since(K.DRIFT_ALERT, DAY, date(2024, 3, 1)) == DAY


def test_an_escalation_is_past_its_response_time_the_day_after_it_was_due() -> None:
    due = date(2024, 4, 9)
    assert not past_response_time(K.ESCALATION, due, due)
    assert past_response_time(K.ESCALATION, due, date(2024, 4, 10))
    assert not past_response_time(K.DRIFT_ALERT, due, date(2024, 4, 10))  # escalations only


@pytest.mark.parametrize(
    ("born", "band"),
    [
        (date(2024, 4, 3), "unborn"),
        (date(2024, 4, 2), "0-8"),
        (date(2015, 4, 3), "0-8"),
        (date(2015, 4, 2), "9-12"),
        (date(2011, 4, 2), "13-17"),
        (date(2006, 4, 3), "13-17"),
        (date(2006, 4, 2), "18-25"),
        (date(1998, 4, 1), "over 25"),
    ],
)
def test_age_bands(born: date, band: str) -> None:
    assert age_band(born, DAY) == band


# -- the partnership view -------------------------------------------------------------------------


def item(kind: AttentionKind, locality: str, n: int) -> Item:
    return Item(
        item_id=f"00000000-0000-7000-8000-{n:012d}",
        kind=kind,
        child_id=f"C-{n:06d}",
        locality=locality,
        age_band="13-17",
        detail="",
        since=DAY,
        days_open=0,
        recorded_at=datetime(2024, 4, 2, tzinfo=UTC),
        due_on=None,
        past_response_time=False,
        acknowledged_by=None,
        acknowledged_at=None,
        assigned_to=None,
    )


def test_partnership_counts_suppress_small_numbers_alike_for_the_county_and_each_locality() -> None:
    items = [
        *(item(K.MISSING, "Exeter", n) for n in range(6)),
        *(item(K.MISSING, "Torbay", n) for n in range(10, 12)),  # 2: small
        *(item(K.RED_RATING, "Exeter", n) for n in range(20, 27)),
    ]
    tallied = Counter((i.kind, i.locality) for i in items)
    county = {f.key: f for f in counts(tallied, DAY, ["Exeter", "Torbay"], None, 5).figures}
    exeter = {f.key: f for f in counts(tallied, DAY, ["Exeter", "Torbay"], "Exeter", 5).figures}
    torbay = {f.key: f for f in counts(tallied, DAY, ["Exeter", "Torbay"], "Torbay", 5).figures}
    assert torbay["open.missing"].suppressed and torbay["open.missing"].count is None
    # Exeter's 6 with the county's 8 would give Torbay's 2 away: one of them is hidden too.
    assert exeter["open.missing"].suppressed or county["open.missing"].suppressed
    assert exeter["open.red_rating"].count == 7 and county["open.red_rating"].count == 7
    assert county["open.escalation"].count == 0  # none is not a small number
    assert "open" not in county  # no total: beside the kinds it would give a hidden one away
    assert {f.label for f in county.values()} >= {"Missing", "New RED rating"}


# -- the live feed ------------------------------------------------------------------------------


def test_the_live_feed_sends_the_queues_changes_as_their_own_event() -> None:
    feed = Feed()
    queue = feed.join()
    feed.notify(None, 0, "attention_changed", "")
    feed.notify(None, 0, "boards_changed", "ChildRegistered")
    first: dict[str, Any] = queue.get_nowait()
    second: dict[str, Any] = queue.get_nowait()
    assert (first["event"], second["event"]) == ("attention", "changed")
    assert second["event_type"] == "ChildRegistered"


# -- the acknowledgement, as the escalations service decides it ----------------------------------


def test_an_acknowledgement_is_recorded_again_to_reassign_but_never_of_another_child() -> None:
    item_id = "0190f5e4-0000-7000-8000-000000000001"
    aggregate = AttentionItem(stream_of(item_id))
    today = Decision(today=DAY)
    [first] = aggregate.acknowledge(
        K.MISSING, item_id, AcknowledgeAttention(child_id=CHILD, assigned_to="SW-17"), today
    )
    assert first == esc.AttentionAcknowledged(
        child_id=CHILD, assigned_to="SW-17", acknowledged_on=DAY, kind=K.MISSING, item_id=item_id
    )
    aggregate.when(first)
    [again] = aggregate.acknowledge(
        K.MISSING, item_id, AcknowledgeAttention(child_id=CHILD, assigned_to="SW-18"), today
    )
    assert isinstance(again, esc.AttentionAcknowledged) and again.assigned_to == "SW-18"
    with pytest.raises(DomainRuleViolation):
        aggregate.acknowledge(
            K.MISSING, item_id, AcknowledgeAttention(child_id="C-999999", assigned_to="SW-1"), today
        )
    with pytest.raises(DomainRuleViolation):
        aggregate.acknowledge(
            K.RED_RATING, item_id, AcknowledgeAttention(child_id=CHILD, assigned_to="SW-1"), today
        )


def test_a_cp_plan_reaching_nine_months_after_londons_midnight_is_told_to_the_live_pages() -> None:
    """A plan recorded at 23:30 UTC in summer is recorded at 00:30 in London: due that day in
    London, it is in the queue (whose today is London's), and the live pages fetch it."""
    due = Opened(
        AttentionKind.CP_PLAN_9_MONTHS, "C-1", "CP-1", "N2", date(2025, 10, 1), date(2026, 7, 1)
    )
    assert _seen(due, datetime(2026, 6, 30, 23, 30, tzinfo=UTC))  # 1 July in London
    assert not _seen(due, datetime(2026, 6, 30, 22, 30, tzinfo=UTC))  # still 30 June there

"""The register feed's events made straight in their wire form (`attendance_on_the_wire`, what
the route records) are the events of the definition in their models (`attendance_events`):
for any feed, the same refusal with the same problems, or the same events, payload for
payload, each one its model validates. Property-based; no I/O."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.education import events as e
from contracts.education.codes import AttendanceCode, Session
from services.education.domain import commands as c
from services.education.domain.learner import (
    Enrolment,
    FeedRefused,
    attendance_events,
    attendance_on_the_wire,
)
from shared.aggregate import KnownChild

SCHOOL, OTHER = "113254", "100001"
TODAY = date(2024, 6, 14)
CHILDREN = {
    k.child_id: k
    for k in (
        KnownChild("C-1", date(2012, 5, 14), "Exeter"),
        KnownChild("C-2", date(2012, 1, 1), "Exeter"),
        KnownChild("C-3", date(2024, 6, 3), "Exeter"),  # born in the feed's days
    )
}
ROLL = {
    "C-1": [Enrolment("EN-1", SCHOOL, date(2020, 9, 1), date(2024, 6, 10))],
    "C-2": [
        Enrolment("EN-1", OTHER, date(2020, 9, 1)),
        Enrolment("EN-2", SCHOOL, date(2024, 6, 5)),
    ],
    "C-3": [Enrolment("EN-1", SCHOOL, date(2020, 9, 1))],
}

marks = st.fixed_dictionaries(
    {
        "child_id": st.sampled_from(["C-1", "C-2", "C-3", "C-9"]),  # C-9: not known
        "date": st.integers(-12, 2).map(lambda d: TODAY + timedelta(days=d)),
        "session": st.sampled_from(list(Session)),
        "code": st.sampled_from(list(AttendanceCode)),
    }
)
feeds = st.builds(
    c.RecordRegisterFeed,
    school_urn=st.sampled_from([SCHOOL, OTHER]),
    marks=st.lists(marks, min_size=1, max_size=12),
)
# Feeds that are recorded: C-3 (on the roll all along) each session at most once, in the past.
recorded_feeds = st.builds(
    c.RecordRegisterFeed,
    school_urn=st.just(SCHOOL),
    marks=st.lists(
        st.fixed_dictionaries(
            {
                "child_id": st.just("C-3"),
                "date": st.integers(-11, 0).map(lambda d: TODAY + timedelta(days=d)),
                "session": st.sampled_from(list(Session)),
                "code": st.sampled_from(list(AttendanceCode)),
            }
        ),
        min_size=1,
        max_size=12,
        unique_by=lambda m: (m["date"], m["session"]),
    ),
)


def _both(feed: c.RecordRegisterFeed) -> tuple[object, object]:
    answers: list[object] = []
    for decide in (attendance_events, attendance_on_the_wire):
        try:
            answers.append(decide(feed, CHILDREN, TODAY, ROLL))
        except FeedRefused as refused:
            answers.append(("refused", refused.problems))
    return answers[0], answers[1]


def _same_events(by_model: object, on_the_wire: object) -> None:
    assert isinstance(by_model, list) and isinstance(on_the_wire, list)
    assert [child for child, _ in on_the_wire] == [child for child, _ in by_model]
    for (_, events), (_, wired) in zip(by_model, on_the_wire, strict=True):
        assert len(wired) == len(events)
        for event, wire in zip(events, wired, strict=True):
            assert wire.payload == event.model_dump(mode="json")
            assert (wire.event_type, wire.schema_version) == (
                event.event_type,
                event.schema_version,
            )
            assert wire.occurred_at == event.occurred_at()
            assert e.AttendanceRecorded.model_validate(wire.payload) == event


@settings(max_examples=300, deadline=None)
@given(feeds)
def test_any_feed_is_refused_alike_or_recorded_as_the_same_events(
    feed: c.RecordRegisterFeed,
) -> None:
    by_model, on_the_wire = _both(feed)
    if isinstance(by_model, tuple):
        assert on_the_wire == by_model  # the same problems, mark by mark
    else:
        _same_events(by_model, on_the_wire)


@settings(max_examples=200, deadline=None)
@given(recorded_feeds)
def test_feeds_that_are_recorded_give_the_same_events(feed: c.RecordRegisterFeed) -> None:
    by_model, on_the_wire = _both(feed)
    assert not isinstance(by_model, tuple), by_model
    _same_events(by_model, on_the_wire)

"""The register feed and learner rules, without I/O."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.education import events as e
from services.education.domain import commands as c
from services.education.domain.learner import (
    Enrolment,
    FeedRefused,
    Learner,
    attendance_events,
    repeated_sessions,
)
from shared.aggregate import Decision, DomainRuleViolation, KnownChild

TWICE = "this child's session is marked twice in the feed"
CHILDREN = {
    "C-1": KnownChild("C-1", date(2010, 1, 1), "Exeter"),
    "C-2": KnownChild("C-2", date(2011, 1, 1), "North"),
}
# Both on the sending school's roll (tests/unit/test_register_feed_roll.py: when they are not).
ROLL = {c: [Enrolment("EN-1", "113254", date(2020, 9, 1))] for c in CHILDREN}


def feed(*marks: tuple[str, str, str, str]) -> c.RecordRegisterFeed:
    return c.RecordRegisterFeed(
        school_urn="113254",
        marks=[{"child_id": ch, "date": d, "session": s, "code": code} for ch, d, s, code in marks],
    )


def test_marks_become_one_event_per_child_and_day_counting_missed_sessions() -> None:
    items = attendance_events(
        feed(
            ("C-1", "2024-06-03", "AM", "/"),
            ("C-1", "2024-06-03", "PM", "N"),
            ("C-2", "2024-06-03", "AM", "I"),
            ("C-1", "2024-06-04", "AM", "#"),
        ),
        CHILDREN,
        date(2024, 6, 5),
        ROLL,
    )
    by_child = {child: events for child, events in items}
    first, second = by_child["C-1"]
    assert isinstance(first, e.AttendanceRecorded) and isinstance(second, e.AttendanceRecorded)
    assert (first.sessions_attended, first.sessions_missed) == (1, 1)
    assert (second.sessions_attended, second.sessions_missed) == (0, 0)  # closed: not possible
    [other] = by_child["C-2"]
    assert isinstance(other, e.AttendanceRecorded) and other.sessions_missed == 1


def test_a_feed_with_any_bad_mark_records_nothing_and_says_where() -> None:
    with pytest.raises(FeedRefused) as refused:
        attendance_events(
            feed(
                ("C-1", "2024-06-03", "AM", "/"),
                ("C-9", "2024-06-03", "AM", "/"),
                ("C-2", "2024-06-09", "AM", "/"),
                ("C-1", "2024-06-03", "AM", "L"),
            ),
            CHILDREN,
            date(2024, 6, 5),
            ROLL,
        )
    assert refused.value.problems == [
        (1, "child_id", "unknown child"),
        (2, "date", "is in the future"),
        (3, "session", TWICE),
    ]


def test_eet_activity_is_for_16_to_25_and_neet_is_derived() -> None:
    d = Decision(today=date(2030, 1, 1), child=KnownChild("C-1", date(2010, 1, 1), "Exeter"))
    [neet] = Learner("C-1").record_activity(
        c.RecordEETActivity(recorded_on="2026-09-01", activity="G6"), d
    )
    assert isinstance(neet, e.EETActivityRecorded) and neet.neet
    with pytest.raises(DomainRuleViolation, match="16-25"):
        Learner("C-1").record_activity(
            c.RecordEETActivity(recorded_on="2025-09-01", activity="F1"), d
        )


def on_record(school: str, day: str, *sessions: str) -> e.AttendanceRecorded:
    return e.AttendanceRecorded(
        attendance_date=date.fromisoformat(day),
        school_urn=school,
        marks=[e.SessionMark(session=s, code="/") for s in sessions],
        sessions_attended=len(sessions),
        sessions_missed=0,
    )


def test_a_repeat_is_a_session_its_school_recorded_already_and_nothing_else() -> None:
    body = feed(
        ("C-1", "2024-06-03", "AM", "/"),
        ("C-1", "2024-06-03", "PM", "N"),  # the afternoon of a morning recorded: new
        ("C-2", "2024-06-03", "AM", "I"),  # recorded by another school (dual registered): new
        ("C-2", "2024-06-04", "AM", "/"),
        ("C-2", "2024-06-05", "PM", "/"),
    )
    recorded = {
        "C-1": [on_record("113254", "2024-06-03", "AM")],
        "C-2": [
            on_record("100001", "2024-06-03", "AM", "PM"),
            on_record("113254", "2024-06-04", "PM"),  # another session of that day
            on_record("113254", "2024-06-05", "AM", "PM"),
        ],
    }
    assert repeated_sessions(body, recorded) == [
        (0, date(2024, 6, 3), "AM"),
        (4, date(2024, 6, 5), "PM"),
    ]
    assert repeated_sessions(body, {}) == []
    assert repeated_sessions(body, {"C-2": [on_record("100001", "2024-06-05", "PM")]}) == []

"""A child as a learner: school, EHCP, destinations, EET activity; and the register feed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from contracts.education import events as e
from contracts.education.codes import ATTENDED, MISSED, NEET
from services.education.domain import commands as c
from shared.aggregate import (
    Aggregate,
    Decision,
    DomainRuleViolation,
    KnownChild,
    check_day,
    known,
)
from shared.envelope import DomainEvent, WireEvent, at_start_of


@dataclass
class State:
    enrolment: tuple[str, date] | None = None
    ehcp_since: date | None = None


class Learner(Aggregate):
    registry = e.education_event_types

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.state = State()

    def _day(
        self, name: str, day: date, d: Decision, after: date | None = None, what: str = ""
    ) -> None:
        check_day(name, day, d, d.child.date_of_birth if d.child else None, after, what)

    def enrol(self, cmd: c.EnrolInSchool, d: Decision) -> list[DomainEvent]:
        self._day("start_date", cmd.start_date, d)
        if self.state.enrolment is not None:
            raise DomainRuleViolation(
                "enrolment_id",
                f"the child is enrolled ({self.state.enrolment[0]}); record leaving first",
            )
        return [e.SchoolEnrolled(**cmd.model_dump())]

    def leave(self, cmd: c.LeaveSchool, d: Decision) -> list[DomainEvent]:
        if self.state.enrolment is None or self.state.enrolment[0] != cmd.enrolment_id:
            raise DomainRuleViolation("enrolment_id", "no such current enrolment")
        self._day("left_on", cmd.left_on, d, self.state.enrolment[1], "the enrolment started")
        return [e.SchoolLeft(**cmd.model_dump())]

    def start_ehcp(self, cmd: c.StartEHCP, d: Decision) -> list[DomainEvent]:
        self._day("started_on", cmd.started_on, d)
        if self.state.ehcp_since is not None:
            raise DomainRuleViolation("started_on", "an EHCP is already in place")
        return [e.EducationHealthCarePlanStarted(**cmd.model_dump())]

    def end_ehcp(self, cmd: c.EndEHCP, d: Decision) -> list[DomainEvent]:
        if self.state.ehcp_since is None:
            raise DomainRuleViolation("ended_on", "no EHCP is in place")
        self._day("ended_on", cmd.ended_on, d, self.state.ehcp_since, "the EHCP started")
        return [e.EducationHealthCarePlanEnded(**cmd.model_dump())]

    def intend_year11(self, cmd: c.RecordYear11Intention, d: Decision) -> list[DomainEvent]:
        self._day("recorded_on", cmd.recorded_on, d)
        return [e.Year11DestinationIntended(**cmd.model_dump())]

    def confirm_year11(self, cmd: c.ConfirmYear11Destination, d: Decision) -> list[DomainEvent]:
        self._day("recorded_on", cmd.recorded_on, d)
        return [e.Year11DestinationConfirmed(**cmd.model_dump())]

    def record_activity(self, cmd: c.RecordEETActivity, d: Decision) -> list[DomainEvent]:
        self._day("recorded_on", cmd.recorded_on, d)
        if not 16 <= known(d).age_on(cmd.recorded_on) <= 25:
            raise DomainRuleViolation("recorded_on", "EET activity is recorded for ages 16-25")
        return [e.EETActivityRecorded(**cmd.model_dump(), neet=cmd.activity in NEET)]

    def review_at_neet_panel(self, cmd: c.RecordNEETPanelReview, d: Decision) -> list[DomainEvent]:
        self._day("review_date", cmd.review_date, d)
        return [e.NEETPanelReviewed(**cmd.model_dump())]

    def sign_up_for_summer_school(
        self, cmd: c.SignUpForSummerSchool, d: Decision
    ) -> list[DomainEvent]:
        self._day("signed_up_on", cmd.signed_up_on, d)
        return [e.SummerSchoolSignedUp(**cmd.model_dump())]

    def when(self, event: DomainEvent) -> None:
        match event:
            case e.SchoolEnrolled():
                self.state.enrolment = (event.enrolment_id, event.start_date)
            case e.SchoolLeft():
                self.state.enrolment = None
            case e.EducationHealthCarePlanStarted():
                self.state.ehcp_since = event.started_on
            case e.EducationHealthCarePlanEnded():
                self.state.ehcp_since = None


# The events a school roll is made of, in a child's stream (the route reads only these).
ENROLMENT_EVENTS = (e.SchoolEnrolled.event_type, e.SchoolLeft.event_type)


@dataclass(frozen=True)
class Enrolment:
    """A child's place on a school's roll: from its start date until the day the child left,
    which is not on the roll (the boards' "school" fact ends on that day too)."""

    enrolment_id: str
    school_urn: str
    start_date: date
    left_on: date | None = None

    def on_roll(self, school_urn: str, day: date) -> bool:
        return (
            self.school_urn == school_urn
            and self.start_date <= day
            and (self.left_on is None or day < self.left_on)
        )


def enrolments(events: Iterable[DomainEvent]) -> list[Enrolment]:
    """A child's enrolments, past and present, from its stream's events in order."""
    spans: list[Enrolment] = []
    for event in events:
        match event:
            case e.SchoolEnrolled():
                spans.append(Enrolment(event.enrolment_id, event.school_urn, event.start_date))
            case e.SchoolLeft():
                spans = [
                    replace(s, left_on=event.left_on)
                    if s.enrolment_id == event.enrolment_id and s.left_on is None
                    else s
                    for s in spans
                ]
    return spans


UNKNOWN_CHILD = "unknown child"
NOT_ON_ROLL = "is not on this school's roll on that date"


class FeedRefused(ValueError):
    """The register feed has marks that cannot be recorded: each with its place and reason."""

    def __init__(self, problems: list[tuple[int, str, str]]) -> None:
        super().__init__(f"{len(problems)} marks refused")
        self.problems = problems  # (index in marks, field, reason)


def _checked_days(
    feed: c.RecordRegisterFeed,
    children: Mapping[str, KnownChild],
    today: date,
    roll: Mapping[str, Sequence[Enrolment]],
) -> dict[tuple[str, date], list[c.RegisterMark]]:
    """The feed's marks by child and day, in child and day order, or FeedRefused with every
    problem. Every mark is checked before anything is recorded: all or nothing. A mark is the
    sending school's to record only for a child on its roll that day (`roll`: each child's
    enrolments, at any school), whoever sends it. A day is checked once for its child (a
    register marks it twice, AM and PM), and each of its marks gets the day's problem."""
    problems: list[tuple[int, str, str]] = []
    by_child: dict[str, dict[date, list[c.RegisterMark]]] = {}
    day_problems: dict[tuple[str, date], tuple[str, str] | None] = {}
    seen: set[tuple[str, date, str]] = set()
    for i, mark in enumerate(feed.marks):
        child_id, day = mark.child_id, mark.date
        child = children.get(child_id)
        if child is None:
            problems.append((i, "child_id", UNKNOWN_CHILD))
            continue
        days = by_child.setdefault(child_id, {})
        marks = days.get(day)
        if marks is None:
            marks = days[day] = []
            day_problems[child_id, day] = _day_problem(
                feed.school_urn, child, day, today, roll.get(child_id, ())
            )
        problem = day_problems[child_id, day]
        if problem is not None:
            problems.append((i, *problem))
        key = (child_id, day, mark.session.value)
        if key in seen:
            problems.append((i, "session", "this child's session is marked twice in the feed"))
        seen.add(key)
        marks.append(mark)
    if problems:
        raise FeedRefused(problems)
    # Children sorted by id, then each one's few days: one sort of the ids, not of every
    # (child, day) pair (a feed's thousands of them).
    return {
        (child_id, day): by_child[child_id][day]
        for child_id in sorted(by_child)
        for day in sorted(by_child[child_id])
    }


def _day_problem(
    school_urn: str, child: KnownChild, day: date, today: date, enrolled: Iterable[Enrolment]
) -> tuple[str, str] | None:
    """Why a known child's marks on `day` are not `school_urn`'s to record, if they are not:
    (field, reason)."""
    if day > today:
        return "date", "is in the future"
    if day < child.date_of_birth:
        return "date", "is before the child's date of birth"
    if not any(s.on_roll(school_urn, day) for s in enrolled):
        return "child_id", NOT_ON_ROLL
    return None


def attendance_events(
    feed: c.RecordRegisterFeed,
    children: Mapping[str, KnownChild],
    today: date,
    roll: Mapping[str, Sequence[Enrolment]],
) -> list[tuple[str, list[DomainEvent]]]:
    """The register feed as one AttendanceRecorded per child and day, or FeedRefused: the
    definition, in the events' own models. The route records `attendance_on_the_wire`, which
    tests hold to the same answers."""
    per_child: dict[str, list[DomainEvent]] = defaultdict(list)
    for (child_id, day), marks in _checked_days(feed, children, today, roll).items():
        per_child[child_id].append(
            e.AttendanceRecorded(
                attendance_date=day,
                school_urn=feed.school_urn,
                marks=[e.SessionMark(session=m.session, code=m.code) for m in marks],
                sessions_attended=sum(m.code.value in ATTENDED for m in marks),
                sessions_missed=sum(m.code.value in MISSED for m in marks),
            )
        )
    return list(per_child.items())


def attendance_on_the_wire(
    feed: c.RecordRegisterFeed,
    children: Mapping[str, KnownChild],
    today: date,
    roll: Mapping[str, Sequence[Enrolment]],
) -> list[tuple[str, list[WireEvent]]]:
    """`attendance_events` made straight in the events' wire form, without a model per event
    and per mark (a feed is thousands: the models were half its cost). The marks were
    validated with the feed (`RegisterMark`), and the rest is derived from them; a property
    test holds every payload equal to the model's, and valid against it."""
    kind, version = e.AttendanceRecorded.event_type, e.AttendanceRecorded.schema_version
    per_child: dict[str, list[WireEvent]] = defaultdict(list)
    for (child_id, day), marks in _checked_days(feed, children, today, roll).items():
        codes = [m.code.value for m in marks]
        per_child[child_id].append(
            WireEvent(
                kind,
                version,
                at_start_of(day),
                {
                    "attendance_date": day.isoformat(),
                    "school_urn": feed.school_urn,
                    "marks": [
                        {"session": m.session.value, "code": code}
                        for m, code in zip(marks, codes, strict=True)
                    ],
                    "sessions_attended": sum(code in ATTENDED for code in codes),
                    "sessions_missed": sum(code in MISSED for code in codes),
                },
            )
        )
    return list(per_child.items())


def repeated_sessions(
    feed: c.RecordRegisterFeed, recorded: Mapping[str, Iterable[DomainEvent]]
) -> list[tuple[int, date, str]]:
    """The feed's marks its school has recorded already, as (index in marks, date, session).

    A true repeat: the same child's session on the same day from the same school, by an
    earlier feed (the same feed again under its own Idempotency-Key is answered with its first
    result before this). Recording it again would count the session twice. `recorded`: each
    child's AttendanceRecorded events on the feed's days, from any school: another school's
    mark for the same session is no repeat (a dual-registered pupil is on both registers), nor
    is the other session of a day (a school may send its morning and afternoon registers
    apart). The usual feed has nothing recorded on its days, and costs no pass over its marks.
    """
    done = {
        (child_id, event.attendance_date, mark.session)
        for child_id, events in recorded.items()
        for event in events
        if isinstance(event, e.AttendanceRecorded) and event.school_urn == feed.school_urn
        for mark in event.marks
    }
    if not done:
        return []
    return [
        (i, mark.date, mark.session.value)
        for i, mark in enumerate(feed.marks)
        if (mark.child_id, mark.date, mark.session) in done
    ]

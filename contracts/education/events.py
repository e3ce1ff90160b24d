"""The events this service publishes on `education-events`: its published contract."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from contracts.education.codes import Activity, AttendanceCode, NEETPanelAction, Session
from contracts.ids import ID_PATTERN, URN_PATTERN, Referenced
from shared.envelope import DatedEvent, Day, EventRegistry, Facts

education_event_types = EventRegistry()

# One of the council's schools (its reference data, kept by case events): a command naming
# another, or a retired one, is refused with the known ones listed.
SchoolUrn = Annotated[
    str,
    Field(pattern=URN_PATTERN, description="The school's unique reference."),
    Referenced("school"),
]


class EnrolmentFacts(Facts):
    enrolment_id: str = Field(pattern=ID_PATTERN)
    school_urn: SchoolUrn
    school_in_council_area: bool = Field(description="An own-LA school, or another LA's.")
    start_date: Day
    year_group: int = Field(ge=0, le=14, description="0 is reception.")


@education_event_types.event
class SchoolEnrolled(EnrolmentFacts, DatedEvent):
    event_type = "SchoolEnrolled"


class LeavingFacts(Facts):
    enrolment_id: str = Field(pattern=ID_PATTERN)
    left_on: Day


@education_event_types.event
class SchoolLeft(LeavingFacts, DatedEvent):
    event_type = "SchoolLeft"


class EHCPStartFacts(Facts):
    started_on: Day


@education_event_types.event
class EducationHealthCarePlanStarted(EHCPStartFacts, DatedEvent):
    event_type = "EducationHealthCarePlanStarted"


class EHCPEndFacts(Facts):
    ended_on: Day


@education_event_types.event
class EducationHealthCarePlanEnded(EHCPEndFacts, DatedEvent):
    event_type = "EducationHealthCarePlanEnded"


class SessionMark(Facts):
    session: Session
    code: AttendanceCode


@education_event_types.event
class AttendanceRecorded(DatedEvent):
    """One child's marks for one day, from a school's register feed."""

    event_type = "AttendanceRecorded"
    attendance_date: Day
    school_urn: SchoolUrn
    marks: list[SessionMark] = Field(min_length=1, max_length=2)
    sessions_attended: int = Field(ge=0, le=2)
    sessions_missed: int = Field(ge=0, le=2)


class DestinationFacts(Facts):
    recorded_on: Day
    destination: Activity


@education_event_types.event
class Year11DestinationIntended(DestinationFacts, DatedEvent):
    event_type = "Year11DestinationIntended"


@education_event_types.event
class Year11DestinationConfirmed(DestinationFacts, DatedEvent):
    event_type = "Year11DestinationConfirmed"


class ActivityFacts(Facts):
    recorded_on: Day
    activity: Activity


@education_event_types.event
class EETActivityRecorded(ActivityFacts, DatedEvent):
    """Education, employment or training activity of a young person aged 16 to 25."""

    event_type = "EETActivityRecorded"
    neet: bool


class NEETPanelFacts(Facts):
    review_date: Day
    action: NEETPanelAction


@education_event_types.event
class NEETPanelReviewed(NEETPanelFacts, DatedEvent):
    event_type = "NEETPanelReviewed"


class SummerSchoolFacts(Facts):
    signed_up_on: Day
    year_group: int = Field(ge=5, le=10, description="Year 5 or 10: preparing for 6 or 11.")


@education_event_types.event
class SummerSchoolSignedUp(SummerSchoolFacts, DatedEvent):
    event_type = "SummerSchoolSignedUp"

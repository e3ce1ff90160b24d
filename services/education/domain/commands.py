"""Commands of the education service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from contracts.education import events as e
from contracts.education.codes import AttendanceCode, Session
from contracts.ids import CHILD_ID_PATTERN
from shared.commands import example
from shared.envelope import Day


class EnrolInSchool(e.EnrolmentFacts):
    model_config = example(
        enrolment_id="EN-1",
        school_urn="113254",
        school_in_council_area=True,
        start_date="2024-09-04",
        year_group=7,
    )


class LeaveSchool(e.LeavingFacts):
    model_config = example(enrolment_id="EN-1", left_on="2029-07-19")


class StartEHCP(e.EHCPStartFacts):
    model_config = example(started_on="2024-03-01")


class EndEHCP(e.EHCPEndFacts):
    model_config = example(ended_on="2030-07-31")


class RecordYear11Intention(e.DestinationFacts):
    model_config = example(recorded_on="2029-01-15", destination="F2")


class ConfirmYear11Destination(e.DestinationFacts):
    model_config = example(recorded_on="2029-06-30", destination="F4")


class RecordEETActivity(e.ActivityFacts):
    model_config = example(recorded_on="2030-09-01", activity="G5")


class RecordNEETPanelReview(e.NEETPanelFacts):
    model_config = example(review_date="2030-09-10", action="careers_referral")


class SignUpForSummerSchool(e.SummerSchoolFacts):
    model_config = example(signed_up_on="2024-06-20", year_group=10)


class RegisterMark(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    child_id: str = Field(pattern=CHILD_ID_PATTERN)
    date: Day
    session: Session
    code: AttendanceCode


class RecordRegisterFeed(BaseModel):
    """A school's register feed: thousands of session marks for vulnerable children."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "school_urn": "113254",
                    "marks": [
                        {
                            "child_id": "C-000123",
                            "date": "2024-06-03",
                            "session": "AM",
                            "code": "/",
                        },
                        {
                            "child_id": "C-000123",
                            "date": "2024-06-03",
                            "session": "PM",
                            "code": "N",
                        },
                    ],
                }
            ]
        },
    )

    school_urn: e.SchoolUrn
    marks: list[RegisterMark] = Field(min_length=1)

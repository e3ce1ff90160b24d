"""Every single-child command of the education service, and its record of the child (the
register feed, many children at once, is in attendance.py)."""

from __future__ import annotations

from contracts.ids import CHILD_ID_PATTERN
from services.education.domain import commands as c
from services.education.domain.learner import Learner
from shared.known_children import known_child
from shared.routes import CommandRoute, Commands, StreamParam, command_router, stream_read_router

CHILD = StreamParam("child_id", CHILD_ID_PATTERN, "Pseudonymous child id")

COMMANDS = [
    CommandRoute("/enrolments", c.EnrolInSchool, Learner.enrol, "Enrol in a school", "school"),
    CommandRoute(
        "/school-leavings", c.LeaveSchool, Learner.leave, "Record leaving a school", "school"
    ),
    CommandRoute(
        "/ehcps",
        c.StartEHCP,
        Learner.start_ehcp,
        "Record an education, health and care plan",
        "school",
    ),
    CommandRoute("/ehcp-endings", c.EndEHCP, Learner.end_ehcp, "End the EHCP", "school"),
    CommandRoute(
        "/year-11-intended-destinations",
        c.RecordYear11Intention,
        Learner.intend_year11,
        "Record the Year 11 intended destination",
        "destinations",
    ),
    CommandRoute(
        "/year-11-confirmed-destinations",
        c.ConfirmYear11Destination,
        Learner.confirm_year11,
        "Confirm the Year 11 destination",
        "destinations",
    ),
    CommandRoute(
        "/eet-activities",
        c.RecordEETActivity,
        Learner.record_activity,
        "Record education, employment or training activity (16-25)",
        "EET",
    ),
    CommandRoute(
        "/neet-panel-reviews",
        c.RecordNEETPanelReview,
        Learner.review_at_neet_panel,
        "Record a NEET panel review",
        "EET",
    ),
    CommandRoute(
        "/summer-school-sign-ups",
        c.SignUpForSummerSchool,
        Learner.sign_up_for_summer_school,
        "Record a summer-school sign-up",
        "school",
    ),
]

CHILDREN = Commands("/children", CHILD, Learner, known_child=known_child)
commands = command_router(CHILDREN, COMMANDS)
record = stream_read_router(CHILDREN)

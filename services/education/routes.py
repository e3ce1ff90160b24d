"""Every single-child command of the education service (the register feed is in api.py)."""

from __future__ import annotations

from services.education.domain import commands as c
from services.education.domain.learner import Learner as L
from shared.routes import CommandRoute

ROUTES = [
    CommandRoute("/enrolments", c.EnrolInSchool, L.enrol, "Enrol in a school", "school"),
    CommandRoute("/school-leavings", c.LeaveSchool, L.leave, "Record leaving a school",
                 "school"),
    CommandRoute("/ehcps", c.StartEHCP, L.start_ehcp,
                 "Record an education, health and care plan", "school"),
    CommandRoute("/ehcp-endings", c.EndEHCP, L.end_ehcp, "End the EHCP", "school"),
    CommandRoute("/year-11-intended-destinations", c.RecordYear11Intention, L.intend_year11,
                 "Record the Year 11 intended destination", "destinations"),
    CommandRoute("/year-11-confirmed-destinations", c.ConfirmYear11Destination,
                 L.confirm_year11, "Confirm the Year 11 destination", "destinations"),
    CommandRoute("/eet-activities", c.RecordEETActivity, L.record_activity,
                 "Record education, employment or training activity (16-25)", "EET"),
    CommandRoute("/neet-panel-reviews", c.RecordNEETPanelReview, L.review_at_neet_panel,
                 "Record a NEET panel review", "EET"),
    CommandRoute("/summer-school-sign-ups", c.SignUpForSummerSchool,
                 L.sign_up_for_summer_school, "Record a summer-school sign-up", "school"),
]

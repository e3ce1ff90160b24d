"""Every command of the accommodation service."""

from __future__ import annotations

from services.accommodation.domain import commands as c
from services.accommodation.domain.accommodation import Accommodation as A
from shared.routes import CommandRoute

ROUTES = [
    CommandRoute("/placements", c.StartPlacement, A.start_placement,
                 "Start a placement (a breach is recorded and flagged, not refused)",
                 "placements"),
    CommandRoute("/placement-changes", c.ChangePlacement, A.change_placement,
                 "Move the child to another placement", "placements"),
    CommandRoute("/placement-endings", c.EndPlacement, A.end_placement,
                 "End the current placement", "placements"),
    CommandRoute("/care-leaver-accommodation", c.RecordCareLeaverAccommodation,
                 A.record_care_leaver_accommodation,
                 "Record a care leaver's accommodation and its suitability", "care leavers"),
    CommandRoute("/suitability-reassessments", c.ReassessSuitability, A.reassess_suitability,
                 "Reassess the suitability of a care leaver's accommodation", "care leavers"),
    CommandRoute("/homelessness-prevention-referrals", c.ReferForHomelessnessPrevention,
                 A.refer_homelessness, "Refer for homelessness prevention", "housing"),
    CommandRoute("/homelessness-prevention-outcomes", c.RecordHomelessnessOutcome,
                 A.record_homelessness_outcome, "Record the homelessness prevention outcome",
                 "housing"),
    CommandRoute("/tenancies", c.StartTenancy, A.start_tenancy, "Start a tenancy", "housing"),
    CommandRoute("/tenancy-endings", c.EndTenancy, A.end_tenancy, "End the tenancy", "housing"),
    CommandRoute("/floating-support", c.StartFloatingSupport, A.start_floating_support,
                 "Start floating support", "housing"),
    CommandRoute("/floating-support-endings", c.EndFloatingSupport, A.end_floating_support,
                 "End floating support", "housing"),
]

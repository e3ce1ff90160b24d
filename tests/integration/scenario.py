"""A small county whose figures are worked out by hand, for the boards' tests.

Two localities (Exeter, North); children A-F; five families at early-help triage. The
expected figures in test_boards.py follow from these events; each is explained there.
"""

from __future__ import annotations

from datetime import date

from contracts.accommodation import events as acc
from contracts.case_events import events as ce
from contracts.education import events as edu
from contracts.escalations import events as esc
from contracts.escalations.codes import RAG, RatingSource
from tests.publisher import Log

D = date.fromisoformat


def registered(child: str, dob: str, locality: str) -> ce.ChildRegistered:
    return ce.ChildRegistered(child_id=child, date_of_birth=D(dob), locality=locality)


def rating(
    on: str, rag: str, previous: str | None = None, source: RatingSource = RatingSource.ASSESSMENT
) -> esc.RiskRatingAssigned:
    return esc.RiskRatingAssigned(
        rated_on=D(on),
        rating=RAG(rag),
        previous=RAG(previous) if previous else None,
        visiting_frequency_days=7,
        source=source,
    )


def marks(day: str, urn: str, am: str, pm: str) -> edu.AttendanceRecorded:
    codes = [am, pm]
    attended = sum(c in {"/", "\\"} for c in codes)
    return edu.AttendanceRecorded(
        attendance_date=D(day),
        school_urn=urn,
        sessions_attended=attended,
        sessions_missed=2 - attended,
        marks=[edu.SessionMark(session="AM", code=am), edu.SessionMark(session="PM", code=pm)],
    )


def county() -> Log:
    log = Log()
    case, acco, educ, escs = (
        "case-events",
        "accommodation-events",
        "education-events",
        "escalation-events",
    )
    # A: Exeter, a first CP plan from 2024-01-10 to 2024-10-01, never reviewed.
    log.add(
        case,
        "CH-A",
        registered("CH-A", "2008-05-01", "Exeter"),
        ce.ChildProtectionPlanStarted(
            child_id="CH-A",
            plan_id="PA",
            category="NEG",
            start_date=D("2024-01-10"),
            previous_plans=0,
        ),
    )
    # B: Exeter, a repeat plan open since 2023-03-01, review overdue; pre-proceedings.
    log.add(
        case,
        "CH-B",
        registered("CH-B", "2012-02-01", "Exeter"),
        ce.ChildProtectionPlanStarted(
            child_id="CH-B",
            plan_id="PB",
            category="EMO",
            start_date=D("2023-03-01"),
            previous_plans=1,
        ),
        ce.ChildProtectionPlanReviewed(
            plan_id="PB", review_date=D("2023-05-30"), next_review_due=D("2023-11-30")
        ),
        ce.PreProceedingsEntered(entered_on=D("2024-03-01")),
    )
    # C: North, in care from 2023-06-01, Year 11 in 2023-24, destination confirmed 2024-06-20.
    log.add(
        case,
        "CH-C",
        registered("CH-C", "2008-07-15", "North"),
        ce.PeriodOfCareStarted(
            start_date=D("2023-06-01"), legal_status="C2", first_review_due=D("2023-06-29")
        ),
        ce.LookedAfterReviewHeld(review_date=D("2023-06-28"), next_review_due=D("2023-09-28")),
        ce.PermanencePlanRecorded(recorded_on=D("2023-09-01"), plan="long_term_fostering"),
    )
    # D: North, in care from 2024-02-01, aged 10, in an unregulated H5 until 2024-09-01.
    log.add(
        case,
        "CH-D",
        registered("CH-D", "2013-03-03", "North"),
        ce.PeriodOfCareStarted(
            start_date=D("2024-02-01"), legal_status="V2", first_review_due=D("2024-02-29")
        ),
    )
    # E: Exeter, care leaver aged 18, priority cohort from 2024-05-01.
    log.add(
        case,
        "CH-E",
        registered("CH-E", "2006-01-20", "Exeter"),
        ce.HealthPassportOffered(offered_on=D("2022-02-01"), milestone="16"),
        ce.HealthPassportAccepted(accepted_on=D("2022-03-01")),
        ce.CareLeaverStatusRecorded(recorded_on=D("2023-02-01"), status="former_relevant"),
        ce.PersonalAdviserAllocated(allocated_on=D("2023-02-01"), adviser_id="PA-7"),
        ce.PathwayPlanCreated(created_on=D("2023-02-10"), review_due=D("2023-08-10")),
        ce.PathwayPlanReviewed(review_date=D("2024-02-01"), next_review_due=D("2024-08-01")),
        ce.PriorityCohortFlagSet(set_on=D("2024-05-01"), reason="unsuitable_accommodation"),
        ce.ContactRecorded(contact_date=D("2024-06-01"), in_touch="YES"),
    )
    # F: North, care leaver aged 21, out of touch, at university.
    log.add(
        case,
        "CH-F",
        registered("CH-F", "2003-04-04", "North"),
        ce.CareLeaverStatusRecorded(recorded_on=D("2021-04-05"), status="former_relevant"),
        ce.ContactRecorded(contact_date=D("2024-03-01"), in_touch="NO"),
    )
    # The end of A's plan, recorded after the rest.
    log.add(
        case,
        "CH-A",
        ce.ChildProtectionPlanEnded(plan_id="PA", end_date=D("2024-10-01"), days_open=265),
    )
    # Early-help triage: March 2023, families 1 (twice) and 2; March 2024, families 3, 4, 5.
    for family, day, locality in [
        ("F1", "2023-03-15", "Exeter"),
        ("F1", "2023-03-20", "Exeter"),
        ("F2", "2023-03-16", "North"),
        ("F3", "2024-03-04", "Exeter"),
        ("F4", "2024-03-05", "Exeter"),
        ("F5", "2024-03-06", "North"),
    ]:
        log.add(
            case, family, ce.EarlyHelpTriageDiscussed(discussion_date=D(day), locality=locality)
        )

    log.add(
        acco,
        "CH-C",
        acc.PlacementStarted(
            placement_id="C1",
            start_date=D("2023-06-01"),
            placement_type="U4",
            provider="PR1",
            in_council_area=True,
        ),
    )
    log.add(
        acco,
        "CH-D",
        acc.PlacementStarted(
            placement_id="D1",
            start_date=D("2024-02-01"),
            placement_type="H5",
            provider="PR4",
            in_council_area=False,
        ),
        acc.AccommodationBreachFlagged(
            flagged_on=D("2024-02-01"), breach="under_16_unregulated", age=10, code="H5"
        ),
        acc.PlacementChanged(
            placement_id="D2",
            start_date=D("2024-09-01"),
            placement_type="U6",
            provider="PR1",
            in_council_area=True,
            reason="STAND",
            previous_placement_id="D1",
            moves_in_last_12_months=1,
        ),
    )
    log.add(
        acco,
        "CH-E",
        acc.CareLeaverAccommodationRecorded(
            recorded_on=D("2024-03-01"), accommodation="T", suitability="2", code="T2"
        ),
        acc.SuitabilityReassessed(reassessed_on=D("2024-09-01"), suitability="1", code="T1"),
    )

    log.add(
        educ,
        "CH-C",
        edu.SchoolEnrolled(
            enrolment_id="EC",
            school_urn="100001",
            school_in_council_area=True,
            start_date=D("2023-09-01"),
            year_group=10,
        ),
        edu.Year11DestinationConfirmed(recorded_on=D("2024-06-20"), destination="F2"),
        marks("2024-06-03", "100001", "/", "I"),
        marks("2024-06-04", "100001", "/", "/"),
    )
    log.add(
        educ,
        "CH-D",
        edu.SchoolEnrolled(
            enrolment_id="ED",
            school_urn="200002",
            school_in_council_area=False,
            start_date=D("2024-02-05"),
            year_group=5,
        ),
        edu.EducationHealthCarePlanStarted(started_on=D("2024-02-05")),
        marks("2024-06-03", "200002", "I", "I"),
        marks("2024-06-04", "200002", "/", "/"),
    )
    log.add(
        educ,
        "CH-A",
        marks("2024-06-03", "100001", "/", "/"),
        marks("2024-06-04", "100001", "N", "N"),
    )
    log.add(
        educ,
        "CH-B",
        marks("2024-06-03", "100001", "N", "N"),
        marks("2024-06-04", "100001", "/", "/"),
    )
    log.add(
        educ,
        "CH-E",
        edu.EETActivityRecorded(recorded_on=D("2024-01-05"), activity="G5", neet=True),
        edu.EETActivityRecorded(recorded_on=D("2024-07-01"), activity="F4", neet=False),
    )
    log.add(
        educ,
        "CH-F",
        edu.EETActivityRecorded(recorded_on=D("2023-10-01"), activity="F1", neet=False),
    )

    log.add(
        escs,
        "CH-A",
        rating("2024-02-01", "AMBER"),
        esc.RiskRatingDipSampled(
            sampled_on=D("2024-03-01"), manager_id="TM1", agreed=True, rating_sampled="AMBER"
        ),
    )
    log.add(
        escs,
        "CH-B",
        rating("2024-02-01", "RED"),
        esc.EWOAttendanceEscalationRaised(
            raised_on=D("2024-06-05"),
            sessions_missed=10,
            window_start=D("2024-03-28"),
            threshold=10,
        ),
        rating("2024-08-01", "GREEN", "RED"),
    )
    log.add(
        escs,
        "CH-C",
        rating("2024-01-01", "GREEN"),
        esc.RiskRatingDipSampled(
            sampled_on=D("2024-04-01"),
            manager_id="TM1",
            agreed=False,
            moderated_to="AMBER",
            rating_sampled="GREEN",
        ),
        rating("2024-04-01", "AMBER", "GREEN", RatingSource.MODERATION),
    )
    log.add(escs, "CH-E", rating("2024-05-02", "RED"))
    for esc_id, child, raised, reason in [
        ("ESC-1", "CH-B", "2024-04-10", "drift_in_cp_plan"),
        ("ESC-2", "CH-C", "2024-05-05", "permanence_planning"),
        ("ESC-3", "CH-A", "2024-08-01", "permanence_planning"),
    ]:
        log.add(
            escs,
            esc_id,
            esc.EscalationRaised(
                escalation_id=esc_id,
                child_id=child,
                raised_on=D(raised),
                raised_by="IRO",
                reason=reason,
                locality="Exeter" if child in ("CH-A", "CH-B") else "North",
            ),
        )
    log.add(
        escs,
        "ESC-1",
        esc.EscalationResolved(
            resolved_on=D("2024-05-20"),
            resolution="plan_changed",
            child_id="CH-B",
            reason="drift_in_cp_plan",
            days_open=40,
        ),
    )
    return log

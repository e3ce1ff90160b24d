"""The council's own figures (../shared/seed: Ofsted monitoring visit, September 2020),
rebuilt from events through the real stack, and the boards answer with exactly them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from contracts.case_events import events as ce
from contracts.education import events as edu
from tests.infrastructure import MANAGER, Infrastructure
from tests.integration.test_boards import board, boards_running
from tests.publisher import Log

pytestmark = pytest.mark.integration

# "Families Discussed at Triage", March to June, 2019 and 2020.
TRIAGE = {
    "2019-03": 112,
    "2019-04": 92,
    "2019-05": 115,
    "2019-06": 121,
    "2020-03": 133,
    "2020-04": 146,
    "2020-05": 192,
    "2020-06": 226,
}
SEED_CHANGE = {"2020-03": 18.75, "2020-04": 58.70, "2020-05": 66.96, "2020-06": 86.78}
# "Child protection plans" attending school (attendance for one day).
CP_ATTENDANCE = {
    "2020-04-27": 20.0,
    "2020-05-11": 36.0,
    "2020-06-17": 41.4,
    "2020-06-23": 43.1,
    "2020-07-08": 43.8,
}
ON_PLANS = 1000


def seed_events() -> Log:
    log = Log()
    family = 0
    for month, families in TRIAGE.items():
        for i in range(families):
            family += 1
            log.add(
                "case-events",
                f"FAM-{family}",
                ce.EarlyHelpTriageDiscussed(
                    discussion_date=date.fromisoformat(f"{month}-{1 + i % 28:02d}"),
                    locality=("Exeter", "North", "South")[family % 3],
                ),
            )
    for n in range(ON_PLANS):
        child = f"CP-{n:04d}"
        log.add(
            "case-events",
            child,
            ce.ChildRegistered(child_id=child, date_of_birth=date(2012, 1, 1), locality="Exeter"),
            ce.ChildProtectionPlanStarted(
                child_id=child,
                plan_id=f"P{n}",
                category="NEG",
                start_date=date(2020, 1, 6),
                previous_plans=0,
            ),
        )
    for day, percentage in CP_ATTENDANCE.items():
        for n in range(round(ON_PLANS * percentage / 100)):
            log.add(
                "education-events",
                f"CP-{n:04d}",
                edu.AttendanceRecorded(
                    attendance_date=date.fromisoformat(day),
                    school_urn="113254",
                    marks=[edu.SessionMark(session="AM", code="/")],
                    sessions_attended=1,
                    sessions_missed=0,
                ),
            )
    return log


@pytest.fixture(scope="module")
def seed_api(infra: Infrastructure) -> Iterator[str]:
    with boards_running(infra, seed_events(), "seed") as (url, _settings):
        yield url


def test_early_help_triage_march_to_june_2020_against_2019(seed_api: str) -> None:
    figures = board(seed_api, "early-help-triage", as_at="2020-06-30", since="2020-03-01")
    for month, change in SEED_CHANGE.items():
        year_before = f"{int(month[:4]) - 1}{month[4:]}"
        assert figures[("families_discussed", month)] == (
            TRIAGE[month],
            TRIAGE[year_before],
            change,
        )


def test_child_protection_plans_attending_school(seed_api: str) -> None:
    figures = board(seed_api, "attendance", as_at="2020-07-08", dates=",".join(CP_ATTENDANCE))
    for day, percentage in CP_ATTENDANCE.items():
        assert figures[("cp_plan", day)] == (
            round(ON_PLANS * percentage / 100),
            ON_PLANS,
            percentage,
        )


def test_the_partnership_view_shows_the_same_seed_figures(seed_api: str) -> None:
    body = MANAGER.get(
        f"{seed_api}/boards/early-help-triage",
        params={"as_at": "2020-06-30", "since": "2020-03-01"},
    ).json()
    june = next(f for f in body["figures"] if f["period"] == "2020-06")
    assert (june["count"], june["percentage"], june["suppressed"]) == (226, 86.78, False)

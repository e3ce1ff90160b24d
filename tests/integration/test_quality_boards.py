"""The boards of quality assurance through the real stack: the seed's own figures
(../shared/seed: the July 2020 practice evaluations, and parents' feedback in 2019-20 against
April to July 2020) published on `quality-events`, projected by the real worker and answered
by the real API; a rebuild from offset 0 answers the same."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from contracts.quality import events as q
from contracts.quality.codes import (
    ActionOf,
    Answer,
    Direction,
    EvaluatedPlan,
    Grade,
    Respondent,
    ReviewDecision,
    ServiceArea,
)
from services.projections.boards.answering import compute
from services.projections.boards.assurance.records import Period
from services.projections.builds import reading
from services.projections.registry import rebuild
from shared.settings import Settings
from tests.conftest import ARTIFACTS
from tests.infrastructure import MANAGER, Infrastructure, ServiceProcess
from tests.integration.test_boards import KEPT_WINDOW, board, boards_running
from tests.publisher import Log

pytestmark = pytest.mark.integration

TOPIC = "quality-events"
JULY = "2020-07"
# "July: 45 practice evaluations across CIN, CPP, CiC and CLs - 15 'Good'; 27 RI, 3 Inadequate"
GRADES = [Grade.GOOD] * 15 + [Grade.REQUIRES_IMPROVEMENT] * 27 + [Grade.INADEQUATE] * 3
PLANS = list(EvaluatedPlan)
LOCALITIES = ("Exeter", "North", "South")
# Parents telling us yes, "77% (85)": the count who said yes, and a number who answered that
# gives the seed's whole percentage. (The seed's last "85% (19)" for April to July 2020 is not
# reachable with 19: 19 of 22 is 86.36%, 19 of 23 is 82.61%; 22 is taken.)
QUESTIONS = ("informed", "supported", "respect", "agreement")
YEAR = {"informed": (85, 110), "supported": (82, 109), "respect": (93, 108), "agreement": (84, 109)}
SINCE_APRIL = {
    "informed": (17, 21),
    "supported": (17, 21),
    "respect": (19, 22),
    "agreement": (19, 22),
}
SEED_PERCENT = {
    "year": {"informed": 77, "supported": 75, "respect": 86, "agreement": 77},
    "since_april": {"informed": 81, "supported": 81, "respect": 86, "agreement": 86},
}
COMPARED = "2019-04-01/2020-03-31"
PERIOD = "2020-04-01/2020-07-31"


def quality_events() -> Log:
    log = Log()
    for n, grade in enumerate(GRADES):
        day = date(2020, 7, 1 + n % 31)
        evaluation = f"EV-{n:02d}"
        log.add(
            TOPIC,
            evaluation,
            q.PracticeEvaluationRecorded(
                evaluation_id=evaluation,
                child_id=f"CH-{n:03d}",
                evaluated_on=day,
                plan_type=PLANS[n % 4],
                auditor_id="AUD-1",
                practitioner_id=f"SW-{n % 7}",
                grade=grade,
                strands=[q.StrandGrade(strand="voice_of_the_child", grade=grade)],
                locality=LOCALITIES[n % 3],
            ),
        )
        if n % 5 == 0:  # nine moderated, the last of them to another grade
            log.add(
                TOPIC,
                evaluation,
                q.PracticeEvaluationModerated(
                    moderated_on=day,
                    moderator_id="AUD-2",
                    grade=Grade.GOOD if n == 40 else grade,
                    child_id=f"CH-{n:03d}",
                    original_grade=grade,
                    agreed=n != 40,
                ),
            )
    log.add(
        TOPIC,
        "PARENTS",
        q.FeedbackSurveyLaunched(
            survey_id="PARENTS",
            title="Parents' experience of children's social care",
            opens_on=date(2019, 4, 1),
            closes_on=date(2020, 7, 31),
            questions=[q.Question(question_id=k, text=k) for k in QUESTIONS],
        ),
    )
    _responses(log, "Y", date(2019, 4, 1), 360, 112, YEAR)
    _responses(log, "A", date(2020, 4, 1), 120, 23, SINCE_APRIL)
    log.add(
        TOPIC,
        "PLAN",
        q.ImprovementPriorityAdded(priority_id="P1", added_on=date(2020, 6, 1), title="Practice"),
        q.ImprovementMeasureSet(
            measure_id="M1",
            priority_id="P1",
            set_on=date(2020, 6, 1),
            measure=q.FigureRef(board="practice-evaluations", figure="good_or_better"),
            target=50,
            direction=Direction.HIGHER_IS_BETTER,
        ),
    )
    _the_rest_of_the_lifecycles(log)
    return log


def _action(
    action_id: str, of: ActionOf, agreed: date, due: date, **more: Any
) -> q.QualityActionAgreed:
    return q.QualityActionAgreed(
        action_id=action_id, agreed_on=agreed, owner_id="QA-1", due_on=due, of=of, **more
    )


def _done(action_id: str, of: ActionOf, day: date) -> q.QualityActionCompleted:
    return q.QualityActionCompleted(action_id=action_id, of=of, completed_on=day)


def _the_rest_of_the_lifecycles(log: Log) -> None:
    """What the rebuild must give back as the live boards had it: a serious incident through
    its whole lifecycle and one awaiting its rapid review; the plan's actions, two completed
    one after the other (one batch), and its measure's target set again; an evaluation's
    action completed between two days asked; a survey opening after the days asked."""
    si = ActionOf.SERIOUS_INCIDENT
    log.add(
        TOPIC,
        "SI-1",
        q.SeriousIncidentNotified(
            incident_id="SI-1",
            child_id="CH-900",
            aware_on=date(2020, 6, 1),  # Monday: notify by 8 June
            notified_on=date(2020, 6, 5),  # Friday: the rapid review by 26 June
            locality="North",
            notification_due=date(2020, 6, 8),
            working_days_to_notify=4,
        ),
        q.RapidReviewCompleted(
            completed_on=date(2020, 6, 19),
            decision=ReviewDecision.LOCAL_REVIEW,
            due=date(2020, 6, 26),
            working_days=10,
        ),
        q.PracticeReviewCommissioned(
            commissioned_on=date(2020, 6, 25), decision=ReviewDecision.LOCAL_REVIEW
        ),
        q.LearningPointRecorded(learning_id="L1", recorded_on=date(2020, 7, 1)),
        _action("A1", si, date(2020, 7, 1), date(2020, 7, 10)),
        q.PracticeReviewPublished(published_on=date(2020, 7, 20)),
        _done("A1", si, date(2020, 7, 20)),
    )
    log.add(
        TOPIC,
        "SI-2",
        q.SeriousIncidentNotified(
            incident_id="SI-2",
            child_id="CH-901",
            aware_on=date(2020, 7, 1),  # Wednesday: notify by 8 July
            notified_on=date(2020, 7, 9),  # Thursday: the rapid review by 30 July
            locality="South",
            notification_due=date(2020, 7, 8),
            working_days_to_notify=6,
        ),
    )
    plan = ActionOf.IMPROVEMENT_PLAN
    log.add(
        TOPIC,
        "PLAN",
        _action("PA1", plan, date(2020, 6, 1), date(2020, 6, 30), priority_id="P1"),
        _action("PA2", plan, date(2020, 6, 1), date(2020, 7, 31), priority_id="P1"),
        _action("PA3", plan, date(2020, 6, 1), date(2020, 6, 15), priority_id="P1"),
        _done("PA1", plan, date(2020, 7, 10)),
        _done("PA2", plan, date(2020, 7, 10)),
        q.ImprovementMeasureSet(
            measure_id="M1",
            priority_id="P1",
            set_on=date(2020, 7, 20),
            measure=q.FigureRef(board="practice-evaluations", figure="good_or_better"),
            target=60,
            direction=Direction.HIGHER_IS_BETTER,
        ),
    )
    evaluation = ActionOf.PRACTICE_EVALUATION
    log.add(
        TOPIC,
        "EV-00",
        _action("EA1", evaluation, date(2020, 7, 1), date(2020, 7, 10)),
        _done("EA1", evaluation, date(2020, 7, 20)),
    )
    log.add(
        TOPIC,
        "LATER",
        q.FeedbackSurveyLaunched(
            survey_id="LATER",
            title="Opening in August",
            opens_on=date(2020, 8, 1),
            closes_on=date(2020, 9, 30),
            questions=[q.Question(question_id="heard", text="heard")],
        ),
    )


def _responses(
    log: Log, prefix: str, first: date, days: int, count: int, yes: dict[str, tuple[int, int]]
) -> None:
    """`count` responses: for each question, the first `yes` said yes, the rest of those who
    answered partly or no, and the others left it unanswered."""
    for i in range(count):
        answers = []
        for question, (said_yes, answered) in yes.items():
            answer = (
                Answer.YES
                if i < said_yes
                else (Answer.PARTLY if i % 2 else Answer.NO)
                if i < answered
                else Answer.NOT_ANSWERED
            )
            answers.append(q.Answered(question_id=question, answer=answer))
        log.add(
            TOPIC,
            "PARENTS",
            q.FeedbackResponseRecorded(
                response_id=f"{prefix}-{i}",
                responded_on=first + timedelta(days=i * days // count),
                respondent=Respondent.PARENT,
                answers=answers,
                locality=LOCALITIES[i % 3],
                service=ServiceArea.CHILD_PROTECTION if prefix == "A" and i % 2 else None,
            ),
        )


@pytest.fixture(scope="module")
def stack(infra: Infrastructure) -> Iterator[tuple[str, Settings]]:
    with boards_running(infra, quality_events(), "quality", repeat_every=9) as running:
        yield running


def feedback(url: str, **params: Any) -> dict[tuple[str, str | None], Any]:
    return board(
        url,
        "feedback",
        as_at="2020-07-31",
        since="2020-04-01",
        compare_since="2019-04-01",
        compare_until="2020-03-31",
        **params,
    )


def test_the_july_practice_evaluations_of_the_seed(stack: tuple[str, Settings]) -> None:
    url, _ = stack
    figures = board(url, "practice-evaluations", as_at="2020-07-31", since="2020-07-01")
    assert figures[("evaluations", JULY)] == (45, None, None)
    assert figures[("grade.good", JULY)] == (15, 45, 33.33)
    assert figures[("grade.requires_improvement", JULY)] == (27, 45, 60.0)
    assert figures[("grade.inadequate", JULY)] == (3, 45, 6.67)
    assert figures[("grade.outstanding", JULY)] == (0, 45, 0.0)
    assert figures[("good_or_better", JULY)] == (15, 45, 33.33)
    assert [figures[(f"plan.{p.value}", JULY)][0] for p in PLANS] == [12, 11, 11, 11]
    window = "2020-07-01/2020-07-31"
    assert figures[("moderated", window)] == (9, None, None)
    assert figures[("moderation_agreed", window)] == (8, 9, 88.89)
    assert figures[("strand.voice_of_the_child.inadequate", window)] == (3, 45, 6.67)
    exeter = board(url, "practice-evaluations", as_at="2020-07-31", locality="Exeter")
    assert exeter[("evaluations", JULY)] == (15, None, None)
    # By the middle of July, only the evaluations made by then (days 1 to 15: 15 and 14).
    assert board(url, "practice-evaluations", as_at="2020-07-15")[("evaluations", JULY)][0] == 29


def test_the_partnership_view_suppresses_the_small_grades(stack: tuple[str, Settings]) -> None:
    url, _ = stack
    body = MANAGER.get(
        f"{url}/boards/practice-evaluations", params={"as_at": "2020-07-31", "since": "2020-07-01"}
    ).json()
    july = {f["key"]: f for f in body["figures"] if f["period"] == JULY}
    assert july["evaluations"]["count"] == 45
    assert july["grade.inadequate"]["suppressed"] and july["grade.inadequate"]["count"] is None
    assert july["grade.requires_improvement"]["count"] == 27


def test_feedback_of_2019_20_against_april_to_july_2020(stack: tuple[str, Settings]) -> None:
    url, _ = stack
    figures = feedback(url)
    for period, seed, name in ((COMPARED, YEAR, "year"), (PERIOD, SINCE_APRIL, "since_april")):
        for question, (said_yes, answered) in seed.items():
            count, denominator, percentage = figures[(f"PARENTS.{question}.yes", period)]
            assert (count, denominator) == (said_yes, answered)
            assert round(percentage) == SEED_PERCENT[name][question]
            assert figures[(f"PARENTS.{question}.answered", period)][0] == answered
        assert figures[("responses", period)][0] == (112 if name == "year" else 23)
    # Those who left a question unanswered are not in its denominator.
    assert figures[("by.parent.PARENTS.informed.yes", PERIOD)] == (17, 21, 80.95)


def test_the_improvement_plan_reads_its_measure_from_the_board(stack: tuple[str, Settings]) -> None:
    url, _ = stack
    response = MANAGER.get(
        f"{url}/boards/improvement-plan", params={"as_at": "2020-07-31", "view": "council"}
    )
    measure = next(f for f in response.json()["figures"] if f["key"] == "measure.M1")
    assert (measure["count"], measure["denominator"], measure["percentage"]) == (15, 45, 33.33)
    assert (measure["target"], measure["on_target"]) == (60, False)  # set again on 20 July
    # The partnership view reads the board's partnership figure: hidden there, hidden here.
    shared = MANAGER.get(f"{url}/boards/improvement-plan", params={"as_at": "2020-07-31"}).json()
    source = MANAGER.get(
        f"{url}/boards/practice-evaluations", params={"as_at": "2020-07-31"}
    ).json()
    read = [f for f in source["figures"] if f["key"] == "good_or_better"][-1]
    measure = next(f for f in shared["figures"] if f["key"] == "measure.M1")
    assert (measure["count"], measure["suppressed"]) == (read["count"], read["suppressed"])
    assert measure["on_target"] is (None if read["suppressed"] else False)
    csv = MANAGER.get(
        f"{url}/boards/improvement-plan",
        params={"as_at": "2020-07-31", "view": "council", "format": "csv"},
    ).text.splitlines()
    assert csv[0].endswith(",target,direction,on_target")
    assert any(line.startswith("improvement-plan,2020-07-31,,council,measure.M1") for line in csv)


def by_key(figures: dict[tuple[str, str | None], Any]) -> dict[str, Any]:
    """The figures by key alone (boards with one figure of each key)."""
    return {key: value for (key, _), value in figures.items()}


# What the boards must give as at the days asked (worked out by hand from the events above).
EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("serious-incidents", "2020-07-15"): {
        "notified": (2, None, None),
        "notified_in_5_working_days": (1, 2, 50.0),  # SI-2 notified on its sixth
        "rapid_reviews": (1, None, None),
        "rapid_reviews_in_15_working_days": (1, 1, 100.0),
        "decision.local_review": (1, 1, 100.0),
        "rapid_reviews_awaited": (1, None, None),
        "rapid_reviews_overdue": (0, 1, 0.0),  # SI-2's is due on 30 July
        "reviews_open": (1, None, None),  # commissioned 25 June, published 20 July
        "reviews_published": (0, None, None),
        "learning_points": (1, None, None),
        "learning_actions_open": (1, None, None),  # completed on 20 July
        "learning_actions_overdue": (1, 1, 100.0),
    },
    ("serious-incidents", "2020-07-31"): {
        "notified": (2, None, None),
        "notified_in_5_working_days": (1, 2, 50.0),
        "rapid_reviews_awaited": (1, None, None),
        "rapid_reviews_overdue": (1, 1, 100.0),
        "reviews_open": (0, None, None),
        "reviews_published": (1, None, None),
        "learning_points": (1, None, None),
        "learning_actions_open": (0, None, None),
        "learning_actions_overdue": (0, 0, None),
    },
    ("practice-evaluations", "2020-07-15"): {
        "actions_open": (1, None, None),
        "actions_overdue": (1, 1, 100.0),
    },
    ("practice-evaluations", "2020-07-31"): {
        "actions_open": (0, None, None),
        "moderated": (9, None, None),
        "moderation_agreed": (8, 9, 88.89),
    },
    ("improvement-plan", "2020-07-05"): {
        "measure.M1": (5, 10, 50.0),  # days 1 to 5: ten evaluations, five good
        "measures_on_target": (1, 1, 100.0),  # at least 50% until 20 July
        "actions_open": (3, None, None),  # PA1 and PA2 completed on 10 July
        "actions_overdue": (2, 3, 66.67),
    },
    ("improvement-plan", "2020-07-31"): {
        "measure.M1": (15, 45, 33.33),
        "measures_on_target": (0, 1, 0.0),  # at least 60% from 20 July
        "actions_open": (1, None, None),
        "actions_overdue": (1, 1, 100.0),
    },
}


def test_the_lifecycles_as_at_each_day(stack: tuple[str, Settings]) -> None:
    url, _ = stack
    for (name, day), expected in EXPECTED.items():
        got = by_key(board(url, name, as_at=day))
        assert {k: got[k] for k in expected} == expected, (name, day)
    targets = {
        day: next(
            f
            for f in MANAGER.get(
                f"{url}/boards/improvement-plan", params={"as_at": day, "view": "council"}
            ).json()["figures"]
            if f["key"] == "measure.M1"
        )
        for day in ("2020-07-05", "2020-07-31")
    }
    assert (targets["2020-07-05"]["target"], targets["2020-07-05"]["on_target"]) == (50, True)
    assert (targets["2020-07-31"]["target"], targets["2020-07-31"]["on_target"]) == (60, False)


def test_feedback_by_service_and_no_survey_opening_after_the_day(
    stack: tuple[str, Settings],
) -> None:
    url, settings = stack
    figures = feedback(url)
    # April to July: the odd responses were about child protection, the others name none.
    assert figures[("by_service.CP.PARENTS.informed.yes", PERIOD)] == (8, 10, 80.0)
    assert figures[("by_service.not_recorded.PARENTS.informed.yes", PERIOD)] == (9, 11, 81.82)
    # In 2019-20 none named a service: all of them are not recorded.
    assert figures[("by_service.CP.PARENTS.informed.answered", COMPARED)] == (0, None, None)
    assert figures[("by_service.not_recorded.PARENTS.informed.answered", COMPARED)][0] == 110
    assert not any("LATER" in k for k, _ in figures)  # opens on 1 August
    # A period compared with may not end after the day asked...
    response = MANAGER.get(
        f"{url}/boards/feedback",
        params={"as_at": "2020-07-31", "since": "2020-04-01", "compare_until": "2020-08-31"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "compare_until"]
    # ...and read directly, it ends on the day: August's survey is not on the board.
    board_ = asyncio.run(_feedback_compared_into_august(settings))
    assert {f.period for f in board_.figures} == {
        "2020-06-01/2020-07-31",
        "2020-04-01/2020-07-31",
    }
    assert not any("LATER" in f.key for f in board_.figures)


async def _feedback_compared_into_august(settings: Settings) -> Any:
    pool = await asyncpg.create_pool(settings.dsn(), min_size=1, max_size=1)
    try:
        async with reading(pool) as conn:
            return await compute(
                conn,
                "feedback",
                date(2020, 7, 31),
                None,
                date(2020, 4, 1),
                compare=Period(date(2020, 6, 10), date(2020, 8, 31)),
            )
    finally:
        await pool.close()


def test_partnership_requests_for_the_plan_do_not_exhaust_a_small_pool(
    infra: Infrastructure, stack: tuple[str, Settings]
) -> None:
    """The partnership view of the plan reads other boards, each on a connection of its own:
    with a pool of two, ten requests at once all answer (holding one connection while taking
    another, two requests would take both and wait on each other for ever)."""
    _, settings = stack
    env = infra.env(
        settings.namespace, CSP_BOARD_DAYS_KEPT=str(KEPT_WINDOW), CSP_POSTGRES_POOL_MAX="2"
    )
    api = ServiceProcess("services.projections", "api", env, ARTIFACTS / "logs" / "small-pool")
    try:
        api.start().wait_healthy()
        deadline = time.monotonic() + 60

        def ask(day: str) -> int:
            left = max(1.0, deadline - time.monotonic())
            return MANAGER.get(
                f"{api.url}/boards/improvement-plan", params={"as_at": day}, timeout=left
            ).status_code

        days = [f"2020-07-{d:02d}" for d in range(21, 31)]
        with ThreadPoolExecutor(len(days)) as pool:
            assert list(pool.map(ask, days)) == [200] * len(days)
    finally:
        api.stop()


def test_a_rebuild_answers_as_the_live_boards_did(stack: tuple[str, Settings]) -> None:
    url, settings = stack
    asked = {
        ("practice-evaluations", "2020-07-31"): {"since": "2020-07-01"},
        ("feedback", "2020-07-31"): {"since": "2020-04-01", "compare_since": "2019-04-01"},
        **{key: {} for key in EXPECTED},
    }

    def answers() -> dict[tuple[str, str], Any]:
        return {
            (name, day): board(url, name, as_at=day, **params)
            for (name, day), params in asked.items()
        }

    live = answers()
    asyncio.run(rebuild(settings, progress=False))
    rebuilt = answers()
    assert rebuilt == live
    for (name, day), expected in EXPECTED.items():
        got = by_key(rebuilt[(name, day)])
        assert {k: got[k] for k in expected} == expected, (name, day)

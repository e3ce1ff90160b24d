"""The boards of quality assurance as pure functions: what each counts as at a day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, cast

import pytest
from fastapi import HTTPException

from contracts.quality import events as q
from services.projections.assurance.projection import Assurance
from services.projections.boards import disclosure
from services.projections.boards.assurance.figures import (
    comparison_before,
    feedback,
    improvement_plan,
    practice_evaluations,
    serious_incidents,
    whole_months,
)
from services.projections.boards.assurance.records import (
    Action,
    Answer,
    Evaluation,
    Incident,
    Measure,
    Period,
    Question,
)
from services.projections.boards.facts import board_changes
from services.projections.boards.model import Board, Figure, figure
from services.projections.chronology.projection import Chronology
from services.projections.routes.boards import compared_period
from shared.envelope import Actor, Agency, DomainEvent, Envelope, new_event_id
from shared.eventstore import CommandContext, make_envelopes

D = date(2020, 7, 31)
JULY = date(2020, 7, 1)


def figures(board: Board) -> dict[tuple[str, str | None], tuple[int | None, int | None]]:
    return {(f.key, f.period): (f.count, f.denominator) for f in board.figures}


def evaluation(n: int, day: date, grade: str, plan: str = "CIN", **more: object) -> Evaluation:
    return Evaluation(f"EV-{n}", day, plan, grade, "North", **more)  # type: ignore[arg-type]


def action(n: int, agreed: date, due: date, completed: date | None = None) -> Action:
    return Action(
        "EV-1", f"A-{n}", "practice_evaluation", agreed, due, "North", completed_on=completed
    )


def test_practice_evaluations_by_month_grade_plan_and_the_share_good_or_better() -> None:
    evaluations = [
        evaluation(1, date(2020, 6, 30), "good"),  # June
        evaluation(2, date(2020, 7, 1), "outstanding", "CP"),
        evaluation(3, date(2020, 7, 15), "good", "CLA"),
        evaluation(4, date(2020, 7, 31), "requires_improvement", "CL"),
        evaluation(5, date(2020, 7, 31), "inadequate"),
        evaluation(6, date(2020, 8, 1), "good"),  # after the day: not yet
    ]
    board = practice_evaluations(evaluations, [], D, None, date(2020, 6, 1))
    got = figures(board)
    assert got[("evaluations", "2020-06")] == (1, None)
    assert got[("evaluations", "2020-07")] == (4, None)
    assert got[("good_or_better", "2020-07")] == (2, 4)
    assert got[("grade.inadequate", "2020-07")] == (1, 4)
    assert got[("plan.CIN", "2020-07")] == (1, 4)
    assert got[("evaluations", "2020-06-01/2020-07-31")] == (5, None)
    assert got[("good_or_better", "2020-06-01/2020-07-31")] == (3, 5)
    headline = [f for f in board.figures if f.key == "good_or_better"][-1]
    assert (headline.period, headline.percentage) == ("2020-06-01/2020-07-31", 60.0)


def test_strands_and_moderation_agreement_as_at_the_day() -> None:
    strands = (("voice_of_the_child", "good"), ("risk", "inadequate"))
    evaluations = [
        evaluation(1, JULY, "good", strands=strands, moderated_on=date(2020, 7, 10), agreed=True),
        evaluation(2, JULY, "good", strands=strands[:1], moderated_on=JULY, agreed=False),
        evaluation(3, JULY, "good", moderated_on=date(2020, 8, 3), agreed=True),  # later
    ]
    got = figures(practice_evaluations(evaluations, [], D, None, JULY))
    period = "2020-07-01/2020-07-31"
    assert got[("strand.voice_of_the_child", period)] == (2, None)
    assert got[("strand.voice_of_the_child.good", period)] == (2, 2)
    assert got[("strand_good_or_better.risk", period)] == (0, 1)
    assert got[("strand.planning", period)] == (0, None)
    assert got[("moderated", period)] == (2, None)
    assert got[("moderation_agreed", period)] == (1, 2)


def test_actions_open_and_overdue_as_at_the_day() -> None:
    actions = [
        action(1, JULY, date(2020, 7, 30)),  # open, overdue
        action(2, JULY, date(2020, 7, 31)),  # open, due today: not overdue
        action(3, JULY, date(2020, 7, 10), completed=date(2020, 7, 20)),  # done
        action(4, JULY, date(2020, 7, 10), completed=date(2020, 8, 5)),  # done later: overdue
        action(5, date(2020, 8, 1), date(2020, 8, 10)),  # agreed after the day
    ]
    got = figures(practice_evaluations([], actions, D, None, JULY))
    assert got[("actions_open", None)] == (3, None)
    assert got[("actions_overdue", None)] == (2, 3)


def answer(n: int, day: date, value: str, q: str = "Q1", who: str = "parent") -> Answer:
    return Answer("S1", f"R-{n}", q, who, day, value, "North")


def test_feedback_shares_are_over_those_who_answered_in_two_periods_side_by_side() -> None:
    before, now = date(2020, 2, 1), date(2020, 5, 1)
    answers = [
        answer(1, before, "yes"),
        answer(2, before, "no"),
        answer(3, before, "not_answered"),
        answer(4, now, "yes"),
        answer(5, now, "yes"),
        answer(6, now, "partly", who="carer"),
        answer(7, now, "not_answered"),
        answer(8, now, "not_answered", who="carer"),
        answer(9, date(2020, 8, 1), "no"),  # after the day
    ]
    questions = [Question("S1", "Q1", "Kept informed")]
    compared = Period(date(2019, 4, 1), date(2020, 3, 31))
    board = feedback(answers, questions, compared, D, None, date(2020, 4, 1))
    got = figures(board)
    earlier, later = compared.name, "2020-04-01/2020-07-31"
    assert got[("S1.Q1.answered", earlier)] == (2, None)
    assert got[("S1.Q1.yes", earlier)] == (1, 2)
    assert got[("responses", earlier)] == (3, None)
    assert got[("S1.Q1.answered", later)] == (3, None)
    assert got[("S1.Q1.yes", later)] == (2, 3)
    assert got[("S1.Q1.partly", later)] == (1, 3)
    assert got[("by.parent.S1.Q1.yes", later)] == (2, 2)
    assert got[("by.carer.S1.Q1.yes", later)] == (0, 1)
    assert got[("responses", later)] == (5, None)
    # The comparison comes first, the period asked for last (the dashboard's headline).
    assert [f.period for f in board.figures if f.key == "responses"] == [earlier, later]


def test_the_default_comparison_is_the_same_length_just_before() -> None:
    assert comparison_before(date(2020, 4, 1), date(2020, 7, 31)) == Period(
        date(2019, 12, 1), date(2020, 3, 31)
    )


def incident(n: int, aware: date, notified: date, **more: object) -> Incident:
    return Incident(f"SI-{n}", aware, notified, "North", **more)  # type: ignore[arg-type]


def test_serious_incidents_against_their_working_day_clocks() -> None:
    # Aware Wednesday 8 April 2020: Good Friday and Easter Monday are bank holidays, so the
    # fifth working day is Friday 17 April (not the 15th). The rapid review's fifteen count
    # from the notification: from Friday 17 April to Monday 11 May (VE Day, Friday 8 May, a
    # bank holiday that year), from Monday 20 April to Tuesday 12 May.
    aware = date(2020, 4, 8)
    incidents = [
        incident(1, aware, date(2020, 4, 17), reviewed_on=date(2020, 5, 11), decision="no_review"),
        incident(
            2,
            aware,
            date(2020, 4, 20),
            reviewed_on=date(2020, 5, 13),  # a day late
            decision="local_review",
            commissioned_on=date(2020, 5, 20),
            learning=(date(2020, 6, 1), date(2020, 6, 2)),
        ),
        incident(3, date(2020, 6, 1), date(2020, 6, 3)),  # awaiting its review: overdue
        # Awaiting, not yet due: fifteen working days from its notification (10 August),
        # though fifteen from awareness (22 July) are past.
        incident(4, date(2020, 7, 1), date(2020, 7, 20)),
        incident(5, date(2020, 8, 3), date(2020, 8, 4)),  # after the day
        incident(6, date(2020, 7, 30), date(2020, 8, 4)),  # known, not yet notified: no review
    ]
    learning = [
        Action("SI-2", "A-1", "serious_incident", date(2020, 6, 1), date(2020, 7, 1), "North"),
        Action("SI-2", "A-2", "serious_incident", date(2020, 6, 1), date(2020, 9, 1), "North"),
    ]
    got = figures(serious_incidents(incidents, learning, D, None, date(2020, 4, 1)))
    period = "2020-04-01/2020-07-31"
    assert got[("notified", period)] == (4, None)
    assert got[("notified_in_5_working_days", period)] == (2, 4)
    assert got[("rapid_reviews", period)] == (2, None)
    assert got[("rapid_reviews_in_15_working_days", period)] == (1, 2)
    assert got[("decision.local_review", period)] == (1, 2)
    assert got[("rapid_reviews_awaited", None)] == (2, None)
    assert got[("rapid_reviews_overdue", None)] == (1, 2)
    assert got[("reviews_open", None)] == (1, None)
    assert got[("learning_points", period)] == (2, None)
    assert got[("learning_actions_open", None)] == (2, None)
    assert got[("learning_actions_overdue", None)] == (1, 2)


def measure(n: int, board: str, key: str, target: float, direction: str, use: str) -> Measure:
    return Measure(f"M{n}", "Good practice", board, key, use, target, direction, JULY)


def test_each_measure_against_its_target_the_way_it_should_move() -> None:
    measures = [
        measure(1, "practice-evaluations", "good_or_better", 50, "higher_is_better", "percentage"),
        measure(2, "missing", "episodes", 10, "lower_is_better", "count"),
        measure(3, "risk", "rag.red", 5, "lower_is_better", "percentage"),
        measure(4, "nowhere", "x", 1, "higher_is_better", "count"),  # nothing to read
    ]
    readings: dict[tuple[str, str], Figure | None] = {
        ("practice-evaluations", "good_or_better"): figure("good_or_better", "", 15, 45),
        ("missing", "episodes"): figure("episodes", "", 10),
        ("risk", "rag.red"): figure("rag.red", "", 7, 100),
        ("nowhere", "x"): None,
    }
    plan = [
        Action("PLAN", "A1", "improvement_plan", JULY, date(2020, 7, 1), None),
        Action("PLAN", "A2", "improvement_plan", JULY, date(2020, 9, 1), None),
    ]
    board = improvement_plan(measures, readings, plan, D, None)
    by_key = {f.key: f for f in board.figures}
    assert by_key["measure.M1"].percentage == 33.33 and by_key["measure.M1"].on_target is False
    assert by_key["measure.M1"].target == 50
    assert by_key["measure.M2"].on_target is True  # 10, at most 10
    assert by_key["measure.M3"].on_target is False  # 7% against at most 5%
    assert by_key["measure.M4"].on_target is None and by_key["measure.M4"].count is None
    assert (by_key["measures_on_target"].count, by_key["measures_on_target"].denominator) == (
        1,
        3,
    )
    assert (by_key["actions_overdue"].count, by_key["actions_overdue"].denominator) == (1, 2)


def test_the_partnership_view_hides_small_numbers_and_what_a_hidden_figure_meets() -> None:
    evaluations = [evaluation(n, JULY, "good") for n in range(6)] + [
        Evaluation("EV-S", JULY, "CIN", "inadequate", "South")
    ]
    sheet = disclosure.partnership(
        practice_evaluations, ([*evaluations], []), D, ["North", "South"], 5, JULY
    )
    south = figures(sheet["South"])
    assert south[("evaluations", "2020-07")] == (None, None)
    county = {(f.key, f.period): f for f in sheet[None].figures}
    # 1 inadequate in the county: hidden, and so is a part that would give it back.
    assert county[("grade.inadequate", "2020-07")].suppressed
    assert county[("evaluations", "2020-07")].count == 7
    assert county[("good_or_better", "2020-07")].suppressed
    hidden = figure("m", "", 3, 10).hidden()
    read = Measure("M", "P", "b", "m", "percentage", 20, "higher_is_better", JULY)
    board = improvement_plan([read], {("b", "m"): hidden}, [], D, None)
    assert board.figures[0].on_target is None and board.figures[0].suppressed


# -- the projection: buffered, written once in the batch's transaction ----------------------


class FakeConnection:
    """Records what a projection writes (no database)."""

    def __init__(self) -> None:
        self.copied: list[tuple[str, list[tuple[Any, ...]]]] = []
        self.executed: list[tuple[Any, ...]] = []

    async def copy_records_to_table(
        self, table: str, *, records: list[tuple[Any, ...]], columns: list[str]
    ) -> None:
        assert all(len(r) == len(columns) for r in records)
        self.copied.append((table, list(records)))

    async def execute(self, *args: Any) -> None:
        self.executed.append(args)


def envelope(stream: str, event: DomainEvent, version: int) -> Envelope:
    ctx = CommandContext(
        actor=Actor(user_id="qa-1", agency=Agency.COUNCIL, role="quality"),
        correlation_id=new_event_id(),
    )
    [made] = make_envelopes(stream, version, [event], ctx)
    return made


EVALUATED = q.PracticeEvaluationRecorded(
    evaluation_id="EV-1",
    child_id="CH-1",
    evaluated_on=JULY,
    plan_type="CP",
    auditor_id="AUD-1",
    practitioner_id="SW-1",
    grade="good",
    strands=[q.StrandGrade(strand="risk", grade="inadequate")],
    locality="North",
    findings="sealed:v1:abc",
)


def moderated(grade: str) -> q.PracticeEvaluationModerated:
    return q.PracticeEvaluationModerated(
        moderated_on=JULY,
        moderator_id="AUD-2",
        grade=grade,
        child_id="CH-1",
        original_grade="good",
        agreed=grade == "good",
    )


async def test_the_projection_writes_a_batch_once_inserts_before_updates_last_update_wins() -> None:
    projection, conn = Assurance(), FakeConnection()
    events: list[DomainEvent] = [EVALUATED, moderated("inadequate"), moderated("good")]
    for version, event in enumerate(events):
        await projection.apply(conn, envelope("EV-1", event, version), event)
    await projection.flush(conn)
    tables = dict(conn.copied)
    assert tables["assurance_evaluations"][0][:7] == (
        "EV-1",
        "CH-1",
        JULY,
        "2020-07",
        "CP",
        "good",
        "North",
    )
    assert tables["assurance_strands"] == [("EV-1", "risk", "inadequate")]
    # The boards answered before are forgotten at commit, every day of them (memo.py).
    [notified, (statement, ids, days, grades, agreed)] = conn.executed
    assert notified == ("SELECT pg_notify($1, $2)", "board_days_changed", "all")
    assert "UPDATE assurance_evaluations" in statement
    assert (ids, days, grades, agreed) == (["EV-1"], [JULY], ["good"], [True])  # the last
    await projection.flush(conn)
    assert len(conn.copied) == 2 and len(conn.executed) == 2  # nothing twice, nor told again
    await projection.apply(conn, envelope("EV-1", moderated("good"), 3), moderated("good"))
    projection.discard()  # rolled back
    await projection.flush(conn)
    assert len(conn.executed) == 2


async def test_a_survey_or_the_plan_is_no_childs_chronology_an_evaluation_is() -> None:
    survey = q.FeedbackSurveyLaunched(
        survey_id="S1",
        title="Parents",
        opens_on=JULY,
        closes_on=D,
        questions=[q.Question(question_id="Q1", text="Kept informed?")],
    )
    chronology, conn = Chronology(), FakeConnection()
    await chronology.apply(conn, envelope("S1", survey, 0), survey)
    await chronology.apply(conn, envelope("EV-1", EVALUATED, 0), EVALUATED)
    await chronology.flush(conn)
    [(_, rows)] = conn.copied
    assert [(r[1], r[5]) for r in rows] == [("CH-1", "PracticeEvaluationRecorded")]
    # The boards' facts take nothing from quality assurance's events.
    assert board_changes(survey) == [] and board_changes(EVALUATED) == []


def test_feedback_in_the_partnership_view_hides_a_small_answer_and_what_gives_it_back() -> None:
    now = date(2020, 5, 1)
    answers = [answer(n, now, "yes") for n in range(8)] + [answer(8, now, "no")]
    answers += [Answer("S1", "R-9", "Q1", "carer", now, "yes", "South")]
    questions = [Question("S1", "Q1", "Kept informed")]
    compared = Period(date(2019, 4, 1), date(2020, 3, 31))
    sheet = disclosure.partnership(
        feedback, (answers, questions, compared), D, ["North", "South"], 5, date(2020, 4, 1)
    )
    county = {(f.key, f.period): f for f in sheet[None].figures}
    period = "2020-04-01/2020-07-31"
    assert county[("S1.Q1.answered", period)].count == 10
    assert county[("S1.Q1.no", period)].suppressed  # 1
    assert county[("S1.Q1.yes", period)].suppressed  # 10 - 1 would give it back
    assert county[("by.carer.S1.Q1.answered", period)].suppressed
    assert all(f.suppressed or not f.count for f in sheet["South"].figures)


# -- the period compared with, in the partnership view (the review's scenarios) ---------------

PLACES = ["North", "South"]
Q1 = [Question("FS", "Q1", "Did you understand?")]


def _answers(first: date, days: int, who: str, value: str, tag: str) -> list[Answer]:
    return [
        Answer("FS", f"{loc}-{tag}{i}", "Q1", who, first + timedelta(days=i), value, loc)
        for loc in PLACES
        for i in range(days)
    ]


def compared_in_north(
    answers: list[Answer], compare: Period, as_at: date = D, since: date = JULY
) -> dict[str, tuple[int | None, bool]]:
    """North's figures over the period compared with, in the partnership view."""
    sheet = disclosure.partnership(feedback, (answers, Q1, compare), as_at, PLACES, 5, since)
    return {
        f.key: (f.count, f.suppressed) for f in sheet["North"].figures if f.period == compare.name
    }


def told_apart(
    one: dict[str, tuple[int | None, bool]], other: dict[str, tuple[int | None, bool]]
) -> dict[str, int]:
    """The figures published in both whose difference is a small number (1 to 4)."""
    found = {}
    for key in one.keys() & other.keys():
        a, b = one[key][0], other[key][0]
        if a is not None and b is not None and 0 < abs(a - b) < 5:
            found[key] = abs(a - b)
    return found


def test_a_month_hidden_on_its_own_board_is_hidden_in_the_period_compared_with() -> None:
    # North's only response of April: one young person's "no". Compared with March, then with
    # March and April, the difference would be that one response.
    answers = _answers(date(2020, 3, 1), 20, "parent", "yes", "Y")
    answers += _answers(date(2020, 3, 1), 20, "child", "no", "N")
    answers += _answers(JULY, 20, "parent", "yes", "C")
    answers.append(Answer("FS", "R-X", "Q1", "child", date(2020, 4, 15), "no", "North"))
    march = compared_in_north(answers, Period(date(2020, 3, 1), date(2020, 3, 31)))
    to_april = compared_in_north(answers, Period(date(2020, 3, 1), date(2020, 4, 30)))
    assert march["responses"] == (40, False)
    assert to_april["responses"] == (None, True)
    assert to_april["by.child.FS.Q1.no"] == (None, True)
    assert told_apart(march, to_april) == {}


def test_a_period_compared_with_ending_a_day_later_tells_nothing() -> None:
    # The one young person in North answering on 15 May: a period to the 14th, then to the
    # 15th, would differ by that answer alone.
    answers = _answers(date(2020, 4, 1), 20, "parent", "yes", "Y")
    answers += _answers(date(2020, 4, 1), 20, "child", "no", "N")
    answers += _answers(JULY, 20, "parent", "yes", "C")
    answers.append(Answer("FS", "R-X", "Q1", "child", date(2020, 5, 15), "no", "North"))
    to_14 = compared_in_north(answers, Period(date(2020, 4, 1), date(2020, 5, 14)))
    to_15 = compared_in_north(answers, Period(date(2020, 4, 1), date(2020, 5, 15)))
    assert to_14["responses"] == (40, False)
    assert told_apart(to_14, to_15) == {}
    # As the API asks it: whole months, the same period whichever day it ends on.
    assert whole_months(date(2020, 4, 9), date(2020, 5, 14), D) == whole_months(
        date(2020, 4, 1), date(2020, 5, 15), D
    )


def test_the_default_comparison_does_not_move_with_the_day_asked() -> None:
    # North's young person answering on 31 May: a comparison of "the same number of days"
    # took it in as at 31 July and not as at 30 July.
    answers = _answers(date(2020, 6, 1), 20, "parent", "yes", "Y")
    answers += _answers(date(2020, 6, 1), 20, "child", "no", "N")
    answers += _answers(JULY, 20, "parent", "yes", "C")
    answers.append(Answer("FS", "R-X", "Q1", "child", date(2020, 5, 31), "no", "North"))
    seen = []
    for as_at in (date(2020, 7, 30), D):
        compare = comparison_before(JULY, as_at)
        assert compare == Period(date(2020, 6, 1), date(2020, 6, 30))
        seen.append(compared_in_north(answers, compare, as_at))
    assert seen[0]["responses"] == (40, False)
    assert told_apart(*seen) == {}


def test_the_period_compared_with_is_asked_for_in_whole_months_to_the_day_at_the_latest() -> None:
    april = date(2020, 4, 1)
    # Both ends rounded out to whole months; the end no later than the day asked.
    assert compared_period(date(2019, 4, 9), date(2020, 3, 3), april, D) == Period(
        date(2019, 4, 1), date(2020, 3, 31)
    )
    assert compared_period(date(2020, 6, 2), date(2020, 7, 20), april, D - timedelta(days=1)) == (
        Period(date(2020, 6, 1), date(2020, 7, 30))
    )
    # Only a start: to the last day before the period's month; only an end: as many months.
    assert compared_period(date(2019, 4, 15), None, april, D) == Period(
        date(2019, 4, 1), date(2020, 3, 31)
    )
    assert compared_period(None, date(2020, 1, 10), april, D) == Period(
        date(2019, 10, 1), date(2020, 1, 31)
    )
    assert compared_period(None, None, april, D) is None
    assert comparison_before(date(2020, 4, 20), D) == Period(date(2019, 12, 1), date(2020, 3, 31))
    for start, end, named in (
        (None, date(2020, 8, 1), "compare_until"),
        (date(2020, 8, 1), None, "compare_since"),
        (date(2020, 3, 1), date(2020, 2, 1), "compare_until"),
    ):
        with pytest.raises(HTTPException) as refused:
            compared_period(start, end, april, D)
        assert refused.value.status_code == 422
        [problem] = cast(list[dict[str, Any]], refused.value.detail)
        assert problem["loc"] == ["query", named]


def test_feedback_by_service_shares_yes_over_those_who_answered() -> None:
    def said(n: int, value: str, service: str | None) -> Answer:
        return Answer("S1", f"R-{n}", "Q1", "parent", JULY, value, "North", service)

    answers = [said(n, "yes", "CP") for n in range(6)] + [said(6, "no", "CP")]
    answers += [said(7, "not_answered", "CP"), said(8, "partly", "CIN"), said(9, "yes", None)]
    questions = [Question("S1", "Q1", "Kept informed")]
    got = figures(feedback(answers, questions, None, D, None, JULY))
    period = "2020-07-01/2020-07-31"
    assert got[("by_service.CP.S1.Q1.answered", period)] == (7, None)
    assert got[("by_service.CP.S1.Q1.yes", period)] == (6, 7)
    assert got[("by_service.CIN.S1.Q1.partly", period)] == (1, 1)
    assert got[("by_service.not_recorded.S1.Q1.yes", period)] == (1, 1)  # adds up to the total
    assert not any(k.startswith("by_service.CLA") for k, _ in got)  # no response about it
    assert all(p == period for _, p in got)  # no period compared with: the month alone
    # Without any service named, no breakdown by service.
    plain = [said(n, "yes", None) for n in range(3)]
    assert not any(
        k.startswith("by_service.")
        for k, _ in figures(feedback(plain, questions, None, D, None, JULY))
    )
    # The partnership view: the one answer about CIN is hidden, and so is the other small
    # part of the question's total (CIN's alone would be the total less the rest).
    sheet = disclosure.partnership(
        feedback,
        (answers, questions, Period(date(2020, 6, 1), date(2020, 6, 30))),
        D,
        ["North"],
        5,
        JULY,
    )
    north = {(f.key, f.period): f for f in sheet["North"].figures}
    assert north[("by_service.CIN.S1.Q1.answered", period)].suppressed
    assert north[("by_service.not_recorded.S1.Q1.answered", period)].suppressed
    assert north[("by_service.CP.S1.Q1.answered", period)].count == 7
    # 9 = 7 + two hidden ones: neither can be told from the other.
    assert north[("S1.Q1.answered", period)].count == 9

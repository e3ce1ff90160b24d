"""The boards of quality assurance, as pure functions of its records (`records.py`) as at a
day. Definitions (what is counted, the denominator, which events move it) are in
docs/boards.md, one section per board, linked from every figure. No I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from contracts.quality.codes import (
    GOOD_OR_BETTER,
    GRADE_ORDER,
    Direction,
    EvaluatedPlan,
    Respondent,
    ReviewDecision,
    ServiceArea,
    Strand,
    notification_due,
    rapid_review_due,
)
from contracts.quality.codes import (
    Answer as Answered,
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
from services.projections.boards.model import Board, Figure, figure
from shared.calendar import add_months, month_end, months_between

DOCS = "docs/boards.md"
GOOD = frozenset(g.value for g in GOOD_OR_BETTER)
PRACTICE_EVALUATIONS = "practice-evaluations"
FEEDBACK = "feedback"
SERIOUS_INCIDENTS = "serious-incidents"
IMPROVEMENT_PLAN = "improvement-plan"


def _doc(board: str) -> str:
    return f"{DOCS}#{board}"


def _words(code: str) -> str:
    return code.replace("_", " ")


def _actions(
    actions: Sequence[Action], as_at: date, prefix: str, what: str, doc: str
) -> list[Figure]:
    """Actions open on the day (agreed by it, not completed by it), and of them overdue."""
    open_ = [a for a in actions if a.open_on(as_at)]
    return [
        figure(f"{prefix}actions_open", f"{what} open", len(open_), definition=doc),
        figure(
            f"{prefix}actions_overdue",
            f"{what} overdue",
            sum(a.overdue_on(as_at) for a in open_),
            len(open_),
            definition=doc,
        ),
    ]


# -- practice evaluations -------------------------------------------------------------------


def practice_evaluations(
    evaluations: Sequence[Evaluation],
    actions: Sequence[Action],
    as_at: date,
    locality: str | None,
    since: date,
) -> Board:
    """Evaluations by grade and plan type in each month and over the period, the share good
    or better, the strands' grades, moderation agreement, and the actions open and overdue."""
    doc = _doc(PRACTICE_EVALUATIONS)
    done = [e for e in evaluations if since <= e.evaluated_on <= as_at]
    figures: list[Figure] = []
    for month in months_between(since, as_at):
        of_month = [
            e
            for e in done
            if (e.evaluated_on.year, e.evaluated_on.month) == (month.year, month.month)
        ]
        figures += _graded(of_month, month.strftime("%Y-%m"), doc)
    period = f"{since.isoformat()}/{as_at.isoformat()}"
    figures += _graded(done, period, doc)
    for strand in Strand:
        grades = [g for e in done for s, g in e.strands if s == strand.value]
        n, name = len(grades), _words(strand.value)
        figures.append(
            figure(
                f"strand.{strand.value}",
                f"Evaluations grading {name}",
                n,
                period=period,
                definition=doc,
            )
        )
        figures += [
            figure(
                f"strand.{strand.value}.{grade.value}",
                f"{name.capitalize()}: {_words(grade.value)}",
                grades.count(grade.value),
                n,
                period=period,
                definition=doc,
            )
            for grade in GRADE_ORDER
        ]
        figures.append(
            figure(
                f"strand_good_or_better.{strand.value}",
                f"{name.capitalize()}: good or better",
                sum(g in GOOD for g in grades),
                n,
                period=period,
                definition=doc,
            )
        )
    moderated = [e for e in done if e.moderated_by(as_at)]
    figures += [
        figure("moderated", "Evaluations moderated", len(moderated), period=period, definition=doc),
        figure(
            "moderation_agreed",
            "Moderations agreeing with the grade",
            sum(e.agreed is True for e in moderated),
            len(moderated),
            period=period,
            definition=doc,
        ),
    ]
    figures += _actions(actions, as_at, "", "Actions", doc)
    return Board(
        board=PRACTICE_EVALUATIONS,
        title="Practice evaluations",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


def _graded(group: Sequence[Evaluation], period: str, doc: str) -> list[Figure]:
    n = len(group)
    figures = [
        figure("evaluations", "Practice evaluations", n, period=period, definition=doc),
        figure(
            "good_or_better",
            "Graded good or better",
            sum(e.grade in GOOD for e in group),
            n,
            period=period,
            definition=doc,
        ),
    ]
    figures += [
        figure(
            f"grade.{grade.value}",
            f"Graded {_words(grade.value)}",
            sum(e.grade == grade.value for e in group),
            n,
            period=period,
            definition=doc,
        )
        for grade in GRADE_ORDER
    ]
    figures += [
        figure(
            f"plan.{plan.value}",
            f"Evaluations of {plan.value} cases",
            sum(e.plan_type == plan.value for e in group),
            n,
            period=period,
            definition=doc,
        )
        for plan in EvaluatedPlan
    ]
    return figures


# -- feedback -------------------------------------------------------------------------------


def comparison_before(since: date, as_at: date) -> Period:
    """The period the feedback board compares with when not asked for another: as many whole
    months as the period touches (from `since`'s month to the day's), just before `since`'s
    month. Whole months, so it moves a month at a time, not with the day asked."""
    first = since.replace(day=1)
    months = len(months_between(first, as_at))
    return Period(add_months(first, -months), first - timedelta(days=1))


def whole_months(start: date, end: date, as_at: date) -> Period:
    """A period compared with, in whole months: from the first day of `start`'s month to the
    last of `end`'s, or to the day asked when that is earlier (as the period's own last month
    is counted). The partnership view protects a count over time month by month: a period
    ending on any day could be told from one a day longer."""
    return Period(start.replace(day=1), min(month_end(end), as_at))


NOT_RECORDED = "not_recorded"  # the service of a response naming none, beside those that do


def feedback(
    answers: Sequence[Answer],
    questions: Sequence[Question],
    comparison: Period | None,
    as_at: date,
    locality: str | None,
    since: date,
) -> Board:
    """For each question, in the comparison period and in the period (side by side, the
    comparison first; None: the period alone, as the partnership view reads a month): the
    share answering yes over those who answered it (a question left unanswered is not in the
    denominator), the number who answered; and the same by respondent type and by the
    service the response is about (where responses name one)."""
    doc = _doc(FEEDBACK)
    current = Period(since, as_at)
    respondents = [r.value for r in Respondent if any(a.respondent == r.value for a in answers)]
    services = _services(answers)
    figures: list[Figure] = []
    for period in (comparison, current):
        if period is None:
            continue
        within = [a for a in answers if a.responded_on in period and a.responded_on <= as_at]
        figures.append(
            figure(
                "responses",
                "Responses",
                len({(a.survey_id, a.response_id) for a in within}),
                period=period.name,
                definition=doc,
            )
        )
        for q in questions:
            of_question = [
                a for a in within if (a.survey_id, a.question_id) == (q.survey_id, q.question_id)
            ]
            base = f"{q.survey_id}.{q.question_id}"
            figures += _answers(of_question, base, q.text, period.name, doc)
            for respondent in respondents:
                figures += _answers(
                    [a for a in of_question if a.respondent == respondent],
                    f"by.{respondent}.{base}",
                    f"{q.text} ({_words(respondent)}s)",
                    period.name,
                    doc,
                )
            for service in services:
                figures += _answers(
                    [a for a in of_question if (a.service or NOT_RECORDED) == service],
                    f"by_service.{service}.{base}",
                    f"{q.text} ({_words(service)})",
                    period.name,
                    doc,
                )
    return Board(board=FEEDBACK, title="Feedback", as_at=as_at, locality=locality, figures=figures)


def _services(answers: Sequence[Answer]) -> list[str]:
    """The services responses name, in the scale's order, and `not_recorded` when some name
    none beside them (so a question's services add up to it); none when no response names
    one."""
    named = {a.service for a in answers}
    if named <= {None}:
        return []
    found = [s.value for s in ServiceArea if s.value in named]
    return found + ([NOT_RECORDED] if None in named else [])


def _answers(group: Sequence[Answer], base: str, text: str, period: str, doc: str) -> list[Figure]:
    answered = [a for a in group if a.answer != Answered.NOT_ANSWERED.value]
    n = len(answered)
    figures = [figure(f"{base}.answered", f"{text}: answered", n, period=period, definition=doc)]
    figures += [
        figure(
            f"{base}.{answer.value}",
            f"{text}: {answer.value}",
            sum(a.answer == answer.value for a in answered),
            n,
            period=period,
            definition=doc,
        )
        for answer in (Answered.YES, Answered.PARTLY, Answered.NO)
    ]
    return figures


# -- serious incidents ----------------------------------------------------------------------


def serious_incidents(
    incidents: Sequence[Incident],
    actions: Sequence[Action],
    as_at: date,
    locality: str | None,
    since: date,
) -> Board:
    """Notifications and rapid reviews of the period against their working-day clocks (the
    notification's from the day the council became aware, the rapid review's from the
    notification), the decisions, the rapid reviews awaited (of incidents notified) and
    overdue, practice reviews open, learning points, and the learning actions open and
    overdue."""
    doc = _doc(SERIOUS_INCIDENTS)
    period = Period(since, as_at)
    known = [i for i in incidents if i.aware_on <= as_at]
    notified = [i for i in known if i.notified_on in period]
    reviewed = [i for i in known if i.reviewed_on in period]
    awaited = [
        i
        for i in known
        if i.notified_on <= as_at and (i.reviewed_on is None or i.reviewed_on > as_at)
    ]
    figures = [
        figure(
            "notified",
            "Serious incidents notified",
            len(notified),
            period=period.name,
            definition=doc,
        ),
        figure(
            "notified_in_5_working_days",
            "Notified within 5 working days of awareness",
            sum(i.notified_on <= notification_due(i.aware_on) for i in notified),
            len(notified),
            period=period.name,
            definition=doc,
        ),
        figure(
            "rapid_reviews",
            "Rapid reviews completed",
            len(reviewed),
            period=period.name,
            definition=doc,
        ),
        figure(
            "rapid_reviews_in_15_working_days",
            "Rapid reviews within 15 working days of the notification",
            sum(
                i.reviewed_on is not None and i.reviewed_on <= rapid_review_due(i.notified_on)
                for i in reviewed
            ),
            len(reviewed),
            period=period.name,
            definition=doc,
        ),
    ]
    figures += [
        figure(
            f"decision.{decision.value}",
            f"Decided: {_words(decision.value)}",
            sum(i.decision == decision.value for i in reviewed),
            len(reviewed),
            period=period.name,
            definition=doc,
        )
        for decision in ReviewDecision
    ]
    figures += [
        figure("rapid_reviews_awaited", "Rapid reviews awaited", len(awaited), definition=doc),
        figure(
            "rapid_reviews_overdue",
            "Rapid reviews awaited past 15 working days",
            sum(rapid_review_due(i.notified_on) < as_at for i in awaited),
            len(awaited),
            definition=doc,
        ),
        figure(
            "reviews_open",
            "Practice reviews commissioned and not yet published",
            sum(
                i.commissioned_on is not None
                and i.commissioned_on <= as_at
                and (i.published_on is None or i.published_on > as_at)
                for i in known
            ),
            definition=doc,
        ),
        figure(
            "reviews_published",
            "Practice reviews published",
            sum(i.published_on in period for i in known),
            period=period.name,
            definition=doc,
        ),
        figure(
            "learning_points",
            "Learning points recorded",
            sum(day in period for i in known for day in i.learning),
            period=period.name,
            definition=doc,
        ),
    ]
    figures += _actions(actions, as_at, "learning_", "Learning actions", doc)
    return Board(
        board=SERIOUS_INCIDENTS,
        title="Serious incidents",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )


# -- the improvement plan -------------------------------------------------------------------


def on_target(measure: Measure, read: Figure | None) -> bool | None:
    """Whether the figure meets its target, the way the measure says is better; None when
    there is no number to tell (no such figure, or suppressed)."""
    if read is None:
        return None
    value = read.percentage if measure.use == "percentage" else read.count
    if value is None:
        return None
    if measure.direction == Direction.LOWER_IS_BETTER.value:
        return value <= measure.target
    return value >= measure.target


def improvement_plan(
    measures: Sequence[Measure],
    readings: Mapping[tuple[str, str], Figure | None],
    actions: Sequence[Action],
    as_at: date,
    locality: str | None,
) -> Board:
    """Each measure's figure as its board reads it on the day, against the latest target set
    by then; how many measures meet their target (of those with a figure to tell); and the
    plan's actions open and overdue (the plan is the county's: every locality's board shows
    them)."""
    doc = _doc(IMPROVEMENT_PLAN)
    figures: list[Figure] = []
    met = told = 0
    for m in sorted(measures, key=lambda m: (m.priority, m.measure_id)):
        read = readings.get((m.board, m.figure))
        meets = on_target(m, read)
        told += meets is not None
        met += meets is True
        figures.append(
            Figure(
                key=f"measure.{m.measure_id}",
                label=f"{m.priority}: {m.board} {m.figure}",
                count=None if read is None else read.count,
                denominator=None if read is None else read.denominator,
                percentage=None if read is None else read.percentage,
                period=None if read is None else read.period,
                suppressed=read is not None and read.suppressed,
                definition=doc,
                target=m.target,
                direction=m.direction,
                on_target=meets,
            )
        )
    figures += [
        figure("measures", "Measures", len(measures), definition=doc),
        figure("measures_on_target", "Measures on target", met, told, definition=doc),
    ]
    figures += _actions(actions, as_at, "", "Actions", doc)
    return Board(
        board=IMPROVEMENT_PLAN,
        title="Improvement plan",
        as_at=as_at,
        locality=locality,
        figures=figures,
    )

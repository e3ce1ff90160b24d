"""Reading quality assurance's read model (sql/020_assurance.sql) into its records: each
query takes what a board as at a day may count, in a stable order (a rebuild reads the same)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import asyncpg

from services.projections.boards.assurance.records import (
    Action,
    Answer,
    Evaluation,
    Incident,
    Measure,
    Question,
)


async def evaluations(
    conn: asyncpg.Connection, since: date, until: date, locality: str | None
) -> list[Evaluation]:
    """Evaluations made in [since, until], with their strands."""
    strands: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in await conn.fetch(
        "SELECT s.evaluation_id, s.strand, s.grade FROM assurance_strands s"
        " JOIN assurance_evaluations e USING (evaluation_id)"
        " WHERE e.evaluated_on BETWEEN $1 AND $2 AND ($3::text IS NULL OR e.locality = $3)"
        " ORDER BY s.evaluation_id, s.strand",
        since,
        until,
        locality,
    ):
        strands[r["evaluation_id"]].append((r["strand"], r["grade"]))
    return [
        Evaluation(
            evaluation_id=r["evaluation_id"],
            evaluated_on=r["evaluated_on"],
            plan_type=r["plan_type"],
            grade=r["grade"],
            locality=r["locality"],
            strands=tuple(strands.get(r["evaluation_id"], ())),
            moderated_on=r["moderated_on"],
            agreed=r["agreed"],
        )
        for r in await conn.fetch(
            "SELECT evaluation_id, evaluated_on, plan_type, grade, locality, moderated_on, agreed"
            " FROM assurance_evaluations"
            " WHERE evaluated_on BETWEEN $1 AND $2 AND ($3::text IS NULL OR locality = $3)"
            " ORDER BY evaluated_on, evaluation_id",
            since,
            until,
            locality,
        )
    ]


async def actions(
    conn: asyncpg.Connection, of: str, until: date, locality: str | None
) -> list[Action]:
    """The actions of one kind of record agreed by `until`, each with its record's locality
    (an evaluation's or an incident's; None for an audit's or the plan's, which are the
    county's: `locality` None takes them all)."""
    rows = await conn.fetch(
        "SELECT a.record_id, a.action_id, a.of, a.agreed_on, a.due_on, a.completed_on,"
        " a.agency, coalesce(e.locality, i.locality) AS locality"
        " FROM assurance_actions a"
        " LEFT JOIN assurance_evaluations e"
        "   ON a.of = 'practice_evaluation' AND e.evaluation_id = a.record_id"
        " LEFT JOIN assurance_incidents i"
        "   ON a.of = 'serious_incident' AND i.incident_id = a.record_id"
        " WHERE a.of = $1 AND a.agreed_on <= $2"
        " ORDER BY a.record_id, a.action_id",
        of,
        until,
    )
    return [
        Action(
            record_id=r["record_id"],
            action_id=r["action_id"],
            of=r["of"],
            agreed_on=r["agreed_on"],
            due_on=r["due_on"],
            locality=r["locality"],
            completed_on=r["completed_on"],
            agency=r["agency"],
        )
        for r in rows
        if locality is None or r["locality"] == locality
    ]


async def answers(
    conn: asyncpg.Connection, since: date, until: date, locality: str | None
) -> list[Answer]:
    """Every answer of the responses made in [since, until] (a response naming no locality is
    the county's only)."""
    return [
        Answer(
            survey_id=r["survey_id"],
            response_id=r["response_id"],
            question_id=r["question_id"],
            respondent=r["respondent"],
            responded_on=r["responded_on"],
            answer=r["answer"],
            locality=r["locality"],
            service=r["service"],
        )
        for r in await conn.fetch(
            "SELECT survey_id, response_id, question_id, respondent, responded_on, answer,"
            " locality, service FROM assurance_answers"
            " WHERE responded_on BETWEEN $1 AND $2 AND ($3::text IS NULL OR locality = $3)"
            " ORDER BY survey_id, response_id, question_id",
            since,
            until,
            locality,
        )
    ]


async def questions(conn: asyncpg.Connection, since: date, as_at: date) -> list[Question]:
    """The questions of the surveys running at some time from `since` to the day asked: open
    by the day (a survey opening later is not on the board as at the day, whatever period it
    is compared with) and not closed before `since`; in each survey's order (the surveys by
    their opening)."""
    return [
        Question(r["survey_id"], r["question_id"], r["text"])
        for r in await conn.fetch(
            "SELECT q.survey_id, q.question_id, q.text FROM assurance_questions q"
            " JOIN assurance_surveys s USING (survey_id)"
            " WHERE s.opens_on <= $2 AND s.closes_on >= $1"
            " ORDER BY s.opens_on, q.survey_id, q.position",
            since,
            as_at,
        )
    ]


async def incidents(conn: asyncpg.Connection, until: date, locality: str | None) -> list[Incident]:
    """The serious incidents the council was aware of by `until`, with their learning."""
    return [
        Incident(
            incident_id=r["incident_id"],
            aware_on=r["aware_on"],
            notified_on=r["notified_on"],
            locality=r["locality"],
            reviewed_on=r["reviewed_on"],
            decision=r["decision"],
            commissioned_on=r["commissioned_on"],
            published_on=r["published_on"],
            learning=tuple(r["learning"] or ()),
        )
        for r in await conn.fetch(
            "SELECT i.incident_id, i.aware_on, i.notified_on, i.locality, i.reviewed_on,"
            " i.decision, i.commissioned_on, i.published_on,"
            " array(SELECT l.recorded_on FROM assurance_learning l"
            "   WHERE l.incident_id = i.incident_id ORDER BY l.recorded_on) AS learning"
            " FROM assurance_incidents i"
            " WHERE i.aware_on <= $1 AND ($2::text IS NULL OR i.locality = $2)"
            " ORDER BY i.aware_on, i.incident_id",
            until,
            locality,
        )
    ]


async def measures(conn: asyncpg.Connection, as_at: date) -> list[Measure]:
    """Each measure of the plan with the latest target set on or before the day."""
    return [
        Measure(
            measure_id=r["measure_id"],
            priority=r["title"] or r["priority_id"],
            board=r["board"],
            figure=r["figure"],
            use=r["use"],
            target=r["target"],
            direction=r["direction"],
            set_on=r["set_on"],
        )
        for r in await conn.fetch(
            "SELECT DISTINCT ON (m.plan_id, m.measure_id) m.measure_id, m.priority_id, p.title,"
            " m.board, m.figure, m.use, m.target, m.direction, m.set_on"
            " FROM assurance_measures m LEFT JOIN assurance_priorities p"
            "   ON p.plan_id = m.plan_id AND p.priority_id = m.priority_id"
            " WHERE m.set_on <= $1"
            " ORDER BY m.plan_id, m.measure_id, m.set_on DESC, m.seq DESC",
            as_at,
        )
    ]

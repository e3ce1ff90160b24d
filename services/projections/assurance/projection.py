"""The projection that keeps quality assurance's read model (sql/020_assurance.sql): practice
evaluations and their strands, every record's actions, surveys and each answer of their
responses, serious incidents and their learning, and the improvement plan's priorities,
measures and surgeries.

Like the boards' projection it buffers a batch's rows and writes them in `flush`, which the
runner calls in the batch's transaction before it stores the offsets: each event is applied
exactly once, in a live build and in a rebuild alike. A record's later events (a moderation,
an action completed, a rapid review) are updates, written after the batch's inserts (a record
and its update may arrive in one batch) and the last of a batch wins, as the events' order
says. Every other event (a child's, a school's) is not this projection's.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from contracts.quality import events as q
from services.projections.boards.memo import CHANNEL, payload_of
from shared.envelope import DomainEvent, Envelope

# The tables written by COPY, with their columns in the order the rows are buffered.
TABLES: dict[str, tuple[str, ...]] = {
    "assurance_evaluations": (
        "evaluation_id",
        "child_id",
        "evaluated_on",
        "month",
        "plan_type",
        "grade",
        "locality",
        "auditor_id",
        "practitioner_id",
    ),
    "assurance_strands": ("evaluation_id", "strand", "grade"),
    "assurance_actions": (
        "record_id",
        "action_id",
        "of",
        "agency",
        "priority_id",
        "owner_id",
        "agreed_on",
        "due_on",
    ),
    "assurance_surveys": ("survey_id", "title", "opens_on", "closes_on"),
    "assurance_questions": ("survey_id", "question_id", "position", "text"),
    "assurance_answers": (
        "survey_id",
        "response_id",
        "question_id",
        "respondent",
        "service",
        "locality",
        "responded_on",
        "answer",
    ),
    "assurance_incidents": ("incident_id", "child_id", "locality", "aware_on", "notified_on"),
    "assurance_learning": ("incident_id", "learning_id", "recorded_on"),
    "assurance_priorities": ("plan_id", "priority_id", "added_on", "title"),
    "assurance_measures": (
        "plan_id",
        "measure_id",
        "priority_id",
        "set_on",
        "seq",
        "board",
        "figure",
        "use",
        "target",
        "direction",
    ),
    "assurance_surgeries": ("plan_id", "surgery_id", "held_on", "figures"),
}

# The updates, each one statement per batch over its keys (`$1`) and values.
UPDATES: dict[str, str] = {
    "moderated": "UPDATE assurance_evaluations e SET moderated_on = u.day,"
    " moderated_grade = u.grade, agreed = u.agreed"
    " FROM unnest($1::text[], $2::date[], $3::text[], $4::boolean[]) AS u(id, day, grade, agreed)"
    " WHERE e.evaluation_id = u.id",
    "completed": "UPDATE assurance_actions a SET completed_on = u.day"
    " FROM unnest($1::text[], $2::text[], $3::date[]) AS u(record_id, action_id, day)"
    " WHERE a.record_id = u.record_id AND a.action_id = u.action_id",
    "reviewed": "UPDATE assurance_incidents i SET reviewed_on = u.day, decision = u.decision"
    " FROM unnest($1::text[], $2::date[], $3::text[]) AS u(id, day, decision)"
    " WHERE i.incident_id = u.id",
    "commissioned": "UPDATE assurance_incidents i SET commissioned_on = u.day"
    " FROM unnest($1::text[], $2::date[]) AS u(id, day) WHERE i.incident_id = u.id",
    "published": "UPDATE assurance_incidents i SET published_on = u.day"
    " FROM unnest($1::text[], $2::date[]) AS u(id, day) WHERE i.incident_id = u.id",
}


class Assurance:
    name = "assurance"

    def __init__(self) -> None:
        self._rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES}
        # Each update by its row's key: the batch's last event for a row is the one kept.
        self._updates: dict[str, dict[tuple[str, ...], tuple[Any, ...]]] = {u: {} for u in UPDATES}

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, event: DomainEvent) -> None:
        record = envelope.stream_id
        if not (
            self._evaluations_and_actions(record, event)
            or self._feedback(record, event)
            or self._incidents(record, event)
        ):
            self._plan(record, envelope.stream_version, event)

    def _evaluations_and_actions(self, record: str, event: DomainEvent) -> bool:
        rows, updates = self._rows, self._updates
        match event:
            case q.PracticeEvaluationRecorded():
                rows["assurance_evaluations"].append(
                    (
                        event.evaluation_id,
                        event.child_id,
                        event.evaluated_on,
                        event.evaluated_on.strftime("%Y-%m"),
                        event.plan_type.value,
                        event.grade.value,
                        event.locality,
                        event.auditor_id,
                        event.practitioner_id,
                    )
                )
                rows["assurance_strands"] += [
                    (event.evaluation_id, s.strand.value, s.grade.value) for s in event.strands
                ]
            case q.PracticeEvaluationModerated():
                updates["moderated"][(record,)] = (
                    event.moderated_on,
                    event.grade.value,
                    event.agreed,
                )
            case q.QualityActionAgreed():
                rows["assurance_actions"].append(
                    (
                        record,
                        event.action_id,
                        event.of.value,
                        event.agency.value if event.agency else None,
                        event.priority_id,
                        event.owner_id,
                        event.agreed_on,
                        event.due_on,
                    )
                )
            case q.QualityActionCompleted():
                updates["completed"][(record, event.action_id)] = (event.completed_on,)
            case _:
                return False
        return True

    def _feedback(self, record: str, event: DomainEvent) -> bool:
        rows = self._rows
        match event:
            case q.FeedbackSurveyLaunched():
                rows["assurance_surveys"].append(
                    (event.survey_id, event.title, event.opens_on, event.closes_on)
                )
                rows["assurance_questions"] += [
                    (event.survey_id, question.question_id, n, question.text)
                    for n, question in enumerate(event.questions, start=1)
                ]
            case q.FeedbackResponseRecorded():
                rows["assurance_answers"] += [
                    (
                        record,
                        event.response_id,
                        answered.question_id,
                        event.respondent.value,
                        event.service.value if event.service else None,
                        event.locality,
                        event.responded_on,
                        answered.answer.value,
                    )
                    for answered in event.answers
                ]
            case _:
                return False
        return True

    def _incidents(self, record: str, event: DomainEvent) -> bool:
        rows, updates = self._rows, self._updates
        match event:
            case q.SeriousIncidentNotified():
                rows["assurance_incidents"].append(
                    (
                        event.incident_id,
                        event.child_id,
                        event.locality,
                        event.aware_on,
                        event.notified_on,
                    )
                )
            case q.RapidReviewCompleted():
                updates["reviewed"][(record,)] = (event.completed_on, event.decision.value)
            case q.PracticeReviewCommissioned():
                updates["commissioned"][(record,)] = (event.commissioned_on,)
            case q.PracticeReviewPublished():
                updates["published"][(record,)] = (event.published_on,)
            case q.LearningPointRecorded():
                rows["assurance_learning"].append((record, event.learning_id, event.recorded_on))
            case _:
                return False
        return True

    def _plan(self, record: str, seq: int, event: DomainEvent) -> None:
        rows = self._rows
        match event:
            case q.ImprovementPriorityAdded():
                rows["assurance_priorities"].append(
                    (record, event.priority_id, event.added_on, event.title)
                )
            case q.ImprovementMeasureSet():
                rows["assurance_measures"].append(
                    (
                        record,
                        event.measure_id,
                        event.priority_id,
                        event.set_on,
                        seq,
                        event.measure.board,
                        event.measure.figure,
                        event.use,
                        event.target,
                        event.direction.value,
                    )
                )
            case q.PerformanceSurgeryHeld():
                rows["assurance_surgeries"].append(
                    (
                        record,
                        event.surgery_id,
                        event.held_on,
                        [f"{f.board}:{f.figure}" for f in event.figures],
                    )
                )

    async def flush(self, conn: asyncpg.Connection) -> None:
        try:
            if any(self._rows.values()) or any(self._updates.values()):
                # The quality boards answered before are forgotten at commit (`memo.py`):
                # a record's dates reach back and forward (an action due, one completed).
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload_of(None))
            for table, columns in TABLES.items():
                if self._rows[table]:
                    await conn.copy_records_to_table(
                        table, records=self._rows[table], columns=list(columns)
                    )
            for name, statement in UPDATES.items():
                if self._updates[name]:
                    keyed = [(*key, *values) for key, values in self._updates[name].items()]
                    await conn.execute(statement, *(list(c) for c in zip(*keyed, strict=True)))
        finally:
            self.discard()

    def discard(self) -> None:
        """Forget what was buffered (the batch's transaction is being rolled back)."""
        for rows in self._rows.values():
            rows.clear()
        for updates in self._updates.values():
            updates.clear()

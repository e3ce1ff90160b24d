-- Quality assurance (services/projections/assurance): practice evaluations, the actions of
-- every record, feedback, serious incidents and the improvement plan, from `quality-events`.
-- Read by the boards practice-evaluations, feedback, serious-incidents and improvement-plan.
--
-- World time like the boards: every row keeps the days its events give (graded, moderated,
-- due, completed, notified...), and a board as at D counts what had happened by D. No free
-- text: findings, comments, learning and decisions are sealed on the events and not kept here.
--
-- A build's tables like the chronology's (010): a build made before this script gets them
-- empty when a worker starts (build_migrations), and `make rebuild` fills them.

-- A practice evaluation (case audit): its overall grade, and the latest moderation of it.
-- `month` (YYYY-MM) is the month it counts in.
CREATE TABLE assurance_evaluations (
    evaluation_id   text PRIMARY KEY,
    child_id        text NOT NULL,
    evaluated_on    date NOT NULL,
    month           text NOT NULL,
    plan_type       text NOT NULL,
    grade           text NOT NULL,
    locality        text NOT NULL,
    auditor_id      text NOT NULL,
    practitioner_id text NOT NULL,
    moderated_on    date,
    moderated_grade text,
    agreed          boolean
);

CREATE INDEX assurance_evaluations_by_day ON assurance_evaluations (evaluated_on);

-- Each strand an evaluation graded.
CREATE TABLE assurance_strands (
    evaluation_id text NOT NULL,
    strand        text NOT NULL,
    grade         text NOT NULL,
    PRIMARY KEY (evaluation_id, strand)
);

-- Every record's actions: `record_id` is the stream (evaluation, audit, incident, plan),
-- `of` which kind of record; open from `agreed_on` until `completed_on`.
CREATE TABLE assurance_actions (
    record_id    text NOT NULL,
    action_id    text NOT NULL,
    of           text NOT NULL,
    agency       text,
    priority_id  text,
    owner_id     text NOT NULL,
    agreed_on    date NOT NULL,
    due_on       date NOT NULL,
    completed_on date,
    PRIMARY KEY (record_id, action_id)
);

-- Surveys, their questions (in the survey's order), and one row per answer of a response.
CREATE TABLE assurance_surveys (
    survey_id text PRIMARY KEY,
    title     text NOT NULL,
    opens_on  date NOT NULL,
    closes_on date NOT NULL
);

CREATE TABLE assurance_questions (
    survey_id   text    NOT NULL,
    question_id text    NOT NULL,
    position    integer NOT NULL,
    text        text    NOT NULL,
    PRIMARY KEY (survey_id, question_id)
);

CREATE TABLE assurance_answers (
    survey_id    text NOT NULL,
    response_id  text NOT NULL,
    question_id  text NOT NULL,
    respondent   text NOT NULL,
    service      text,
    locality     text,
    responded_on date NOT NULL,
    answer       text NOT NULL,
    PRIMARY KEY (survey_id, response_id, question_id)
);

CREATE INDEX assurance_answers_by_day ON assurance_answers (responded_on);

-- A serious incident and its clocks: aware (the clocks start), notified, the rapid review and
-- its decision, a practice review commissioned and published.
CREATE TABLE assurance_incidents (
    incident_id     text   PRIMARY KEY,
    child_id        text   NOT NULL,
    locality        text   NOT NULL,
    aware_on        date   NOT NULL,
    notified_on     date   NOT NULL,
    reviewed_on     date,
    decision        text,
    commissioned_on date,
    published_on    date
);

-- Each learning point of an incident (its actions are the incident's actions).
CREATE TABLE assurance_learning (
    incident_id text NOT NULL,
    learning_id text NOT NULL,
    recorded_on date NOT NULL,
    PRIMARY KEY (incident_id, learning_id)
);

-- The improvement plan's priorities, each setting of a measure (the target as at D is the
-- latest set on or before D; `seq` orders two on one day), and its performance surgeries.
CREATE TABLE assurance_priorities (
    plan_id     text NOT NULL,
    priority_id text NOT NULL,
    added_on    date NOT NULL,
    title       text NOT NULL,
    PRIMARY KEY (plan_id, priority_id)
);

CREATE TABLE assurance_measures (
    plan_id     text    NOT NULL,
    measure_id  text    NOT NULL,
    priority_id text    NOT NULL,
    set_on      date    NOT NULL,
    seq         integer NOT NULL,
    board       text    NOT NULL,
    figure      text    NOT NULL,
    use         text    NOT NULL,
    target      double precision NOT NULL,
    direction   text    NOT NULL,
    PRIMARY KEY (plan_id, measure_id, set_on, seq)
);

CREATE TABLE assurance_surgeries (
    plan_id    text   NOT NULL,
    surgery_id text   NOT NULL,
    held_on    date   NOT NULL,
    figures    text[] NOT NULL,
    PRIMARY KEY (plan_id, surgery_id)
);

-- The incident management teams' attention queue (services/projections/attention): every fact
-- that needs a person as it happens, open until the fact that ends it is recorded, and what
-- people did about each (acknowledged, assigned). Read by GET /attention and the live page.
--
-- Items are kept when they close (closed_on, closed_at), so the queue as it was can be told and
-- a rebuild is compared with the live build row for row. Times are the events' recorded_at, not
-- the projection's clock: a rebuild writes the same rows.
--
-- A build's tables like the chronology's (010): a build made before this script gets them
-- empty when a worker starts (build_migrations), and `make rebuild` fills them.

-- An item is named by the event that opened it. `subject` tells the item apart among the
-- child's items of its kind (a plan, an escalation, the day an episode started; "placement"
-- where there is one at a time); `detail` is the fact's own code as a person reads it.
-- `due_on`: an escalation's response day, a CP plan's nine months (the queue shows a plan from
-- then, and an escalation past it as past its response time: both worked out when read).
CREATE TABLE attention_items (
    item_id    uuid        PRIMARY KEY,
    kind       text        NOT NULL,
    child_id   text        NOT NULL,
    subject    text        NOT NULL,
    detail     text        NOT NULL,
    opened_on  date        NOT NULL,
    opened_at  timestamptz NOT NULL,
    due_on     date,
    closed_on  date,
    closed_at  timestamptz
);

-- One open item per kind, child and subject: the same fact recorded again (RED after RED, an
-- unsuitable reassessment of unsuitable accommodation) leaves the open item as it was.
CREATE UNIQUE INDEX attention_open_item ON attention_items (kind, child_id, subject)
    WHERE closed_at IS NULL;

-- The latest acknowledgement of an item (`seq`: its stream version; a later one reassigns).
-- Apart from the items, as it comes on another topic: applied in whichever order the topics
-- arrive, the two tables read the same.
CREATE TABLE attention_acknowledgements (
    item_id         uuid        PRIMARY KEY,
    seq             integer     NOT NULL,
    acknowledged_on date        NOT NULL,
    acknowledged_at timestamptz NOT NULL,
    acknowledged_by text        NOT NULL,
    assigned_to     text        NOT NULL
);

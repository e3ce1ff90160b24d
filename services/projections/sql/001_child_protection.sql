-- Read model: children on child protection plans. Holds only what the board shows:
-- pseudonymous id and locality, never a name or a full date of birth.
CREATE TABLE children (
    child_id   text PRIMARY KEY,
    locality   text NOT NULL
);

CREATE TABLE child_protection_plans (
    child_id       text    NOT NULL REFERENCES children (child_id),
    plan_id        text    NOT NULL,
    category       text    NOT NULL,
    start_date     date    NOT NULL,
    end_date       date,
    previous_plans integer NOT NULL,
    locality       text    NOT NULL,
    PRIMARY KEY (child_id, plan_id)
);

CREATE INDEX child_protection_plans_open ON child_protection_plans (locality) WHERE end_date IS NULL;

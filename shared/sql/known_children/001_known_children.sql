-- The children a service knows of, kept from the case-events topic (ChildRegistered)
-- by shared/known_children.py.
-- Lets accommodation, education and escalations answer 404 for an unknown child and apply
-- age rules, without calling case-events. Eventually consistent: a child registered a
-- moment ago may take a second to appear.
-- IF NOT EXISTS: a database made before this file moved into the kernel has it already.
CREATE TABLE IF NOT EXISTS known_children (
    child_id      text PRIMARY KEY,
    date_of_birth date NOT NULL,
    locality      text NOT NULL
);

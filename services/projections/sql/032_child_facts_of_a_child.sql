-- A child's facts, found by the child: the kept totals read every stored fact of the children
-- a batch changes (services/projections/boards/kept.py, _stored_records), and the primary key
-- leads with the attribute. Without this each such batch scanned all of child_facts
-- (134 ms at 500,000 children and 2.5 million facts; 1.2 ms with it).
CREATE INDEX child_facts_of_a_child ON child_facts (child_id);

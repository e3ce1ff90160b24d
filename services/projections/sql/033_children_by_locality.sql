-- The localities with children, found by a walk of this index (queries.localities): every
-- board page lists them twice (its small multiples and its locality filter), and a read of
-- every child for them cost each page about 180 ms at 500,000 children.
CREATE INDEX children_by_locality ON children (locality);

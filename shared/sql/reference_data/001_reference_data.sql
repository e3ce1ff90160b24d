-- A copy of the council's reference data (localities, schools, teams, social workers), kept
-- from the case-events topic (LocalityAdded, SchoolRetired, ...) by shared/reference_data.py,
-- in a service whose commands name it (education: schools). A command naming an item not
-- here, or one retired, is refused with the current ones listed. Eventually consistent: an
-- item added a moment ago may take a second to appear.
CREATE TABLE IF NOT EXISTS reference_data (
    kind       text NOT NULL,
    item       text NOT NULL,
    retired_on date,            -- NULL while current
    PRIMARY KEY (kind, item)
);

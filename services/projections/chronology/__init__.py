"""A child's chronology: every fact from every service about one child, in date order, as at
any date, with who recorded it and when (`entries` maps an event to its row, `projection`
keeps the rows, `queries` reads them)."""

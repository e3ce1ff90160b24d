"""The council's reference data (localities, schools, teams, social workers): the events of
its changes, published on the `case-events` topic by the case events service, which keeps it."""

"""Quality assurance's read model (`quality-events`): the projection that keeps it. Its boards
are declared with the others (services/projections/boards/assurance/)."""

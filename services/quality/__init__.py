"""Quality assurance: practice evaluations, partnership audits, feedback, serious incidents and
the improvement plan."""

"""The boards of quality assurance: its records as the boards read them (`records.py`, read
by `queries.py` from the tables the assurance projection keeps), and the boards' figures
(`figures.py`, pure)."""

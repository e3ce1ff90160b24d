"""The incident management teams' attention queue: every fact that needs a person as it
happens, open until the fact that ends it is recorded (items.py), kept by a projection
(projection.py) and read with the service clock (queries.py)."""

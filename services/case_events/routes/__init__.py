"""The case-events service's routers (services/case_events/api.py includes them)."""

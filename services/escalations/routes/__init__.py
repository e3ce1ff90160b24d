"""The escalations service's routers (services/escalations/api.py includes them)."""

"""The education service's routers (services/education/api.py includes them)."""

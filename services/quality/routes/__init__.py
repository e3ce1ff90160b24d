"""The quality service's routers (services/quality/api.py includes them)."""

"""The boards' API routers (services/projections/api.py includes them, with the dashboard's)."""

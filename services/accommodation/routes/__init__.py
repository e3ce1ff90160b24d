"""The accommodation service's routers (services/accommodation/api.py includes them)."""

"""Projections: builds the boards (read models) from every domain topic and serves them."""

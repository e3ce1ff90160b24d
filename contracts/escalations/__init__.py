"""The published language of the escalations service: its events and national code lists."""

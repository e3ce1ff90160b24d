"""The published language of the case events service: its events and national code lists."""

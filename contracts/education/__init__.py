"""The published language of the education service: its events and national code lists."""

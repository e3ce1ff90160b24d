"""The published language of the accommodation service: its events and national code lists."""

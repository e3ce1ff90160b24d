"""The published language of the quality service: its events and the scales it grades by."""

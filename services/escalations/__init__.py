"""Escalations: risk ratings, dip samples, IRO and EWO escalations, drift alerts."""

"""Accommodation: placements of children in care, and care leavers' accommodation."""

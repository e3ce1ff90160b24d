"""The rules of the child's statutory journey. Pure: no I/O, no framework."""

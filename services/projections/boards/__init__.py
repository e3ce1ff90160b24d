"""The read models behind the boards; one module per board."""

"""The statutory returns (SSDA903, the CIN census, Ofsted's Annex A) derived from the event log."""

"""The partner kit: what a partner agency's developer copies to read the agency's own topic
(README.md, docs/partners.md). It imports nothing of the council's platform, so that the folder
works on its own: `python -m partner_kit` runs the consumer."""

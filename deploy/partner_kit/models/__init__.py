"""One module per agency, generated from contracts/released/partner-<agency>.json by
`python -m partner_kit.generate` (never edited by hand)."""

"""The partner feeds' routers: the two audits (services/partner_feeds/api.py includes them)."""

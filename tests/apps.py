"""Every service's API app, built in memory (nothing started), its routes and their declared
permissions: what the permission tests and the audit check hold the running services to."""

from __future__ import annotations

import functools

from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from services.accommodation.api import create_app as accommodation
from services.case_events.api import create_app as case_events
from services.education.api import create_app as education
from services.escalations.api import create_app as escalations
from services.partner_feeds.api import create_app as partner_feeds
from services.projections.api import create_app as projections
from services.quality.api import create_app as quality
from shared.access import Rule, rules_of
from shared.settings import Settings
from tests.infrastructure import TEST_ISSUER

APPS = {
    "case_events": case_events,
    "accommodation": accommodation,
    "education": education,
    "escalations": escalations,
    "quality": quality,
    "projections": projections,
    "partner_feeds": partner_feeds,
}


@functools.cache
def app(service: str) -> FastAPI:
    return APPS[service](Settings(service=service, auth_jwks=str(TEST_ISSUER.ensure().jwks_file)))


def api_routes(service: str) -> list[RouteContext]:
    """Every FastAPI route of the service's API (those of included routers too), with its
    full path and methods."""
    return [
        r
        for r in iter_route_contexts(app(service).routes)
        if isinstance(r.original_route, APIRoute)
    ]


def rules_for(service: str) -> list[Rule]:
    """Every route of the service's API with the permission it declares (the worker of a
    service serves the same operational routes: /health, /metrics, the API docs)."""
    return rules_of(app(service))

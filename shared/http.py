"""The operational surface every process serves: /health and /metrics, and a process runner.

Workers (relays, projection runners) are small ASGI apps too: their loop runs in the app's
lifespan, so every process answers /health and /metrics the same way, and uvicorn handles
signals (SIGTERM and Ctrl-C stop the loop cleanly).
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_fastapi_instrumentator import Instrumentator

from shared import tracing
from shared.access import Permission, requires
from shared.access_log import AccessLog
from shared.logging import configure_logging, get_logger
from shared.security import secured_app
from shared.settings import Settings

log = get_logger(__name__)

HealthCheck = Callable[[], Awaitable[dict[str, Any]]]

# A process's exit status: uvicorn's own for a start that failed; a worker's loop ended while
# the process was not stopping (sysexits.h's EX_SOFTWARE). A supervisor starts either again.
STARTUP_FAILURE = 3
LOOP_ENDED = 70
# How long a worker whose loop ended has to stop before its process is ended regardless.
STOP_DEADLINE_S = 30.0


# What a worker's start-up returns: its loop, its health checks, and how to release resources.
WorkerParts = tuple[
    Callable[[asyncio.Event], Coroutine[Any, Any, None]],
    dict[str, HealthCheck],
    Callable[[], Awaitable[None]],
]


def services_trusted(settings: Settings) -> ssl.SSLContext | bool:
    """What a client of the other services trusts (httpx's `verify`, which no longer takes a
    file's name): the deployment's own CA when `http_cafile` names one, else the system's
    trust store. The file is read again for each client, as httpx read it: a CA renewal
    (deploy/rotate.py) rewrites it in place, and a client made after must trust what it
    holds then."""
    if not settings.http_cafile:
        return True
    return ssl.create_default_context(cafile=settings.http_cafile)


def operational_router(service: str, checks: dict[str, HealthCheck]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/health",
        summary="Liveness and readiness of this process and its dependencies",
        dependencies=[requires(Permission.PUBLIC)],
    )
    async def health() -> JSONResponse:
        results: dict[str, Any] = {}
        ok = True
        for name, check in checks.items():
            try:
                results[name] = public_check(await asyncio.wait_for(check(), timeout=3))
            except Exception as error:
                log.warning("health check failed", check=name, error=repr(error))
                results[name] = {"ok": False, "error": type(error).__name__}
            ok = ok and bool(results[name].get("ok"))
        body = {"service": service, "status": "ok" if ok else "degraded", "checks": results}
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        dependencies=[requires(Permission.METRICS)],
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def instrument(app: FastAPI) -> None:
    """Request counts and latencies by route on /metrics (exposed by operational_router)."""
    Instrumentator(
        excluded_handlers=["/health", "/metrics"],
        should_group_status_codes=False,  # a 503 (database unavailable) is not any 5xx
        should_exclude_streaming_duration=True,  # the live feed's stream: to its first byte
    ).instrument(
        app,
        metric_namespace="csp",
        latency_lowr_buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    )


def log_requests(app: FastAPI) -> None:
    """The access log and the request's correlation id (shared/access_log.py). Call it last
    of the app's middleware: added last, it runs first, so it sees every answer (the
    refusals of authentication, body and rate limits too) and times the whole request."""
    app.add_middleware(AccessLog)


def worker_app(
    title: str,
    settings: Settings,
    start: Callable[[asyncio.Event], Awaitable[WorkerParts]],
) -> FastAPI:
    """An app whose lifespan runs a background loop.

    ``start`` prepares resources and returns (loop, health checks, close). The loop runs until
    the process is asked to stop; ``close`` releases the resources afterwards.
    """
    checks: dict[str, HealthCheck] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        loop, found_checks, close = await start(stop)
        checks.update(found_checks)
        task = asyncio.create_task(loop(stop), name=f"{settings.service}-loop")

        def ended(t: asyncio.Task[None]) -> None:
            if t.cancelled():
                return
            error = t.exception()
            if stop.is_set():
                if error is not None:
                    log.error("worker loop failed while stopping", exc_info=error)
                return
            # Its relay or one of its subscriptions stopped for good (an error not known to
            # be transient): what it keeps (boards, a partner's feed, escalations) would stay
            # still behind a process that answers. The process ends instead, so that its
            # supervisor starts it again (compose's restart, the local stack's `keep`), from
            # the offsets it stored, and a restart is seen (ProcessRestarting).
            log.critical(
                "worker loop ended; the process stops so that it is started again",
                exc_info=error,
            )
            app.state.loop_failed = error or RuntimeError("the worker's loop returned")
            ending = getattr(app.state, "end_process", None)
            if ending is not None:
                ending()

        async def still_running() -> dict[str, Any]:
            # A loop that died (an unexpected error) leaves the process degraded, not "ok",
            # for as long as it takes to stop.
            failed = getattr(app.state, "loop_failed", None)
            if failed is not None:
                return {"ok": False, "error": type(failed).__name__}
            return {"ok": True}

        task.add_done_callback(ended)
        checks["loop"] = still_running
        try:
            yield
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, timeout=15)
            except (TimeoutError, Exception):
                task.cancel()
            await close()

    app = secured_app(settings, title=title, lifespan=lifespan)
    app.include_router(operational_router(settings.service, checks))
    log_requests(app)
    return app


def public_check(result: dict[str, Any]) -> dict[str, Any]:
    """A check's result as /health shows it without a token: an error by its kind only (a
    repr can carry host names, ports, paths or a query; the log has it whole)."""
    error = result.get("error")
    if isinstance(error, str) and re.match(r"^\w+\(", error):
        return {**result, "error": error.split("(", 1)[0]}
    return result


def serve(app: FastAPI, settings: Settings) -> None:
    configure_logging(settings.service, settings.log_level, settings.log_format)
    tracing.configure(settings.service)  # off unless OTEL_TRACES_EXPORTER names an exporter
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
            # Compiled, not uvicorn's pure-Python defaults (asyncio's loop, h11): named rather
            # than left to "auto", so a process without them fails at start, not slower.
            loop="uvloop",
            http="httptools",
            # The key is in the same PEM file as the chain (deploy/local/tls.py makes it so).
            ssl_certfile=settings.http_tls_certfile,
        )
    )

    def end_process() -> None:
        """A worker whose loop ended ends its process (worker_app): uvicorn stops as on
        SIGTERM; and if releasing its resources hangs (a broker gone), the process ends
        anyway, so that its supervisor can start it again."""
        server.should_exit = True
        deadline = threading.Timer(STOP_DEADLINE_S, os._exit, (LOOP_ENDED,))
        deadline.daemon = True
        deadline.start()

    app.state.end_process = end_process
    server.run()
    if getattr(app.state, "loop_failed", None) is not None:
        sys.exit(LOOP_ENDED)
    if not server.started:
        sys.exit(STARTUP_FAILURE)

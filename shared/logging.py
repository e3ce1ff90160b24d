"""Structured logs: one JSON object per line (or readable console lines in development).

Every line carries the process's `service`, and a line written while an HTTP request is
handled its `correlation_id` (bound by shared/access_log.py for the request's duration)."""

from __future__ import annotations

import logging
import sys

import structlog

# Libraries' loggers held at WARNING (or the root's level, if higher):
# - aiokafka logs every coordinator hiccup at INFO/ERROR;
# - httpx logs every URL a process calls, query and all, at INFO, and so does its successor
#   httpx2 (Starlette's test client's, and any library's that moves to it);
# - weasyprint logs each step of drawing a board pack's PDF at INFO: eight lines a pack.
# uvicorn's access log is held at WARNING whatever the root's level: the access log is the
# platform's own (shared/access_log.py: the route's template, never a child's id from the
# path, nor a query), and uvicorn's would log the path as sent.
QUIETENED = ("aiokafka", "httpx", "httpx2", "weasyprint.progress")


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared_processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared_processors,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    for noisy in QUIETENED:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)

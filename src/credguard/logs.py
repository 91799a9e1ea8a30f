"""Logging set-up: structlog over the standard library, one line per event."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog


def _without_traceback(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event.pop("exc_info", None)
    return event


def configure(level: str = "INFO", *, tracebacks: bool = True) -> None:
    """Send CredGuard's structured logs to stderr at ``level``.

    Interactive commands pass ``tracebacks=False``: a person at a terminal gets one line per
    problem; services (worker, API) keep tracebacks for the operator's log.
    """
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper(), force=True)
    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if tracebacks else _without_traceback,
            structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"]),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=False,
    )

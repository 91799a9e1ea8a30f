"""Logging set-up: structlog over the standard library, one line per event.

Two files for the operator (``CREDGUARD_LOG_DIR``, the runbook's ``/var/log/credguard``):

- ``backend.log``, the application log: every line carries its level in capitals
  (``level='ERROR'``, ``level='CRITICAL'``), so ``grep -i error`` finds the errors;
- ``access.log``, one line per HTTP request in Apache's combined format, written by the API's
  middleware (see :func:`access_logger`), so ``grep -E "401|403|429"`` finds refusals.

No CPF reaches a log line: every value (and traceback) passes :func:`mask_sensitive`, which
hides CPF-like digit runs and the values of name fields. Request bodies are never logged.
Files are opened with ``WatchedFileHandler`` so logrotate can move them without copytruncate.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from logging.handlers import WatchedFileHandler
from pathlib import Path
from typing import Any

import structlog

BACKEND_LOG = "backend.log"
ACCESS_LOG = "access.log"
ACCESS_LOGGER = "credguard.access"

#: 11 digits on their own, or written as ddd.ddd.ddd-dd.
CPF_PATTERN = re.compile(r"(?<!\d)(?:\d{11}|\d{3}\.\d{3}\.\d{3}-\d{2})(?!\d)")
CPF_MASK = "***.***.***-**"
#: Event keys whose values are personal names, whatever they contain.
NAME_KEYS = frozenset({"name", "nome", "customer_name", "nome_cliente", "full_name"})
_FILE_HANDLER_NAME = "credguard-backend-file"
_ACCESS_HANDLER_NAME = "credguard-access-file"


def mask_cpf(text: str) -> str:
    """``text`` with every CPF-like digit run replaced."""
    return CPF_PATTERN.sub(CPF_MASK, text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_cpf(value)
    if isinstance(value, bool | float | None):
        return value
    if isinstance(value, int):
        return CPF_MASK if len(str(abs(value))) == 11 else value
    return mask_cpf(repr(value))


def mask_sensitive(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Processor: mask CPF-like digit runs in every value and the values of name fields."""
    for key, value in event.items():
        if key.startswith("_"):
            continue  # structlog's own bookkeeping (the log record)
        event[key] = "***" if key.lower() in NAME_KEYS and value else _mask_value(value)
    return event


def _upper_level(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if isinstance(event.get("level"), str):
        event["level"] = event["level"].upper()
    return event


def _without_traceback(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event.pop("exc_info", None)
    return event


def _formatter(*, tracebacks: bool) -> structlog.stdlib.ProcessorFormatter:
    """Renders structlog events and plain ``logging`` records alike, masked, one line each."""
    exceptions = structlog.processors.format_exc_info if tracebacks else _without_traceback
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            exceptions,
            mask_sensitive,
            _upper_level,
            structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"]),
        ],
    )


def configure(level: str = "INFO", *, tracebacks: bool = True, log_dir: Path | None = None) -> None:
    """Send CredGuard's structured logs to stderr at ``level`` (and to backend.log in ``log_dir``).

    Interactive commands pass ``tracebacks=False``: a person at a terminal gets one line per
    problem; services (worker, API) keep tracebacks for the operator's log.
    """
    exceptions = structlog.processors.format_exc_info if tracebacks else _without_traceback
    formatter = _formatter(tracebacks=tracebacks)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(formatter)
    logging.basicConfig(handlers=[stderr], level=level.upper(), force=True)
    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            exceptions,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=False,
    )
    if log_dir is not None:
        write_backend_log(log_dir)


def write_backend_log(log_dir: Path) -> Path:
    """Also write the application log to ``log_dir/backend.log`` (replacing an earlier file)."""
    root = logging.getLogger()
    formatter = next(
        (
            handler.formatter
            for handler in root.handlers
            if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
        ),
        None,
    ) or _formatter(tracebacks=True)
    path = log_dir / BACKEND_LOG
    for handler in list(root.handlers):
        if handler.get_name() == _FILE_HANDLER_NAME:
            root.removeHandler(handler)
            handler.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = WatchedFileHandler(path, encoding="utf-8")
    handler.set_name(_FILE_HANDLER_NAME)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    return path


def access_logger(log_dir: Path) -> logging.Logger:
    """The logger whose lines (already formatted) go to ``log_dir/access.log`` and nowhere else."""
    logger = logging.getLogger(ACCESS_LOGGER)
    path = (log_dir / ACCESS_LOG).resolve()
    for handler in list(logger.handlers):
        if handler.get_name() != _ACCESS_HANDLER_NAME:
            continue
        if isinstance(handler, WatchedFileHandler) and Path(handler.baseFilename) == path:
            return logger
        logger.removeHandler(handler)
        handler.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = WatchedFileHandler(path, encoding="utf-8")
    handler.set_name(_ACCESS_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger

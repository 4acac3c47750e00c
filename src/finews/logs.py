"""Log set-up: one line per event, as plain text or as JSON lines."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from finews.redact import redact

__all__ = [
    "JsonLines",
    "RedactSecrets",
    "mask_secrets_in_logs",
    "setup_logging",
    "uvicorn_log_config",
]

_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")
_TEXT = "%(asctime)s %(levelname)-7s %(message)s"

# attributes every LogRecord has; anything else was passed with ``extra=`` and is a field
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
# uvicorn's copy of the message with terminal colour codes: noise in a log line
_STANDARD.add("color_message")


def _mask(record: logging.LogRecord) -> None:
    """Mask credentials (:func:`finews.redact.redact`) in ``record``'s message, its
    ``extra`` text fields and its traceback."""
    try:
        message = record.getMessage()
    except Exception:
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    for key, value in list(vars(record).items()):
        if key not in _STANDARD and isinstance(value, str):
            setattr(record, key, redact(value))
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)


class RedactSecrets(logging.Filter):
    """Masks credentials in every record a handler emits (``extra`` fields included,
    which are set after a record is made)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _mask(record)
        return True


class _MaskingFactory:
    """The log record factory, wrapped: records of finews's loggers and of httpx (which
    logs each request's full URL) are masked as they are made, before any handler, ours
    or another's (a test's ``caplog``, an embedding application's), sees them."""

    def __init__(self, previous: Callable[..., logging.LogRecord]) -> None:
        self.previous = previous

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        if record.name.partition(".")[0] in ("finews", "httpx"):
            _mask(record)
        return record


def mask_secrets_in_logs() -> None:
    """Mask credentials in every record finews's and httpx's loggers make (idempotent;
    ``import finews`` calls it, so no log line of finews can carry a secret)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _MaskingFactory):
        logging.setLogRecordFactory(_MaskingFactory(current))


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                entry[key] = value
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            # uvicorn's access line (client, method, path, HTTP version, status), also as
            # fields a log shipper can filter on
            for name, value in zip(_ACCESS_FIELDS, args, strict=True):
                entry[name] = value
        if record.exc_text:
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Send finews's logs to standard error in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter(_TEXT))
    # on the handler too: it sees the extra fields, set after a record is made
    handler.addFilter(RedactSecrets())
    root = logging.getLogger("finews")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def uvicorn_log_config(level: str = "info", fmt: str = "text") -> dict[str, Any]:
    """uvicorn's ``log_config`` for ``finews serve``: its own lines and its access log in
    finews's format (JSON lines or text) on standard error, so every line of the process
    has one format."""
    formatter: dict[str, Any] = {"()": JsonLines} if fmt == "json" else {"format": _TEXT}
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "finews",
        "stream": "ext://sys.stderr",
        # credentials are masked in uvicorn's lines as in finews's (a URL in a request line)
        "filters": ["redact"],
    }
    logger = {"handlers": ["finews"], "level": level.upper(), "propagate": False}
    return {
        "version": 1,
        # dictConfig would otherwise silence every logger made before it, finews's too
        "disable_existing_loggers": False,
        "formatters": {"finews": formatter},
        "filters": {"redact": {"()": RedactSecrets}},
        "handlers": {"finews": handler},
        "loggers": {"uvicorn": logger, "uvicorn.error": logger, "uvicorn.access": logger},
    }

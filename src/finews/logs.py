"""Log set-up: one line per event, as plain text or as JSON lines."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from finews.redact import redact

__all__ = ["RedactSecrets", "mask_secrets_in_logs", "setup_logging"]

# attributes every LogRecord has; anything else was passed with ``extra=`` and is a field
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


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
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                entry[key] = value
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
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s"))
    # on the handler too: it sees the extra fields, set after a record is made
    handler.addFilter(RedactSecrets())
    root = logging.getLogger("finews")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False

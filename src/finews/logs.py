"""Log set-up: one line per event, as plain text or as JSON lines."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from finews.redact import redact

__all__ = ["RedactSecrets", "redact_logger", "setup_logging"]

# attributes every LogRecord has; anything else was passed with ``extra=`` and is a field
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class RedactSecrets(logging.Filter):
    """Hides credentials (:func:`finews.redact.redact`) in a record's message, its
    ``extra`` text fields and its traceback, whatever logged it: the messages finews
    writes are redacted where they are made, this catches what they quote (an
    exception's text, a URL in a library's message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed call: logging reports it itself
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
        return True


def redact_logger(name: str) -> None:
    """Put :class:`RedactSecrets` on the logger ``name`` itself (once), so whatever it
    logs is masked before any handler sees it, ours or not (httpx logs every request's
    full URL at INFO)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())


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
    # on the handler, so it sees the records of every finews.* logger
    handler.addFilter(RedactSecrets())
    root = logging.getLogger("finews")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False

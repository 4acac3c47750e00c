"""Every error finews raises on purpose, in one tree.

::

    FinewsError                 anything finews reports to a person
    ├── ConfigError             a setting is wrong: names the key, the value, what is allowed
    ├── FetchError              an HTTP exchange failed (carries source and url)
    │   ├── TimeoutFetchError   no answer in time (retried)
    │   ├── StatusFetchError    an HTTP status we do not accept (5xx retried)
    │   └── BodyTooLargeError   the body passed the size cap
    ├── ParseError              an upstream reply is not in the shape we know (source, url)
    ├── StoreError              the database refused or failed
    └── ExportError             a publisher could not write its output

Lower-level exceptions (httpx, json, sqlite3, psycopg) are wrapped at the boundary with
``raise X from exc`` so that callers only ever catch ``FinewsError``.
"""

from __future__ import annotations

__all__ = [
    "BodyTooLargeError",
    "ConfigError",
    "ExportError",
    "FetchError",
    "FinewsError",
    "ParseError",
    "StatusFetchError",
    "StoreError",
    "TimeoutFetchError",
]


class FinewsError(Exception):
    """Base of every error finews reports."""


class ConfigError(FinewsError):
    """A setting has a wrong value; the message names key, value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str, origin: str = "") -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        self.origin = origin
        where = f" (from {origin})" if origin else ""
        super().__init__(f"setting {key} = {value!r}{where} is not valid: {allowed}")


class FetchError(FinewsError):
    """An HTTP exchange with an upstream failed."""

    retryable = False

    def __init__(self, message: str, *, url: str = "", source: str = "") -> None:
        self.url = url
        self.source = source
        prefix = f"[{source}] " if source else ""
        suffix = f" ({url})" if url else ""
        super().__init__(f"{prefix}{message}{suffix}")


class TimeoutFetchError(FetchError):
    """The upstream did not answer in time."""

    retryable = True


class StatusFetchError(FetchError):
    """The upstream answered with a status we do not accept."""

    def __init__(
        self, status: int, *, url: str = "", source: str = "", retry_after: float | None = None
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        self.retryable = status >= 500 or status == 429
        super().__init__(f"HTTP {status}", url=url, source=source)


class BodyTooLargeError(FetchError):
    """The body went past the configured size cap."""


class ParseError(FinewsError):
    """An upstream reply is not in the shape the adapter knows."""

    def __init__(self, message: str, *, source: str = "", url: str = "") -> None:
        self.source = source
        self.url = url
        prefix = f"[{source}] " if source else ""
        suffix = f" ({url})" if url else ""
        super().__init__(f"{prefix}{message}{suffix}")


class StoreError(FinewsError):
    """The database refused or failed."""


class ExportError(FinewsError):
    """A publisher could not write its output."""

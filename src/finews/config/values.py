"""One setting's value: read from text, checked against its :class:`~finews.models.Setting`.

:func:`coerce` turns text from the environment or the command line into the setting's type
and checks any value (from a settings file too) against its type, choices, limits and
check, raising :class:`~finews.errors.ConfigError` that names the key, the value and what is
allowed. :func:`parse_bool` is finews's one reader of yes/no text (settings, API and search
parameters); :func:`allowed_values` says in a few words what a setting accepts (the
README's "allowed" column). The checks of the global settings that need more than a type
and limits (:func:`database_url`, :func:`listen_host`, :func:`public_url`) live here too.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

from finews.errors import ConfigError
from finews.models import Setting, header_text, http_url, http_urls

__all__ = [
    "FALSE_WORDS",
    "TRUE_WORDS",
    "allowed_values",
    "coerce",
    "database_url",
    "listen_host",
    "parse_bool",
    "public_url",
]


def database_url(value: Any) -> str | None:
    """``database_url``: empty, ``sqlite:///file`` in an existing folder, or PostgreSQL."""
    url = str(value)
    if not url or url.startswith(("postgresql://", "postgres://")):
        return None
    if not url.startswith("sqlite:///"):
        return "sqlite:///path/to/finews.db or postgresql://user@host/dbname (empty: the default)"
    path = url[len("sqlite:///") :]
    if path in ("", ":memory:"):
        return None
    folder = Path(path).parent
    if not folder.is_dir():
        # finews creates only data_dir itself; a mistyped folder must not appear silently
        return (
            f"a file in an existing folder, and {str(folder)!r} does not exist: create it "
            f"first (mkdir -p {folder}) or choose another path"
        )
    return None


def listen_host(value: Any) -> str | None:
    """``serve.host``: a host name or an IP address to listen on."""
    text = str(value)
    if text and all("!" <= char <= "~" for char in text):
        return None
    return "a host name or IP address (ASCII, no spaces), e.g. 127.0.0.1 or 0.0.0.0"


def public_url(value: Any) -> str | None:
    """``site.public_url``: empty, or an absolute http(s) address."""
    text = str(value)
    if not text or (text.startswith(("http://", "https://")) and " " not in text):
        return None
    return "an absolute http(s) address such as https://news.example.com (or empty)"


def _text(value: Any) -> str | None:
    """Any text setting: no NUL and no undecodable bytes (e.g. a non-UTF-8 variable)."""
    if "\x00" in value:
        return "UTF-8 text without NUL characters (this value holds a NUL)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "UTF-8 text without NUL characters (this value holds bytes that are not UTF-8)"
    return None


def allowed_values(option: Setting) -> str:
    """What ``option`` accepts, in a few words (the README's "allowed" column)."""
    if option.choices:
        return ", ".join(f"`{c!r}`" for c in option.choices)
    if option.type in (int, float):

        def number(value: float | None) -> str:
            if value is None:
                return "any"
            return f"{int(value):,}".replace(",", " ") if value == int(value) else f"{value:g}"

        return f"{number(option.minimum)} to {number(option.maximum)}"
    if option.check is header_text:
        return "printable ASCII"
    if option.check is http_url:
        return "an http(s) URL"
    if option.check is http_urls:
        return "http(s) URLs"
    if option.check is listen_host:
        return "a host name or IP address"
    if option.check is database_url:
        return "`sqlite:///` (existing folder), `postgresql://`"
    if option.check is not None:
        return "see meaning"
    return {bool: "true, false", list: "a list", dict: "a table"}.get(option.type, "text")


#: The words read as true and as false, in any case and with blanks around, wherever
#: finews reads a yes/no from text: settings from the environment or the command line,
#: API and search parameters (:func:`parse_bool`).
TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def parse_bool(text: str) -> bool | None:
    """``True`` or ``False`` for one of :data:`TRUE_WORDS` or :data:`FALSE_WORDS`, else
    ``None`` (each caller says what was expected, in its own kind of error)."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def coerce(option: Setting, value: Any, key: str, origin: str, *, from_text: bool) -> Any:
    """Check (and, for text from the environment or CLI, convert) one value."""
    kind = option.type
    if from_text and isinstance(value, str) and kind is not str:
        text = value.strip()
        if kind is bool:
            flag = parse_bool(text)
            if flag is not None:
                value = flag
        elif kind in (list, dict):
            try:
                value = json.loads(text)
            except ValueError:
                value = [part.strip() for part in text.split(",") if part.strip()]
        else:
            with contextlib.suppress(ValueError):
                value = kind(text)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if not ok:
        raise ConfigError(key, value, f"expected {_type_name(kind)}", origin)
    if option.choices and value not in option.choices:
        allowed = ", ".join(repr(c) for c in option.choices)
        raise ConfigError(key, value, f"expected one of {allowed}", origin)
    if kind in (int, float):
        low, high = option.minimum, option.maximum
        if (
            (kind is float and not math.isfinite(value))
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            limits = [f">= {low:g}"] if low is not None else []
            limits += [f"<= {high:g}"] if high is not None else []
            raise ConfigError(key, value, "expected a number " + " and ".join(limits), origin)
    problem = _text(value) if kind is str else None
    if problem is None and option.check is not None:
        problem = option.check(value)
    if problem is not None:
        raise ConfigError(key, value, f"expected {problem}", origin)
    return value


def _type_name(kind: type) -> str:
    return {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(kind, kind.__name__)

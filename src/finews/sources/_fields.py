"""Item fields the Chinese flash-news adapters share beyond :mod:`finews.sources._json`:
objects nested in an item, JSON packed into a string, image URLs, and page-number paging.

Images are a nicety, not the item: :func:`image_urls` skips what is not an image URL instead
of dropping the item. Everything else raises :class:`~finews.sources._json.ItemError` on a
wrong type, so the item is dropped with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from finews.sources._json import ItemError, describe
from finews.sources.base import Request, Setting

__all__ = [
    "BROWSER_USER_AGENT",
    "html_image_urls",
    "image_urls",
    "json_in_string",
    "next_page_number",
    "object_field",
    "truthy_flag",
    "user_agent_setting",
    "with_user_agent",
]

#: A desktop browser's User-Agent, for hosts whose every evidenced client sends one (the
#: README's source table names them). Only the form matters to those hosts: any current
#: desktop Chrome string would do.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)

# Only the src attribute is wanted; the HTML itself goes through the sanitiser later.
_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)


def object_field(entry: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A nested object; ``{}`` when absent or null, :class:`ItemError` when not an object."""
    value = entry.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ItemError(f"field {name!r} should be an object, got {describe(value)}")
    return value


def json_in_string(entry: Mapping[str, Any], name: str) -> dict[str, Any]:
    """An object written as a JSON string (Sina's ``ext``); an object as such is accepted.

    ``{}`` when absent, null or blank; :class:`ItemError` when it is not a JSON object.
    """
    value = entry.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise ItemError(f"field {name!r} should be a JSON string, got {describe(value)}")
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError) as exc:
        raise ItemError(f"field {name!r} is not valid JSON ({exc})") from exc
    if not isinstance(decoded, dict):
        raise ItemError(f"field {name!r} should hold a JSON object, got {describe(decoded)}")
    return decoded


def _as_url(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("uri") or value.get("url") or value.get("src")
    if not isinstance(value, str):
        return None
    url = value.strip()
    if url.startswith("//"):
        url = "https:" + url
    if not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
        return None
    return url


def image_urls(value: Any) -> tuple[str, ...]:
    """Image URLs from a URL, a list of URLs, or a list of ``{uri|url|src: URL}`` objects.

    Protocol-relative URLs get ``https:``; anything that is not an http(s) URL is skipped.
    Repeats are removed, order kept.
    """
    values = value if isinstance(value, list) else [value]
    urls: dict[str, None] = {}
    for part in values:
        url = _as_url(part)
        if url is not None:
            urls.setdefault(url, None)
    return tuple(urls)


def html_image_urls(*texts: str | None) -> tuple[str, ...]:
    """The ``src`` of every ``<img>`` in the texts, as :func:`image_urls` keeps them."""
    found = [src for text in texts if text for src in _IMG_SRC.findall(text)]
    return image_urls(found)


def truthy_flag(entry: Mapping[str, Any], name: str) -> bool:
    """A flag upstreams write as a boolean, ``0``/``1`` or ``"0"``/``"1"``; absent is false."""
    value = entry.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.strip() in ("", "0", "1", "true", "false"):
        return value.strip() in ("1", "true")
    raise ItemError(f"field {name!r} should be a flag (0 or 1), got {describe(value)}")


def next_page_number(request: Request, name: str) -> int:
    """The page number after the one ``request`` asked for (``name`` is its parameter)."""
    text = request.params.get(name, "1")
    current = int(text) if text.isascii() and text.isdigit() else 1
    return current + 1


def user_agent_setting(default: str) -> Setting:
    """The ``user_agent`` setting of a source: the User-Agent sent to its host, ``default``
    unless configured; empty means finews's own (``http.user_agent``)."""
    return Setting(
        "user_agent",
        str,
        default,
        "User-Agent header sent to this host; empty = http.user_agent",
    )


def with_user_agent(agent: str, headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` plus the source's ``User-Agent`` when its ``user_agent`` setting
    (``agent``) is set (a request header replaces the client's default one)."""
    agent = agent.strip()
    return {**headers, "User-Agent": agent} if agent else dict(headers)

"""HTTP details every response of the live app shares: security headers, validators and 304s,
JSON bodies that stay inert, and JSON errors.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from finews.publish.site import CSP

__all__ = [
    "SECURITY_HEADERS",
    "SecurityHeaders",
    "conditional",
    "json_bytes",
    "json_error",
]

#: sent with every response, errors and the event stream included
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
}


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response it passes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._raw = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self._raw if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def json_bytes(value: Any) -> bytes:
    """JSON with ``<``, ``>`` and ``&`` escaped, so no text in it can ever be read as markup."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode("utf-8")


def json_error(status: int, message: str) -> Response:
    """``{"error": message}`` with ``status``; never cached."""
    return Response(
        json_bytes({"error": message}),
        status_code=status,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


def _not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        # weak comparison (RFC 9110 §13.1.2): the W/ prefix does not count
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= moment


def conditional(
    request: Request,
    body: bytes,
    media_type: str,
    *,
    last_modified: datetime,
    status: int = 200,
    cache_control: str = "no-cache",
) -> Response:
    """A response with a weak ETag (the body's digest) and Last-Modified, or a bodiless 304
    when the request's ``If-None-Match`` (preferred) or ``If-Modified-Since`` still holds."""
    etag = 'W/"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {
        "etag": etag,
        "last-modified": format_datetime(last_modified.astimezone(UTC), usegmt=True),
        "cache-control": cache_control,
    }
    fresh = status == 200 and request.method in ("GET", "HEAD")
    if fresh and _not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status, media_type=media_type, headers=headers)

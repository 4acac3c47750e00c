"""Conditional GET: ask "changed since the last poll?" and take a 304 as "nothing new".

A poll's newest page is sent with ``If-None-Match`` / ``If-Modified-Since`` from the
validators its previous successful poll stored: the poll (``refresh.py``) loads them from
the store (``store.validators``) and hands them to :func:`with_validators`, and keeps what
:func:`validators_of` reads from the reply; this module touches no store. They apply only
when they were stored for the very same request (url and query): a changed feed URL, or an
upstream whose query changes every time (East Money's ``req_trace``), is fetched in full.
:class:`~finews.fetch.client.HttpClient` answers such a request's 304 with a
:class:`~finews.fetch.client.Response` whose ``not_modified`` is true.

Validators are saved only once the page they came with is committed, so a poll that dies
between fetching and storing cannot make the next one skip that page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from urllib.parse import urlencode

from finews.models import Validators
from finews.sources.base import Request

__all__ = [
    "CONDITIONAL_HEADERS",
    "request_key",
    "validators_of",
    "with_validators",
]

#: request headers that make a GET conditional (lower case)
CONDITIONAL_HEADERS = ("if-none-match", "if-modified-since")


def request_key(request: Request) -> str:
    """What identifies a request for its validators: the url and its sorted query."""
    if not request.params:
        return request.url
    return f"{request.url}?{urlencode(sorted(request.params.items()))}"


def validators_of(request: Request, headers: Mapping[str, str]) -> Validators | None:
    """The validators in a reply's ``headers`` (names lower case), or ``None``."""
    etag = headers.get("etag", "").strip() or None
    modified = headers.get("last-modified", "").strip() or None
    if etag is None and modified is None:
        return None
    return Validators(request_key(request), etag, modified)


def with_validators(request: Request, validators: Validators | None) -> Request:
    """``request`` made conditional on ``validators`` when they belong to it."""
    if validators is None or validators.request_url != request_key(request):
        return request
    extra: dict[str, str] = {}
    if validators.etag:
        extra["If-None-Match"] = validators.etag
    if validators.last_modified:
        extra["If-Modified-Since"] = validators.last_modified
    return dataclasses.replace(request, headers={**request.headers, **extra})

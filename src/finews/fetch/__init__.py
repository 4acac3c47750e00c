"""The network edge: the only package that opens connections.

:class:`HttpClient` sends the :class:`~finews.sources.base.Request` objects that source
adapters build and returns :class:`Response` objects, raising
:class:`~finews.errors.FetchError` subclasses on failure.
"""

from finews.fetch.client import HttpClient, HttpSettings, Response, retry_after_seconds

__all__ = ["HttpClient", "HttpSettings", "Response", "retry_after_seconds"]

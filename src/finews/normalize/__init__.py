"""Pure normalising steps between a source adapter and the store.

``times`` (Asia/Shanghai in, aware UTC out), ``text`` (full-text clean-up, digest, title),
``slug`` (media name → category slug), ``sanitize`` (HTML allow-list, inert plain text),
``markdown`` (text kept away from Liquid and kramdown links in Jekyll posts), and
``pipeline``, which applies the first four in order: :func:`normalize_item`.
Nothing here touches the network, the disk or the database.
"""

from __future__ import annotations

from finews.normalize.pipeline import normalize_item

__all__ = ["normalize_item"]

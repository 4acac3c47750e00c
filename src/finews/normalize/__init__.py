"""Pure normalising steps between a source adapter and the store.

``times`` (Asia/Shanghai in, aware UTC out), ``text`` (full-text clean-up, digest, title),
``slug`` (media name → category slug), ``sanitize`` (HTML allow-list, inert plain text),
``markdown`` (text kept away from Liquid and kramdown links in Jekyll posts), and
``pipeline``, which applies the first four in order: :func:`normalize_item`.
Nothing here touches the network, the disk or the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from finews.normalize.pipeline import normalize_item

__all__ = ["normalize_item"]


def __getattr__(name: str) -> Any:
    # loaded on first use: the site needs ``variant`` alone, and the pipeline brings the
    # sanitiser, slugs and time parsing with it (~20 ms at every start of ``finews build``)
    if name == "normalize_item":
        from finews.normalize.pipeline import normalize_item

        return normalize_item
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

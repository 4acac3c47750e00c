"""Pure processing of stored items: search terms, stories and watchlist rules.

``index`` turns Chinese (and mixed Chinese, Latin and digit) text into the terms both
databases index, turns a reader's query into the same terms, and highlights hits in the
original text. ``stories`` fingerprints items and decides which ones tell the same story,
and holds the fingerprints of the items around those being clustered (its ``window``).
``rules`` reads watchlist rules and matches them against an item's tokens. Nothing here
touches the network or the database: :mod:`finews.derive` applies them to stored items,
through the SQL of :mod:`finews.store.search` and :mod:`finews.store.clusters`.
"""

from __future__ import annotations

__all__: list[str] = []

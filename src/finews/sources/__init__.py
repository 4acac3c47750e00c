"""Source adapters: one module per upstream, pure request builders and parsers.

An adapter (see :class:`~finews.sources.base.Adapter`) turns a configured
:class:`~finews.models.SourceSpec` into requests and reply bodies into
:class:`~finews.sources.base.Page` objects; it never opens a connection (``finews.fetch``
does). ``registry`` maps each adapter name to its adapter object:

==================  ============================================================
``eastmoney_fast``  East Money 7x24 fast news (current)
``eastmoney_column``
                    East Money news by column (1207 财经早餐, 350 要闻, any id)
``sina_zhibo``      新浪财经 7x24 live feed (zhibo 152)
``ths``             同花顺 7x24 news push
``wallstreetcn``    华尔街见闻 lives
``jin10``           金十数据 flash
``cls``             财联社 telegraph (signed roll list)
``eastmoney_rolling``, ``eastmoney_media``, ``eastmoney_market``
                    the legacy East Money lists the original finews polled
==================  ============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from finews.sources import (
    cls,
    eastmoney_column,
    eastmoney_fast,
    eastmoney_legacy,
    feed,
    jin10,
    sina_zhibo,
    ths,
    wallstreetcn,
)
from finews.sources.base import Adapter

__all__ = ["adapters", "get_adapter", "registry"]

_ALL: tuple[Adapter, ...] = (
    eastmoney_fast.FAST,
    eastmoney_legacy.ROLLING,
    eastmoney_legacy.MEDIA,
    eastmoney_legacy.MARKET,
    feed.FEED,
    eastmoney_column.COLUMN,
    sina_zhibo.ZHIBO,
    ths.THS,
    wallstreetcn.LIVES,
    jin10.FLASH,
    cls.TELEGRAPH,
)

#: Every adapter by name, read-only.
registry: Mapping[str, Adapter] = MappingProxyType({adapter.name: adapter for adapter in _ALL})


def adapters() -> dict[str, Adapter]:
    """Every adapter by name, sorted by name (a fresh dict the caller may change)."""
    return {name: registry[name] for name in sorted(registry)}


def get_adapter(name: str) -> Adapter:
    """The adapter called ``name``; ``KeyError`` naming the known ones if there is none."""
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(sorted(registry))
        raise KeyError(f"no source adapter named {name!r}; known adapters: {known}") from None

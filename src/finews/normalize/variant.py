"""Simplified/Traditional Chinese conversion for display and search (``site.chinese_variant``).

Stored text stays exactly as the upstream wrote it; conversion happens when a page or a
search term is shown, so the setting can change at any time without touching the archive.
The conversion is OpenCC's (``opencc-python-reimplemented``, pure Python, with its phrase
tables: 头发 → 頭髮, 发布 → 發佈, not character by character). ``"hans"`` converts to
Simplified (``t2s``), ``"hant"`` to Traditional (``s2t``), ``""`` leaves text as it is.

Converting a search query the same way as the displayed text lets a reader who types 東方財富
find 东方财富 items when the site shows Simplified; for matching either form whatever the
setting, search both :func:`variants` of a query.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from finews.errors import ConfigError

__all__ = ["VARIANTS", "convert", "converter", "variants"]

#: allowed values of ``site.chinese_variant`` and the OpenCC configuration of each
VARIANTS: dict[str, str | None] = {"": None, "hans": "t2s", "hant": "s2t"}

# OpenCC objects are not documented as thread-safe and the web app serves from threads.
_LOCK = threading.Lock()


@functools.cache
def _opencc(config: str) -> Any:
    # Imported lazily: loading the phrase tables takes about 0.2 s, needed only when on.
    import opencc  # type: ignore[import-untyped]

    return opencc.OpenCC(config)


def converter(variant: str) -> Any:
    """The OpenCC converter for ``variant``; ``None`` for ``""``. ``ConfigError`` for an
    unknown variant."""
    if variant not in VARIANTS:
        allowed = ", ".join(repr(v) for v in VARIANTS)
        raise ConfigError("site.chinese_variant", variant, f"expected one of {allowed}")
    config = VARIANTS[variant]
    return None if config is None else _opencc(config)


def convert(text: str, variant: str) -> str:
    """``text`` in the ``variant`` (``""``: unchanged). HTML is safe to pass: markup and
    ASCII are left alone, only Chinese characters change."""
    engine = converter(variant)
    if engine is None or not text or text.isascii():
        return text
    with _LOCK:
        return str(engine.convert(text))


def variants(text: str) -> tuple[str, ...]:
    """``text`` and its Simplified and Traditional forms, without repeats (for search)."""
    return tuple(dict.fromkeys((text, convert(text, "hans"), convert(text, "hant"))))

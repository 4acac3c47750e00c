"""Simplified/Traditional Chinese conversion for display and search (``site.chinese_variant``).

Stored text stays exactly as the upstream wrote it; conversion happens when a page or a
search term is shown, so the setting can change at any time without touching the archive.
The conversion is OpenCC's (the official ``opencc`` binding, with its phrase tables:
头发 → 頭髮, 发布 → 發佈, not character by character; it gives the same text as the
pure-Python ``opencc-python-reimplemented`` used before, tests/test_opencc_binding.py).
``"hans"`` converts to Simplified (``t2s``), ``"hant"`` to Traditional (``s2t``), ``""``
leaves text as it is.

Search matches either script whatever this setting: :func:`finews.process.index.parse_query`
looks for each Chinese term in all its :func:`variants`, so 東方財富 finds 东方财富 items and
the reverse. Traditional Chinese is written in more than one standard (为 is 爲 in OpenCC's
own, 為 in Taiwan and Hong Kong; 台积电 is 台積電 there, 臺積電 in OpenCC's), so the variants
of a text are its Simplified form and that form in each of them.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from finews.errors import ConfigError

__all__ = ["TRADITIONAL", "VARIANTS", "convert", "converter", "variants"]

#: allowed values of ``site.chinese_variant`` and the OpenCC configuration of each
VARIANTS: dict[str, str | None] = {"": None, "hans": "t2s", "hant": "s2t"}

# OpenCC objects are not documented as thread-safe and the web app serves from threads.
_LOCK = threading.Lock()


@functools.cache
def _opencc(config: str) -> Any:
    # Imported lazily: loading the phrase tables takes about 0.2 s, needed only when on.
    import opencc

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
    return _convert_with(engine, text)


def _convert_with(engine: Any, text: str) -> str:
    with _LOCK:
        return str(engine.convert(text))


#: OpenCC configurations of the Traditional standards a text may be written in: OpenCC's
#: own (the display setting ``hant``), Taiwan's and Hong Kong's
TRADITIONAL = ("s2t", "s2tw", "s2hk")


def variants(text: str) -> tuple[str, ...]:
    """``text``, its Simplified form, and that form in each Traditional standard (OpenCC's,
    Taiwan's, Hong Kong's), without repeats, in that order (for search): 为 gives 为 爲 為,
    東方財富 gives 東方財富 东方财富. ASCII text is returned alone, without loading OpenCC."""
    if not text or text.isascii():
        return (text,)
    simplified = convert(text, "hans")
    forms = [text, simplified]
    forms += [_convert_with(_opencc(config), simplified) for config in TRADITIONAL]
    return tuple(dict.fromkeys(forms))

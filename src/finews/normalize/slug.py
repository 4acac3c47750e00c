"""Slugs: the URL-safe category name of a media outlet, as the original site made it.

The original took ``xpinyin.Pinyin().get_pinyin(name, "")``: each Han character's first
reading, syllables joined with nothing, everything else kept (重庆 → ``zhongqing``,
银行 → ``yinxing``, 36氪 → ``36ke``, AI财经社 → ``AIcaijingshe``). An existing site's category
URLs depend on exactly that, so :func:`media_slug` keeps it, and then removes what the
original wrongly kept: spaces (Jekyll split such categories in two) and punctuation.

The name is NFKC-normalised first, so that full-width letters and digits (``３６氪``) give
the same slug as their ASCII forms instead of being dropped. A name with nothing usable
left gets a stable ``m`` + 8 hex digits of its SHA-1.

Callers keep a source's slug once given (see ``normalize_item``'s ``slug_for``), so a later
change here cannot move an existing category.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from typing import Any

__all__ = ["media_slug"]

_NOT_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


@functools.cache
def _pinyin() -> Any:
    # Imported lazily: building the table takes a few milliseconds, needed only here.
    from xpinyin import Pinyin

    return Pinyin()


def media_slug(name: str) -> str:
    """The category slug of a media name: its xpinyin pinyin, only ``[A-Za-z0-9_-]`` kept."""
    normal = unicodedata.normalize("NFKC", name)
    spelled = str(_pinyin().get_pinyin(normal, ""))
    slug = _NOT_SLUG.sub("", spelled)
    if slug:
        return slug
    return "m" + hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]

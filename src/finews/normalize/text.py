"""Text clean-up: full-text spacing, the digest, and a title for items that lack one.

East Money full texts indent paragraphs with two full-width spaces, and most Chinese
summaries start with the headline in ``【…】``. The original system removed the first and cut
the second off; these functions do exactly that, and find a title when the upstream gave
none (Cailian Press and Sina often do not).
"""

from __future__ import annotations

import html
import re

__all__ = ["clean_fulltext", "digest_of", "title_of"]

#: Two full-width spaces (U+3000 twice): East Money's paragraph indent.
_INDENT = "\u3000\u3000"
#: Longest title made from a first sentence.
_TITLE_MAX = 60

_HEAD = re.compile(r"【([^【】]*)】")
_SENTENCE_END = re.compile(r"[。！？!?]")
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


def clean_fulltext(text: str) -> str:
    """The full text with every ``　　`` (two U+3000) removed and nothing else changed."""
    return text.replace(_INDENT, "")


def digest_of(summary: str) -> str:
    """The part of a summary after its last ``】`` (all of it when there is none), stripped."""
    _, mark, rest = summary.rpartition("】")
    return (rest if mark else summary).strip()


def _plain(text: str) -> str:
    """Text without tags or entities, runs of whitespace made one space, stripped."""
    return _SPACES.sub(" ", html.unescape(_TAG.sub("", text))).strip()


def _head(text: str) -> str | None:
    """The non-blank ``【…】`` headline a text starts with, if any."""
    match = _HEAD.match(text)
    if match is None:
        return None
    return match[1].strip() or None


def _first_sentence(text: str) -> str | None:
    """Up to and including the first sentence end, at most ``_TITLE_MAX`` characters."""
    end = _SENTENCE_END.search(text)
    sentence = text[: end.end()] if end else text
    return sentence[:_TITLE_MAX].strip() or None


def title_of(title: str | None, summary: str | None, content: str | None) -> str | None:
    """The item's title: the given one, else one found in the summary or the content.

    A non-blank ``title`` is returned stripped of surrounding whitespace and otherwise
    unchanged. Without one, the ``【…】`` headline that the summary (then the content)
    starts with; else the first sentence of the summary (then the content), up to and
    including the first ``。！？!?`` and at most 60 characters, with HTML tags removed.
    ``None`` when there is nothing to make a title of.
    """
    if title is not None and title.strip():
        return title.strip()
    texts = [_plain(t) for t in (summary, content) if t]
    for text in texts:
        head = _head(text)
        if head is not None:
            return head
    for text in texts:
        sentence = _first_sentence(text)
        if sentence is not None:
            return sentence
    return None

"""The normalising pipeline: one :class:`RawItem` in, one :class:`Item` (or a reason) out.

The steps are the original system's (see ``FORMAT.md``, "How it worked"), in order:

1. content: full-width indents removed (:func:`clean_fulltext`), surrounding ASCII
   whitespace stripped, then :func:`clean_markup` (HTML sanitised, plain text kept);
2. digest: the summary after its last ``】``; a summary that is only ``【…】`` gives its
   bracketed text; then :func:`clean_markup`;
3. title: :func:`title_of`; no title at all drops the item;
4. published: the upstream time, else the fetch time (a post never lacks a date);
5. category and tag: the source's fixed ``category``/``tag`` settings when set; else the
   media's slug (``slug_for``, which keeps a source's slug stable) and ``<media>新闻``; else
   the source id and ``<source name>新闻``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from finews.models import Dropped, Item, RawItem, SourceSpec
from finews.normalize.sanitize import clean_markup
from finews.normalize.slug import media_slug
from finews.normalize.text import clean_fulltext, digest_of, title_of
from finews.normalize.times import parse_time

__all__ = ["NO_TITLE", "normalize_item"]

#: The reason an item without any title, summary or content is dropped.
NO_TITLE = "no title, summary or content"

#: What the tag of a category adds to the media (or source) name.
TAG_SUFFIX = "新闻"

# Only ASCII whitespace: a single leading U+3000 can be a deliberate indent.
_ASCII_SPACE = " \t\r\n\f\v"


def _content(raw: RawItem) -> str:
    if not raw.content:
        return ""
    return clean_markup(clean_fulltext(raw.content).strip(_ASCII_SPACE))


def _digest(raw: RawItem) -> str:
    if not raw.summary:
        return ""
    digest = digest_of(raw.summary)
    if not digest:
        # "【headline】" with nothing after it: the headline is the digest.
        digest = raw.summary.replace("【", "").replace("】", "").strip()
    return clean_markup(digest)


def _category_and_tag(
    media: str | None, spec: SourceSpec, slug_for: Callable[[str], str]
) -> tuple[str, str]:
    fixed = spec.get("category")
    if isinstance(fixed, str) and fixed.strip():
        tag = spec.get("tag")
        if not isinstance(tag, str) or not tag.strip():
            tag = (spec.name or spec.id) + TAG_SUFFIX
        return fixed.strip(), tag
    if media:
        return slug_for(media), media + TAG_SUFFIX
    return spec.id, (spec.name or spec.id) + TAG_SUFFIX


def normalize_item(
    raw: RawItem,
    spec: SourceSpec,
    *,
    fetched_at: datetime,
    slug_for: Callable[[str], str] = media_slug,
) -> Item | Dropped:
    """Normalise one raw item of ``spec``'s source, or drop it with the reason.

    ``fetched_at`` (aware) is the fetch time and the fallback publication time.
    ``slug_for`` maps a media name to its category slug; the caller passes a lookup that
    keeps each media's first slug forever, :func:`media_slug` by default.
    """
    if fetched_at.tzinfo is None or fetched_at.utcoffset() is None:
        raise ValueError(f"fetched_at must be timezone-aware, got {fetched_at!r}")
    fetched_utc = fetched_at.astimezone(UTC)
    title = title_of(raw.title, raw.summary, raw.content)
    if title is None:
        return Dropped(source=raw.source, upstream_id=raw.upstream_id, reason=NO_TITLE)
    media = raw.media.strip() if raw.media and raw.media.strip() else None
    category, tag = _category_and_tag(media, spec, slug_for)
    return Item(
        source=raw.source,
        upstream_id=raw.upstream_id,
        title=title,
        published_at=parse_time(raw.published) or fetched_utc,
        fetched_at=fetched_utc,
        digest=_digest(raw),
        content=_content(raw),
        url=raw.url,
        media=media,
        category=category,
        tag=tag,
        kind=raw.kind,
        importance=raw.importance,
        stocks=raw.stocks,
        author=raw.author,
        fulltext_key=raw.fulltext_key,
    )

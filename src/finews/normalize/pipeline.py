"""The normalising pipeline: one :class:`RawItem` in, one :class:`Item` (or a reason) out.

The steps are the original system's (see ``FORMAT.md``, "How it worked"), in order:

1. content: full-width indents removed (:func:`clean_fulltext`), surrounding ASCII
   whitespace stripped, then :func:`clean_markup` (HTML sanitised, plain text kept); the
   item records the rules' version (``Item.sanitizer``), which the store keeps with it;
2. digest: the summary after its last ``】``; a summary that is only ``【…】`` gives its
   bracketed text; then :func:`clean_markup`;
3. title: :func:`title_of`; no title at all drops the item;
4. published: the upstream time, else the fetch time (a post never lacks a date); a time
   before 1990 or more than two days after the fetch is an upstream's error and is
   replaced by the fetch time, logged, with the upstream's value kept in ``Item.notes``;
5. category and tag: the source's fixed ``category``/``tag`` settings when set; else the
   media's slug (``slug_for``, which keeps a source's slug stable) and ``<media>新闻``; else
   the source id and ``<source name>新闻``.

Before all of them, every text field loses the characters no store or feed can hold
(:func:`~finews.normalize.storable.storable_text`: NUL, control characters, lone
surrogates), so that one such item never makes the store refuse its whole page.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from finews.models import Dropped, Item, RawItem, SourceSpec
from finews.normalize.sanitize import SANITIZER_VERSION, clean_markup
from finews.normalize.slug import media_slug
from finews.normalize.storable import sane_time, storable_changes
from finews.normalize.text import clean_fulltext, digest_of, title_of
from finews.normalize.times import parse_time

__all__ = ["NO_ID", "NO_TITLE", "normalize_item", "storable_raw", "unsanitised_fulltext"]

log = logging.getLogger("finews.normalize")

#: The reason an item without any title, summary or content is dropped.
NO_TITLE = "no title, summary or content"

#: The reason an item whose id is empty once made storable is dropped.
NO_ID = "no id left once NUL, control characters and lone surrogates are removed"

#: What the tag of a category adds to the media (or source) name.
TAG_SUFFIX = "新闻"

# Only ASCII whitespace: a single leading U+3000 can be a deliberate indent.
_ASCII_SPACE = " \t\r\n\f\v"


def unsanitised_fulltext(text: str) -> str:
    """Step 1 without the sanitiser: the full text as the original wrote it into its posts
    (``　　`` removed, surrounding ASCII whitespace stripped)."""
    return clean_fulltext(text).strip(_ASCII_SPACE)


def _content(raw: RawItem, as_stored: bool) -> str:
    if not raw.content:
        return ""
    return clean_markup(raw.content if as_stored else unsanitised_fulltext(raw.content))


def _digest(raw: RawItem, as_stored: bool) -> str:
    if not raw.summary:
        return ""
    if as_stored:
        return clean_markup(raw.summary)
    digest = digest_of(raw.summary)
    if not digest:
        # "【headline】" with nothing after it: the headline is the digest.
        digest = raw.summary.replace("【", "").replace("】", "").strip()
    return clean_markup(digest)


#: every text field of a RawItem (``published`` too: a NUL would end up in a log line)
_TEXT_FIELDS = (
    "source", "upstream_id", "title", "summary", "content", "url", "published", "media",
    "kind", "author", "fulltext_key",
)  # fmt: skip


def storable_raw(raw: RawItem) -> RawItem:
    """``raw`` with every text field made storable (:func:`storable_text`); the same
    object when nothing needed it, which is nearly always."""
    changes = storable_changes(raw, _TEXT_FIELDS)
    return dataclasses.replace(raw, **changes) if changes else raw


def _published(raw: RawItem, fetched_utc: datetime) -> tuple[datetime | None, tuple[str, ...]]:
    """The publication time (``None``: the upstream gave none, the fetch time stands in),
    and a note when the upstream's could not be used as given."""
    try:
        parsed = parse_time(raw.published)
    except OverflowError:  # no UTC instant at all (0001-01-01 in Beijing): out of range too
        parsed = None
    else:
        if parsed is None or sane_time(parsed, fetched_utc) is not None:
            return parsed, ()
    note = (
        f"published {raw.published!r} is outside 1990-01-01 .. fetch time + 2 days; "
        "the fetch time stands in"
    )
    log.warning("source=%s id=%s %s", raw.source, raw.upstream_id, note)
    return None, (note,)


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
    as_stored: bool = False,
) -> Item | Dropped:
    """Normalise one raw item of ``spec``'s source, or drop it with the reason.

    ``fetched_at`` (aware) is the fetch time and the fallback publication time.
    ``slug_for`` maps a media name to its category slug; the caller passes a lookup that
    keeps each media's first slug forever, :func:`media_slug` by default.
    ``as_stored`` says that summary and content are a digest and a full text as finews
    stores them already (a Jekyll post read back: the export, or the original's same
    pipeline, wrote them so): they are sanitised (which leaves stored text unchanged) but
    not cut at a ``】``, stripped or cleaned of ``　　`` again, so that an export read back
    and exported again is the same bytes. Every other step is the same.
    """
    if fetched_at.tzinfo is None or fetched_at.utcoffset() is None:
        raise ValueError(f"fetched_at must be timezone-aware, got {fetched_at!r}")
    fetched_utc = fetched_at.astimezone(UTC)
    raw = storable_raw(raw)
    if not raw.upstream_id.strip():
        return Dropped(source=raw.source, upstream_id=raw.upstream_id, reason=NO_ID)
    title = title_of(raw.title, raw.summary, raw.content)
    if title is None:
        return Dropped(source=raw.source, upstream_id=raw.upstream_id, reason=NO_TITLE)
    media = raw.media.strip() if raw.media and raw.media.strip() else None
    category, tag = _category_and_tag(media, spec, slug_for)
    published_at, notes = _published(raw, fetched_utc)
    return Item(
        source=raw.source,
        upstream_id=raw.upstream_id,
        title=title,
        published_at=published_at or fetched_utc,
        fetched_at=fetched_utc,
        digest=_digest(raw, as_stored),
        content=_content(raw, as_stored),
        url=raw.url,
        media=media,
        category=category,
        tag=tag,
        kind=raw.kind,
        importance=raw.importance,
        stocks=raw.stocks,
        author=raw.author,
        fulltext_key=raw.fulltext_key,
        notes=notes,
        published_guessed=published_at is None,
        sanitizer=SANITIZER_VERSION,
        raw=raw if raw.record is not None or raw.article is not None else None,
    )

"""Shared pieces of the JSON adapters: decoding a reply, checking its envelope, reading item
fields with type checks, and sorting good items from bad ones.

Two kinds of failure, kept apart on purpose: a reply whose *envelope* is wrong raises
:class:`~finews.errors.ParseError` (the whole source is broken), while one bad *item* raises
:class:`ItemError`, which :func:`collect` turns into a :class:`~finews.models.Dropped` so the
good items of the page are still kept.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from finews.errors import ParseError
from finews.models import Dropped, RawItem, SourceSpec

__all__ = [
    "ItemError",
    "collect",
    "describe",
    "int_field",
    "list_at",
    "load_json",
    "object_at",
    "str_list_field",
    "text_field",
    "time_field",
]

# ``callback({...});`` as East Money's JSONP endpoints answer when given a callback name.
_JSONP = re.compile(r"^[A-Za-z_$][\w$.]*\s*\((?P<json>.*)\)\s*;?$", re.DOTALL)


# ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
_INTEGER = re.compile(r"-?[0-9]+")


class ItemError(ValueError):
    """One item cannot be used; the message is the reason it is dropped."""


def describe(value: object) -> str:
    """A short account of a JSON value for error messages: type, and keys or a preview."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        preview = value if len(value) <= 40 else value[:40] + "…"
        return f"a string ({preview!r})"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        keys = ", ".join(sorted(str(key) for key in value)[:8])
        return f"an object with keys [{keys}]" if value else "an empty object"
    return type(value).__name__


def load_json(body: bytes, source: str, url: str) -> Any:
    """Decode a reply body as JSON (UTF-8, BOM allowed), unwrapping JSONP ``cb({...})``.

    Raises :class:`ParseError` naming the source and url when the body is not JSON.
    """
    try:
        text = body.decode("utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        raise ParseError(f"reply is not UTF-8 text: {exc}", source=source, url=url) from exc
    if not text:
        raise ParseError("reply is empty, expected JSON", source=source, url=url)
    wrapped = _JSONP.match(text) if text[0] not in "[{" else None
    if wrapped:
        text = wrapped.group("json")
    try:
        return json.loads(text)
    # ValueError covers JSONDecodeError and over-long integers; RecursionError deep nesting.
    except (ValueError, RecursionError) as exc:
        preview = text[:60] + ("…" if len(text) > 60 else "")
        raise ParseError(
            f"reply is not JSON ({exc}); it starts with {preview!r}", source=source, url=url
        ) from exc


def object_at(value: Any, what: str, source: str, url: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else a :class:`ParseError` saying what came."""
    if not isinstance(value, dict):
        raise ParseError(
            f"expected {what} to be an object, got {describe(value)}", source=source, url=url
        )
    return value


def list_at(container: Any, key: str, source: str, url: str) -> list[Any]:
    """The list under ``key`` of a JSON object; :class:`ParseError` when it is not there."""
    if not isinstance(container, dict):
        raise ParseError(
            f"expected an object with a list under {key!r}, got {describe(container)}",
            source=source,
            url=url,
        )
    if key not in container:
        raise ParseError(
            f"expected a list under {key!r}, got {describe(container)}", source=source, url=url
        )
    value = container[key]
    if not isinstance(value, list):
        raise ParseError(
            f"expected a list under {key!r}, got {describe(value)}", source=source, url=url
        )
    return value


def text_field(entry: Mapping[str, Any], *names: str) -> str | None:
    """The first of ``names`` present and not null, as text; ``None`` when none is.

    Integers are written in decimal (upstream ids come as either); anything else that is not
    a string raises :class:`ItemError`.
    """
    for name in names:
        value = entry.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise ItemError(f"field {name!r} should be text, got {describe(value)}")
    return None


def time_field(entry: Mapping[str, Any], name: str) -> str | int | float | None:
    """A publish time as the upstream gave it: a wall-clock string or Unix seconds."""
    value = entry.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise ItemError(f"field {name!r} should be a time, got {describe(value)}")


def int_field(entry: Mapping[str, Any], name: str) -> int | None:
    """An integer field (an integer or a string of digits); ``None`` when absent or null."""
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    raise ItemError(f"field {name!r} should be an integer, got {describe(value)}")


def str_list_field(entry: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """A list of strings; ``()`` when absent or null."""
    value = entry.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(part, str) for part in value):
        raise ItemError(f"field {name!r} should be a list of strings, got {describe(value)}")
    return tuple(value)


def collect(
    spec: SourceSpec,
    entries: list[Any],
    id_fields: tuple[str, ...],
    build: Callable[[Mapping[str, Any], str], RawItem],
) -> tuple[list[RawItem], list[Dropped]]:
    """Build a :class:`RawItem` from each entry; entries that fail become ``Dropped``.

    The id is read first from the first present of ``id_fields``, so a drop reason can name
    it; ``build`` gets the entry and its id and raises :class:`ItemError` for a bad field.
    """
    items: list[RawItem] = []
    dropped: list[Dropped] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            reason = f"[{spec.id}] item #{index} is not an object but {describe(entry)}"
            dropped.append(Dropped(spec.id, None, reason))
            continue
        try:
            upstream_id = text_field(entry, *id_fields)
        except ItemError as exc:
            dropped.append(Dropped(spec.id, None, f"[{spec.id}] item #{index}: {exc}"))
            continue
        if upstream_id is None or not upstream_id.strip():
            wanted = " or ".join(repr(name) for name in id_fields)
            reason = f"[{spec.id}] item #{index} has no id (field {wanted})"
            dropped.append(Dropped(spec.id, None, reason))
            continue
        upstream_id = upstream_id.strip()
        try:
            item = build(entry, upstream_id)
            # the entry as received, kept by the store for ``finews reparse``
            record = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
            items.append(dataclasses.replace(item, record=record, record_format="json"))
        except ItemError as exc:
            reason = f"[{spec.id}] item {upstream_id}: {exc}"
            dropped.append(Dropped(spec.id, upstream_id, reason))
    return items, dropped


def reparse_record(
    spec: SourceSpec,
    record: str,
    id_fields: tuple[str, ...],
    build: Callable[[Mapping[str, Any], str], RawItem],
) -> RawItem | Dropped:
    """One kept record (a JSON object :func:`collect` stored) read again as ``collect``
    reads an entry of a reply: the item, or why it is dropped."""
    try:
        entry = json.loads(record)
    except ValueError as exc:
        return Dropped(spec.id, None, f"[{spec.id}] kept record is not JSON: {exc}")
    items, dropped = collect(spec, [entry], id_fields, build)
    return items[0] if items else dropped[0]

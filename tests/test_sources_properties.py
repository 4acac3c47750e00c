"""Property tests: whatever an upstream sends, an adapter gives a Page (or text) or one
ParseError, never another exception; and every list entry is either kept or dropped."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finews.errors import ParseError
from finews.models import RawItem, SourceSpec
from finews.sources import adapters
from finews.sources.base import Adapter, Page

T = TypeVar("T")

ADAPTERS = sorted(adapters())

#: per adapter: the list key, where it sits, and the item fields it reads
SHAPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "eastmoney_rolling": ("records", ("id", "title", "digest", "url_w", "showtime", "infoCode")),
    "eastmoney_media": ("nodeList", ("infocode", "title", "showtime", "from")),
    "eastmoney_market": ("record", ("infoCode", "title", "datetime", "medianame")),
    "eastmoney_fast": (
        "fastNewsList",
        ("code", "title", "summary", "showTime", "realSort", "stockList", "titleColor"),
    ),
}

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Values a field might plausibly hold, plus anything at all.
field_values = (
    st.sampled_from(["", "1", "2026-09-01 00:00:00", "1788192002010000", "3"])
    | st.text(alphabet="0123456789-²١ ", max_size=4)  # digits int() may refuse
    | st.lists(st.text(max_size=8), max_size=3)
    | json_values
)


def items_for(adapter: str) -> st.SearchStrategy[Any]:
    """Mostly items with a usable id (the first field) and anything in the others, so that
    both the keep and the drop paths get exercised; sometimes anything at all."""
    id_field, *others = SHAPES[adapter][1]
    ids = st.text(alphabet="0123456789", min_size=1, max_size=18) | st.integers(min_value=0)
    shaped = st.fixed_dictionaries({id_field: ids}, optional=dict.fromkeys(others, field_values))
    return shaped | st.dictionaries(st.sampled_from(SHAPES[adapter][1]), field_values) | json_values


def envelope_for(adapter: str) -> st.SearchStrategy[tuple[Any, int]]:
    """A reply in (or near) the adapter's shape, and how many list entries it holds."""
    key = SHAPES[adapter][0]
    entries = st.lists(items_for(adapter), max_size=8)
    if adapter != "eastmoney_fast":
        return entries.map(lambda listed: ({key: listed}, len(listed)))
    return st.tuples(
        entries,
        st.sampled_from(["1", "1", "0", 1, None]),
        st.none() | st.text(max_size=5) | st.integers() | json_values,
    ).map(
        lambda parts: (
            {"code": parts[1], "message": "m", "data": {key: parts[0], "sortEnd": parts[2]}},
            len(parts[0]),
        )
    )


#: settings an adapter cannot run without (a user's feed has no default URL)
REQUIRED = {"feed": {"url": "https://feeds.example/feed.xml"}}


def spec_for(adapter: str) -> SourceSpec:
    return SourceSpec(id=f"src_{adapter}", adapter=adapter, settings=REQUIRED.get(adapter, {}))


def parse_or_none(call: Callable[[], T]) -> T | None:
    """The result, or None for a ParseError; any other exception fails the test."""
    try:
        return call()
    except ParseError as exc:
        error = exc
    assert error.source.startswith("src_")  # the error names its source
    return None


def parse_page(adapter: Adapter, spec: SourceSpec, body: bytes) -> Page | None:
    return parse_or_none(lambda: adapter.parse_page(spec, body, adapter.first_page(spec)))


def check_page(page: Page | None, spec: SourceSpec) -> None:
    if page is None:
        return
    assert isinstance(page, Page)
    for item in page.items:
        assert item.source == spec.id
        assert item.upstream_id.strip() == item.upstream_id != ""
    for dropped in page.dropped:
        assert dropped.source == spec.id
        assert dropped.reason.startswith(f"[{spec.id}] ")


@pytest.mark.parametrize("name", ADAPTERS)
@settings(deadline=None)
@given(body=st.binary(max_size=200))
def test_any_bytes_give_a_page_or_a_parse_error(name: str, body: bytes) -> None:
    adapter = adapters()[name]
    spec = spec_for(name)
    check_page(parse_page(adapter, spec, body), spec)


@pytest.mark.parametrize("name", ADAPTERS)
@settings(deadline=None)
@given(value=json_values, jsonp=st.booleans())
def test_any_json_gives_a_page_or_a_parse_error(name: str, value: Any, jsonp: bool) -> None:
    adapter = adapters()[name]
    spec = spec_for(name)
    body = json.dumps(value).encode()
    if jsonp:
        body = b"cb(" + body + b")"
    check_page(parse_page(adapter, spec, body), spec)


# Only adapters whose envelope SHAPES describes; the others have their own (test_sources_cn_*).
@pytest.mark.parametrize("name", sorted(SHAPES))
@settings(deadline=None)
@given(data=st.data())
def test_every_entry_is_kept_or_dropped(name: str, data: st.DataObject) -> None:
    adapter = adapters()[name]
    spec = spec_for(name)
    reply, entries = data.draw(envelope_for(name))
    page = parse_page(adapter, spec, json.dumps(reply).encode())
    check_page(page, spec)
    if page is not None:
        assert len(page.items) + len(page.dropped) == entries


@pytest.mark.parametrize("name", ADAPTERS)
@settings(deadline=None)
@given(body=st.binary(max_size=100) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_fulltext_reply_gives_text_or_a_parse_error(name: str, body: bytes) -> None:
    adapter = adapters()[name]
    spec = spec_for(name)
    item = RawItem(source=spec.id, upstream_id="1", fulltext_key="1")
    text = parse_or_none(lambda: adapter.parse_fulltext(spec, body, item))
    assert text is None or isinstance(text, str)

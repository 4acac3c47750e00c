"""Property tests for the Chinese finance adapters (issue 5): whatever an upstream sends, a
page is parsed into kept and dropped entries or fails with one ParseError, never another
exception; article pages give text or a ParseError; security codes come out in one
notation. The any-bytes and any-JSON properties run for every adapter in
``test_sources_properties.py``; these add each adapter's own envelope."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finews.models import RawItem
from finews.sources import get_adapter
from finews.sources.eastmoney_article import parse_article
from finews.sources.securities import securities, security
from test_sources_properties import (
    check_page,
    field_values,
    json_values,
    parse_or_none,
    parse_page,
    spec_for,
)

Envelope = Callable[[list[Any], Any], Any]

#: per adapter: the item fields it reads (the id first), the envelope around a list of
#: entries, and the envelope values tried (the first means success)
SHAPES: dict[str, tuple[tuple[str, ...], Envelope, tuple[Any, ...]]] = {
    "eastmoney_column": (
        ("code", "title", "summary", "digest", "showTime", "mediaName", "uniqueUrl", "url",
         "image", "titleColor"),
        lambda entries, code: {"code": code, "message": "m", "data": {"list": entries}},
        ("1", "0", 1, None),
    ),
    "sina_zhibo": (
        ("id", "rich_text", "create_time", "creator", "is_top", "ext", "docurl", "tag",
         "multimedia"),
        lambda entries, code: {
            "result": {"status": {"code": code, "msg": "m"}, "data": {"feed": {"list": entries}}}
        },
        (0, "0", 1, None),
    ),
    "ths": (
        ("id", "seq", "title", "digest", "url", "shareUrl", "ctime", "source", "picUrl", "color",
         "import", "tags", "stock"),
        lambda entries, code: {"code": code, "msg": "m", "data": {"list": entries}},
        ("200", 200, "400", None),
    ),
    "wallstreetcn": (
        ("id", "title", "content_text", "content", "content_more", "display_time", "score",
         "uri", "author", "images"),
        lambda entries, code: {
            "code": code,
            "message": "m",
            "data": {"items": entries, "next_cursor": "1788191991"},
        },
        (20000, 0, 60301, None),
    ),
    "jin10": (
        ("id", "time", "type", "important", "data"),
        lambda entries, status: {"status": status, "message": "m", "data": entries},
        (200, "200", 403, None),
    ),
    "cls": (
        ("id", "ctime", "level", "title", "brief", "content", "shareurl", "author", "images",
         "subjects", "stock_list", "type"),
        lambda entries, errno: {"errno": errno, "msg": "m", "data": {"roll_data": entries}},
        (0, "0", 10012, None),
    ),
}  # fmt: skip
ADAPTERS = sorted(SHAPES)

# Nested values some fields hold: Jin10's data object, Sina's ext string, lists of stocks.
nested = (
    st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(
            ("title", "content", "link", "pic", "source", "vip_title", "display_name"),
            field_values,
        ),
    )
    | st.lists(
        st.fixed_dictionaries(
            {}, optional=dict.fromkeys(("StockID", "symbol", "market", "stockCode", "name"),
                                       field_values)
        ),
        max_size=3,
    )
    | json_values.map(lambda value: json.dumps(value))
)  # fmt: skip


def items_for(adapter: str) -> st.SearchStrategy[Any]:
    """Mostly entries with a usable id and anything in the other fields; sometimes
    anything at all, so that both the keep and the drop paths run."""
    id_field, *others = SHAPES[adapter][0]
    ids = st.text(alphabet="0123456789", min_size=1, max_size=20) | st.integers(min_value=0)
    values = field_values | nested
    shaped = st.fixed_dictionaries({id_field: ids}, optional=dict.fromkeys(others, values))
    return shaped | st.dictionaries(st.sampled_from(SHAPES[adapter][0]), values) | json_values


@pytest.mark.parametrize("name", ADAPTERS)
@settings(deadline=None)
@given(data=st.data())
def test_every_entry_is_kept_or_dropped(name: str, data: st.DataObject) -> None:
    _, envelope, codes = SHAPES[name]
    entries = data.draw(st.lists(items_for(name), max_size=8))
    code = data.draw(st.sampled_from(codes))
    adapter = get_adapter(name)
    spec = spec_for(name)
    page = parse_page(adapter, spec, json.dumps(envelope(entries, code)).encode())
    check_page(page, spec)
    if code == codes[0]:  # a success envelope always parses
        assert page is not None
    if page is not None:
        assert len(page.items) + len(page.dropped) == len(entries)
        assert all(" " not in stock for item in page.items for stock in item.stocks)


@settings(deadline=None)
@given(entries=st.lists(items_for("jin10"), max_size=6), spaces=st.sampled_from(["", " ", "\n"]))
def test_jin10_script_body_is_read_like_the_api(entries: list[Any], spaces: str) -> None:
    adapter = get_adapter("jin10")
    spec = spec_for("jin10")
    body = f"var newest ={spaces}{json.dumps(entries)};{spaces}".encode()
    page = parse_page(adapter, spec, body)
    check_page(page, spec)
    assert page is not None
    assert len(page.items) + len(page.dropped) == len(entries)


# Fragments of East Money article markup, shuffled into arbitrary pages.
html_parts = st.sampled_from(
    [
        '<div id="ContentBody">',
        '<div class="article-content">',
        "</div>",
        "<p>",
        "</p>",
        "<p>（责任编辑：DF407）</p>",
        '<div class="b-review">广告</div>',
        "<script>x()</script>",
        "<img src=//a/b.png>",
        "<!-- c -->",
        '<meta charset="gbk">',
        '<meta charset="no-such-codec">',
        "<?xml version='1.0' encoding='utf-8'?>",
        "　　央行开展操作。",
        "\x00",
        "<",
        "&amp;",
    ]
)
pages = st.lists(html_parts | st.text(max_size=10), max_size=14).map("".join)


@settings(deadline=None)
@given(body=st.binary(max_size=300) | pages.map(lambda text: text.encode("utf-8", "replace")))
def test_any_article_page_gives_text_or_a_parse_error(body: bytes) -> None:
    text = parse_or_none(lambda: parse_article(body, source="src_em", url="http://u/a/1.html"))
    assert text is None or "<script" not in text


@pytest.mark.parametrize("name", ["eastmoney_fast", "eastmoney_column"])
@settings(deadline=None)
@given(body=pages.map(lambda text: text.encode("utf-8", "replace")))
def test_east_money_fulltext_gives_text_or_a_parse_error(name: str, body: bytes) -> None:
    adapter = get_adapter(name)
    spec = spec_for(name)
    item = RawItem(source=spec.id, upstream_id="202609010600123456")
    text = parse_or_none(lambda: adapter.parse_fulltext(spec, body, item))
    assert text is None or isinstance(text, str)


codes = (
    st.text(max_size=12)
    | st.from_regex(r"(0|1|90|105|116|128)\.[0-9A-Za-z]{1,7}", fullmatch=True)
    | st.from_regex(r"(sh|SZ|bj|hk|us|gb_|BK)[0-9A-Za-z]{1,6}", fullmatch=True)
    | st.from_regex(r"[0-9]{4,6}(\.(SH|SS|SZ|HK))?", fullmatch=True)
)


@given(code=codes)
def test_security_codes_come_out_in_one_stable_notation(code: str) -> None:
    found = security(code)
    if found is None:
        return
    assert found.isascii()
    assert not any(char.isspace() for char in found)
    assert 0 < len(found) <= 32
    assert security(found) == found  # finews notation reads back as itself


@given(listed=st.lists(codes | st.none(), max_size=8))
def test_securities_are_unique_and_ordered(listed: list[str | None]) -> None:
    found = securities(listed)
    assert len(set(found)) == len(found)
    assert list(found) == [
        code for code in dict.fromkeys(security(c) for c in listed if c is not None) if code
    ]

"""Article pages filled into cached skeletons (``publish/skeleton.py``) are byte for byte what
Jinja renders from the same template and values: for the golden archive, hostile values,
stories with other reports, and random items; and the template keeps to the rule that makes
this hold (it only places values)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import Environment, nodes
from markupsafe import Markup

from finews.models import Item
from finews.publish.settings import SiteSettings
from finews.publish.site import SiteRenderer
from finews.publish.skeleton import Skeletons
from site_data import GOLDEN_SETTINGS, site_items

pytestmark = pytest.mark.timeout(120)

EVIL = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>{{ 7*7 }}&amp;'\x00\x01"


def jinja_article(renderer: SiteRenderer, item: Item, also: list[Item]) -> str:
    """The page as Jinja renders it, no skeleton involved."""
    from finews.normalize.variant import convert

    page = renderer.article_values(item, also)
    html = renderer.env.get_template("article.html").render(page=page, live_seq=None)
    return convert(html, renderer.settings.chinese_variant)


def test_golden_articles_match_jinja() -> None:
    renderer = SiteRenderer(GOLDEN_SETTINGS)
    items = [item.replace(id=n) for n, item in enumerate(site_items(), start=1)]
    for index, item in enumerate(items):
        # every item once alone and once as a report among others (leading and not)
        also = [other for other in items[max(0, index - 2) : index + 2] if other is not item]
        for others in ([], also):
            assert renderer.article(item, also=others) == jinja_article(renderer, item, others)


@pytest.mark.parametrize("variant", ["", "hant"])
def test_hostile_values_match_jinja_and_stay_inert(variant: str) -> None:
    renderer = SiteRenderer(SiteSettings(chinese_variant=variant))
    when = datetime(2021, 12, 8, 6, 0, tzinfo=UTC)
    item = Item(
        source="evil",
        upstream_id="1",
        title=EVIL,
        digest=EVIL,
        content="<p>正文</p><script>alert(3)</script>",
        media=EVIL,
        author=EVIL,
        tag=EVIL,
        stocks=(EVIL, "600519"),
        url="https://example.com/?a=1&b=<2>",
        category="evil",
        importance=2,
        published_at=when,
        fetched_at=when,
        id=7,
    )
    other = item.replace(id=8, url="javascript:alert(9)", title="", digest=EVIL)
    for also in ([], [other], [other, other.replace(id=9, published_at=when - timedelta(1))]):
        page = renderer.article(item, also=also)
        assert page == jinja_article(renderer, item, also)
        assert "<script>alert(1)" not in page
        assert "<script>alert(3)" not in page
        assert 'href="javascript:' not in page


_text = st.text(alphabet=st.sampled_from(list("央行降息<>&'\"\x00\x01 a1{}%")), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    title=_text,
    digest=_text,
    content=st.sampled_from(["", "正文", "<p>正文</p>", "<p onclick=x>正文</p>", "a\n\nb"]),
    media=st.none() | _text,
    author=st.none() | _text,
    stocks=st.lists(_text, max_size=3),
    url=st.none() | st.sampled_from(["", "https://a.example/x?a=1&b=2", "ftp://x", "javascript:x"]),
    importance=st.integers(-1, 2),
    others=st.lists(st.tuples(_text, _text, st.integers(-3, 3)), max_size=3),
)
def test_random_articles_match_jinja(
    title: str,
    digest: str,
    content: str,
    media: str | None,
    author: str | None,
    stocks: list[str],
    url: str | None,
    importance: int,
    others: list[tuple[str, str, int]],
) -> None:
    renderer = _RENDERER
    when = datetime(2024, 3, 1, 2, 3, 4, tzinfo=UTC)
    item = Item(
        source="s",
        upstream_id="u",
        title=title,
        digest=digest,
        content=content,
        media=media,
        author=author,
        stocks=tuple(stocks),
        url=url,
        importance=importance,
        published_at=when,
        fetched_at=when,
        id=5,
    )
    also = [
        item.replace(id=10 + n, title=t, digest=d, published_at=when + timedelta(hours=h))
        for n, (t, d, h) in enumerate(others)
    ]
    assert renderer.article(item, also=also) == jinja_article(renderer, item, also)


_RENDERER = SiteRenderer(SiteSettings())


def test_article_template_only_places_values() -> None:
    """No filter, test, call, comparison, subscript or arithmetic in article.html: each would
    act on a marker while the skeleton is cut, not on the value."""
    renderer = SiteRenderer(SiteSettings())
    source = renderer.env.loader.get_source(renderer.env, "article.html")[0]  # type: ignore[union-attr]
    tree = renderer.env.parse(source)
    forbidden = (
        nodes.Filter,
        nodes.Test,
        nodes.Call,
        nodes.Compare,
        nodes.Getitem,
        nodes.Slice,
        nodes.BinExpr,
        nodes.Concat,
        nodes.CondExpr,
    )
    # (and, or, not only test truthiness, which the shape fixes)
    found = [
        type(node).__name__
        for node in tree.find_all(forbidden)
        if not isinstance(node, nodes.And | nodes.Or)
    ]
    assert found == []
    assert list(tree.find_all(nodes.Assign)) == []  # {% set %} could compute a value


def test_a_template_that_changes_a_value_is_rendered_by_jinja() -> None:
    env = Environment(autoescape=True)
    template = env.from_string("<b>{{ page.title[1:] }}</b>{{ page.n }}")
    fill = Skeletons(template.render, "page")
    for title in ("abc", "<x>", "z"):
        values = {"title": title, "n": 3}
        assert fill(values) == template.render(page=values)


def test_values_of_other_types_are_rendered_by_jinja() -> None:
    class Text(str):
        pass

    env = Environment(autoescape=True)
    template = env.from_string(
        "{{ page.a }}|{{ page.b }}|{% for x in page.c %}[{{ x }}]{% endfor %}"
    )
    fill = Skeletons(template.render, "page")
    cases: list[dict[str, Any]] = [
        {"a": Text("<t>"), "b": 1, "c": ["x"]},
        {"a": datetime(2024, 1, 1), "b": 0, "c": []},
        {"a": "", "b": False, "c": ("<y>", Markup("<i>z</i>"))},
        {"a": "&", "b": None, "c": ["1", "", "2"]},
    ]
    for values in cases:
        assert fill(values) == template.render(page=values)


def test_threads_rendering_many_shapes_get_jinjas_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live app renders in several threads; more shapes than are kept come and go."""
    from concurrent.futures import ThreadPoolExecutor

    import finews.publish.skeleton as skeleton

    monkeypatch.setattr(skeleton, "SHAPES", 8)
    env = Environment(autoescape=True)
    template = env.from_string(
        "{% for x in page.xs %}<i>{{ x }}</i>{% endfor %}{% if page.flag %}!{% endif %}"
    )
    fill = Skeletons(template.render, "page")
    cases = [{"xs": ["<a>"] * (n % 23), "flag": n % 2 == 0} for n in range(400)]

    def check(values: dict[str, Any]) -> bool:
        return fill(values) == template.render(page=values)

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(check, cases * 5))
    assert len(fill._shapes) <= 8

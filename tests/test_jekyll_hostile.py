"""Hostile text through ``finews fetch`` and ``finews export jekyll``, then the real Jekyll.

A loopback upstream serves East Money rolling news (the original's source) beside a JSON
Feed, an RSS and an Atom feed written by an attacker: kramdown attribute lists after blocks,
spans and HTML elements, attribute definitions, extensions, raw HTML, comments, autolinks,
links and link definitions to ``javascript:``, Liquid, character references forming ``<``,
a feed item reusing an East Money id and date, ids that are urls or 250 characters long, a
media name whose slug is 300 characters long. ``finews fetch`` stores them and ``finews
export jekyll`` writes the site (the fast tests check the file names). The slow test runs
Debian's ``jekyll build`` on the export with a minimal layout that prints titles and tags
as they are (as the original's did) and opens every built page in Debian's Chromium:
no injected handler may run, and no built page may hold an ``on…`` attribute, a script,
an iframe or a ``javascript:`` url made from item text.

All text here is invented.
"""

from __future__ import annotations

import html
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from finews.cli import cli
from finews.demo.replay import ReplayServer, Reply, Route
from finews.derive import open_store
from finews.jekyll.post import imported_to_item, inert_markup, inert_text, parse_post
from finews.normalize.markdown import restore, unsafe_target
from finews.normalize.sanitize import sanitize_html

CHROMIUM = Path("/usr/bin/chromium")
JEKYLL = shutil.which("jekyll")
SITE_TITLE = "金融消息"
NOW = "2024-03-15T12:00:00+08:00"

SAFE_SCHEMES = ("http:", "https:", "mailto:", "ftp:")


def _missing(what: str) -> None:
    message = f"Debian's {what} is missing (.ci/run installs it: apt-get install {what})"
    if os.environ.get("FINEWS_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


# --- the corpus ---------------------------------------------------------------------------

#: the East Money rolling-news record whose id and date a feed item reuses
EM_ID = "202403150000000001"
EM_RECORD = {
    "id": EM_ID,
    "infoCode": EM_ID,
    "title": "示例东财滚动新闻标题",
    "digest": "【示例东财滚动新闻标题】示例东财的原始摘要。",
    "url_w": f"http://finance.eastmoney.com/a/{EM_ID}.html",
    "showtime": "2024-03-15 09:30:00",
}

#: its full text, East Money HTML of 2022's shape that the export writes as received
EM_FULLTEXT = (
    '<p>　　示例正文<span id="stock_1.600999"><a href="http://quote.eastmoney.com/unify/r/'
    '1.600999" class="em_stock_key_common" data-code="1,600999">示例股份</a></span>走强 & 收涨。'
    '</p><!-- EM_StockImg_Start --><p style="text-align:center;"><img src="https://'
    'webquotepic.eastmoney.com/GetPic.aspx?imageType=k&nid=1.600999" border="0" /></p>'
    '<!-- EM_StockImg_End --><p style="display:none;">示例隐藏段落</p>'
    '<p class="em_media">（文章来源：示例财经）</p>'
)

FOCUS = "document.title='X'"
#: Plain text written by an attacker: every way kramdown or Liquid could make markup from it.
HOSTILE_TEXTS = [
    f'新闻正文\n{{: tabindex="0" autofocus="autofocus" onfocus="{FOCUS}"}}',
    '段落一\n\n{:evil: onmouseover="window.__xss=1" tabindex="0" autofocus}\n\n段落二\n{: evil}',
    '*强调*{: onmouseover="window.__xss=2"} 与 `代码`{: onclick="window.__xss=3"}',
    '{::nomarkdown}<img src=x onerror="window.__xss=4">{:/}',
    '{::options parse_block_html="true" /}\n\n<div markdown="1">*x*</div>',
    "{::comment}被藏起来的文字{:/comment}",
    "# 标题 {#location}\n\n## 另一个 {:#cookie}",
    "<script>window.__xss=5</script>脚本之后",
    '<iframe src="javascript:window.__xss=6"></iframe>框架之后',
    "<!-- 注释 --><img src=x onerror=window.__xss=7>",
    '<javascript:window.__xss=8> 与 <http://example.com/a" onmouseover="window.__xss=9>',
    "[点我](javascript:window.__xss=10) [也点我](JaVa&#115;cript:window.__xss=11)",
    "[反斜杠](javascript\\:window.__xss=12) ![图](javascript:window.__xss=13)",
    "[引用][r]\n\n[r]: javascript:window.__xss=14",
    "> [q]: javascript:window.__xss=50\n\n- [s]: javascript:window.__xss=51\n\n"
    "[t\\]: javascript:window.__xss=52\n\n[甲][q] [乙][s] [丙][t\\]",
    "[尖括号](<javascript:window.__xss=15>)",
    "模板 {{ site.time }} 与 {% include evil.html %} 与 {%raw%}x{%endraw%}",
    "&lt;img src=x onerror=window.__xss=16&gt; 与 &#60;script&#62;window.__xss=17&#60;/script&#62;",
    "$$window.__xss=18$$ 与 A股<B股 与 误差<1%",
]

#: HTML bodies: sanitised on the way in, then kramdown must not re-activate anything.
HOSTILE_HTML = [
    f'<p>正文</p>\n{{: tabindex="0" autofocus="autofocus" onfocus="{FOCUS}"}}',
    '<p>文字 <span class="em">股</span>{: onmouseover="window.__xss=20"} 之后</p>',
    '<p>a</p>\n\n<span>b</span>{: onmouseover="window.__xss=21"}',
    '<p>段落</p>{::nomarkdown}<b onclick="window.__xss=22">x</b>{:/}',
    '<p><a href="javascript:window.__xss=23">链接</a><img src=x onerror="window.__xss=24"></p>',
    "<p><span>[点](javascript:window.__xss=25)</span> {{ site.time }}</p>",
]

HOSTILE_TITLE = '<img src=x onerror="window.__xss=30">标题{{ site.time }}{: onclick="x"}'
HOSTILE_FEED_TITLE = '<img src=x onerror="window.__xss=31">恶意财经'


def _json_feed() -> bytes:
    items: list[dict[str, Any]] = [
        {
            "id": f"text-{n}",
            "title": f"纯文本 {n}",
            "content_text": text,
            "summary": '*摘要*{: onmouseover="window.__xss=40"}' if n == 0 else None,
            "url": f"http://feed.example/text/{n}",
            "date_published": "2024-03-15T10:00:00+08:00",
        }
        for n, text in enumerate(HOSTILE_TEXTS)
    ]
    items += [
        {
            "id": f"html-{n}",
            "title": f"网页 {n}",
            "content_html": body,
            "url": f"http://feed.example/html/{n}",
            "date_published": "2024-03-15T10:00:00+08:00",
        }
        for n, body in enumerate(HOSTILE_HTML)
    ]
    items += [
        {
            "id": "title-1",
            "title": HOSTILE_TITLE,
            "url": "http://feed.example/title/1",
            "date_published": "2024-03-15T10:00:00+08:00",
        },
        # reuses the East Money record's id and date: must not replace its post
        {
            "id": EM_ID,
            "title": "冒名顶替的标题",
            "content_text": "冒名顶替的正文",
            "url": "http://feed.example/impostor",
            "date_published": "2024-03-15T09:30:00+08:00",
        },
        # an id too long for a file name
        {
            "id": "x" * 250,
            "title": "超长编号",
            "content_text": "超长编号的正文",
            "date_published": "2024-03-15T10:00:00+08:00",
        },
    ]
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": HOSTILE_FEED_TITLE,
        "items": [{k: v for k, v in item.items() if v is not None} for item in items],
    }
    return json.dumps(feed, ensure_ascii=False).encode("utf-8")


def _rss(base: str) -> bytes:
    entries = "".join(
        f"<item><title>RSS 条目 {n}</title><link>{base}/rss/{n}</link>"
        f"<guid>http://rss.example/news/2024/03/15/article-{n}.html?from=rss&amp;x=1</guid>"
        f"<description>RSS 摘要 {n}</description>"
        f"<pubDate>Fri, 15 Mar 2024 10:0{n}:00 +0800</pubDate></item>"
        for n in range(3)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>RSS示例财经</title><link>{base}/</link><description>d</description>"
        f"{entries}</channel></rss>"
    ).encode()


def _atom(base: str) -> bytes:
    ids = ["https://atom.example/entry/1", "tag:atom.example,2024:entry/2", "urn:uuid:1-2-3"]
    entries = "".join(
        f"<entry><title>Atom 条目 {n}</title><id>{entry_id}</id>"
        f'<link href="{base}/atom/{n}"/><updated>2024-03-15T10:00:00+08:00</updated>'
        f"<summary>Atom 摘要 {n}</summary></entry>"
        for n, entry_id in enumerate(ids)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Atom示例财经</title><id>urn:x</id><updated>2024-03-15T10:00:00Z</updated>"
        f"{entries}</feed>"
    ).encode()


def _long_slug_feed() -> bytes:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Caijing" * 43,  # a media name whose slug is 301 characters long
        "items": [
            {
                "id": "long-slug-1",
                "title": "长类别名的条目",
                "content_text": "正文",
                "date_published": "2024-03-15T10:00:00+08:00",
            }
        ],
    }
    return json.dumps(feed, ensure_ascii=False).encode("utf-8")


def _config(tmp: Path, base: str) -> Path:
    feeds = {"hostile": "/feed.json", "rssfeed": "/rss.xml", "atomfeed": "/atom.xml"}
    feeds["longslug"] = "/long.json"
    text = (
        f'database_url = "sqlite:///{tmp}/hostile.db"\n[http]\nretries = 0\n'
        "[sources.em_fast]\nenabled = false\n"
        f'[sources.emnews]\nenabled = true\nurl = "{base}/web/webapi"\n'
        f'fulltext_url = "{base}/NewsData/GetNewsText.do"\n'
    )
    for source, path in feeds.items():
        text += (
            f'[sources.{source}]\nadapter = "feed"\nenabled = true\n'
            f'url = "{base}{path}"\nallow_private = true\n'
        )
    path = tmp / "finews.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile archive fetched through the real commands and exported: the site dir."""
    tmp = tmp_path_factory.mktemp("hostile")
    with ReplayServer([]) as upstream:
        base = upstream.url
        upstream.routes = [
            Route("/web/webapi", Reply.json({"records": [EM_RECORD]}), {"type": "102"}),
            Route("/NewsData/GetNewsText.do", Reply.json({"content": EM_FULLTEXT})),
            Route("/feed.json", Reply(body=_json_feed())),
            Route("/rss.xml", Reply(body=_rss(base))),
            Route("/atom.xml", Reply(body=_atom(base))),
            Route("/long.json", Reply(body=_long_slug_feed())),
        ]
        config = _config(tmp, base)
        _run(["--config", str(config), "fetch"])
    _run(["--config", str(config), "export", "jekyll", str(tmp / "site"), "--now", NOW])
    return tmp / "site"


def _posts(site: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in (site / "_posts").glob("*.md")}


# --- file names (points 3, 4, 5) ------------------------------------------------------------


def test_every_fetched_item_has_a_post_with_a_bounded_name(exported: Path) -> None:
    posts = _posts(exported)
    expected = 1 + len(HOSTILE_TEXTS) + len(HOSTILE_HTML) + 3 + 3 + 3 + 1
    assert len(posts) == expected, sorted(posts)
    for name in posts:
        assert len(name.encode()) <= 255
        assert re.fullmatch(r"2024-03-1[45]-[A-Za-z0-9_.~-]+\.md", name), name


def test_the_original_source_keeps_its_name_and_a_feed_cannot_take_it(exported: Path) -> None:
    posts = _posts(exported)
    mine = posts[f"2024-03-15-{EM_ID}.md"]
    assert 'title: "示例东财滚动新闻标题"' in mine
    assert "示例东财的原始摘要" in mine
    assert "冒名顶替" not in mine
    # its East Money HTML as received (jekyll.verbatim_html), the feed's sanitised
    assert "\n\n" + EM_FULLTEXT.replace("　　", "") + "\n\n" in mine
    impostor = posts[f"2024-03-15-hostile~{EM_ID}.md"]
    assert "冒名顶替的正文" in impostor


def test_url_ids_get_stable_readable_names(exported: Path) -> None:
    names = sorted(_posts(exported))
    rss = [n for n in names if n.startswith("2024-03-15-rssfeed~")]
    atom = [n for n in names if n.startswith("2024-03-15-atomfeed~")]
    assert len(rss) == 3
    assert len(atom) == 3
    assert any("article-0.html-from-rss-x-1~" in n for n in rss), rss
    assert any("atom.example-entry-1~" in n for n in atom), atom
    # stable: a second export writes the same names and changes nothing
    again = subprocess.run(
        [
            str(Path(sys.executable).parent / "finews"),
            "--config",
            str(exported.parent / "finews.toml"),
            "export",
            "jekyll",
            str(exported),
            "--now",
            NOW,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "0 written" in again.stdout
    assert sorted(_posts(exported)) == names


def test_long_ids_and_slugs_are_hashed(exported: Path) -> None:
    names = _posts(exported)
    (long_id,) = [n for n in names if n.startswith("2024-03-15-hostile~xxxx")]
    assert len(long_id) < 120
    (page,) = (exported / "category").glob("Caijing*.html")
    assert len(page.name) < 100
    (post,) = [t for t in names.values() if "长类别名的条目" in t]
    stem = page.name.removesuffix(".html")
    assert f"\ncategories: {stem}\n" in post
    assert f"(//finews.withounder.com/category/{stem}.html)" in post
    # no url, and not East Money's: no East Money share link either
    assert "\n\n<>\n\n" in post


def test_exported_posts_import_back_under_their_own_sources(exported: Path) -> None:
    posts = _posts(exported)
    impostor = parse_post(posts[f"2024-03-15-hostile~{EM_ID}.md"], f"2024-03-15-hostile~{EM_ID}.md")
    assert (impostor.source, impostor.upstream_id) == ("hostile", EM_ID)
    original = parse_post(posts[f"2024-03-15-{EM_ID}.md"], f"2024-03-15-{EM_ID}.md")
    assert original.source is None  # East Money's: emnews by its category
    assert imported_to_item(original, datetime.now(UTC)).source == "emnews"
    assert imported_to_item(impostor, datetime.now(UTC)).source == "hostile"


def test_finews_import_jekyll_reads_the_hostile_export_back(exported: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'again.db'}"
    out = _run(["--database-url", url, "import", "jekyll", str(exported)])
    count = len(_posts(exported))
    assert f"imported {count} posts ({count} new, 0 updated)" in out
    assert out.rstrip().endswith("0 failed")
    with open_store(url) as store:
        original = store.get_item("emnews", EM_ID)
        impostor = store.get_item("hostile", EM_ID)
        hostile = store.get_item("hostile", "text-0")
    assert original is not None
    assert original.title == "示例东财滚动新闻标题"
    assert impostor is not None
    assert impostor.content == "冒名顶替的正文"
    assert hostile is not None
    assert hostile.content == HOSTILE_TEXTS[0]


# --- the escaping itself ----------------------------------------------------------------------

_TOKENS = st.sampled_from(
    [
        *"{}:#%<>[]()!*`\\\n &;",
        "{:",
        "{::",
        "{{",
        "{%",
        "<http://a>",
        "<!--",
        "<script>",
        "javascript:",
        "](",
        "[x]: ",
        "&#123;",
        "&lt;",
        "&#60;",
        "示例",
        'onclick="x"',
    ]
)
_HOSTILE = st.lists(_TOKENS, max_size=30).map("".join)
_ACTIVE = re.compile(r"\{[{%:#]|<[A-Za-z/!?]")


@given(_HOSTILE)
def test_inert_text_leaves_no_construct_that_makes_markup(text: str) -> None:
    out = inert_text(text)
    assert _ACTIVE.search(out) is None
    for match in re.finditer(r"(\\*)\]\s*\(\s*<?([^\s)>]*)", out):
        if unsafe_target(match[2]):
            assert len(match[1]) % 2 == 1
    for match in re.finditer(r"(\\*)\[[^\]\n]+\]:[ \t]*<?(\S*)", out):
        if unsafe_target(match[2]):
            assert len(match[1]) % 2 == 1
    # nothing else changed: the import undoes the defusing (a literal "&#123;" before
    # "{", "%", ":" or "#" may come back as "{", which is shown the same)
    inert = re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)
    assert html.unescape(restore(out)) == html.unescape(inert)


@given(_HOSTILE)
def test_sanitised_html_gets_no_attribute_list_either(text: str) -> None:
    out = inert_text(sanitize_html("<p>" + text + "</p>"))
    assert re.search(r"\{[{%:#]", out) is None


def test_ordinary_text_is_unchanged() -> None:
    text = "示例：沪指涨1.2%，{单括号}与[方括号]、A股 < B股，误差<1%。\n第二段 100:1 {x:y}"
    assert inert_text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a\n{: onclick="x"}', 'a\n&#123;: onclick="x"}'),
        ("*a*{:.cls}", "*a*&#123;:.cls}"),
        ("{:ref: onclick=x}", "&#123;:ref: onclick=x}"),
        ("{::nomarkdown}x{:/}", "&#123;::nomarkdown}x&#123;:/}"),
        ("# h {#id}", "# h &#123;#id}"),
        ("{{ x }} {% y %}", "&#123;{ x }} &#123;% y %}"),
        ("<b>x</b> <!-- c --> <http://a>", "&lt;b>x&lt;/b> &lt;!-- c --> &lt;http://a>"),
        ("[a](javascript:x)", "[a\\](javascript:x)"),
        ("[r]: javascript:x", "\\[r]: javascript:x"),
    ],
)
def test_each_construct_is_escaped_minimally(text: str, expected: str) -> None:
    assert inert_text(text) == expected


# --- kramdown itself, on many generated texts ----------------------------------------------

#: Jekyll's kramdown (Jekyll's own defaults), reading a JSON list of documents from stdin.
KRAMDOWN = """
require "json"
require "kramdown"
require "kramdown-parser-gfm"
docs = JSON.parse(STDIN.read)
puts JSON.generate(docs.map { |src|
  Kramdown::Document.new(src, input: "GFM", hard_wrap: false, auto_ids: true,
    entity_output: :as_char, smart_quotes: "lsquo,rsquo,ldquo,rdquo",
    show_warnings: false).to_html
})
"""

_BODY_TOKENS = st.sampled_from(
    [
        *"{}:#%<>[]()!*`\\\n &;\"'=|-_~^$",
        '{:a: onclick="x"}',
        '{: onclick="x"}',
        "{:.c}",
        "{:#i}",
        "{::nomarkdown}",
        "{:/}",
        '{::options parse_block_html="true" /}',
        "<p>",
        "</p>",
        "<span>",
        "</span>",
        "<img src=x onerror=y>",
        "<svg onload=x>",
        "<!--",
        "-->",
        "<http://a>",
        "<a@b.c>",
        "javascript:x",
        "jav&#x61;script:y",
        "](",
        "[x]: ",
        "[x]",
        "> ",
        "- ",
        "    ",
        "```",
        "\n\n",
        "&#123;",
        "&lt;",
        "&colon;",
        "onmouseover=x",
        "*a*",
        "![i](",
        "$$",
        "[^1]",
        "*[x]: ",
        "<script>",
        "<iframe>",
        "<b onclick=x>",
    ]
)
_BODIES = st.lists(_BODY_TOKENS, min_size=1, max_size=40).map("".join)


class _ActiveScan(html.parser.HTMLParser):
    """Every start tag of a page with its attributes, as a browser's tokenizer reads them
    (a tag inside text that a browser would not read as a tag counts too: stricter)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "frame", "svg", "math", "style"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.lower().startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if name.lower() in ("href", "src", "action", "formaction", "xlink:href"):
                bare = re.sub(r"[\x00-\x20]", "", value or "").lower()
                if re.match(r"[a-z][a-z0-9+.-]*:", bare) and not bare.startswith(SAFE_SCHEMES):
                    self.found.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag


def _active(page: str) -> list[str]:
    scan = _ActiveScan()
    scan.feed(page)
    scan.close()
    return scan.found


@pytest.mark.slow
@settings(max_examples=10, deadline=None)
@given(st.lists(_BODIES, min_size=300, max_size=300))
def test_kramdown_makes_nothing_active_from_any_exported_body(bodies: list[str]) -> None:
    if shutil.which("ruby") is None or JEKYLL is None:
        _missing("jekyll")
    # a digest or full text as the export writes it: made inert (plain text) or sanitised
    written = {body: inert_markup(body) for body in bodies}
    assert kramdown_active(written) == {}


def kramdown_active(written: dict[str, str]) -> dict[str, list[str]]:
    """What is active in the HTML kramdown (Jekyll's settings) makes of each written body,
    by the body it was written from; only those with something active."""
    result = subprocess.run(
        ["ruby", "-e", KRAMDOWN],
        input=json.dumps(list(written.values())),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    pages = json.loads(result.stdout)
    return {
        body: found for body, page in zip(written, pages, strict=True) if (found := _active(page))
    }


# --- the real Jekyll and the real browser ----------------------------------------------------

LAYOUT = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{SITE_TITLE}</title></head>
<body>
<p>(GMT+8, Asia/Shanghai, CST) {{{{ page.date | date: "%Y-%m-%d %H:%M:%S" }}}}</p>
<h1>{{{{ page.title }}}}</h1>
{{{{ content }}}}
<p class="tags">{{% for tag in page.tags %}}<span>{{{{ tag }}}}</span>{{% endfor %}}</p>
<p class="categories">{{{{ page.categories | join: " " }}}}</p>
</body></html>
"""

CATEGORY_LAYOUT = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{SITE_TITLE}</title></head>
<body><h1>{{{{ page.title }}}}</h1>
<ul>{{% for post in site.categories[page.category] %}}
<li><a href="{{{{ post.url | relative_url }}}}">{{{{ post.title }}}}</a></li>{{% endfor %}}</ul>
</body></html>
"""

CONFIG = """title: 金融消息
lang: zh-CN
timezone: Asia/Shanghai
url: https://finews.example
markdown: kramdown
disable_disk_cache: true
"""

#: What Chromium does to every element of a page before the verdict.
PROVOKE = """() => {
  for (const el of document.querySelectorAll('*')) {
    for (const type of ['mouseover', 'mouseenter', 'mousemove', 'pointerover', 'focus',
                        'focusin', 'mousedown', 'mouseup', 'animationstart']) {
      el.dispatchEvent(new Event(type, {bubbles: true}));
    }
    if (typeof el.focus === 'function') el.focus();
    if (el.tagName !== 'A') el.click();
  }
  return {title: document.title, flag: window.__xss === undefined ? null : window.__xss};
}"""


def _scan(page: Path) -> list[str]:
    """Every active thing in a built page: on… attributes, scripts, frames, bad urls."""
    text = page.read_text(encoding="utf-8")
    found = _active(text)
    if re.search(r"<\s*(script|iframe|object|embed)\b", text, re.IGNORECASE):
        found.append("script/iframe tag")
    return found


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(600)
def test_jekyll_builds_the_hostile_export_and_nothing_runs_in_chromium(
    exported: Path, tmp_path: Path
) -> None:
    for missing, what in ((JEKYLL is None, "jekyll"), (not CHROMIUM.exists(), "chromium")):
        if missing:
            _missing(what)
    assert JEKYLL is not None
    from playwright.sync_api import sync_playwright

    source = tmp_path / "src"
    shutil.copytree(exported, source)
    (source / "_layouts").mkdir()
    (source / "_layouts" / "post.html").write_text(LAYOUT, encoding="utf-8")
    (source / "_layouts" / "category.html").write_text(CATEGORY_LAYOUT, encoding="utf-8")
    (source / "_config.yml").write_text(CONFIG, encoding="utf-8")
    built = tmp_path / "_site"
    env = {**os.environ, "HOME": str(tmp_path), "JEKYLL_ENV": "production", "LANG": "C.UTF-8"}
    result = subprocess.run(
        [JEKYLL, "build", "--safe", "-s", str(source), "-d", str(built)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    pages = sorted(built.rglob("*.html"))
    posts = [p for p in pages if not p.is_relative_to(built / "category")]
    assert len(posts) == len(_posts(exported)) + len(list((exported / "old_post").glob("*.md")))
    problems = {str(p.relative_to(built)): found for p in pages if (found := _scan(p))}
    assert problems == {}

    shown: dict[str, str] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            for built_page in pages:
                page.goto(built_page.as_uri(), wait_until="load")
                verdict = page.evaluate(PROVOKE)
                where = str(built_page.relative_to(built))
                assert verdict == {"title": SITE_TITLE, "flag": None}, where
                shown[where] = page.inner_text("body")
            assert dialogs == []
        finally:
            browser.close()

    everything = "\n".join(shown.values())
    # the text is shown as text: the characters the attacker sent are there (kramdown's
    # typography still makes "…" curly, as it does for every post)
    expected = (
        "新闻正文 {: tabindex=",
        "{:evil: onmouseover=",
        "{::nomarkdown}",
        "{::options parse_block_html=",
        "{{ site.time }} 与 {% include evil.html %} 与 {%raw%}x{%endraw%}",
        "[点我](javascript:window.__xss=10)",
        "[引用][r]",
        "[甲][q] [乙][s] [丙][t",
        "<javascript:window.__xss=8>",
        "<img src=x onerror=window.__xss=16> 与 <script>window.__xss=17</script>",
        "A股<B股 与 误差<1%",
        '<img src=x onerror="window.__xss=30">标题{{ site.time }}{: onclick="x"}',
        "示例东财的原始摘要",
        "示例正文示例股份走强 & 收涨。",
        "冒名顶替的正文",
    )
    missing = [visible for visible in expected if visible not in everything]
    assert missing == []

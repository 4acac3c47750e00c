"""The checks catch what they look for: each is shown live markup, leaks and writes it must
report, and inert output it must pass (a check that cannot fail would make the corpus
prove nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile import checks
from hostile.corpus import CANARY, SECRET

LIVE_HTML = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg><circle r=1></circle></svg>",
    "<math><mi>x</mi></math>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="  JaVa&#x09;ScRiPt:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href=" &#1; JaVaScRiPt:alert(1)">x</a>',
    '<a href="java&#10;script:alert(1)">x</a>',
    '<a href="vbscript:x">x</a>',
    '<a href="data:text/html,x">x</a>',
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    '<form action="javascript:x"></form>',
    '<button formaction="javascript:x">x</button>',
    '<iframe srcdoc="x"></iframe>',
    '<object data="x"></object>',
    '<embed src="x">',
    '<base href="x">',
    '<meta http-equiv="Refresh" content="0;url=x">',
    '<p style="width:expression(alert(1))">x</p>',
    '<p style="background:url( javascript:alert(1))">x</p>',
    '<details open ontoggle="x">y</details>',
    "<script src=/static/site.js>alert(1)</script>",
]
INERT_HTML = [
    "<p>正文 &lt;script&gt;alert(1)&lt;/script&gt;</p>",
    '<a href="https://news.example.cn/a.html" rel="noopener">链接</a>',
    '<img src="https://img.example.cn/a.png" alt="">',
    '<img src="data:image/png;base64,iVBORw0KGgo=">',
    '<script src="/static/site.js?v=1" defer></script>',
    "<p>javascript: is only text here; onerror= too</p>",
    '<a href="java script:alert(1)">no scheme: a relative link</a>',
]


@pytest.mark.parametrize("html", LIVE_HTML)
def test_live_html_is_reported(html: str) -> None:
    assert checks.html_problems(
        f"<html><body>{html}</body></html>", "page", own_scripts=("/static/",)
    )


@pytest.mark.parametrize("html", INERT_HTML)
def test_inert_html_passes(html: str) -> None:
    page = f"<html><body>{html}</body></html>"
    assert checks.html_problems(page, "page", own_scripts=("/static/site.js",)) == []


POST = '---\nlayout: post\ntitle: "标题"\ndate: 2026-09-01 10:00:00 +0800\n---\n{}\n'


@pytest.mark.parametrize(
    "body",
    [
        '正文\n{: onfocus="alert(1)"}',
        "*a*{: onmouseover=x}",
        '{::options parse_block_html="true" /}',
        "{{ site.github }}",
        "{% include x %}",
        "[点](javascript:alert(1))",
        "[点]( JavaScript:alert(1))",
        "<javascript:alert(1)>",
        "[r]: vbscript:x",
        "<img src=x onerror=alert(1)>",
    ],
)
def test_live_markdown_is_reported(body: str) -> None:
    assert checks.markdown_problems(POST.format(body), "post")


@pytest.mark.parametrize(
    "body",
    [
        '正文\n\\{: onfocus="alert(1)"}',
        "\\{\\{ 7*7 }}",
        "[点我\\](javascript:alert(1))",
        "\\<javascript:alert(1)>",
        "<p>正文</p>",
        "<https://news.example.cn/a.html>",
        "<https://news.example.cn/onerror=>",
        "<https://news.example.cn/[x](javascript:alert(1))%20y>",
        "[返回首页](//finews.withounder.com/)",
    ],
)
def test_inert_markdown_passes(body: str) -> None:
    assert checks.markdown_problems(POST.format(body), "post") == []


def test_front_matter_must_be_a_mapping() -> None:
    assert checks.markdown_problems("---\n- a\n---\n正文", "post")
    assert checks.markdown_problems('---\ntitle: "a\n---\n正文', "post")
    assert checks.markdown_problems("正文", "post")


def test_feed_checks() -> None:
    rss = (
        "<rss><channel><item><title>&lt;script&gt;</title>"
        "<description>&lt;img src=x onerror=alert(1)&gt;</description></item></channel></rss>"
    )
    assert checks.xml_problems(rss.encode(), "rss")
    atom_text = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry>'
        "<summary>&lt;img src=x onerror=alert(1)&gt;</summary></entry></feed>"
    )
    assert checks.xml_problems(atom_text.encode(), "atom") == []  # type text: shown as text
    atom_html = atom_text.replace("<summary>", '<summary type="html">')
    assert checks.xml_problems(atom_html.encode(), "atom")
    assert checks.xml_problems(b"<rss><unclosed></rss>", "rss")
    assert checks.json_problems(b'{"items": [{"content_html": "<svg onload=x>"}]}', "json")
    assert checks.json_problems(b'{"items": [{"url": "javascript:x"}]}', "json")
    assert checks.json_problems(b'{"items": [{"title": "<svg onload=x>"}]}', "json") == []
    assert checks.json_problems(b"{", "json")


def test_leaks_and_tracebacks_are_reported() -> None:
    assert checks.leak_problems(f"http://u:{SECRET}@host/", "log")
    assert checks.leak_problems(CANARY.encode(), "page")
    assert checks.leak_problems("http://u:***@host/?token=***", "log") == []
    assert checks.crash_problems("Traceback (most recent call last):\n  x", "fetch")
    assert checks.crash_problems("dropped x: no title", "fetch") == []
    assert checks.terminal_problems("dropped \x1b[2J: no title\n", "fetch")
    assert checks.terminal_problems("dropped x: no title\n\tok\r\n", "fetch") == []


def test_writes_outside_a_target_are_reported(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    (tmp_path / "kept.txt").write_text("x")
    before = checks.snapshot(tmp_path, skip=[tmp_path / "target"])
    (tmp_path / "target" / "inside.html").write_text("x")
    assert (
        checks.outside_writes(before, checks.snapshot(tmp_path, skip=[tmp_path / "target"]), "c")
        == []
    )
    (tmp_path / "escaped.html").write_text("x")
    assert checks.outside_writes(before, checks.snapshot(tmp_path, skip=[tmp_path / "target"]), "c")

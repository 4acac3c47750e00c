"""Plain text is escaped exactly once, at output.

``A股<B股`` arrives as a JSON Feed ``content_text``, as an RSS description written as text
(XML-escaped once) and as an RSS description in HTML (``A股&lt;B股`` inside CDATA). Through
``finews fetch`` against the loopback upstream it is stored as the text ``A股<B股``, and
every output shows exactly that: the article page, RSS, Atom, JSON Feed, the API and the
Jekyll export each escape it once where their format needs it, never twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from finews.cli import cli
from finews.demo.replay import ReplayServer, Reply, Route
from finews.derive import open_store
from finews.publish.settings import SiteSettings
from finews.publish.urls import article_path
from finews.publish.web import create_app
from finews.store import ItemQuery
from site_data import TestClient, parse_xml

pytestmark = pytest.mark.timeout(60)

TEXT = "A股<B股"
ONCE = "A股&lt;B股"  # the text in HTML
TWICE = "A股&amp;lt;B股"

JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "纯文本",
    "items": [
        {
            "id": "json-1",
            "title": "纯文本正文",
            "content_text": f"上证指数收涨，{TEXT}的比价引发讨论。",
            "summary": f"摘要：{TEXT}",
            "date_published": "2026-09-01T09:00:00+08:00",
        }
    ],
}

RSS = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>纯文本</title><link>https://news.example.cn/</link>
<item><guid>rss-text</guid><title>文本描述</title>
<description>深市成交放量，A股&lt;B股的折价仍在。</description>
<pubDate>Tue, 01 Sep 2026 09:00:00 +0800</pubDate></item>
<item><guid>rss-html</guid><title>HTML描述</title>
<description><![CDATA[港股通资金流入，{ONCE}的溢价收窄。]]></description>
<pubDate>Tue, 01 Sep 2026 09:01:00 +0800</pubDate></item>
</channel></rss>"""


def test_plain_text_is_stored_as_text_and_escaped_once_by_every_output(
    tmp_path: Path, db_url: str
) -> None:
    routes = [
        Route("/feed.json", Reply.json(JSON_FEED)),
        Route("/rss.xml", Reply(200, RSS.encode(), {"Content-Type": "application/xml"})),
    ]
    config = tmp_path / "finews.toml"
    with ReplayServer(routes) as upstream:
        config.write_text(
            f'database_url = "{db_url}"\n[http]\nretries = 0\n'
            f'[sources.jf]\nadapter = "feed"\nurl = "{upstream.url}/feed.json"\n'
            'allow_private = true\ncategory = "plain"\n'
            f'[sources.rss]\nadapter = "feed"\nurl = "{upstream.url}/rss.xml"\n'
            'allow_private = true\ncategory = "plain"\n'
            "[sources.em_fast]\nenabled = false\n",
            encoding="utf-8",
        )
        fetched = CliRunner().invoke(cli, ["--config", str(config), "fetch"])
    assert fetched.exit_code == 0, fetched.output
    with open_store(db_url) as store:
        items = {i.title: i for i in store.items(ItemQuery(category="plain"))}
    assert set(items) == {"纯文本正文", "文本描述", "HTML描述"}
    for item in items.values():
        assert TEXT in item.content + item.digest, item  # stored as the text it is
        assert "&lt;" not in item.content + item.digest

    app = create_app(db_url, SiteSettings())
    with TestClient(app) as client:
        for item in items.values():
            page = client.get(article_path(item)).text
            assert ONCE in page
            assert TWICE not in page
        data = client.get("/api/items", params={"limit": 10}).json()
        shown = [i for i in data["items"] if i["upstream_id"] == "json-1"]
        assert [(i["content"], i["digest"]) for i in shown] == [
            (f"上证指数收涨，{TEXT}的比价引发讨论。", f"摘要：{TEXT}")
        ]
        feed = client.get("/feed.json").json()
        entry = next(e for e in feed["items"] if e["id"].endswith("/json-1"))
        assert entry["summary"] == f"摘要：{TEXT}"  # JSON Feed's summary is text
        assert f"<p>上证指数收涨，{ONCE}的比价引发讨论。</p>" in entry["content_html"]
        rss = parse_xml(client.get("/rss.xml").content)
        descriptions = [d.text or "" for d in rss.iter("description")]
        # RSS readers read a description as HTML: the text escaped once for HTML
        assert len([d for d in descriptions if ONCE in d]) == 3
        assert not [d for d in descriptions if TEXT in d]
        atom = parse_xml(client.get("/feed.xml").content)
        summaries = [s.text for s in atom.iter("{http://www.w3.org/2005/Atom}summary")]
        assert len([t for t in summaries if t and TEXT in t]) == 3  # Atom's summary is text
        assert json.dumps(feed, ensure_ascii=False).count(TWICE) == 0

    out = tmp_path / "jekyll"
    exported = CliRunner().invoke(
        cli, ["--config", str(config), "export", "jekyll", str(out), "--now", "2026-09-01T12:00"]
    )
    assert exported.exit_code == 0, exported.output
    posts = [p.read_text(encoding="utf-8") for p in out.rglob("*.md")]
    # the JSON Feed item's post (feed items with a URL as id get no post yet: issue 19.5)
    bodies = [p for p in posts if "B股" in p]
    assert bodies
    for post in bodies:
        # Markdown passes HTML through: the text escaped once, so kramdown shows A股<B股
        assert ONCE in post
        assert TWICE not in post
        assert TEXT not in post.split("---", 2)[-1]

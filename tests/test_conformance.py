"""Conformance with the original 金融消息 (runs when FINEWS_REFERENCE_DIR is set).

From the upstream records behind the reference posts, served by a real loopback upstream in
the legacy endpoints' exact shapes, ``finews fetch`` then ``finews export jekyll`` must
write the very same bytes. The records are rebuilt here from the posts with plain string
handling (not with finews's importer), so the check does not lean on the code it checks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from finews.cli import cli
from finews.demo.replay import Received, ReplayServer, Reply, Route

REFERENCE = os.environ.get("FINEWS_REFERENCE_DIR", "")
pytestmark = pytest.mark.skipif(
    not REFERENCE, reason="FINEWS_REFERENCE_DIR is not set (point it at ../shared/reference)"
)

FINAL_LINKS = re.compile(
    r"\n\n\[返回东财滚动新闻\]\(//finews\.withounder\.com/emnews/\)｜"
    r"\[返回首页\]\(//finews\.withounder\.com/\)$"
)


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """The front matter lines as a dict (raw values) and the body after it."""
    assert text.startswith("---\n")
    head, _, body = text[4:].partition("\n---\n")
    fields = {}
    for line in head.split("\n"):
        key, _, value = line.partition(": ")
        fields[key] = value
    return fields, body


def final_form_posts() -> list[Path]:
    posts = sorted((Path(REFERENCE) / "posts").glob("*.md"))
    chosen = [p for p in posts if FINAL_LINKS.search(p.read_text(encoding="utf-8"))]
    assert len(chosen) == 15, "FORMAT.md says 15 posts are in the final digest-only shape"
    return chosen


def rolling_record(path: Path, index: int) -> dict[str, Any]:
    """The rolling-news record (``type=102``) the post was written from."""
    fields, body = front_matter(path.read_text(encoding="utf-8"))
    title = fields["title"][1:-1]
    assert body.startswith("\n")
    digest, _, rest = body[1:].partition("\n\n")
    url = rest.partition("\n\n")[0][1:-1]
    upstream_id = path.stem[11:]
    # East Money digests often start with 【title】; the original kept what follows it.
    shown = f"【{title}】{digest}" if index % 2 == 0 else digest
    return {
        "id": upstream_id,
        "infoCode": upstream_id,
        "title": title,
        "digest": shown,
        "url_w": url,
        "showtime": fields["date"].removesuffix(" +0800"),
    }


def run(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def config_for(tmp_path: Path, source: str, url: str) -> Path:
    path = tmp_path / "finews.toml"
    path.write_text(
        f'database_url = "sqlite:///{tmp_path}/ref.db"\n[http]\nretries = 0\n'
        f'[sources.{source}]\nenabled = true\nurl = "{url}/web/webapi"\n'
        f'fulltext_url = "{url}/NewsData/GetNewsText.do"\n',
        encoding="utf-8",
    )
    return path


def test_rolling_news_posts_in_the_final_shape_export_byte_for_byte(tmp_path: Path) -> None:
    posts = final_form_posts()
    records = [rolling_record(p, i) for i, p in enumerate(posts)]

    def full_text(received: Received) -> Reply:
        assert received.query["id"] in {r["infoCode"] for r in records}
        return Reply.json({"content": ""})

    routes = [
        Route("/web/webapi", Reply.json({"records": records}), {"type": "102"}),
        Route("/NewsData/GetNewsText.do", full_text),
    ]
    with ReplayServer(routes) as upstream:
        config = config_for(tmp_path, "emnews", upstream.url)
        out = run(["--config", str(config), "fetch", "-s", "emnews"])
        assert "new   15" in out
    run(
        [
            "--config",
            str(config),
            "export",
            "jekyll",
            str(tmp_path / "site"),
            "--now",
            "2021-12-08T16:00:00+08:00",
        ]
    )
    for post in posts:
        written = tmp_path / "site" / "_posts" / post.name
        assert written.read_bytes() == post.read_bytes(), post.name


def test_the_seed_media_post_exports_byte_for_byte(tmp_path: Path) -> None:
    seed = next((Path(REFERENCE) / "seed").iterdir())
    fields, body = front_matter(seed.read_text(encoding="utf-8"))
    text, _, tail = body.partition("\n\n<")
    share_url = tail.partition(">")[0]
    code = share_url.rpartition("infoCode=")[2]
    assert fields["categories"] == "xinhuacaijing"
    media = fields["tags"].removesuffix("新闻")
    # Upstream full text carried full-width double spaces, which the original removed.
    upstream_text = text.replace("<p>", "<p>\u3000\u3000")
    assert upstream_text != text
    record = {
        "infocode": code,
        "title": fields["title"][1:-1],
        "showtime": fields["date"].removesuffix(" +0800"),
        "from": media,
    }
    routes = [
        Route("/web/webapi", Reply.json({"nodeList": [record]}), {"type": "45"}),
        Route("/NewsData/GetNewsText.do", Reply.json({"text": upstream_text})),
    ]
    with ReplayServer(routes) as upstream:
        config = config_for(tmp_path, "em_media", upstream.url)
        run(["--config", str(config), "fetch", "-s", "em_media"])
        asked = upstream.requests_to("/NewsData/GetNewsText.do")
    assert [r.query["id"] for r in asked] == [code]
    run(
        [
            "--config",
            str(config),
            "export",
            "jekyll",
            str(tmp_path / "site"),
            "--now",
            "2022-05-21T20:00:00+08:00",
        ]
    )
    written = tmp_path / "site" / "_posts" / f"2022-05-21-{code}.md"
    assert written.read_bytes() == seed.read_bytes()
    category = (tmp_path / "site" / "category" / "xinhuacaijing.html").read_text("utf-8")
    assert "category: xinhuacaijing" in category


def test_every_reference_post_imports(tmp_path: Path) -> None:
    paths = [*sorted((Path(REFERENCE) / "posts").glob("*.md"))]
    db = tmp_path / "import.db"
    out = run(["--database-url", f"sqlite:///{db}", "import", "jekyll", *map(str, paths)])
    assert "imported 30 posts" in out
    assert "0 failed" in out
    from finews.derive import open_store

    with open_store(f"sqlite:///{db}") as store:
        assert store.count_items() == 30
        item = store.get_item("emnews", "202112082206672930")
        assert item is not None
        assert item.title == "离岸人民币兑美元升至2018年以来最高水平"
        assert item.url == "http://finance.eastmoney.com/news/11060,202112082206672930.html"

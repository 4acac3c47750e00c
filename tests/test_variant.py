"""Simplified/Traditional conversion for display and search (``site.chinese_variant``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from finews.errors import ConfigError
from finews.normalize.variant import convert, variants


def test_to_traditional_uses_phrases_not_single_characters() -> None:
    # 发 is 發 in 发布 but 髮 in 头发: a character table alone gets one of them wrong
    assert convert("东方财富发布公告，头发", "hant") == "東方財富發佈公告，頭髮"


def test_to_simplified() -> None:
    assert convert("滬深兩市成交額突破萬億元", "hans") == "沪深两市成交额突破万亿元"


def test_empty_variant_and_ascii_are_left_alone() -> None:
    assert convert("東方財富", "") == "東方財富"
    assert convert("<p class='x'>USD/CNY 7.10</p>", "hant") == "<p class='x'>USD/CNY 7.10</p>"


def test_markup_survives_conversion() -> None:
    html = '<p class="lead"><a href="/a/1.html">央行发布</a></p>'
    assert convert(html, "hant") == '<p class="lead"><a href="/a/1.html">央行發佈</a></p>'


def test_variants_for_search() -> None:
    assert variants("东方财富") == ("东方财富", "東方財富")
    assert variants("東方財富") == ("東方財富", "东方财富")
    assert variants("USD") == ("USD",)
    # Traditional as OpenCC, Taiwan and Hong Kong write it
    assert variants("为") == ("为", "爲", "為")
    assert variants("台积电") == ("台积电", "臺積電", "台積電")
    assert variants("說明會") == ("說明會", "说明会", "説明會")


def test_an_unknown_variant_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"site\.chinese_variant"):
        convert("东方", "zh-tw")


def test_the_site_shows_the_configured_variant(tmp_path: Path) -> None:
    from finews.config import load_config
    from finews.derive import open_store
    from finews.publish.settings import SiteSettings
    from finews.publish.site import SiteRenderer
    from finews.publish.static_site import build_site
    from helpers import make_item

    config = load_config(env={}, read_file=False, overrides={"site.chinese_variant": "hant"})
    settings = SiteSettings.from_config(config)
    assert settings.chinese_variant == "hant"
    item = make_item(title="央行发布公告", content="<p>东方财富发布公告</p>")
    row = SiteRenderer(settings).row(item)
    assert "央行發佈公告" in row
    assert "央行发布公告" not in row
    with open_store(f"sqlite:///{tmp_path / 'v.db'}") as store:
        store.upsert_items([item])
        build_site(store, tmp_path / "site", settings)
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "央行發佈公告" in home
    plain = SiteRenderer(SiteSettings.from_config(load_config(env={}, read_file=False))).row(item)
    assert "央行发布公告" in plain

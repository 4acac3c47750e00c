"""OPML: a round trip keeps titles and URLs; importing appends feed sources to a settings
file and leaves the rest of it as it was; hostile OPML (entity bombs, external entities)
is refused without expanding or reading anything."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from finews.cli import cli
from finews.config import load_config
from finews.configfile import append_sources, toml_value
from finews.errors import ConfigError, ParseError
from finews.feeds_cli import subcommands, suggest_id
from finews.sources.opml import MAX_DEPTH, Outline, read_opml, write_opml
from finews.sources_cli import sources

OUTLINES = [
    Outline("财联社 - 电报", "https://rsshub.example.org/cls/telegraph"),
    Outline('Markets & <Economy> "daily"', "https://feeds.example.com/m.xml?a=1&b=2"),
    Outline("华尔街见闻", "https://wallstreetcn.example/rss.xml", "https://wallstreetcn.example/"),
    Outline("宏观", "https://macro.example/feed.json", folder="财经/宏观"),
    Outline("Bonds", "https://bonds.example/atom.xml", folder="财经"),
]

SETTINGS_TEXT = """# my finews settings — keep this comment
log_level = "info"   # trailing comment

[http]
timeout = 5.0

[sources.em_fast]
interval = 60.0
"""


@pytest.fixture(scope="module", autouse=True)
def _attached() -> None:
    """The subcommands on `finews sources`, as cli.py attaches them."""
    for command in subcommands:
        sources.add_command(command)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_round_trip_keeps_titles_urls_and_folders() -> None:
    document = write_opml(OUTLINES, title="我的订阅", now=datetime(2026, 9, 1, tzinfo=UTC))
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert b"<dateCreated>Tue, 01 Sep 2026 00:00:00 +0000</dateCreated>" in document
    assert read_opml(document) == OUTLINES
    # written twice, byte for byte the same
    again = write_opml(read_opml(document), title="我的订阅", now=datetime(2026, 9, 1, tzinfo=UTC))
    assert again == document


def test_reads_other_readers_exports() -> None:
    exported = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>Feeds</title></head><body>
  <outline text="Tech" title="Tech">
    <outline type="rss" text="Only text" xmlUrl=" https://a.example/rss " htmlUrl="https://a.example/"/>
    <outline type="rss" title="Title wins" text="ignored" xmlUrl="https://b.example/atom"/>
  </outline>
  <outline text="a folder without feeds"/>
  <outline type="rss" text="Top level" xmlUrl="https://c.example/feed"/>
</body></opml>"""
    assert read_opml(exported) == [
        Outline("Only text", "https://a.example/rss", "https://a.example/", "Tech"),
        Outline("Title wins", "https://b.example/atom", "", "Tech"),
        Outline("Top level", "https://c.example/feed"),
    ]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<opml version="2.0"><head/><body><outline text="&lol9;" xmlUrl="https://x.example/"/></body></opml>"""


def external_entity(secret: Path) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY leak SYSTEM "file://{secret}">]>
<opml version="2.0"><head/><body><outline text="&leak;" xmlUrl="https://x.example/"/></body>
</opml>""".encode()


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(ParseError, match="declares a DTD or entities"):
        read_opml(BILLION_LAUGHS, where="bomb.opml")


def test_external_entities_are_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        read_opml(external_entity(secret))
    assert "TOP-SECRET" not in str(caught.value)
    assert "DTD" in str(caught.value)


def test_a_bare_dtd_is_refused_too() -> None:
    document = b'<!DOCTYPE opml SYSTEM "http://x.example/opml.dtd"><opml><body/></opml>'
    with pytest.raises(ParseError, match="DTD"):
        read_opml(document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<opml><body><outline", "not well-formed"),
        (b"<rss><channel/></rss>", "root element is <rss>"),
        (b"<opml><head/></opml>", "no <body>"),
        (b"", "not well-formed"),
    ],
)
def test_documents_that_are_not_opml_are_clear_errors(document: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        read_opml(document)


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    depth = MAX_DEPTH + 5
    nested = b'<outline text="f">' * depth + b'<outline xmlUrl="https://x.example/"/>'
    document = b"<opml><body>" + nested + b"</outline>" * depth + b"</body></opml>"
    with pytest.raises(ParseError, match="nested deeper"):
        read_opml(document)


# --- import and export on the command line ----------------------------------------------


def test_import_appends_feed_sources_and_keeps_the_file(tmp_path: Path) -> None:
    config = tmp_path / "finews.toml"
    config.write_text(SETTINGS_TEXT, encoding="utf-8")
    opml = tmp_path / "subs.opml"
    opml.write_bytes(write_opml([*OUTLINES, Outline("ftp", "ftp://files.example/x")]))
    code, out, err = run("--config", str(config), "sources", "import", "opml", str(opml))
    assert code == 0, err
    assert "added 5 feed sources" in out
    assert "skipped 'ftp://files.example/x': not an http(s) URL" in err
    text = config.read_text(encoding="utf-8")
    assert text.startswith(SETTINGS_TEXT)  # comments, order, formatting: all kept
    loaded = load_config(config, env={})
    feeds = {spec.name: spec for spec in loaded.sources if spec.adapter == "feed"}
    assert {name: str(spec.settings["url"]) for name, spec in feeds.items()} == {
        o.title: o.xml_url for o in OUTLINES
    }
    assert all(spec.enabled for spec in feeds.values())
    assert loaded.source("em_fast").settings["interval"] == 60.0
    # importing again adds nothing: every URL is configured already
    code, out, err = run("--config", str(config), "sources", "import", "opml", str(opml))
    assert code == 0
    assert "nothing to add" in out
    assert config.read_text(encoding="utf-8") == text


def test_import_dry_run_changes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "finews.toml"
    config.write_text(SETTINGS_TEXT, encoding="utf-8")
    opml = tmp_path / "subs.opml"
    opml.write_bytes(write_opml(OUTLINES[:1]))
    code, out, _ = run("--config", str(config), "sources", "import", "opml", "--dry-run", str(opml))
    assert code == 0
    assert "would add cailianshe_dianbao: 财联社 - 电报" in out
    assert config.read_text(encoding="utf-8") == SETTINGS_TEXT


def test_import_of_a_hostile_file_fails_clearly_and_changes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "finews.toml"
    config.write_text(SETTINGS_TEXT, encoding="utf-8")
    opml = tmp_path / "bomb.opml"
    opml.write_bytes(BILLION_LAUGHS)
    code, _, err = run("--config", str(config), "sources", "import", "opml", str(opml))
    assert code == 2
    assert "declares a DTD or entities" in err
    assert str(opml) in err
    assert config.read_text(encoding="utf-8") == SETTINGS_TEXT


def test_export_then_import_round_trips_through_the_settings(tmp_path: Path) -> None:
    first = tmp_path / "a.toml"
    first.write_text("", encoding="utf-8")
    opml = tmp_path / "in.opml"
    opml.write_bytes(write_opml(OUTLINES))
    assert run("--config", str(first), "sources", "import", "opml", str(opml))[0] == 0
    out_file = tmp_path / "out.opml"
    code, out, err = run("--config", str(first), "sources", "export", "opml", str(out_file))
    assert code == 0, err
    assert "wrote 5 feeds" in out
    exported = read_opml(out_file.read_bytes())
    assert {(o.title, o.xml_url) for o in exported} == {(o.title, o.xml_url) for o in OUTLINES}
    # to standard output as well
    code, out, _ = run("--config", str(first), "sources", "export", "opml")
    assert code == 0
    assert read_opml(out.encode("utf-8")) == exported


# --- the settings file writer ------------------------------------------------------------


@given(text=st.text(max_size=40))
def test_any_string_survives_toml_quoting(text: str) -> None:
    assert tomllib.loads(f"v = {toml_value(text)}")["v"] == text


def test_append_refuses_a_taken_id_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "finews.toml"
    path.write_text('[sources.news]\nadapter = "feed"\nurl = "https://a.example/"\n')
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="already in the file"):
        append_sources(path, {"news": {"adapter": "feed", "url": "https://b.example/"}})
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_append_stops_when_validation_fails(tmp_path: Path) -> None:
    path = tmp_path / "finews.toml"
    path.write_text("# empty\n")

    def reject(temp: Path) -> None:
        raise ConfigError("sources.x.adapter", "nope", "a known adapter")

    with pytest.raises(ConfigError):
        append_sources(path, {"x": {"adapter": "nope"}}, validate=reject)
    assert path.read_text() == "# empty\n"
    assert list(tmp_path.iterdir()) == [path]


def test_append_to_a_file_without_a_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "finews.toml"
    path.write_text('log_level = "debug"')
    append_sources(path, {"a": {"adapter": "feed", "url": "https://a.example/"}})
    assert tomllib.loads(path.read_text())["sources"]["a"]["url"] == "https://a.example/"


@pytest.mark.parametrize(
    ("title", "url", "taken", "expected"),
    [
        ("财联社 - 电报", "https://x/", set(), "cailianshe_dianbao"),
        ("华尔街见闻", "https://x/", {"huaerjiejianwen"}, "huaerjiejianwen_2"),
        ("", "https://www.feeds.example.co.uk/rss", set(), "example_co_uk"),
        (None, "https://rss.36kr.com/feed", set(), "feed_36kr_com"),
        ("!!!", "https://news.example/", set(), "news_example"),
    ],
)
def test_suggested_ids(title: str | None, url: str, taken: set[str], expected: str) -> None:
    assert suggest_id(title, url, taken) == expected


def test_append_to_an_empty_file_starts_with_the_table(tmp_path: Path) -> None:
    path = tmp_path / "finews.toml"
    path.write_text("")
    append_sources(path, {"a": {"adapter": "feed", "url": "https://a.example/"}})
    assert path.read_text() == '[sources.a]\nadapter = "feed"\nurl = "https://a.example/"\n'

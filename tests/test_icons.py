"""The icons and the web app manifest: the committed files are what ``finews.publish.icons``
draws, and the manifest a phone reads names icons the site serves, at their real sizes."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from finews.derive import open_store
from finews.publish import icons
from finews.publish.settings import SiteSettings
from finews.publish.web import create_app
from site_data import TestClient, fill, site_items

pytestmark = pytest.mark.timeout(60)

STATIC = resources.files("finews.publish") / "static"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("name", ["icon-192.png", "apple-touch-icon.png"])
def test_committed_pngs_are_what_the_code_draws(name: str) -> None:
    size = icons.PNG_SIZES[name]
    committed = (STATIC / name).read_bytes()
    assert committed == icons.png(size), f"run python -m finews.publish.icons to redraw {name}"
    assert png_size(committed) == (size, size)


def test_committed_svg_is_what_the_code_draws() -> None:
    assert (STATIC / "icon.svg").read_text(encoding="utf-8") == icons.svg()
    assert png_size((STATIC / "icon-512.png").read_bytes()) == (512, 512)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'icons.db'}"
    with open_store(url) as store:
        fill(store, site_items())
    app = create_app(url, SiteSettings(base_url="/finews/", title="金融消息"))
    with TestClient(app) as test_client:
        yield test_client


def test_every_page_links_a_manifest_whose_icons_are_served(client: TestClient) -> None:
    home = client.get("/finews/").text
    start = home.index('<link rel="manifest" href="') + len('<link rel="manifest" href="')
    link = home[start : home.index('"', start)]
    assert link.startswith("/finews/static/manifest.webmanifest?v=")
    reply = client.get(link)
    assert reply.headers["content-type"] == "application/manifest+json; charset=utf-8"
    manifest = json.loads(reply.content)
    assert manifest["name"] == "金融消息"
    assert manifest["start_url"] == manifest["scope"] == "/finews/"
    assert manifest["display"] == "standalone"
    purposes = set()
    for icon in manifest["icons"]:
        served = client.get(icon["src"])
        assert served.status_code == 200, icon["src"]
        assert served.headers["content-type"] == icon["type"]
        if icon["type"] == "image/png":
            width, height = png_size(served.content)
            assert icon["sizes"] == f"{width}x{height}"
        purposes.add(icon["purpose"])
    # a phone's home screen wants 192 and 512 pixels, and one icon it may mask
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert "maskable" in purposes
    assert 'rel="apple-touch-icon"' in home
    assert '<link rel="icon" href="/finews/static/icon.svg?v=' in home

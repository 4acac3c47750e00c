"""The site's settings: how it looks and where its pages live (:class:`SiteSettings`), read
from finews's configuration once (:meth:`SiteSettings.from_config`) and handed to every
publisher: the renderer, the live app, the static build, the feeds."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from finews.errors import ConfigError

if TYPE_CHECKING:
    from finews.config import Config

__all__ = ["SiteSettings"]

_DEFAULT_PATHS: Mapping[str, str] = MappingProxyType({"emnews": "/emnews/"})


@dataclass(frozen=True, slots=True)
class SiteSettings:
    """How the site looks and where its pages live.

    ``base_url`` goes in front of every link: ``/`` for a site at the root of its host,
    ``/finews/`` for a GitHub Pages project site, or an absolute ``https://…/`` (feeds then
    carry absolute links, which RSS readers prefer). ``source_paths`` moves a category's
    page from ``/category/<slug>.html`` to another path, as the original kept rolling news
    at ``/emnews/``. ``dedupe`` shows each story once in every listing and feed, by its
    earliest report there (every article page lists the story's other reports either way).
    """

    title: str = "金融消息"
    base_url: str = "/"
    lang: str = "zh-CN"
    description: str = "财经快讯与新闻，来源页、全部存档与订阅源，随时更新。"
    home_per_source: int = 5
    page_size: int = 50
    feed_size: int = 50
    source_paths: Mapping[str, str] = field(default_factory=lambda: _DEFAULT_PATHS)
    dedupe: bool = True
    #: show the site in Simplified (``"hans"``) or Traditional (``"hant"``) characters;
    #: ``""`` shows every item as its upstream wrote it
    chinese_variant: str = ""
    #: hours of news the 热点 board ranks stories over (:mod:`finews.publish.hot`)
    hot_hours: int = 6

    def __post_init__(self) -> None:
        if not self.base_url.endswith("/"):
            raise ConfigError("site.base_url", self.base_url, "a path or URL ending in /")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("", "http", "https") or (parts.scheme and not parts.netloc):
            raise ConfigError("site.base_url", self.base_url, "/path/ or https://host/path/")
        if not parts.scheme and not self.base_url.startswith("/"):
            raise ConfigError("site.base_url", self.base_url, "a path starting with /")
        for name in ("home_per_source", "page_size", "feed_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 1 <= value <= 1000:
                raise ConfigError(f"site.{name}", value, "a whole number from 1 to 1000")
        if not isinstance(self.hot_hours, int) or not 1 <= self.hot_hours <= 168:
            raise ConfigError("site.hot_hours", self.hot_hours, "a whole number from 1 to 168")
        for slug, path in self.source_paths.items():
            if not (path.startswith("/") and (path.endswith("/") or path.endswith(".html"))):
                raise ConfigError(
                    f"site.source_paths.{slug}",
                    path,
                    "a path starting with / and ending in / or .html",
                )
        object.__setattr__(self, "source_paths", MappingProxyType(dict(self.source_paths)))

    @classmethod
    def from_config(cls, config: Config) -> SiteSettings:
        """The site as ``config`` describes it: its ``site.*`` settings, and the page path
        of each fixed-category source that has one (``source_paths``)."""
        return cls(
            title=config.values["site.title"],
            base_url=config.values["site.base_url"],
            home_per_source=config.values["site.home_per_source"],
            page_size=config.values["site.page_size"],
            dedupe=config.values["site.dedupe"],
            hot_hours=config.values["site.hot_hours"],
            source_paths=config.page_paths(),
            chinese_variant=config.values["site.chinese_variant"],
        )

    @property
    def base_path(self) -> str:
        """The path part of ``base_url`` (``/`` or ``/finews/``)."""
        return urlsplit(self.base_url).path or "/"

    def url(self, path: str) -> str:
        """The link to a site path (``/emnews/`` → ``{base_url}emnews/``)."""
        return self.base_url + path.lstrip("/")

    def fingerprint(self) -> str:
        """A digest of every setting: a static build whose settings changed starts over."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["source_paths"] = dict(self.source_paths)
        text = json.dumps(values, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

"""``finews demo``: the whole pipeline on bundled sample feeds, no internet needed.

A loopback replay upstream serves synthetic East Money payloads; finews fetches them into
a SQLite file, exports the Jekyll posts, builds the static site and serves the live one.
While it serves, the upstream keeps "publishing" new 7x24 items and finews keeps polling,
so an open page visibly updates by itself.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from finews.config import Config, load_config
from finews.demo.live import LiveFeed
from finews.demo.replay import (
    ReplayServer,
    demo_routes,
    demo_source_overrides,
    demo_unserved_sources,
)
from finews.derive import open_store
from finews.fetch.client import HttpClient, HttpSettings
from finews.refresh import SourceReport, refresh_all, refresh_source
from finews.store.health import record_poll

__all__ = ["demo_config", "keep_publishing", "run_demo"]

log = logging.getLogger("finews.demo")


def demo_config(upstream_url: str, out_dir: Path) -> Config:
    """Defaults, with every demo source enabled and pointed at the replay upstream, and
    every other source off (the demo never reaches the internet)."""
    overrides: dict[str, dict[str, Any]] = {
        sid: {"enabled": False} for sid in demo_unserved_sources()
    }
    overrides.update(
        (sid, {**values, "enabled": True, "interval": 5.0})
        for sid, values in demo_source_overrides(upstream_url).items()
    )
    return load_config(
        env={},
        read_file=False,
        overrides={"database_url": f"sqlite:///{out_dir / 'demo.db'}", "http.retries": "0"},
        source_overrides=overrides,
    )


def _fetch_once(config: Config) -> list[SourceReport]:
    async def run() -> list[SourceReport]:
        async with HttpClient(HttpSettings(**config.section("http"))) as client:
            with open_store(config.database_url) as store:
                return await refresh_all(config.enabled_sources(), store, client)

    return asyncio.run(run())


def keep_publishing(
    config: Config,
    live: LiveFeed,
    stop: threading.Event,
    every: float,
    echo: Callable[[str], None],
) -> None:
    """Publish one new 7x24 item upstream and poll it in, every ``every`` seconds; say so
    on ``echo`` when it arrives."""
    spec = config.source("em_fast")

    async def loop() -> None:
        async with HttpClient(HttpSettings(**config.section("http"))) as client:
            with open_store(config.database_url) as store:
                resting = False
                while not stop.is_set():
                    item = live.publish()
                    report = await refresh_source(spec, store, client)
                    log.info("demo: published one item upstream, fetched %d new", report.new)
                    # kept as the daemon keeps it, so /status shows the polls and the next
                    record_poll(
                        store,
                        spec.id,
                        ok=report.ok,
                        new=report.new,
                        updated=report.updated,
                        elapsed=report.elapsed,
                        next_poll=datetime.now(UTC) + timedelta(seconds=every),
                    )
                    if item is not None and report.new:
                        echo(f"  new item {item['showTime'][11:]}  {item['title']}")
                    elif item is None and not resting:
                        echo("  (every invented story of this hour is told; more come with")
                        echo("   the next part of the trading day, 09:15, 09:30, 11:30,")
                        echo("   13:00, 15:00 or midnight)")
                    resting = item is None
                    await asyncio.to_thread(stop.wait, every)

    asyncio.run(loop())


def run_demo(
    out_dir: Path,
    *,
    serve: bool = True,
    host: str = "127.0.0.1",
    port: int = 8000,
    every: float = 5.0,
    echo: Callable[[str], None] = print,
) -> None:
    """Run the demo; with ``serve`` it serves the live site until interrupted."""
    from finews.publish.jekyll import JekyllSettings, export_jekyll
    from finews.publish.settings import SiteSettings
    from finews.publish.static_site import build_site
    from finews.reparse import jekyll_items

    out_dir.mkdir(parents=True, exist_ok=True)
    live = LiveFeed()
    with ReplayServer(demo_routes(live=live.items)) as upstream:
        config = demo_config(upstream.url, out_dir)
        echo(f"demo upstream (replaying bundled sample feeds) at {upstream.url}")
        for report in _fetch_once(config):
            status = "ok" if report.ok else f"ERROR {report.error}"
            echo(
                f"  fetched {report.source:<10} new {report.new:>3}  dropped "
                f"{len(report.dropped)}  {status}"
            )
        with open_store(config.database_url) as store:
            jekyll_dir = out_dir / "jekyll"
            settings = JekyllSettings(**config.section("jekyll"))
            specs = {spec.id: spec for spec in config.sources}
            items, received = jekyll_items(store, specs, verbatim_html=settings.verbatim_html)
            exported = export_jekyll(
                items,
                jekyll_dir,
                settings,
                now=datetime.now(UTC),
                page_paths=config.page_paths(),
                received=received,
            )
            site_dir = out_dir / "site"
            built = build_site(store, site_dir, SiteSettings.from_config(config))
            total = store.count_items()
        echo(f"stored {total} items in {config.database_url}")
        echo(f"Jekyll posts: {jekyll_dir}/_posts/  ({exported})")
        echo(f"static site:  {site_dir}/index.html  ({len(built.written)} files written)")
        if not serve:
            return
        from finews.publish.web import serve as serve_site

        stop = threading.Event()
        publisher = threading.Thread(
            target=keep_publishing, args=(config, live, stop, every, echo), daemon=True
        )
        publisher.start()
        echo(f"live site:    http://{host}:{port}/  (an invented item arrives every {every:g} s;")
        echo("              Ctrl-C to stop)")
        try:
            serve_site(
                config.database_url,
                SiteSettings.from_config(config),
                host=host,
                port=port,
                sources=config.source_names(),
                disabled=[spec.id for spec in config.sources if not spec.enabled],
            )
        finally:
            stop.set()
            publisher.join(timeout=10)

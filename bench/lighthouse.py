"""Lighthouse on the live site: home, an article, search and status, mobile and desktop.

    npm ci --prefix bench/lighthouse
    .venv/bin/python bench/lighthouse.py

Runs ``finews demo --no-serve`` into ``$FINEWS_BENCH_WORK/lighthouse`` (the demo's bundled
sample feeds, fetched from a loopback upstream), serves that database with the live app on
loopback, and runs npm's ``lighthouse`` against each page with Debian's chromium
(``CHROME_PATH=/usr/bin/chromium``; never a downloaded browser). Lighthouse's mobile run
emulates a mid-range phone on a throttled network; ``--preset=desktop`` the desktop. Scores
(0-100) go to ``results/lighthouse.json`` and are printed as a Markdown table; every report
is kept beside them (``results/tmp/lighthouse/*.json``) for the audits behind a score.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import uvicorn
from timing import WORK as BENCH_WORK
from timing import machine

from finews.demo.run import demo_config
from finews.derive import open_store
from finews.publish.settings import SiteSettings
from finews.publish.urls import article_path
from finews.publish.web import create_app
from finews.store import ItemQuery

HERE = Path(__file__).resolve().parent
LIGHTHOUSE = HERE / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
WORK = BENCH_WORK / "lighthouse"


class Server:
    """The live app on a free loopback port, in a thread."""

    def __init__(self) -> None:
        config = demo_config("http://127.0.0.1:9", WORK)  # the demo's settings and sources
        app = create_app(
            config.database_url,
            SiteSettings.from_config(config),
            sources=config.source_names(),
            disabled=[spec.id for spec in config.sources if not spec.enabled],
        )
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def demo_database() -> str:
    """A fresh demo database (the demo's sample feeds, fetched once)."""
    shutil.rmtree(WORK, ignore_errors=True)
    finews = Path(sys.executable).parent / "finews"
    subprocess.run(
        [str(finews), "demo", "--no-serve", "--out", str(WORK)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return str(demo_config("http://127.0.0.1:9", WORK).database_url)


def pages(database_url: str) -> dict[str, str]:
    """Name → path of the pages judged."""
    with open_store(database_url) as store:
        newest = next(iter(store.items(ItemQuery(limit=1))))
    return {
        "home": "/",
        "article": article_path(newest),
        "search": "/search",
        # a page of results carries noindex on purpose (one of endless query pages), which
        # Lighthouse's SEO category counts against it: judged and recorded all the same
        "results": "/search?q=" + quote("央行"),
        "status": "/status",
    }


def lighthouse(url: str, form: str, report: Path) -> dict[str, int]:
    """The four category scores of one Lighthouse run."""
    command = [
        str(LIGHTHOUSE),
        url,
        "--quiet",
        "--output=json",
        f"--output-path={report}",
        f"--only-categories={','.join(CATEGORIES)}",
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
    ]
    if form == "desktop":
        command.append("--preset=desktop")
    subprocess.run(command, check=True, env={**os.environ, "CHROME_PATH": CHROMIUM})
    result = json.loads(report.read_text(encoding="utf-8"))
    return {name: round(result["categories"][name]["score"] * 100) for name in CATEGORIES}


def main() -> None:
    """Run every page in both forms and print the scores."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="one page: home, article, search, results or status")
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        sys.exit(f"{LIGHTHOUSE} is missing: run npm ci --prefix bench/lighthouse")
    database_url = demo_database()
    reports = HERE / "results" / "tmp" / "lighthouse"
    reports.mkdir(parents=True, exist_ok=True)
    scores: dict[str, dict[str, dict[str, int]]] = {}
    with Server() as base:
        for name, path in pages(database_url).items():
            if args.only and name != args.only:
                continue
            for form in ("mobile", "desktop"):
                scores.setdefault(name, {})[form] = lighthouse(
                    base + path, form, reports / f"{name}-{form}.json"
                )
                print(name, form, scores[name][form], flush=True)
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout
    version = subprocess.run(
        [str(LIGHTHOUSE), "--version"], capture_output=True, text=True
    ).stdout.strip()
    document = {
        "machine": machine(),
        "lighthouse": version,
        "chromium": chromium.strip(),
        "scores": scores,
    }
    (HERE / "results" / "lighthouse.json").write_text(
        json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print("\n| page | form | " + " | ".join(CATEGORIES) + " |")
    print("|---|---|" + "---|" * len(CATEGORIES))
    for name, forms in scores.items():
        for form, values in forms.items():
            cells = " | ".join(str(values[c]) for c in CATEGORIES)
            print(f"| {name} | {form} | {cells} |")


if __name__ == "__main__":
    main()

"""Runs the corpus through every finews command and collects what went wrong.

:class:`Harness` owns a work folder laid out as::

    <tmp>/canary.txt          the local file XXE vectors point at (outside everything)
    <tmp>/work/finews.toml    the corpus's sources on the loopback upstream
    <tmp>/work/hx.db          what ``finews fetch`` stores
    <tmp>/work/out/site/      ``finews build``
    <tmp>/work/out/jekyll/    ``finews export jekyll``
    <tmp>/work/imported.db    ``finews import jekyll`` of that export and crafted posts

Every command runs as a real process (``python -m finews``) with ``<tmp>/work`` as its
working folder. Each step appends problems to :attr:`Harness.problems`; tests assert the
list is empty at the end, so one run reports every failure with the output it was found in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html

from finews.config import load_config
from finews.demo.replay import ReplayServer
from finews.derive import derive_backlog, open_store
from finews.formatwatch import SAMPLES_FOLDER
from finews.publish.settings import SiteSettings
from finews.publish.web import create_app
from helpers import OFFLINE_SOURCES_ENV
from hostile import checks
from hostile.corpus import CANARY, SENTINEL, Corpus, build_corpus, now_utc
from hostile.posts import crafted_posts
from site_data import TestClient

#: the site's own script (the only <script> a page may have)
OWN_SCRIPTS = ("/static/site.js",)
#: pages the crawl starts from (links found in pages are followed from there)
START_PATHS = (
    "/",
    "/all/",
    "/important/",
    "/day/",
    "/status",
    "/api/status",
    "/api/sources",
    "/api/items",
    "/api/items?limit=200",
    "/feed.xml",
    "/rss.xml",
    "/feed.json",
    "/search?q=script",
    "/search?q=" + SENTINEL,
    "/api/search?q=onerror",
    "/search.xml?q=新闻",
    "/metrics",
    "/healthz",
    "/readyz",
    *(
        # hostile requests: query syntax, numbers, dates and path tricks a reader can send
        "/search?q=%22",
        "/search?q=NEAR(a%20b)",
        "/search?q=a%20OR",
        "/search?q=*",
        "/search?q=%00",
        "/search?q=%ED%A0%80",
        "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
        "/api/search?q=title:x",
        "/search.xml?q=%22%3Cscript%3E",
        "/api/items?limit=-1",
        "/api/items?limit=1e309",
        "/api/items?limit=99999999999999999999999",
        "/api/items?before=9999-99-99",
        "/api/items?since=%00",
        "/api/items?source=..%2F..",
        "/api/items/99999999999999999999999",
        "/api/items/-1",
        "/day/0000-00-00/",
        "/day/2026-02-30/",
        "/day/99999-01-01/",
        "/category/..%2f..%2fetc%2fpasswd.html",
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/%00",
        "/%FF/",
        "/all/page/99999999999999999999/",
        "/feeds/..%2f..%2f/atom.xml",
        "/events?since=abc",
    ),
)
#: names absolute-path vectors would create if an id reached the file system as a path
ESCAPE_GLOBS = ("/tmp/hx-*", "/tmp/hx_*")  # noqa: S108 (only looked for, never written)


class Harness:
    """One corpus, one work folder, every command; problems collected as they are found."""

    def __init__(self, tmp: Path, awaits: str = "") -> None:
        self.tmp = tmp
        self.work = tmp / "work"
        self.work.mkdir()
        self.canary = tmp / "canary.txt"
        self.canary.write_text(CANARY + "\n", encoding="utf-8")
        self.now = now_utc()
        self.awaits = awaits
        self.corpus: Corpus = build_corpus(self.now, self.canary, awaits)
        self.problems: list[str] = []
        self.logs: dict[str, str] = {}
        self.db = self.work / "hx.db"
        self.config = self.work / "finews.toml"
        self.upstream: ReplayServer | None = None
        self.checked = 0  # responses the last serve() checked
        self.imported_url: str | None = None
        self._escapes_before = self._escapes()

    # --- running ------------------------------------------------------------------------

    @contextmanager
    def serving(self) -> Iterator[Harness]:
        """The loopback upstream serves the corpus while the block runs."""
        with ReplayServer(self.corpus.routes) as server:
            self.upstream = server
            self.config.write_text(
                self.corpus.config_toml(server.url, f"sqlite:///{self.db}"), encoding="utf-8"
            )
            yield self

    def finews(self, *args: str, target: Path | None = None, timeout: float = 120) -> str:
        """Run ``finews --config … args`` and check it: exit code 0, no traceback, no leak,
        nothing written outside ``target`` (and the databases). Returns its output."""
        name = " ".join(args[:2])
        before = self._snapshot(target)
        proc = subprocess.run(
            [sys.executable, "-m", "finews", "--config", str(self.config), *args],
            cwd=self.work,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = proc.stdout + proc.stderr
        self.logs[name] = output
        if proc.returncode != 0:
            self.problems.append(f"finews {name}: exit code {proc.returncode}: {output[-2000:]}")
        self._check_process(name, output, before, target)
        return output

    def _check_process(
        self, name: str, output: str, before: dict[str, Any], target: Path | None
    ) -> None:
        self.problems += checks.crash_problems(output, f"finews {name}")
        self.problems += checks.terminal_problems(output, f"finews {name}")
        self.problems += checks.leak_problems(output, f"finews {name} output")
        after = self._snapshot(target)
        self.problems += checks.outside_writes(before, after, f"finews {name}")
        escapes = self._escapes() - self._escapes_before
        self.problems += [f"finews {name}: wrote {path}" for path in sorted(escapes)]

    def _snapshot(self, target: Path | None) -> dict[str, Any]:
        skip = [target] if target is not None else []
        found = checks.snapshot(self.tmp, skip=skip)
        # the databases and their journals are where commands are meant to write, and
        # the folders above a target are made for it
        above = {
            str(p.relative_to(self.tmp))
            for p in (target.parents if target else ())
            if p.is_relative_to(self.tmp)
        }
        return {
            k: v
            for k, v in found.items()
            if not _is_database(k) and k not in above and not _is_format_sample(k)
        }

    @staticmethod
    def _escapes() -> set[str]:
        return {str(p) for pattern in ESCAPE_GLOBS for p in Path("/").glob(pattern[1:])}

    # --- the commands ---------------------------------------------------------------------

    def fetch(self) -> None:
        """``finews fetch`` of every corpus source; then every expected item is stored."""
        sources = [arg for sid in self.corpus.source_ids() for arg in ("-s", sid)]
        self.finews("fetch", *sources)
        self.check_stored(f"sqlite:///{self.db}", "finews fetch")

    def check_stored(self, url: str, where: str) -> None:
        """Every item a reader should get (sentinels and kept vectors) is in the store."""
        try:
            stored = _stored(url)
        except Exception as exc:  # a store that cannot read its rows back
            self.problems.append(f"{where}: reading the database failed: {exc!r}")
            return
        for source, ids in self.corpus.expected_ids().items():
            missing = sorted(ids - stored.get(source, set()))
            if missing:
                self.problems.append(f"{where}: [{source}] not stored: {missing}")

    def run_daemon(self) -> None:
        """``finews run`` on a fresh database until every expected item is stored and
        derived, then SIGTERM: it must exit 0 with no traceback and no leak."""
        db = self.work / "daemon.db"
        url = f"sqlite:///{db}"
        before = self._snapshot(None)
        expected = self.corpus.expected_ids()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "finews",
                "--config",
                str(self.config),
                "--database-url",
                url,
                "run",
            ],
            cwd=self.work,
            env=_clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        caught_up = False
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    caught_up = db.exists() and _caught_up(url, expected)
                except Exception as exc:  # a store that cannot read its rows back
                    self.problems.append(f"finews run: reading its database failed: {exc!r}")
                    break
                if caught_up:
                    break
                time.sleep(0.2)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        output = out + err
        self.logs["run"] = output
        if not caught_up:
            self.problems.append("finews run: did not store and derive every expected item in 60 s")
            self.check_stored(url, "finews run")
        if proc.returncode != 0:
            self.problems.append(f"finews run: exit code {proc.returncode}: {output[-2000:]}")
        self._check_process("run", output, before, None)

    def build(self) -> Path:
        """``finews build``: every file inert and well-formed, nothing outside the target."""
        target = self.work / "out" / "site"
        output = self.finews("build", str(target), target=target)
        if not target.is_dir():
            self.problems.append(f"finews build: no site was written ({output[-300:]})")
            return target
        self.check_files(target, "build")
        sentinel_pages = [
            p for p in target.rglob("*.html") if SENTINEL in p.read_text("utf-8", "replace")
        ]
        if not sentinel_pages:
            self.problems.append("finews build: no page shows a sentinel item")
        return target

    def export_jekyll(self) -> Path:
        """``finews export jekyll``: posts with no live markup, a post per sentinel."""
        target = self.work / "out" / "jekyll"
        self.finews("export", "jekyll", str(target), target=target)
        self.check_files(target, "export jekyll")
        posts = "\n".join(
            p.read_text("utf-8", "replace") for p in target.rglob("*.md") if p.is_file()
        )
        for source, ids in self.corpus.expected_ids().items():
            for upstream_id in sorted(i for i in ids if i.startswith("sentinel-")):
                number = upstream_id.rsplit("-", 1)[1]
                if f"{SENTINEL} {source} {number}：" not in posts:
                    self.problems.append(f"finews export jekyll: no post for {upstream_id}")
        return target

    def import_jekyll(self, exported: Path) -> None:
        """``finews import jekyll`` of the export and of crafted post files, into a new
        database: exit 0, every sentinel post imported."""
        crafted = self.work / "crafted"
        crafted.mkdir()
        clean = crafted_posts(crafted, self.canary, self.awaits)
        url = f"sqlite:///{self.work / 'imported.db'}"
        folders = [str(p) for p in (exported / "_posts", exported / "old_post") if p.is_dir()]
        self.finews("--database-url", url, "import", "jekyll", *folders, str(crafted))
        try:
            with open_store(url) as store:
                titles = {item.title for item in store.items()}
        except Exception as exc:  # a store that cannot read its rows back
            self.problems.append(f"finews import jekyll: reading the database failed: {exc!r}")
            return
        exported_sentinels = {
            line.removeprefix("title: ").strip('"')
            for p in exported.rglob("*.md")
            for line in p.read_text("utf-8", "replace").splitlines()[:4]
            if line.startswith("title: ") and SENTINEL in line
        }
        for title in sorted((exported_sentinels | clean) - titles):
            self.problems.append(f"finews import jekyll: post not imported: {title!r}")
        self.imported_url = url

    def check_files(self, root: Path, where: str) -> None:
        """Every file under ``root``: HTML and Markdown inert, XML and JSON well-formed."""
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            name = f"{where} {path.relative_to(root)}"
            data = path.read_bytes()
            self.problems += checks.leak_problems(data, name)
            if path.suffix == ".md" or (where.startswith("export") and path.suffix == ".html"):
                self.problems += checks.markdown_problems(data.decode("utf-8", "replace"), name)
            elif path.suffix == ".html":
                text = data.decode("utf-8", "replace")
                self.problems += checks.html_problems(text, name, own_scripts=_own(root))
            elif path.suffix == ".xml":
                self.problems += checks.xml_problems(data, name)
            elif path.suffix == ".json" and not path.name.startswith("."):
                self.problems += checks.json_problems(data, name)

    def serve(self, url: str | None = None, *, limit: int = 2000) -> int:
        """``finews serve``'s app in-process: crawl from the start pages, following every
        link on the site; every response inert, well-formed and free of secrets, every
        linked page found. Returns how many responses were checked."""
        config = load_config(self.config, env={}, overrides={})
        database = url or f"sqlite:///{self.db}"
        app = create_app(database, SiteSettings.from_config(config), sources=config.source_names())
        seen: set[str] = set()
        try:
            with TestClient(app) as client:
                self._crawl(client, seen, limit)
        except Exception as exc:  # the app did not start, or a page raised
            self.problems.append(f"serve: {exc!r}")
        return len(seen)

    def _crawl(self, client: TestClient, seen: set[str], limit: int) -> None:
        queue = list(START_PATHS)
        linked: dict[str, str] = {}
        while queue and len(seen) < limit:
            path = queue.pop(0)
            if path in seen:
                continue
            seen.add(path)
            where = f"serve {path[:120]}"
            try:
                response = client.get(path)
            except Exception as exc:
                self.problems.append(f"{where}: {exc!r}")
                continue
            if response.status_code >= 500:
                self.problems.append(f"{where}: status {response.status_code}")
                continue
            if response.status_code == 404 and path in linked:
                self.problems.append(f"{where}: 404, linked from {linked[path][:120]}")
            self.problems += checks.leak_problems(response.content, where)
            if b"root:x:0:0" in response.content:
                self.problems.append(f"{where}: served /etc/passwd")
            kind = response.headers.get("content-type", "")
            if "html" in kind:
                self.problems += checks.html_problems(response.text, where, own_scripts=OWN_SCRIPTS)
                for link in _links(response.text, path):
                    if link not in seen:
                        linked.setdefault(link, path)
                        queue.append(link)
            elif "xml" in kind:
                self.problems += checks.xml_problems(response.content, where)
            elif "json" in kind:
                self.problems += checks.json_problems(response.content, where)


def _own(root: Path) -> tuple[str, ...]:
    return (*OWN_SCRIPTS, "static/site.js", "../static/site.js")


def _links(page: str, base: str) -> Iterator[str]:
    """Same-site links of a page (``<a href>``, ``<link href>``) as paths with their query.
    (Images are left out: a relative ``src`` in an upstream's HTML is the upstream's.)"""
    try:
        root = lxml.html.fromstring(page)
    except ValueError:
        return
    for element in root.iter("a", "link"):
        value = element.get("href")
        if not value:
            continue
        parts = urlsplit(urljoin("http://testserver" + base, value))
        if parts.netloc != "testserver" or parts.path.startswith("/static/"):
            continue
        yield parts.path + (f"?{parts.query}" if parts.query else "")


def _is_database(name: str) -> bool:
    return any(name.endswith(s) for s in (".db", ".db-wal", ".db-shm", ".db-journal"))


def _stored(url: str) -> dict[str, set[str]]:
    """Source -> upstream ids of every stored item."""
    stored: dict[str, set[str]] = {}
    with open_store(url) as store:
        for item in store.items():
            stored.setdefault(item.source, set()).add(item.upstream_id)
    return stored


def _caught_up(url: str, expected: dict[str, set[str]]) -> bool:
    stored = _stored(url)
    if not all(ids <= stored.get(source, set()) for source, ids in expected.items()):
        return False
    with open_store(url) as store:
        return derive_backlog(store) == 0


def _is_format_sample(path: str) -> bool:
    """A sample of a reply that looked like a changed upstream: kept under data_dir on
    purpose (finews.formatwatch; the corpus serves such replies), capped in size there."""
    parts = Path(path).parts
    return parts[:2] == ("work", "data") and (len(parts) == 2 or parts[2] == SAMPLES_FOLDER)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINEWS_")}
    env.update(OFFLINE_SOURCES_ENV)  # no default source reaches the internet
    env["PYTHONWARNINGS"] = "ignore"  # a dependency's warning is not the corpus's business
    return env


def report(problems: list[str]) -> str:
    """The problems as one message, most useful first (one line each, long ones cut)."""
    lines = [p if len(p) < 600 else p[:600] + "…" for p in problems]
    return f"{len(problems)} problem(s):\n" + "\n".join(lines)


__all__ = ["Harness", "json", "report"]

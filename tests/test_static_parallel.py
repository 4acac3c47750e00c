"""The static build on several processes writes the same bytes as on one.

The golden data is far below the size at which a build forks, so these tests lower the
thresholds: every Beijing day becomes its own slice of article pages, and listing pages go
out two to a task, so several workers share even this small site.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finews.derive import open_store
from finews.errors import ExportError
from finews.models import Item
from finews.publish import static_parallel
from finews.publish.build_pool import can_fork, default_processes
from finews.publish.settings import SiteSettings
from finews.publish.static_site import MANIFEST, build_site
from finews.store import Store
from site_data import GOLDEN_SETTINGS, fill, later_items, site_items

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not can_fork(), reason="needs the fork start method, one thread"),
]

GOLDEN = Path(__file__).parent / "golden" / "site"


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but the manifest, by relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


@pytest.fixture(autouse=True)
def small_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(static_parallel, "PARALLEL_MIN", 1)
    monkeypatch.setattr(static_parallel, "SLICE_MIN", 1)
    monkeypatch.setattr(static_parallel, "TASK_PAGES", 2)


@pytest.fixture
def site(store: Store) -> Store:
    """The golden archive, on each engine in turn (the workers open their own connections)."""
    fill(store, site_items())
    return store


def test_parallel_first_build_matches_the_golden_tree(site: Store, tmp_path: Path) -> None:
    report = build_site(site, tmp_path / "site", GOLDEN_SETTINGS, processes=3)
    assert report.processes == 3
    assert report.full
    assert report.articles == len(site_items())
    built = tree(tmp_path / "site")
    assert built == tree(GOLDEN)
    assert sorted(report.written) == sorted([*built, MANIFEST])
    assert len(report.written) == len(set(report.written))
    assert "3 processes" in report.summary()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_parallel_and_serial_builds_agree_everywhere(site: Store, tmp_path: Path) -> None:
    fill(site, later_items())
    settings = SiteSettings(base_url="/", page_size=2, home_per_source=2, feed_size=3)
    serial = build_site(site, tmp_path / "one", settings, processes=1)
    parallel = build_site(site, tmp_path / "two", settings, processes=2)
    assert (serial.processes, parallel.processes) == (1, 2)
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    assert (tmp_path / "one" / MANIFEST).read_bytes() == (tmp_path / "two" / MANIFEST).read_bytes()
    assert sorted(serial.written) == sorted(parallel.written)


def test_parallel_rebuild_in_place_then_incremental(site: Store, tmp_path: Path) -> None:
    root = tmp_path / "site"
    build_site(site, root, GOLDEN_SETTINGS, processes=1)
    other = SiteSettings(base_url="/finews/", page_size=3, home_per_source=2, feed_size=4)
    rebuilt = build_site(site, root, other, processes=2)  # settings changed: full, in place
    assert rebuilt.full
    assert rebuilt.processes == 2
    assert not [p for p in root.rglob(".*") if p.name not in (".nojekyll", MANIFEST)]
    fresh = build_site(site, tmp_path / "fresh", other, processes=1)
    # in place it rewrote every page the fresh build has (old pages stay, never deleted)
    assert {n: d for n, d in tree(root).items() if n in tree(tmp_path / "fresh")} == tree(
        tmp_path / "fresh"
    )
    # files whose bytes did not change (the articles: same paths, same links) are counted
    assert set(rebuilt.written) < set(fresh.written)
    assert len(rebuilt.written) + rebuilt.unchanged == len(fresh.written)
    # and its manifest makes the next build incremental, in this process
    fill(site, later_items())
    later = build_site(site, root, other, processes=2)
    assert not later.full
    assert later.processes == 1
    assert later.articles >= len(later_items())


def test_small_archives_and_threaded_callers_build_in_one_process(
    site: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(static_parallel, "PARALLEL_MIN", 1000)
    assert build_site(site, tmp_path / "small", GOLDEN_SETTINGS, processes=4).processes == 1
    monkeypatch.setattr(static_parallel, "PARALLEL_MIN", 1)
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)  # another thread: forking is not safe
    helper.start()
    try:
        report = build_site(site, tmp_path / "threaded", GOLDEN_SETTINGS, processes=4)
    finally:
        stop.set()
        helper.join()
    assert report.processes == 1
    assert tree(tmp_path / "threaded") == tree(GOLDEN)


def test_a_failing_worker_fails_the_build_and_leaves_nothing(
    site: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: static_parallel.Worker, kind: str, payload: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(static_parallel.Worker, "run", broken)
    with pytest.raises(ExportError, match="No space left"):
        build_site(site, tmp_path / "site", GOLDEN_SETTINGS, processes=2)
    assert not (tmp_path / "site").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _group(pgid: int) -> dict[int, str]:
    """The processes still alive in process group ``pgid``: pid → command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # ended while we looked
            continue
        # the fields after the command name: state, ppid, pgrp, ...
        state, _, pgrp = stat.rpartition(")")[2].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_killed_build_leaves_no_renderer_running(tmp_path: Path) -> None:
    """``finews build`` ended by SIGKILL mid-render takes its worker processes with it."""
    if default_processes() < 2:
        pytest.skip("a build forks workers only with two CPUs or more")
    db = tmp_path / "kill.db"
    store = open_store(f"sqlite:///{db}")
    start = datetime(2024, 3, 1, tzinfo=UTC)
    try:
        store.upsert_items(
            [
                Item(
                    source="em",
                    upstream_id=f"k{n:05d}",
                    title=f"第{n}条消息",
                    published_at=start + timedelta(minutes=7 * n),
                    fetched_at=start,
                    content=f"<p>正文{n}。" + "市场平稳运行。" * 40 + "</p>",
                    category="emnews",
                    media="东方财富",
                )
                for n in range(static_parallel.PARALLEL_MIN + 3000)
            ],
            derive=False,
        )
    finally:
        store.close()
    config = tmp_path / "finews.toml"
    config.write_text(f'database_url = "sqlite:///{db}"\n', encoding="utf-8")
    build = subprocess.Popen(
        [sys.executable, "-m", "finews", "--config", str(config), "build", str(tmp_path / "out")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: every process it forks stays in it
    )
    try:
        deadline = time.monotonic() + 120
        while not _children(build.pid) and build.poll() is None:
            assert time.monotonic() < deadline, "the build never forked its workers"
            time.sleep(0.05)
        assert build.poll() is None, "the build ended before it could be killed"
        workers = _children(build.pid)
        os.kill(build.pid, signal.SIGKILL)
        build.wait(timeout=30)
        deadline = time.monotonic() + 30  # a bound on waiting, not on speed
        left = _group(build.pid)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = _group(build.pid)
        assert workers
        assert left == {}, f"renderers still running after the build was killed: {left}"
    finally:
        for pid in _group(build.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

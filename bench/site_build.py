"""Full static build of one synthetic archive by finews, Hugo and Jekyll, in one run.

The archive comes from the shared peer benchmark (``../shared/bench/peers/gen_sites.py N``:
N posts of ~1,500 Chinese characters, 12 categories, as a Jekyll and a Hugo site with minimal
templates). finews imports the Jekyll posts (``finews import jekyll``) into SQLite and builds
its own site from them; Hugo and Jekyll (Debian's packages) build theirs.

Every run starts cold (no output directory; no Hugo ``resources/`` or Jekyll
``.jekyll-cache``). They are moved aside into ``WORK/trash/`` rather than deleted, and the
trash is emptied after the last run: this ext4 volume has no journal, and without one ext4
will not reuse an inode freed in the last minute (longer while its inode table block is
dirty), so a run started right after deleting 10,000 files spent much of its system time
skipping those inodes (``perf``: ``recently_deleted``, ``find_inode_bit``), whichever tool
it was. ``--delete-before`` restores the old way. finews's modules are compiled to bytecode first,
as ``pip install`` leaves them (the checkout may run with ``PYTHONDONTWRITEBYTECODE``).

finews and Hugo run ``--runs`` times, alternating, so a burst of load on the (shared)
machine hits both (with ``--before REV``, so does finews as of that git revision, e.g.
``main``: the code before a change, side by side); Jekyll as packaged runs once
(minutes at 10,000 posts); ``--jekyll-shim`` also runs ``run_jekyll_shim.sh`` (Jekyll
with its quadratic loop fixed).

The synthetic posts are unrelated stories, but their bodies are drawn from one small pool of
sentences, so ``finews import`` clusters them all into one story (9,999 other reports on
every article page). The benchmark clears ``item_clusters`` after the import: the pages then
carry no "also reported by" section, like the peers' pages (``--keep-clusters`` keeps them).

``--bodies rich`` builds, instead of the posts' plain ``<p>`` paragraphs, a copy of the
archive whose bodies carry East Money's attributes (``<p class>``, a ``<span id class>``
stock tag: the same text), which the sanitiser keeps as they are, so that the recorded
sanitiser version (``items.sanitizer``) can say today's rules made them.

Pages are counted as the ``.html`` files each tool wrote. finews writes more of them than the
peers (day pages, numbered listing pages) plus feeds, so pages/s uses each tool's own count,
and posts/s (archive size / time) is reported beside it.

    .venv/bin/python bench/site_build.py --posts 10000 --runs 3 --jekyll --jekyll-shim
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

from timing import FINEWS, PEERS, REPO, WORK, Run, count_files, machine, median, run_timed


def _versions() -> dict[str, str]:
    found = {}
    for name, cmd in {
        "hugo": ["hugo", "version"],
        "jekyll": ["jekyll", "--version"],
        "ruby": ["ruby", "--version"],
    }.items():
        try:
            found[name] = subprocess.run(
                cmd, capture_output=True, text=True, check=False
            ).stdout.strip()
        except FileNotFoundError:
            found[name] = "not installed"
    return found


def prepare(
    posts: int, work: Path, *, keep_clusters: bool = False, bodies: str = "plain"
) -> tuple[Path, str, dict[str, float]]:
    """Generate the synthetic site and import it into a finews database (once; kept)."""
    site = work / f"site{posts}"
    db = work / f"finews{posts}.db"
    setup: dict[str, float] = {}
    if not (site / "jekyll" / "_posts").is_dir():
        shutil.rmtree(site, ignore_errors=True)
        run = run_timed(
            "gen_sites", [sys.executable, str(PEERS / "gen_sites.py"), str(posts), str(site)]
        )
        setup["gen_sites_s"] = run.wall
    url = f"sqlite:///{db}"
    if not db.exists():
        cmd = [FINEWS, "--database-url", url, "import", "jekyll", str(site / "jekyll" / "_posts")]
        run = run_timed("finews import jekyll", cmd, quiet=False)
        if run.returncode != 0:
            raise SystemExit("import failed")
        setup["import_s"] = run.wall
    if not keep_clusters:
        with sqlite3.connect(db) as conn:
            setup["clusters_cleared"] = conn.execute("DELETE FROM item_clusters").rowcount
    if bodies == "rich":
        rich = work / f"finews{posts}_rich.db"
        if not rich.exists():
            _rich_copy(db, rich)
        url = f"sqlite:///{rich}"
    return site, url, setup


_FIRST_WORD = re.compile(r"<p>([^<]{2})")


def _rich_copy(db: Path, rich: Path) -> None:
    """A copy of the archive ``db`` whose bodies carry attributes the sanitiser keeps
    (checked body by body, so each body's recorded version stays true)."""
    from finews.normalize.sanitize import sanitize_html

    partial = rich.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    # the backup API, not a file copy: the archive's last writes may still be in its WAL
    with closing(sqlite3.connect(db)) as source, closing(sqlite3.connect(partial)) as conn:
        source.backup(conn)
        rows = conn.execute("SELECT id, content FROM items").fetchall()
        changed = []
        for item_id, content in rows:
            body = _FIRST_WORD.sub(
                r'<p><span id="stock_600519" class="em_stock">\1</span>', content, count=1
            ).replace("<p>", '<p class="em_p">')
            if sanitize_html(body) != body:
                raise SystemExit(f"item {item_id}: the sanitiser would change its rich body")
            changed.append((body, item_id))
        with conn:
            conn.executemany("UPDATE items SET content = ? WHERE id = ?", changed)
    partial.rename(rich)  # closed: nothing of it is left in a WAL beside the old name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3, help="runs of finews and Hugo each")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--jekyll", action="store_true", help="also Jekyll as packaged, once")
    parser.add_argument("--jekyll-shim", action="store_true", help="also run_jekyll_shim.sh")
    parser.add_argument("--no-hugo", action="store_true")
    parser.add_argument(
        "--delete-before", action="store_true", help="delete old outputs right before a run"
    )
    parser.add_argument(
        "--keep-clusters", action="store_true", help="keep the import's same-story clusters"
    )
    parser.add_argument(
        "--bodies",
        choices=("plain", "rich"),
        default="plain",
        help="the posts' plain paragraphs, or the same text with East Money's attributes",
    )
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--tag", default="", help="suffix of the results file")
    parser.add_argument(
        "--before",
        metavar="REV",
        help="also build with this git revision's src/ (e.g. main), alternating: the code "
        "before a change, side by side (row finews_before)",
    )
    args = parser.parse_args()
    work: Path = args.work
    n: int = args.posts
    work.mkdir(parents=True, exist_ok=True)
    site, url, setup = prepare(n, work, keep_clusters=args.keep_clusters, bodies=args.bodies)
    # finews as installed: pip compiles its modules to bytecode, but a checkout run with
    # PYTHONDONTWRITEBYTECODE (as this machine's sessions are) would compile them at every
    # start (~0.12 s); Hugo and Jekyll start from their own installed forms too
    compileall.compile_dir(REPO / "src" / "finews", quiet=1)
    env_before = None
    if args.before:
        env_before = {**os.environ, "PYTHONPATH": str(_checkout(args.before, work))}
    outs = {
        "finews_before": work / f"finews_before_out{n}",
        "finews": work / f"finews_out{n}",
        "hugo": work / f"hugo_out{n}",
        "jekyll": work / f"jekyll_out{n}",
    }
    cmds = {
        "finews": [FINEWS, "--database-url", url, "build", str(outs["finews"])],
        # the same interpreter and packages, the other revision's modules first on the path
        "finews_before": [
            sys.executable,
            "-m",
            "finews",
            "--database-url",
            url,
            "build",
            str(outs["finews_before"]),
        ],
        "hugo": ["hugo", "--quiet", "-s", str(site / "hugo"), "-d", str(outs["hugo"])],
        "jekyll": [
            "jekyll",
            "build",
            "--quiet",
            "-s",
            str(site / "jekyll"),
            "-d",
            str(outs["jekyll"]),
        ],
    }
    cold = {
        "finews": [outs["finews"]],
        "finews_before": [outs["finews_before"]],
        "hugo": [outs["hugo"], site / "hugo" / "resources"],
        "jekyll": [outs["jekyll"], site / "jekyll" / ".jekyll-cache"],
    }
    tools = (["finews_before"] if args.before else []) + ["finews"]
    tools += [] if args.no_hugo else ["hugo"]
    trash = work / "trash"
    shutil.rmtree(trash, ignore_errors=True)

    def clear(path: Path) -> None:
        if args.delete_before:
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            trash.mkdir(exist_ok=True)
            path.rename(trash / f"{path.name}-{len(list(trash.iterdir()))}")

    runs: dict[str, list[Run]] = {tool: [] for tool in [*tools, "jekyll"]}
    for round_no in range(args.runs):
        print(f"round {round_no + 1}/{args.runs}", flush=True)
        for tool in tools:
            for path in cold[tool]:
                clear(path)
            os.sync()  # the previous run's writeback must not land on this one
            env = env_before if tool == "finews_before" else None
            runs[tool].append(run_timed(tool, cmds[tool], env=env))
    if args.jekyll:
        for path in cold["jekyll"]:
            clear(path)
        os.sync()
        runs["jekyll"].append(run_timed("jekyll", cmds["jekyll"]))
    results: dict[str, Any] = {"machine": machine(), "versions": _versions(), "posts": n}
    results["bodies"] = args.bodies
    results["old_outputs"] = "deleted before each run" if args.delete_before else "moved aside"
    results["setup"] = setup
    rows = {}
    for tool, done in runs.items():
        if not done:
            continue
        out = outs[tool]
        walls = [r.wall for r in done]
        html = count_files(out, ".html")
        rows[tool] = {
            "command": " ".join(cmds[tool]),
            "runs": [r.to_json() for r in done],
            "wall_median_s": median(walls),
            "cpu_median_s": median([r.cpu for r in done]),
            "max_rss_mib": max(r.max_rss_mib for r in done),
            "html_pages": html,
            "all_files": count_files(out),
            "output_mib": _du_mib(out),
            "pages_per_s": html / median(walls),
            "posts_per_s": n / median(walls),
        }
    if args.jekyll_shim:
        rows["jekyll_shim"] = _shim(work, n, args.results)
    shutil.rmtree(trash, ignore_errors=True)
    results["tools"] = rows
    args.results.mkdir(parents=True, exist_ok=True)
    target = args.results / f"site_build_{n}{args.tag}.json"
    target.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(results))
    print(f"results: {target}")


def _checkout(rev: str, work: Path) -> Path:
    """``rev``'s ``src/`` unpacked under ``work`` (made again each time), compiled."""
    folder = work / "before"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    compileall.compile_dir(folder / "src" / "finews", quiet=1)
    return folder / "src"


def _du_mib(root: Path) -> float:
    total = 0
    for folder, _, names in os.walk(root):
        total += sum(os.lstat(os.path.join(folder, name)).st_blocks * 512 for name in names)
    return round(total / 2**20, 1)


def _shim(work: Path, n: int, results: Path) -> dict[str, Any]:
    """Jekyll with the quadratic loop fixed, measured by the shared script (hyperfine 3 runs)."""
    res = results / "jekyll_shim"
    res.mkdir(parents=True, exist_ok=True)
    print("jekyll (loop fixed): run_jekyll_shim.sh", flush=True)
    script = PEERS / "run_jekyll_shim.sh"
    subprocess.run(["bash", str(script), str(work), str(res), str(n)], check=True)
    data = json.loads((res / f"jekyllshim-cold-{n}.json").read_text(encoding="utf-8"))
    times = data["results"][0]["times"]
    pages = int((res / f"jekyllshim-pages-{n}.txt").read_text(encoding="utf-8"))
    return {
        "command": f"bash {script} {work} {res} {n}",
        "runs": [{"label": "jekyll_shim", "wall": t} for t in times],
        "wall_median_s": median(times),
        "html_pages": pages,
        "pages_per_s": pages / median(times),
        "posts_per_s": n / median(times),
    }


def table(results: dict[str, Any]) -> str:
    """The results as a Markdown table, with pages/s ratios of finews to each peer."""
    rows = results["tools"]
    lines = [
        "| tool | runs | wall s (median) | CPU s | peak RSS MiB | .html pages | pages/s "
        "| posts/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tool, row in rows.items():
        cpu = f"{row['cpu_median_s']:.1f}" if "cpu_median_s" in row else "–"
        rss = f"{row['max_rss_mib']:.0f}" if "max_rss_mib" in row else "–"
        lines.append(
            f"| {tool} | {len(row['runs'])} | {row['wall_median_s']:.2f} | {cpu} | {rss} | "
            f"{row['html_pages']} | {row['pages_per_s']:.0f} | {row['posts_per_s']:.0f} |"
        )
    if "finews" in rows:
        mine = rows["finews"]
        for peer, row in rows.items():
            if peer not in ("finews", "finews_before"):
                lines.append(
                    f"\nfinews / {peer}: pages/s ×{mine['pages_per_s'] / row['pages_per_s']:.2f}, "
                    f"posts/s ×{mine['posts_per_s'] / row['posts_per_s']:.2f}"
                )
    if "finews" in rows and "finews_before" in rows:
        mine, before = rows["finews"], rows["finews_before"]
        speed = mine["pages_per_s"] / before["pages_per_s"]
        cpu = mine["cpu_median_s"] / before["cpu_median_s"]
        lines.append(f"\nfinews / finews before: pages/s ×{speed:.2f}, CPU ×{cpu:.2f}")
        if "hugo" in rows:
            lines.append(
                f"finews before / hugo: pages/s "
                f"×{before['pages_per_s'] / rows['hugo']['pages_per_s']:.2f}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()

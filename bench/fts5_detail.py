"""SQLite FTS5 alone, with each ``detail`` level: how much of the search index's cost the
token positions are.

The items of ``bench/ingest.py`` (1,500-character bodies, pages of 200) are parsed,
normalised and tokenised beforehand (untimed); their search columns then go into bare
contentless FTS5 tables like finews's, one page per transaction, with ``detail=full`` (what
finews uses: phrase queries need positions), ``column`` and ``none``. CPU time per item,
pinned to one CPU, two rounds each.

    .venv/bin/python bench/fts5_detail.py --items 2000
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ingest import make_pages, spec_for

from finews.models import Item
from finews.normalize import normalize_item
from finews.process.index import doc_terms
from finews.sources import get_adapter


def columns(items: int) -> list[list[tuple[str, str, str]]]:
    spec = spec_for()
    adapter = get_adapter(spec.adapter)
    request = adapter.first_page(spec)
    fetched = datetime.now(UTC)
    pages = []
    for body in make_pages(items, 200, 1500):
        made = [
            normalize_item(r, spec, fetched_at=fetched)
            for r in adapter.parse_page(spec, body, request).items
        ]
        pages.append(
            [
                doc_terms(i.title, i.digest, i.content).fts_columns()
                for i in made
                if isinstance(i, Item)
            ]
        )
    return pages


def insert(pages: list[list[tuple[str, str, str]]], detail: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.db"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(
            "CREATE VIRTUAL TABLE f USING fts5(title, body, chars, content = '', "
            f"detail = {detail}, tokenize = 'unicode61 remove_diacritics 0')"
        )
        rowid = 0
        cpu = time.process_time()
        for page in pages:
            conn.execute("BEGIN")
            for cols in page:
                rowid += 1
                conn.execute(
                    "INSERT INTO f (rowid, title, body, chars) VALUES (?, ?, ?, ?)", (rowid, *cols)
                )
            conn.execute("COMMIT")
        cpu = time.process_time() - cpu
        conn.close()
        size = sum(p.stat().st_size for p in Path(folder).iterdir())
    return {"items_per_cpu_s": rowid / cpu, "MB": size / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    pages = columns(args.items)
    results = {d: [insert(pages, d) for _ in range(2)] for d in ("full", "column", "none")}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

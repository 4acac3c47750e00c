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
import tempfile
from pathlib import Path

from ingest import fts5_insert, make_pages, search_columns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    batches = search_columns(make_pages(args.items, 200, 1500))
    results: dict[str, list[dict[str, float]]] = {}
    for detail in ("full", "column", "none"):
        for _ in range(2):
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "f.db"
                items, cpu = fts5_insert(path, batches, detail)
                size = sum(p.stat().st_size for p in Path(folder).iterdir())
            results.setdefault(detail, []).append(
                {"items_per_cpu_s": items / cpu, "MB": size / 1e6}
            )
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""The benchmarks that fill an archive in bulk (``import_rows``, as ``finews copy-db`` does)
write rows of the ``items`` table as it is today: a migration that adds a column must not
leave them building rows the store refuses (they are run by hand, not by CI)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from finews.derive import open_store

BENCH = Path(__file__).resolve().parent.parent / "bench"


def bench_module(name: str) -> ModuleType:
    """``bench/<name>.py``, loaded as ``bench_<name>`` (its siblings, such as ``timing``,
    importable while it loads)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCH))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


def test_bulk_rows_of_the_benchmarks_are_rows_the_store_takes(tmp_path: Path) -> None:
    search, cluster = bench_module("search"), bench_module("cluster")
    search_rows = list(search.item_rows(20))
    cluster_rows = [cluster.row(n, item) for n, item in enumerate(cluster.reports(20), start=21)]
    with open_store(f"sqlite:///{tmp_path / 'bench.db'}") as store:
        store.import_rows("items", search_rows)
        store.import_rows("items", cluster_rows)
        assert store.count_items() == 40
        assert all(item.title for item in store.items())

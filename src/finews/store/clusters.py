"""Stories in the store: the SQL of ``item_clusters`` (which items tell the same story) and
of the story window's part on disk (``story_prints``, ``story_keys``). Clustering itself is
:mod:`finews.derive.stories`'; the reads here serve pages, feeds and the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from finews.models import Item
from finews.store.base import from_db_time, item_from_row
from finews.store.columns import ITEM_COLUMNS, in_list, item_columns

if TYPE_CHECKING:
    from finews.store.base import Store, Transaction

__all__ = [
    "also_reported",
    "big_stories",
    "clustered_revisions",
    "copies_among",
    "copy_stories",
    "items_by_id",
    "replace_stories",
    "shared_stories",
    "stale_cluster_ids",
    "story_counts",
    "story_keys",
    "story_members",
    "story_sizes",
]

_CHUNK = 500

_OTHER_MEMBERS = (
    "SELECT {columns} "
    "FROM item_clusters c JOIN item_clusters m ON m.cluster_id = c.cluster_id "
    "JOIN items i ON i.id = m.item_id WHERE c.item_id = ? AND m.item_id <> c.item_id "
    "ORDER BY i.published_at, i.id"
)
#: an item's columns with its full text left out (an empty ``content``)
_ROW_COLUMNS = ", ".join(
    "'' AS content" if column == "i.content" else column for column in item_columns("i").split(", ")
)


def _story_members(store: Store, item_id: int, full_text: bool = True) -> list[Item]:
    """The other members of an item's story, earliest first."""
    columns = item_columns("i") if full_text else _ROW_COLUMNS
    rows = store.query(_OTHER_MEMBERS.format(columns=columns), (item_id,))
    return [item_from_row(row) for row in rows]


def _copies(store: Store, ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        marks, chunk = in_list(ids[start : start + _CHUNK])
        rows = store.query(
            f"SELECT item_id FROM item_clusters WHERE item_id IN ({marks}) "
            "AND cluster_id <> item_id",
            chunk,
        )
        found.update(int(r[0]) for r in rows)
    return found


def _shared(
    store: Store, ids: Sequence[int], sizes: dict[int, int] | None = None
) -> dict[int, tuple[int, int]]:
    # the story of each item, then each story's size by COUNT, once per story: a self
    # join would read every member of a story once per item asked about (quadratic)
    sizes = {} if sizes is None else sizes
    found: dict[int, tuple[int, int]] = {}
    for start in range(0, len(ids), _CHUNK):
        marks, chunk = in_list(ids[start : start + _CHUNK])
        rows = store.query(
            f"SELECT item_id, cluster_id FROM item_clusters WHERE item_id IN ({marks})",
            chunk,
        )
        story_of = {int(r[0]): int(r[1]) for r in rows}
        counted: dict[int, int] = {}
        _count_stories(store, sorted(set(story_of.values()) - sizes.keys()), counted)
        # keep only stories told more than once: a lone report's is asked about once
        sizes.update({story: size for story, size in counted.items() if size > 1})
        for item, story in story_of.items():
            size = sizes.get(story, 0)
            if size > 1:
                found[item] = (story, size)
    return found


def _count_stories(store: Store, stories: Sequence[int], sizes: dict[int, int]) -> None:
    for start in range(0, len(stories), _CHUNK):
        marks, chunk = in_list(stories[start : start + _CHUNK])
        rows = store.query(
            "SELECT cluster_id, COUNT(*) FROM item_clusters "
            f"WHERE cluster_id IN ({marks}) GROUP BY cluster_id",
            chunk,
        )
        sizes.update(dict.fromkeys(chunk, 0))
        sizes.update({int(r[0]): int(r[1]) for r in rows})


def _story_keys(store: Store, story: int) -> list[tuple[datetime, int]]:
    rows = store.query(
        "SELECT i.published_at, i.id FROM item_clusters c JOIN items i ON i.id = c.item_id "
        "WHERE c.cluster_id = ?",
        (story,),
    )
    keys = []
    for moment, item_id in rows:
        parsed = from_db_time(moment)
        assert parsed is not None
        keys.append((parsed, int(item_id)))
    keys.sort()
    return keys


def _reports_by_id(store: Store, ids: Sequence[int]) -> list[Item]:
    found: list[Item] = []
    for start in range(0, len(ids), _CHUNK):
        marks, chunk = in_list(ids[start : start + _CHUNK])
        rows = store.query(f"SELECT {ITEM_COLUMNS} FROM items WHERE id IN ({marks})", chunk)
        found += [item_from_row(row) for row in rows]
    return found


def _all_members(store: Store) -> dict[int, list[int]]:
    rows = store.query(
        "SELECT c.cluster_id, c.item_id FROM item_clusters c WHERE c.cluster_id IN "
        "(SELECT cluster_id FROM item_clusters GROUP BY cluster_id HAVING COUNT(*) > 1) "
        "ORDER BY c.cluster_id, c.item_id"
    )
    found: dict[int, list[int]] = {}
    for story, item_id in rows:
        found.setdefault(int(story), []).append(int(item_id))
    return found


def _big_stories(store: Store, more_than: int) -> list[tuple[int, int]]:
    rows = store.query(
        "SELECT cluster_id, COUNT(*) FROM item_clusters GROUP BY cluster_id "
        "HAVING COUNT(*) > ? ORDER BY cluster_id",
        (more_than,),
    )
    return [(int(r[0]), int(r[1])) for r in rows]


def _stale_cluster_ids(store: Store) -> list[tuple[int, str]]:
    rows = store.query(
        "SELECT i.id, i.published_at FROM items i "
        "LEFT JOIN item_clusters c ON c.item_id = i.id "
        "WHERE c.item_id IS NULL OR c.revision <> i.revision ORDER BY i.published_at, i.id"
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def stale_cluster_ids(store: Store) -> list[tuple[int, str]]:
    """(id, published_at text) of the items without a story or in one at an older
    revision, oldest first."""
    rows = store.query(
        "SELECT i.id, i.published_at FROM items i "
        "LEFT JOIN item_clusters c ON c.item_id = i.id "
        "WHERE c.item_id IS NULL OR c.revision <> i.revision ORDER BY i.published_at, i.id"
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def story_counts(store: Store) -> tuple[int, int, int, int, int | None]:
    """Items, items in a story, stories, items in a story at an older revision, and the
    clustering rule's version the stories were made by."""
    items = int(store.query("SELECT COUNT(*) FROM items")[0][0])
    clustered = int(store.query("SELECT COUNT(*) FROM item_clusters")[0][0])
    stories = int(store.query("SELECT COUNT(DISTINCT cluster_id) FROM item_clusters")[0][0])
    stale = int(
        store.query(
            "SELECT COUNT(*) FROM item_clusters c JOIN items i ON i.id = c.item_id "
            "WHERE c.revision <> i.revision"
        )[0][0]
    )
    rows = store.query("SELECT version FROM derived_state WHERE name = 'clusters'")
    return items, clustered, stories, stale, int(rows[0][0]) if rows else None


def clustered_revisions(tx: Transaction, ids: Sequence[int]) -> dict[int, int]:
    """The revision each of these items is in its story at (items in none left out)."""
    held: dict[int, int] = {}
    for start in range(0, len(ids), _CHUNK):
        marks, chunk = in_list(ids[start : start + _CHUNK])
        rows = tx.execute(
            f"SELECT item_id, revision FROM item_clusters WHERE item_id IN ({marks})", chunk
        ).fetchall()
        held.update({int(row[0]): int(row[1]) for row in rows})
    return held


def replace_stories(
    tx: Transaction, rows: Sequence[tuple[int, int, int]], version: int, batch: int
) -> None:
    """Replace every story with ``rows`` (item id, story id, revision) made by the
    clustering rule ``version``, and drop the window's part on disk (made by whichever
    rule was in use before)."""
    tx.execute("DELETE FROM item_clusters")
    tx.execute("DELETE FROM story_keys")
    tx.execute("DELETE FROM story_prints")
    for start in range(0, len(rows), batch):
        tx.executemany(
            "INSERT INTO item_clusters (item_id, cluster_id, revision) VALUES (?, ?, ?)",
            rows[start : start + batch],
        )
    tx.execute("UPDATE derived_state SET version = ? WHERE name = 'clusters'", (version,))


def copy_stories(src: Store, dst: Store, batch: int, version: int) -> int:
    """Replace the destination's stories with the source's (one transaction), as made by
    the clustering rule ``version``; return how many rows that took."""
    select = "SELECT item_id, cluster_id, revision FROM item_clusters"
    insert = "INSERT INTO item_clusters (item_id, cluster_id, revision) VALUES (?, ?, ?)"
    copied = 0
    with dst.transaction() as tx:
        tx.execute("DELETE FROM item_clusters")
        last = -1
        while True:
            rows = src.query(
                f"{select} WHERE item_id > ? ORDER BY item_id LIMIT {int(batch)}", (last,)
            )
            if not rows:
                break
            tx.executemany(insert, [(int(r[0]), int(r[1]), int(r[2])) for r in rows])
            copied += len(rows)
            last = int(rows[-1][0])
        tx.execute("UPDATE derived_state SET version = ? WHERE name = 'clusters'", (version,))
    return copied


# --- the public functions ------------------------------------------------------------------


def also_reported(store: Store, item_id: int, *, full_text: bool = True) -> list[Item]:
    """The other reports of an item's story, earliest first (empty when it has none), for
    an article's "also reported by" section: each has its source, time and link (and its
    full text unless ``full_text`` is false)."""
    return _story_members(store, item_id, full_text)


def copies_among(store: Store, item_ids: Sequence[int]) -> set[int]:
    """Which of these items are later reports of a story led by another item: what a
    listing hides when each story is shown once (``site.dedupe``)."""
    return _copies(store, list(item_ids))


def shared_stories(
    store: Store, item_ids: Sequence[int], sizes: dict[int, int] | None = None
) -> dict[int, tuple[int, int]]:
    """For those of these items whose story was told more than once: item id → (the
    story's id, which is its earliest report's item id; how many reports it has). Lets a
    pass over the archive show each story once without asking per item. ``sizes`` (story
    id → reports, for stories told more than once), when given, is read and filled: a
    caller asking about many spans of ids counts each story once."""
    return _shared(store, list(item_ids), sizes)


def story_sizes(store: Store, story_ids: Sequence[int]) -> dict[int, int]:
    """How many reports each of these stories has (0: no such story), by ``COUNT``."""
    sizes: dict[int, int] = {}
    _count_stories(store, sorted(set(story_ids)), sizes)
    return sizes


def story_keys(store: Store, story_id: int) -> list[tuple[datetime, int]]:
    """The ``(published_at, id)`` of every report of a story, earliest first: two columns
    per report, so a caller can pick the few reports a page shows before reading them."""
    return _story_keys(store, story_id)


def items_by_id(store: Store, item_ids: Sequence[int]) -> list[Item]:
    """The stored items of these ids (in no particular order; missing ids are left out)."""
    return _reports_by_id(store, list(item_ids))


def story_members(store: Store) -> dict[int, list[int]]:
    """Every story told more than once: story id → its reports' item ids, ascending."""
    return _all_members(
        store,
    )


def big_stories(store: Store, more_than: int) -> list[tuple[int, int]]:
    """Every story of more than ``more_than`` reports: (story id, reports), by story id."""
    return _big_stories(store, more_than)

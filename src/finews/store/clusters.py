"""Stories in the store: the SQL of ``item_clusters`` (which items tell the same story) and
of the story window's part on disk (``story_prints``, ``story_keys``). Clustering itself is
:mod:`finews.derive.stories`'; the reads here serve pages, feeds and the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from finews.models import Item
from finews.store.columns import ITEM_COLUMNS, in_list, item_columns, item_from_row
from finews.store.times import from_db_time, to_db_time

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


# --- clustering's writes (finews.derive.stories computes, these store) ---------------------
def _text_select(table: str, id_column: str, prefix: int) -> str:
    return (
        f"SELECT {id_column}, title, substr(digest, 1, {int(prefix)}), "
        f"substr(content, 1, {int(prefix)}), published_at FROM {table}"
    )


def print_texts(tx: Transaction, ids: Sequence[int], prefix: int) -> list[Any]:
    """(id, title, digest prefix, content prefix, published_at text) of these items as
    stored: what a fingerprint is made from (``prefix`` characters of digest and text)."""
    found: list[Any] = []
    select = _text_select("items", "id", prefix)
    for start in range(0, len(ids), _CHUNK):
        marks, chunk = in_list(ids[start : start + _CHUNK])
        found += tx.execute(f"{select} WHERE id IN ({marks})", chunk).fetchall()
    return found


def revision_texts(tx: Transaction, item_id: int, revision: int, prefix: int) -> Any:
    """As :func:`print_texts`, of an earlier revision of one item (``None``: not kept)."""
    select = _text_select("item_revisions", "item_id", prefix)
    return tx.execute(
        f"{select} WHERE item_id = ? AND revision = ?", (item_id, revision)
    ).fetchone()


def item_revisions(tx: Transaction, ids: Sequence[int]) -> dict[int, int]:
    """The current revision of each of these items."""
    found: dict[int, int] = {}
    for start in range(0, len(ids), _CHUNK):
        marks, chunk = in_list(ids[start : start + _CHUNK])
        rows = tx.execute(f"SELECT id, revision FROM items WHERE id IN ({marks})", chunk)
        found.update({int(r[0]): int(r[1]) for r in rows.fetchall()})
    return found


def stories_held(tx: Transaction, ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Item id → (its story, the revision it is in it at), for those in a story."""
    found: dict[int, tuple[int, int]] = {}
    for start in range(0, len(ids), _CHUNK):
        marks, chunk = in_list(ids[start : start + _CHUNK])
        rows = tx.execute(
            f"SELECT item_id, cluster_id, revision FROM item_clusters WHERE item_id IN ({marks})",
            chunk,
        )
        found.update({int(r[0]): (int(r[1]), int(r[2])) for r in rows.fetchall()})
    return found


def keep_in_story(tx: Transaction, item_id: int, revision: int) -> None:
    """An item stays in its story at a new revision."""
    tx.execute("UPDATE item_clusters SET revision = ? WHERE item_id = ?", (revision, item_id))


def leave_stories(tx: Transaction, ids: Sequence[int]) -> None:
    """Take these items out of their stories."""
    marks, params = in_list(ids)
    tx.execute(f"DELETE FROM item_clusters WHERE item_id IN ({marks})", params)


def story_revisions(tx: Transaction, story: int) -> dict[int, int]:
    """The reports of a story, each with its item's current revision."""
    rows = tx.execute(
        "SELECT c.item_id, i.revision FROM item_clusters c "
        "JOIN items i ON i.id = c.item_id WHERE c.cluster_id = ?",
        (story,),
    ).fetchall()
    return {int(r[0]): int(r[1]) for r in rows}


def move_to_story(tx: Transaction, item_id: int, story: int) -> None:
    tx.execute("UPDATE item_clusters SET cluster_id = ? WHERE item_id = ?", (story, item_id))


def stories_between(tx: Transaction, low: datetime, high: datetime) -> list[Any]:
    """(item id, story, item revision, revision of its print on disk or ``None``) of the
    items in a story published from ``low`` to ``high``."""
    return tx.execute(
        "SELECT c.item_id, c.cluster_id, i.revision, p.revision FROM items i "
        "JOIN item_clusters c ON c.item_id = i.id "
        "LEFT JOIN story_prints p ON p.item_id = i.id "
        "WHERE i.published_at >= ? AND i.published_at <= ?",
        (to_db_time(low), to_db_time(high)),
    ).fetchall()


def published_of(tx: Transaction, item_id: int) -> datetime:
    moment = from_db_time(
        tx.execute("SELECT published_at FROM items WHERE id = ?", (item_id,)).fetchone()[0]
    )
    assert moment is not None
    return moment


def merge_stories(tx: Transaction, target: int, merged: Sequence[int]) -> None:
    """The reports of the ``merged`` stories join story ``target``."""
    marks, params = in_list(merged)
    tx.execute(
        f"UPDATE item_clusters SET cluster_id = ? WHERE cluster_id IN ({marks})",
        [target, *params],
    )


def put_in_story(tx: Transaction, item_id: int, story: int, revision: int) -> None:
    tx.execute(
        "INSERT INTO item_clusters (item_id, cluster_id, revision) VALUES (?, ?, ?) "
        "ON CONFLICT (item_id) DO UPDATE SET cluster_id = excluded.cluster_id, "
        "revision = excluded.revision",
        (item_id, story, revision),
    )


def keep_prints(
    tx: Transaction,
    prints: Sequence[tuple[int, int, int, bytes]],
    keys: Sequence[tuple[int, int, int]],
) -> None:
    """Put the window's earliest items on disk: (item id, revision, moment, packed print)
    and their candidate keys (key, moment, item id)."""
    tx.executemany(
        "INSERT INTO story_prints (item_id, revision, moment, print) VALUES (?, ?, ?, ?)",
        prints,
    )
    tx.executemany(
        "INSERT INTO story_keys (key, moment, item_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        keys,
    )


def prints_before(tx: Transaction, moment: int) -> list[int]:
    """Ids of (up to 5,000) items whose print on disk is from before ``moment``."""
    rows = tx.execute(
        "SELECT item_id FROM story_prints WHERE moment < ? LIMIT 5000", (moment,)
    ).fetchall()
    return [int(row[0]) for row in rows]


def forget_prints(
    tx: Transaction, ids: Sequence[int], keys_of: Callable[[bytes], Sequence[int] | None]
) -> None:
    """Delete what the database holds of these items' prints (if anything), with their
    keys (``keys_of`` reads them from a stored print; ``None``: unreadable)."""
    for start in range(0, len(ids), _CHUNK):
        marks, chunk = in_list(ids[start : start + _CHUNK])
        rows = tx.execute(
            f"SELECT item_id, moment, print FROM story_prints WHERE item_id IN ({marks})",
            chunk,
        ).fetchall()
        if not rows:
            continue
        keys = []
        for item_id, moment, data in rows:
            stored = keys_of(data)
            if stored is None:  # unreadable: find its keys the slow way
                tx.execute(
                    "DELETE FROM story_keys WHERE item_id = ? AND moment = ?", (item_id, moment)
                )
            else:
                keys += [(key, moment, item_id) for key in stored]
        tx.executemany("DELETE FROM story_keys WHERE key = ? AND moment = ? AND item_id = ?", keys)
        marks, found = in_list([int(row[0]) for row in rows])
        tx.execute(f"DELETE FROM story_prints WHERE item_id IN ({marks})", found)


def nearest_keys(
    tx: Transaction,
    moment: int,
    item_id: int,
    span: int,
    wanted: Sequence[tuple[int, int]],
    limit: int,
) -> list[Any]:
    """(key, side, moment, item_id) of up to ``limit`` rows of ``story_keys`` per
    (key, side) nearest (``moment``, ``item_id``) within ``span`` of it: side 0 before it,
    1 from it on."""
    parts = []
    params: list[Any] = []
    for number, (key, side) in enumerate(wanted):
        if side == 0:
            where = "moment >= ? AND (moment < ? OR (moment = ? AND item_id < ?))"
            order = "moment DESC, item_id DESC"
            bound = moment - span
        else:
            where = "moment <= ? AND (moment > ? OR (moment = ? AND item_id >= ?))"
            order = "moment, item_id"
            bound = moment + span
        parts.append(
            f"SELECT * FROM (SELECT key, {side} AS side, moment, item_id FROM story_keys "
            f"WHERE key = ? AND {where} ORDER BY {order} LIMIT {int(limit)}) AS n{number}"
        )
        params += [key, bound, moment, moment, item_id]
    return list(tx.execute(" UNION ALL ".join(parts), params).fetchall())


def stored_prints(tx: Transaction, ids: Sequence[int]) -> list[Any]:
    """(item id, revision, moment, packed print) of these items' prints on disk."""
    marks, params = in_list(ids)
    return tx.execute(
        f"SELECT item_id, revision, moment, print FROM story_prints WHERE item_id IN ({marks})",
        params,
    ).fetchall()


def print_texts_in_order(store: Store, batch: int, prefix: int) -> Iterator[Any]:
    """As :func:`print_texts` (with the revision last), every item, oldest first, in
    keyset pages."""
    select = (
        f"SELECT id, title, substr(digest, 1, {int(prefix)}), "
        f"substr(content, 1, {int(prefix)}), published_at, revision FROM items"
    )
    last: tuple[str, int] | None = None
    while True:
        if last is None:
            rows = store.query(f"{select} ORDER BY published_at, id LIMIT {int(batch)}")
        else:
            rows = store.query(
                f"{select} WHERE published_at > ? OR (published_at = ? AND id > ?) "
                f"ORDER BY published_at, id LIMIT {int(batch)}",
                (last[0], last[0], last[1]),
            )
        yield from rows
        if len(rows) < batch:
            return
        last = (str(rows[-1][4]), int(rows[-1][0]))


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

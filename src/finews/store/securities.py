"""A directory of security names (table ``securities``, migration 0014): code in finews
notation → the name upstreams call it.

Names are learned from what upstreams attach to the codes they tag (an adapter puts them
in ``RawItem.extra["security_names"]``; :mod:`finews.refresh` hands them here after each
committed page, in a transaction of its own: a name is a label, and one lost to a crash is
learned again from the next item naming it) and, when switched on, from East Money's full
quote list (``finews securities refresh``, :mod:`finews.sources.eastmoney_quotes`). The
newest name wins, so a renamed company shows its new name as soon as an upstream uses it.
A row is written only when its name changed: learning the same names from every page
costs one read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from finews.store.base import Store
from finews.store.times import to_db_time

__all__ = ["MAX_NAME", "all_names", "count_names", "learn_names", "security_names"]

#: characters of a name kept, at most (a name is a label, not a text)
MAX_NAME = 40
_CHUNK = 500


def _clean(names: Mapping[str, str]) -> dict[str, str]:
    found = {}
    for code, name in names.items():
        text = " ".join(str(name).split())[:MAX_NAME]
        if code and text:
            found[code] = text
    return found


def learn_names(store: Store, names: Mapping[str, str], origin: str) -> int:
    """Store ``names`` (code in finews notation → name) as told by ``origin`` (a source
    id); returns how many rows were written (new or renamed)."""
    wanted = _clean(names)
    if not wanted:
        return 0
    known = security_names(store, wanted)
    changed = {code: name for code, name in wanted.items() if known.get(code) != name}
    if not changed:
        return 0
    now = to_db_time(datetime.now(UTC))
    with store.transaction() as tx:
        for code, name in sorted(changed.items()):
            tx.execute(
                "INSERT INTO securities (code, name, origin, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (code) DO UPDATE SET name = excluded.name, "
                "origin = excluded.origin, updated_at = excluded.updated_at",
                (code, name, origin, now),
            )
    return len(changed)


def security_names(store: Store, codes: Iterable[str]) -> dict[str, str]:
    """The known names of these securities (codes without one are left out)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = store.query(f"SELECT code, name FROM securities WHERE code IN ({marks})", chunk)
        found.update((str(code), str(name)) for code, name in rows)
    return found


def count_names(store: Store) -> int:
    """How many securities the directory names."""
    return int(store.query("SELECT COUNT(*) FROM securities")[0][0])


def all_names(store: Store) -> dict[str, str]:
    """Every name the directory holds, by code (a few thousand rows with the full list)."""
    return {str(code): str(name) for code, name in store.query("SELECT code, name FROM securities")}

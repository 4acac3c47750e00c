"""The category slug of each media name (table ``media_slugs``): stored the first time the
name is seen and never changed, so an existing site's category URLs stay.
"""

from __future__ import annotations

from finews.store.base import Store

__all__ = ["media_slugs", "slug_for_media"]


def slug_for_media(store: Store, media: str, proposed: str) -> str:
    """The category slug of a media name: the stored one, else ``proposed`` (stored)."""
    with store.transaction() as tx:
        # ON CONFLICT: another worker may store the same media name at the same moment.
        tx.execute(
            "INSERT INTO media_slugs (media, slug) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (media, proposed),
        )
        tx.execute("SELECT slug FROM media_slugs WHERE media = ?", (media,))
        return str(tx.fetchone()[0])


def media_slugs(store: Store) -> dict[str, str]:
    """Every media name with its slug."""
    return {row[0]: row[1] for row in store.query("SELECT media, slug FROM media_slugs")}

"""Stories from fingerprints: which items are compared, and the stories they make.

A story is a connected component of :func:`~finews.process.stories.score.same_story`
among candidate pairs, led by its earliest report (:func:`leader_key`). Components do not
depend on the order items arrive in, so clustering items one at a time as they are stored
(:mod:`finews.derive.stories`) gives the clusters of :func:`cluster_batch` over the same
items; the tests check it.

Candidates, so that not every pair is compared: an item is compared with the items before
it (within the window) that share a candidate key (:mod:`~finews.process.stories.keys`):
the latest :data:`BUCKET_CAP` of each key, and of those the latest :data:`CANDIDATE_CAP`;
the caps only bite when dozens of near-identical items fall within one window, and keep
that case linear.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from itertools import islice

from finews.process.stories.fingerprint import Fingerprint
from finews.process.stories.parameters import BUCKET_CAP, CANDIDATE_CAP, WINDOW
from finews.process.stories.score import same_story

__all__ = ["candidate_pairs", "cluster_batch", "cluster_stream", "components", "leader_key"]


def leader_key(fp: Fingerprint) -> tuple[datetime, int]:
    """What makes the earliest report: publication time, then row id."""
    return (fp.published, fp.item_id)


def components(
    fingerprints: Sequence[Fingerprint], pairs: Iterable[tuple[int, int]]
) -> dict[int, int]:
    """Cluster id of every item: the id of the earliest item of its connected component
    under ``pairs`` (of item ids). Items in no pair lead their own cluster."""
    parent = {fp.item_id: fp.item_id for fp in fingerprints}

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    leaders: dict[int, Fingerprint] = {}
    for fp in fingerprints:
        r = root(fp.item_id)
        if r not in leaders or leader_key(fp) < leader_key(leaders[r]):
            leaders[r] = fp
    return {fp.item_id: leaders[root(fp.item_id)].item_id for fp in fingerprints}


def _earlier_candidates(
    fp: Fingerprint, latest: Callable[[int], Iterable[Fingerprint]]
) -> list[Fingerprint]:
    """The earlier items to compare ``fp`` with: of the latest :data:`BUCKET_CAP` earlier
    items of each of its keys (``latest(key)``, newest first) those within the window, and
    of those the latest :data:`CANDIDATE_CAP`."""
    found: dict[int, Fingerprint] = {}
    for key in fp.keys:
        for other in latest(key):
            if fp.published - other.published <= WINDOW:
                found[other.item_id] = other
    if len(found) <= CANDIDATE_CAP:
        return list(found.values())
    return heapq.nlargest(CANDIDATE_CAP, found.values(), key=leader_key)


def candidate_pairs(fingerprints: Sequence[Fingerprint]) -> set[tuple[int, int]]:
    """Pairs of item ids (smaller first) to compare: each item with its
    :func:`_earlier_candidates` among all the others."""
    buckets: dict[int, list[Fingerprint]] = {}
    pairs: set[tuple[int, int]] = set()

    def latest(key: int) -> Iterable[Fingerprint]:
        return reversed(buckets.get(key, [])[-BUCKET_CAP:])

    for fp in sorted(fingerprints, key=leader_key):
        for other in _earlier_candidates(fp, latest):
            pairs.add((min(fp.item_id, other.item_id), max(fp.item_id, other.item_id)))
        for key in fp.keys:
            buckets.setdefault(key, []).append(fp)
    return pairs


def cluster_stream(fingerprints: Iterable[Fingerprint]) -> dict[int, int]:
    """Cluster ids of items given in :func:`leader_key` order (the archive streamed
    oldest first), holding only the last :data:`WINDOW` of fingerprints: the same
    clusters as :func:`cluster_batch`, in memory proportional to the window."""
    parent: dict[int, int] = {}
    roots: dict[int, tuple[datetime, int]] = {}  # the leader key of every current root
    window: deque[Fingerprint] = deque()
    buckets: dict[int, deque[Fingerprint]] = {}

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    previous: tuple[datetime, int] | None = None
    for fp in fingerprints:
        if previous is not None and leader_key(fp) < previous:
            raise ValueError("cluster_stream needs fingerprints in (published, id) order")
        previous = leader_key(fp)
        while window and fp.published - window[0].published > WINDOW:
            old = window.popleft()
            for key in old.keys:
                bucket = buckets[key]
                bucket.popleft()  # the oldest of every bucket it is in
                if not bucket:
                    del buckets[key]
        parent[fp.item_id] = fp.item_id
        roots[fp.item_id] = leader_key(fp)
        for other in _earlier_candidates(
            fp, lambda key: islice(reversed(buckets.get(key, ())), BUCKET_CAP)
        ):
            ra, rb = root(fp.item_id), root(other.item_id)
            if ra != rb and same_story(fp, other):
                # the earlier root (its component's earliest item) stays the root
                early, late = (ra, rb) if roots[ra] < roots[rb] else (rb, ra)
                parent[late] = early
                del roots[late]
        window.append(fp)
        for key in fp.keys:
            buckets.setdefault(key, deque()).append(fp)
    return {item_id: root(item_id) for item_id in parent}


def cluster_batch(fingerprints: Sequence[Fingerprint]) -> dict[int, int]:
    """Cluster ids of a whole set of items at once (see :func:`components`)."""
    by_id = {fp.item_id: fp for fp in fingerprints}
    matched = [(a, b) for a, b in candidate_pairs(fingerprints) if same_story(by_id[a], by_id[b])]
    return components(fingerprints, matched)

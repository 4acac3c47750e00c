"""``kill -9`` in the middle of a big write leaves a sound SQLite database: the whole batch
or none of it."""

from __future__ import annotations

import random
import subprocess
import sys
import time

import pytest

from finews.derive import open_store

# new items, plus edits of the newest items of the previous rounds
_WRITER = """
import sys, time
from datetime import UTC, datetime, timedelta
from finews.models import Item
from finews.derive import open_store
from finews.store import ItemQuery

url, round_, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
EDITS = 1000
store = open_store(url)
start = datetime(2024, 1, 1, 15, 59, tzinfo=UTC)
batch = [
    Item(
        source="crash",
        upstream_id=f"{round_}-{n}",
        title=f"第{round_}轮第{n}条：沪指震荡收涨",
        content="<p>" + "市场情绪回暖，成交温和放大。" * 20 + "</p>",
        published_at=start + timedelta(seconds=n),
        fetched_at=start,
    )
    for n in range(size)
]
newest = store.items(ItemQuery(limit=EDITS))
old = [i.replace(title=i.title + f"（第{round_}轮更新）") for i in newest]
print("ready", flush=True)
began = time.monotonic()
store.upsert_items(batch + old)
print(f"done {time.monotonic() - began:.3f}", flush=True)
store.close()
"""

SIZE = 4000
EDITS = 1000  # as in _WRITER
ROUNDS = 6


def run_writer(url: str, round_: int, kill_after: float | None) -> bool:
    """Run one writer; kill it ``kill_after`` seconds into its batch. True if it finished."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, url, str(round_), str(SIZE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            _, err = proc.communicate(timeout=30)
            pytest.fail(f"writer did not start: {line!r} {err}")
        if kill_after is None:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            return True
        time.sleep(kill_after)
        proc.kill()  # SIGKILL: no cleanup, no rollback, no atexit
        out, _ = proc.communicate(timeout=30)
        return "done" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def snapshot(url: str, round_: int) -> tuple[int, int, int, list[str]]:
    """Items, last change seq, items edited in ``round_``, integrity problems."""
    mark = f"（第{round_}轮更新）"
    with open_store(url) as store:
        edited = sum(1 for i in store.items() if i.title.endswith(mark))
        return store.count_items(), store.last_change_seq(), edited, store.integrity_problems()


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_kill_during_upsert_keeps_all_or_nothing(sqlite_url: str) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    # round 0 runs to the end and tells how long a batch takes here
    began = time.monotonic()
    assert run_writer(sqlite_url, 0, None)
    duration = max(time.monotonic() - began, 0.2)
    committed = 1
    killed_midway = 0
    for round_ in range(1, ROUNDS + 1):
        count, seq, _, problems = snapshot(sqlite_url, round_)
        assert problems == []
        # later batches also edit EDITS items, so some kills land inside, some after commit
        # (the first one early, so that at least one surely lands inside)
        delay = rng.uniform(0.0, (0.25 if round_ == 1 else 1.8) * duration)
        finished = run_writer(sqlite_url, round_, delay)
        after_count, after_seq, edited, problems = snapshot(sqlite_url, round_)
        where = f"round {round_}, killed after {delay:.3f}s of ~{duration:.3f}s (seed {seed})"
        assert problems == [], where
        if after_count == count:
            # nothing of the batch: no edit, no change-log entry either
            assert not finished, where
            assert after_seq == seq, where
            assert edited == 0, where
            killed_midway += 1
        else:
            assert after_count == count + SIZE, where
            assert after_seq == seq + SIZE + EDITS, where
            assert edited == EDITS, where
            committed += 1
    assert killed_midway >= 1, f"no kill landed inside a batch (seed {seed})"
    # the database is still writable
    assert run_writer(sqlite_url, ROUNDS + 1, None)
    count, _, edited, problems = snapshot(sqlite_url, ROUNDS + 1)
    assert problems == []
    assert count == (committed + 1) * SIZE
    assert edited == EDITS

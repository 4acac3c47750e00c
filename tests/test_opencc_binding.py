"""The official OpenCC binding (``opencc``, a dependency) converts the search test set
exactly as the pure-Python ``opencc-python-reimplemented`` that finews used before.

Both install a module named ``opencc``, so they cannot share a virtualenv: the test fetches
the reimplementation's wheel with pip (from the package index pip is set up with),
unpacks it into a folder of its own and runs it in a subprocess with that folder first on
``sys.path``. Without the index it is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import opencc
import pytest

from finews.normalize.variant import TRADITIONAL, VARIANTS

DATA = Path(__file__).parent / "data"
REIMPLEMENTED = "opencc-python-reimplemented==0.1.7"
PIP_DOWNLOAD = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]

pytestmark = pytest.mark.slow


def search_texts() -> list[str]:
    """Every title, digest, body and query of the search test set."""
    texts = []
    for name in ("cluster/labelled.json", "search/extra_items.json"):
        for item in json.loads((DATA / name).read_text(encoding="utf-8"))["items"]:
            texts += [item.get(key) or "" for key in ("title", "digest", "content")]
    queries = json.loads((DATA / "search" / "queries.json").read_text(encoding="utf-8"))
    texts += [query["q"] for query in queries["queries"]]
    return [text for text in texts if text]


@pytest.fixture(scope="module")
def reimplementation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("opencc-reimplemented")
    done = subprocess.run(
        [*PIP_DOWNLOAD, "-d", str(folder), REIMPLEMENTED],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"pip could not fetch {REIMPLEMENTED}: {done.stderr.strip()[-300:]}")
    (wheel,) = folder.glob("*.whl")
    with zipfile.ZipFile(wheel) as unpacked:
        unpacked.extractall(folder / "lib")
    return folder / "lib"


_CONVERT = """
import json, sys
import opencc
assert opencc.__file__.startswith(sys.argv[1]), opencc.__file__
texts = json.load(sys.stdin)
found = {}
for config in sys.argv[2:]:
    converter = opencc.OpenCC(config)
    found[config] = [converter.convert(text) for text in texts]
print(json.dumps(found))
"""


def test_official_binding_gives_the_reimplementations_text(reimplementation: Path) -> None:
    texts = search_texts()
    assert len(texts) > 200
    configs = sorted({c for c in VARIANTS.values() if c} | set(TRADITIONAL))
    assert configs == ["s2hk", "s2t", "s2tw", "t2s"]
    env = {**os.environ, "PYTHONPATH": str(reimplementation)}
    done = subprocess.run(
        [sys.executable, "-c", _CONVERT, str(reimplementation), *configs],
        input=json.dumps(texts),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    theirs = json.loads(done.stdout)
    assert not opencc.__file__.startswith(str(reimplementation))
    for config in configs:
        converter = opencc.OpenCC(config)
        ours = [converter.convert(text) for text in texts]
        differing = [(a, b) for a, b in zip(ours, theirs[config], strict=True) if a != b]
        assert differing == [], config
    # and the conversion did something: the set is mostly Simplified
    assert sum(a != b for a, b in zip(texts, theirs["s2t"], strict=True)) > 100

"""The hostile corpus through every command: ``finews fetch``, ``run``, ``build``, ``export
jekyll``, ``import jekyll`` and ``serve`` (the app in-process), as real processes against the
loopback upstream. Every output is checked (see ``checks.py``): exit code 0, every sentinel
and every kept item stored, no executable markup, nothing written outside the target, no
secret and no local file's text in any response, output or log, no traceback.

``finews sources`` and ``finews config`` are run too (they show URLs and errors).

``test_hostile_corpus_through_every_command`` runs every vector whose fix is in. A vector
waiting for a fix gets ``awaits="<branch>"`` and a ``test_awaits_<branch>_…`` of its own
until that branch is merged (see README.md); none waits today.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile.corpus import (
    ITEM_VECTORS,
    SENTINEL,
    Corpus,
    awaiting_branches,
    build_corpus,
    family_counts,
    feed_vectors,
    now_utc,
)
from hostile.harness import Harness, report

pytestmark = pytest.mark.timeout(300)


def through_every_command(tmp_path: Path, awaits: str) -> Harness:
    """Serve the corpus of ``awaits`` and run every command on it; problems collected."""
    harness = Harness(tmp_path, awaits)
    with harness.serving():
        harness.fetch()
        harness.finews("sources")  # health and last errors
        harness.finews("config")  # every setting, the sources' URLs included
        harness.run_daemon()
        harness.build()
        exported = harness.export_jekyll()
        harness.import_jekyll(exported)
        harness.checked = harness.serve()
        if harness.imported_url is not None:
            harness.serve(harness.imported_url, limit=300)
    return harness


@pytest.mark.slow
def test_hostile_corpus_through_every_command(tmp_path: Path) -> None:
    harness = through_every_command(tmp_path, "")
    assert harness.problems == [], report(harness.problems)
    assert harness.checked > 300  # the crawl reached every article


# --- vectors whose fix is on a branch of issue 19 not merged when the corpus was written ----


# --- the corpus itself --------------------------------------------------------------------


def test_every_family_is_in_the_corpus() -> None:
    counts = family_counts()
    for family in (
        "xss",
        "mxss",
        "url",
        "markdown",
        "liquid",
        "date",
        "number",
        "control",
        "bidi",
        "size",
        "id",
        "path",
        "xml-bomb",
        "malformed",
        "encoding",
        "secret",
        "http",
    ):
        assert counts.get(family, 0) >= 1, family
    names = [v.name for v in ITEM_VECTORS] + [f.name for f in feed_vectors(Path("/x"))]
    assert len(names) == len(set(names)), "vector names are unique"


def test_every_awaiting_branch_has_its_test() -> None:
    tests = {name for name in globals() if name.startswith("test_awaits_")}
    for awaits in awaiting_branches():
        prefix = "test_awaits_" + awaits.replace(" ", "_") + "_"
        assert any(name.startswith(prefix) for name in tests), awaits


def test_every_source_document_holds_its_sentinels(tmp_path: Path) -> None:
    for awaits in ["", *awaiting_branches()]:
        corpus = build_corpus(now_utc(), tmp_path / "canary.txt", awaits)
        check_sentinels(corpus)


def check_sentinels(corpus: Corpus) -> None:
    bodies = {
        route.path: route.reply.body for route in corpus.routes if hasattr(route.reply, "body")
    }
    for source in corpus.sources:
        body = bodies[source.path]
        assert isinstance(body, bytes)
        if source.sentinels:
            # (in whatever encoding the vector uses: look for the ASCII marker)
            assert body.count(SENTINEL.encode()) >= len(source.sentinels) or (
                body.decode("utf-16", "replace").count(SENTINEL) >= len(source.sentinels)
            ), source.id

"""The one writer of output files: every way of writing gives the same files.

The Jekyll export's own uses (refusing a second write, keeping a file's mode, sweeping a
killed run's temporary files) are in test_jekyll_export.py; the static build's (never a
partial file for a reader, staging) in test_static_build.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from finews.errors import ExportError
from finews.publish.writer import Writer

FILES = [
    ("index.html", b"<html>home</html>"),
    ("a/b/c.html", b"deep" * 1000),
    ("a/b/d.html", b""),
    ("static/site.css", bytes(range(256))),
    (".nojekyll", b""),
    *[(f"day/{n:03d}.html", f"page {n}".encode()) for n in range(100)],
]


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(
    "options",
    [
        {"fresh": True},
        {"fresh": True, "durable": False},
        {"durable": False},
        {},
    ],
)
def test_every_way_of_writing_gives_the_same_files(
    tmp_path: Path, options: dict[str, bool]
) -> None:
    plain = Writer(tmp_path / "plain")
    for name, data in FILES:
        assert plain.write(name, data)
    root = tmp_path / "other"
    root.mkdir()
    writer = Writer(root, **options)
    for name, data in FILES:
        assert writer.write(name, data)
    writer.sync()
    assert tree(root) == tree(tmp_path / "plain")
    assert (writer.written, writer.unchanged) == (len(FILES), 0)
    assert list(writer.results) == [name for name, _ in FILES]


def test_unchanged_files_are_left_alone_and_removed_ones_counted(tmp_path: Path) -> None:
    Writer(tmp_path).write("a/x.html", b"same")
    os.utime(tmp_path / "a" / "x.html", ns=(5, 5))
    writer = Writer(tmp_path, durable=False)
    assert writer.write("a/x.html", b"same") is False
    assert (tmp_path / "a" / "x.html").stat().st_mtime_ns == 5
    assert writer.remove("a/x.html") is True
    assert writer.remove("a/x.html") is False
    assert writer.removed == ["a/x.html"]
    assert writer.wrote("a/x.html")
    with pytest.raises(ExportError, match="already written"):
        writer.write("a/x.html", b"other")
